"""A contact's card may name any host: relays at private addresses (loopback, LAN, link-local, local
names) are contacted only for a verified contact, when allowed, or (loopback) when one of my own relays
is on loopback too; every skipped relay is named in `sync` and `status` (docs/threat-model.md)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tui_sns.net.addresses import allow_private_relays, private_reason

PRIVATE = [
    "http://127.0.0.1:8787",
    "http://127.1:6379",  # what inet_aton reads as 127.0.0.1
    "http://2130706433",  # the same, as one number
    "http://0x7f.1",
    "http://[::1]:8080",
    "http://[::ffff:127.0.0.1]",
    "http://10.0.0.2:8080",
    "http://172.16.3.4",
    "http://192.168.1.1/admin",
    "http://169.254.169.254/latest/meta-data",  # the cloud metadata address
    "http://[fe80::1]",
    "http://[fd12:3456::1]",
    "http://100.64.0.1",
    "http://0.0.0.0:80",
    "http://224.0.0.1",
    "http://router",
    "http://localhost:8787",
    "http://api.localhost",
    "https://printer.local",
    "https://db.internal",
    "http://nas.lan",
    "http://box.home.arpa",
]
PUBLIC = ["https://relay.example.org", "http://203.0.114.7:8787", "https://[2606:4700::1]", "http://8.8.8.8"]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_addresses_and_local_names_are_recognised(url: str) -> None:
    assert private_reason(url) is not None


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_and_names_are_not(url: str) -> None:
    assert private_reason(url) is None


class Counting(httpx.MockTransport):
    """Answers every request as an empty relay would, and remembers which hosts were asked."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        super().__init__(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        if request.url.path == "/v1/envelopes":
            return httpx.Response(200, json={"envelopes": [], "next": 0, "more": False})
        return httpx.Response(200, json={"status": "ok"})


@pytest.fixture(autouse=True)
def _default_policy() -> Iterator[None]:
    allow_private_relays(None)
    yield
    allow_private_relays(None)


def _alice_knows_bob_at(person: Callable[..., Any], *urls: str) -> Any:
    alice, bob = person("alice"), person("bob")
    alice.contacts.add(bob.contacts.my_card(relays=urls))
    bob.close()
    return alice


LAN = "http://192.168.1.1:80"
LOOP = "http://127.0.0.1:9"


def test_an_unverified_contacts_private_relays_are_not_contacted_and_are_named(
    person: Callable[..., Any],
) -> None:
    from tui_sns.sync.engine import SyncEngine

    alice = _alice_knows_bob_at(person, LAN, LOOP, "https://relay.example.org")
    net = Counting()
    report = SyncEngine(alice, transport=net).sync_once()
    assert set(net.hosts) == {"relay.example.org"}
    assert report.errors == []
    skipped = [n for n in report.notes if "not contacted" in n]
    assert len(skipped) == 2 and any(LAN in n for n in skipped) and any(LOOP in n for n in skipped)
    assert all("bob" in n and "verif" in n for n in skipped), skipped

    net.hosts.clear()
    status = SyncEngine(alice, transport=net).status()
    assert set(net.hosts) == {"relay.example.org"}  # not even probed
    shown = {r.url: r for r in status.relays}
    assert shown[LAN].state == "skipped" and shown[LOOP].state == "skipped"
    assert shown[LAN].named_by == ("bob",) and "private" in (shown[LAN].skipped or "")
    assert {r["url"]: r["state"] for r in status.as_json()["relays"]}[LOOP] == "skipped"  # type: ignore[index]


def test_a_verified_contacts_private_relays_are_contacted(person: Callable[..., Any]) -> None:
    from tui_sns.sync.engine import SyncEngine

    alice = _alice_knows_bob_at(person, LAN)
    alice.contacts.mark_verified("bob")
    net = Counting()
    report = SyncEngine(alice, transport=net).sync_once()
    assert "192.168.1.1" in net.hosts and report.notes == []


def test_allowing_private_relays_contacts_them(person: Callable[..., Any], monkeypatch: Any) -> None:
    from tui_sns.sync.engine import SyncEngine

    alice = _alice_knows_bob_at(person, LAN)
    monkeypatch.setenv("TUI_SNS_ALLOW_PRIVATE_RELAYS", "1")
    net = Counting()
    SyncEngine(alice, transport=net).sync_once()
    assert "192.168.1.1" in net.hosts
    monkeypatch.delenv("TUI_SNS_ALLOW_PRIVATE_RELAYS")
    net.hosts.clear()
    SyncEngine(alice, transport=net).sync_once()
    assert "192.168.1.1" not in net.hosts


