"""``--proxy URL`` / ``TUI_SNS_PROXY``: all relay traffic goes through a SOCKS5 proxy (as through Tor).

The relay is named by a host that does not resolve (``relay.invalid``): only the proxy (a small
SOCKS5 server on loopback, started by the test) knows where it is, as Tor resolves names itself. So
each command can only have reached the relay through the proxy, and the proxy's log says it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer
from socks5_server import Socks5Server
from sync_helpers import befriend, received, sync

pytestmark = pytest.mark.slow

HIDDEN = "relay.invalid"


def hidden_url(relay: RelayServer) -> str:
    return f"http://{HIDDEN}:{relay.port}"


def test_every_cli_relay_command_goes_through_the_proxy(
    relay: RelayServer, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    alice, bob = person("alice"), person("bob", relay)
    homes = {"alice": alice.store.home}
    alice.close()
    with Socks5Server(resolve={HIDDEN: "127.0.0.1"}) as proxy:
        target = (HIDDEN, relay.port)
        joined = cli(
            homes["alice"],
            "--proxy",
            proxy.url,
            "relay",
            "add",
            hidden_url(relay),
            "--invite",
            relay.invite(),
        )
        assert joined.code == 0, joined.err
        assert proxy.connects.count(target) == 1

        bob.contacts.add(cli(homes["alice"], "card").out.strip())
        bob.diary.post("through the proxy", title="hidden", to=["alice"])
        assert sync(bob).pushed == 1  # (bob cannot reach alice's name for the relay: no proxy)
        added = cli(homes["alice"], "contacts", "add", bob.contacts.my_card())
        assert added.code == 0, added.err
        # bob's card names the relay at 127.0.0.1, a private address: contacted once he is verified
        assert cli(homes["alice"], "contacts", "verify", "bob", "--mark").code == 0

        before = len(proxy.connects)
        synced = cli(homes["alice"], "--proxy", proxy.url, "sync")
        assert synced.code == 0, synced.err
        assert "1 new entry" in synced.out
        # Both names of the relay (mine, and the one bob's card gives) were reached through the proxy.
        assert len(proxy.connects) > before and set(proxy.connects) == {target, ("127.0.0.1", relay.port)}

        before = len(proxy.connects)
        status = cli(homes["alice"], "--proxy", proxy.url, "status", "--json")
        assert status.code == 0
        assert {r["url"]: r["reachable"] for r in status.json()["relays"]}[hidden_url(relay)] is True
        assert len(proxy.connects) > before

        # Without the proxy the relay cannot be reached at all (its name does not resolve here).
        direct = cli(homes["alice"], "status", "--json").json()
        assert {r["url"]: r["reachable"] for r in direct["relays"]}[hidden_url(relay)] is False


def test_tui_sns_proxy_is_used_when_no_option_is_given(
    relay: RelayServer, person: Callable[..., Any], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = person("alice")
    home = alice.store.home
    alice.close()
    with Socks5Server(resolve={HIDDEN: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("TUI_SNS_PROXY", proxy.url)
        joined = cli(home, "relay", "add", hidden_url(relay), "--invite", relay.invite())
        assert joined.code == 0, joined.err
        assert cli(home, "sync").code == 0
        assert proxy.connects.count((HIDDEN, relay.port)) >= 2


def test_a_bad_proxy_is_a_usage_error(cli: Callable[..., Any], home: Any) -> None:
    for bad in ("ftp://127.0.0.1:21", "socks5://", "not a url at all\x1b[2J"):
        result = cli(home, "--proxy", bad, "status")
        assert result.code == 2 and "proxy" in result.err and "\x1b" not in result.err


def test_the_apps_background_sync_goes_through_the_proxy(
    relay: RelayServer, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's watcher (tui_sns.screens.syncing) builds its engine with the same relay clients."""
    from tui_sns.screens.syncing import Watcher, make_engine

    alice, bob = person("alice"), person("bob", relay)
    with Socks5Server(resolve={HIDDEN: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("TUI_SNS_PROXY", proxy.url)
        alice.relays.add(hidden_url(relay), relay.invite())
        befriend(alice, bob)
        bob.diary.post("while the app runs", title="watched", to=["alice"])
        assert sync(bob).pushed == 1
        reports: list[Any] = []
        crashes: list[str] = []
        watcher = Watcher(make_engine(alice), reports.append, crashes.append)
        watcher.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not {p.title for p in received(alice)}:
                time.sleep(0.05)
        finally:
            watcher.stop()
        assert {p.title for p in received(alice)} == {"watched"}, [r.errors for r in reports]
        assert crashes == []
        assert (HIDDEN, relay.port) in proxy.connects