def test_loopback_contact_relays_are_contacted_when_one_of_mine_is_on_loopback(
    person: Callable[..., Any], relay: Any
) -> None:
    from tui_sns.sync.engine import SyncEngine

    alice = _alice_knows_bob_at(person, LOOP, LAN)
    alice.relays.add(relay.url, relay.invite())  # mine, on 127.0.0.1
    net = Counting()
    report = SyncEngine(alice, transport=net).sync_once()
    assert "127.0.0.1" in net.hosts and "192.168.1.1" not in net.hosts  # loopback only, not the LAN
    assert [n for n in report.notes if "not contacted" in n and LAN in n]


def test_a_name_that_resolves_to_a_private_address_is_not_contacted(
    person: Callable[..., Any], monkeypatch: Any
) -> None:
    from tui_sns.sync.engine import SyncEngine

    looked_up: list[str] = []

    def fake_getaddrinfo(host: str, *args: Any, **kw: Any) -> list[Any]:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    alice = _alice_knows_bob_at(person, "http://sneaky.example.org:8787")
    report = SyncEngine(alice).sync_once()  # direct: the name is looked up (and never connected to)
    assert looked_up == ["sneaky.example.org"]
    assert report.errors == [] and any("sneaky.example.org" in n and "resolves" in n for n in report.notes)


def test_sync_and_status_name_skipped_relays_and_the_flag_allows_them(
    person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    alice = _alice_knows_bob_at(person, "http://127.0.0.1:9")
    home = alice.store.home
    alice.close()
    synced = cli(home, "sync")
    assert synced.code == 0, synced.err
    assert any("http://127.0.0.1:9" in line and "not contacted" in line for line in synced.err_lines)
    status = cli(home, "status")
    assert "http://127.0.0.1:9" in status.out and "not contacted" in status.out
    allowed = cli(home, "--allow-private-relays", "sync")
    assert "not contacted" not in allowed.err and "http://127.0.0.1:9" in allowed.err  # tried: nobody there


def test_adding_a_contact_flags_the_relays_that_will_not_be_contacted(
    person: Callable[..., Any], cli: Callable[..., Any], relay: Any
) -> None:
    alice, bob, carol, dave = person("alice"), person("bob"), person("carol"), person("dave")
    card = bob.contacts.my_card(relays=(LAN, LOOP, "https://relay.example.org"))
    later = carol.contacts.my_card(relays=(LAN, LOOP))
    asked = dave.contacts.my_card(relays=(LAN,))
    for other in (bob, carol, dave):
        other.close()
    home = alice.store.home
    alice.close()
    added = cli(home, "contacts", "add", card)
    assert added.code == 0, added.err
    notes = [line for line in added.err_lines if line.startswith("Note: ")]
    assert len(notes) == 2 and LAN in notes[0] and LOOP in notes[1] and "verify bob" in notes[0], notes
    # once one of my relays is on loopback, only the LAN relay is flagged
    assert cli(home, "relay", "add", relay.url, "--invite", relay.invite()).code == 0
    again = cli(home, "contacts", "add", later)
    assert again.code == 0, again.err
    assert [line for line in again.err_lines if line.startswith("Note: ")] == [
        notes[0].replace("bob", "carol")
    ]
    requested = cli(home, "contacts", "request", asked)  # (a request makes them my contact too)
    assert requested.code == 0, requested.err
    flagged = [line for line in requested.err_lines if line.startswith("Note: ")]
    assert flagged == [notes[0].replace("bob", "dave")]


def test_a_guarded_client_connects_only_to_public_addresses(relay: Any) -> None:
    import asyncio

    from tui_sns.net.transport import RelayClient, RelayUnavailable

    port = relay.url.rsplit(":", 1)[1]

    async def page(public_only: bool) -> Any:
        async with RelayClient(f"http://localhost:{port}", public_only=public_only) as client:
            return await client.page(0)

    assert asyncio.run(page(False)).envelopes == []  # unguarded (my own relays): it answers
    with pytest.raises(RelayUnavailable, match="not contacted: localhost resolves to a loopback address"):
        asyncio.run(page(True))


def test_a_name_that_changes_to_a_private_address_after_the_check_is_refused(
    person: Callable[..., Any], monkeypatch: Any, relay: Any
) -> None:
    """DNS rebinding: the name is public when the engine checks it and loopback when it connects."""
    from tui_sns.sync.engine import SyncEngine

    answers = iter(["8.8.8.8"])
    asked: list[str] = []

    def rebinding(host: str, *args: Any, **kw: Any) -> list[Any]:
        asked.append(host)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    port = relay.url.rsplit(":", 1)[1]
    alice = _alice_knows_bob_at(person, f"http://rebind.example.org:{port}")
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    report = SyncEngine(alice).sync_once()
    assert asked[:2] == ["rebind.example.org", "rebind.example.org"]  # checked, then guarded at connect
    assert report.notes == []  # it looked public when checked ...
    (error,) = report.errors  # ... and is refused when it is not
    assert "rebind.example.org" in error and "resolves to a loopback address" in error, error
