"""Shard routing through real relay subprocesses with ``shards`` > 1 (docs/design-sharding.md §3, §11
steps 5–6): an envelope reaches every recipient in every shard, a member outside the tagged shards never
downloads it, an unknown seed means broadcast until a ``routes`` message narrows it, and a change of the
relay's shard count keeps the cursor and switches the shard."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from relay_server import RelayServer
from sync_helpers import befriend, titles

from tui_sns.store import relays as relay_store
from tui_sns.store import routes as route_store
from tui_sns.sync.engine import SyncEngine

pytestmark = pytest.mark.slow

SHARDS = 16


class Recording(httpx.AsyncHTTPTransport):
    """The real network, remembering every path read (GET) and every envelope id downloaded."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self.ids: set[str] = set()

    async def aclose(self) -> None:
        """Kept open: the engine's clients for every relay share this transport (and each closes it)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "GET":
            self.paths.append(request.url.path)
        if request.method == "GET" and request.url.path.endswith("/envelopes"):
            body = await response.aread()
            if response.status_code == 200:
                self.ids.update(e["id"] for e in json.loads(body)["envelopes"])
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        return response


def sync_recorded(session: Any) -> tuple[Any, Recording]:
    transport = Recording()
    report = SyncEngine(session, transport=transport).sync_once()
    assert report.errors == [], report.errors
    return report, transport


def served_shards(server: RelayServer, envelope_id: str, shards: int) -> set[int]:
    """The shards whose listing holds ``envelope_id``: its tag set as the relay serves it."""
    found = set()
    for n in range(shards):
        page = httpx.get(f"{server.url}/v1/shards/{n}/envelopes", params={"after": 0, "limit": 500}).json()
        if any(e["id"] == envelope_id for e in page["envelopes"]):
            found.add(n)
    return found


def seeded(person: Callable[..., Any], name: str, server: RelayServer, seed: int) -> Any:
    """A member of ``server`` whose seed there is ``seed`` (set over the one drawn when joining)."""
    session = person(name, server)
    route_store.set_seed(session.store, server.url, seed, "2026-01-01T00:00:00+00:00")
    return session


async def pull_only(session: Any, url: str) -> None:
    """One pull of ``url`` alone (no push anywhere)."""
    from tui_sns.core.inbox import ReceiveReport
    from tui_sns.net.transport import RelayClient

    async with RelayClient(url) as client:
        await SyncEngine(session).pull(client, ReceiveReport())


def last_envelope(session: Any) -> tuple[str, bytes]:
    row = session.store.fetchone("SELECT envelope_id, data FROM outbox ORDER BY rowid DESC LIMIT 1")
    return str(row[0]), bytes(row[1])


def test_every_recipient_in_every_shard_and_nobody_outside(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    server = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    rng = random.Random(15)
    alice = seeded(person, "alice", server, 3)
    # Ten readers over every shard but alice's: seeds are 16-bit, shards are seed mod 16.
    readers = {
        f"r{i}": seeded(person, f"r{i}", server, SHARDS * rng.randrange(4000) + i + 4) for i in range(10)
    }
    shard_of = {name: route_store.my_seeds(s.store)[server.url] % SHARDS for name, s in readers.items()}
    for reader in readers.values():
        befriend(alice, reader)
    sent: list[tuple[str, str, set[str]]] = []
    for k in range(6):
        audience = set(rng.sample(sorted(readers), rng.choice([1, 2, 3, 6])))
        title = f"entry-{k}"
        alice.diary.post("body", title=title, to=sorted(audience))
        sent.append((title, last_envelope(alice)[0], audience))
    sync_recorded(alice)
    downloads = {name: sync_recorded(s)[1] for name, s in readers.items()}
    for title, eid, audience in sent:
        tags = served_shards(server, eid, SHARDS)
        slots = 4 if len(audience) < 4 else 8
        assert len(tags) == slots, (title, tags)  # |tags| = n: the tag count says no more than the slots
        for name in readers:
            if name in audience:
                assert shard_of[name] in tags
                assert eid in downloads[name].ids
                assert title in titles(readers[name])
            elif shard_of[name] not in tags:
                assert eid not in downloads[name].ids, f"{name} (shard {shard_of[name]}) downloaded {title}"
            else:
                assert title not in titles(readers[name])
    for name, transport in downloads.items():
        assert f"/v1/shards/{shard_of[name]}/envelopes" in transport.paths
        assert "/v1/envelopes" not in transport.paths


def test_unknown_seed_is_broadcast_until_a_routes_message_narrows_it(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    """bob reads alice's relay but is not a member: his seed there reaches alice only by a routes
    message (after his first sync of it); until then alice's envelopes to him are broadcast."""
    relay_a = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    relay_b = spawn_relay()
    alice, bob = person("alice", relay_a), person("bob", relay_b)
    befriend(alice, bob)
    alice.diary.post("first", title="first", to=["bob"])
    first = last_envelope(alice)[0]
    sync_recorded(alice)
    # alice reads relay_b (one shard, named by bob's card): no seeds are sent for it.
    assert alice.store.fetchone("SELECT count(*) FROM outbox")[0] == 1
    assert relay_a.url not in route_store.peer_routes(alice.store, bob.public_keys[0])
    assert served_shards(relay_a, first, SHARDS) == set(range(SHARDS))  # broadcast
    sync_recorded(bob)  # reads relay_a (16 shards): tells alice his seed there
    assert "first" in titles(bob)
    # "second" is queued before alice knows bob's seed; its tags are computed when it is pushed.
    alice.diary.post("second", title="second", to=["bob"])
    second = last_envelope(alice)[0]
    asyncio.run(pull_only(alice, relay_b.url))  # reads bob's routes message, pushes nothing
    bob_seed = route_store.my_seeds(bob.store)[relay_a.url]
    assert route_store.peer_routes(alice.store, bob.public_keys[0])[relay_a.url] == bob_seed
    assert relay_store.pending_deliveries(alice.store, relay_a.url)  # not pushed yet
    sync_recorded(alice)
    tags = served_shards(relay_a, second, SHARDS)
    assert len(tags) == 4 and bob_seed % SHARDS in tags
    report, transport = sync_recorded(bob)
    assert "second" in titles(bob) and second in transport.ids
    # Told once: another sync sends no second routes message.
    before = [s.store.fetchone("SELECT count(*) FROM outbox")[0] for s in (alice, bob)]
    sync_recorded(bob)
    sync_recorded(alice)
    assert [s.store.fetchone("SELECT count(*) FROM outbox")[0] for s in (alice, bob)] == before


def test_a_change_of_shard_count_keeps_the_cursor_and_switches_the_shard(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    server = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": "16"})
    alice, bob = seeded(person, "alice", server, 0), seeded(person, "bob", server, 16 * 7 + 5)  # 5 mod 16
    befriend(alice, bob)
    alice.diary.post("one", title="one", to=["bob"])
    sync_recorded(alice)
    _, first = sync_recorded(bob)
    assert "/v1/shards/5/envelopes" in first.paths and "one" in titles(bob)
    cursor = relay_store.get_state(bob.store, server.url).cursor
    assert cursor > 0
    server.stop()
    server.env["TUI_SNS_RELAY_SHARDS"] = "32"
    server.start()
    alice.diary.post("two", title="two", to=["bob"])
    sync_recorded(alice)
    _, second = sync_recorded(bob)
    assert "/v1/shards/21/envelopes" in second.paths  # 16·7 + 5 = 117 = 21 mod 32
    assert "two" in titles(bob)
    assert len(second.ids) == 1  # from the kept cursor: "one" is not fetched again
    assert relay_store.get_state(bob.store, server.url).cursor > cursor


OLD = "http://old-relay.example"


@pytest.mark.parametrize(
    ("info", "shard_status", "expected"),
    [
        (
            {"shards": 16},
            404,
            ["/v1/info", "/v1/cursor", "/v1/shards/{n}/envelopes", "/v1/envelopes"],
        ),  # no shard listing
        (None, 404, ["/v1/info", "/v1/cursor", "/v1/envelopes"]),  # no /v1/info at all: one shard
        ({"shards": 3}, 200, ["/v1/info", "/v1/cursor", "/v1/envelopes"]),  # not a power of two: not believed
        ({"shards": 8192}, 200, ["/v1/info", "/v1/cursor", "/v1/envelopes"]),  # beyond 4096
        ({"shards": True}, 200, ["/v1/info", "/v1/cursor", "/v1/envelopes"]),
        ({"shards": 16}, 200, ["/v1/info", "/v1/cursor", "/v1/shards/{n}/envelopes"]),
    ],
)
def test_old_or_odd_relays_are_read_whole(
    person: Callable[..., Any], info: object, shard_status: int, expected: list[str]
) -> None:
    """(A first read also asks /v1/cursor where to start: these relays answer it with a page, which is
    not a cursor, so they are read from 0.)"""
    from tui_sns.crypto.card import Card

    alice = person("alice")
    alice.contacts.add(Card("Old", bytes.fromhex("09" * 32), (OLD,)).encode())
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        asked.append(path)
        if path == "/v1/info":
            return httpx.Response(404) if info is None else httpx.Response(200, json=info)
        if path.startswith("/v1/shards/") and shard_status != 200:
            return httpx.Response(shard_status, json={"error": "not_found", "detail": "no such route"})
        return httpx.Response(200, json={"envelopes": [], "next": 0, "more": False})

    report = SyncEngine(alice, transport=httpx.MockTransport(handler)).sync_once()
    assert report.errors == []
    shard = route_store.my_seeds(alice.store)[OLD] % 16
    assert asked == [p.replace("{n}", str(shard)) for p in expected]


def test_watch_streams_my_shard_and_pushes_tagged(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    """Watch mode follows /v1/shards/{u mod S}/stream; bob's entries pushed by his watcher are tagged."""
    from test_watch import Watcher, wait_for

    server = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    alice, bob = seeded(person, "alice", server, 2), seeded(person, "bob", server, 9)
    befriend(alice, bob)
    transport = Recording()
    with Watcher(SyncEngine(bob, transport=transport)) as watcher:
        assert wait_for(lambda: "/v1/shards/9/stream" in transport.paths)
        alice.diary.post("live", title="while watching", to=["bob"])
        sync_recorded(alice)
        assert wait_for(lambda: "while watching" in titles(bob))
        bob.diary.post("reply", title="bob live", to=["alice"])
        reply = last_envelope(bob)[0]
        assert wait_for(lambda: not relay_store.pending_deliveries(bob.store, server.url))
    assert all(not r.errors for r in watcher.reports), [r.errors for r in watcher.reports]
    assert "/v1/stream" not in transport.paths and "/v1/envelopes" not in transport.paths
    tags = served_shards(server, reply, SHARDS)
    assert len(tags) == 4 and 2 in tags  # alice's shard, plus three covers


def test_shared_sharded_relays_cost_one_routes_envelope(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    """Seen: alice and bob both on two sharded relays; alice's sync queued one ``routes`` envelope per
    relay (each pushed to both relays: bob downloaded the same news four times). Now: one envelope
    carrying both seeds, and nothing more at the next sync."""
    relay_a = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    relay_b = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    alice, bob = person("alice", relay_a, relay_b), person("bob", relay_a, relay_b)
    befriend(alice, bob)
    sync_recorded(alice)
    (routes,) = alice.store.fetchall("SELECT envelope_id FROM outbox")
    deliveries = alice.store.fetchall("SELECT url FROM outbox_delivery WHERE envelope_id = ?", (routes[0],))
    assert sorted(url for (url,) in deliveries) == sorted([relay_a.url, relay_b.url])  # (as every envelope)
    sync_recorded(alice)
    assert len(alice.store.fetchall("SELECT envelope_id FROM outbox")) == 1  # told once
    mine = route_store.my_seeds(alice.store)
    sync_recorded(bob)
    assert bob.routes.known(alice.identity.public) == {
        relay_a.url: mine[relay_a.url],
        relay_b.url: mine[relay_b.url],
    }


def test_routes_owed_on_different_relays_go_to_each_contact_once(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    """carol writes to relay_c only, bob to relay_a and relay_b: bob gets one envelope with both of
    alice's seeds there, carol one with her seed on relay_c alone (a seed goes only to who writes there)."""
    relays = [spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)}) for _ in range(3)]
    relay_a, relay_b, relay_c = relays
    alice = person("alice", relay_a)
    bob, carol = person("bob", relay_a, relay_b), person("carol", relay_c)
    befriend(alice, bob)
    befriend(alice, carol)
    sync_recorded(alice)
    assert len(alice.store.fetchall("SELECT envelope_id FROM outbox")) == 2
    mine = route_store.my_seeds(alice.store)
    sync_recorded(bob)
    sync_recorded(carol)
    assert bob.routes.known(alice.identity.public) == {
        relay_a.url: mine[relay_a.url],
        relay_b.url: mine[relay_b.url],
    }
    # (alice's card gave both her seed on her own relay_a)
    assert carol.routes.known(alice.identity.public) == {
        relay_a.url: mine[relay_a.url],
        relay_c.url: mine[relay_c.url],
    }


def test_watch_mode_also_sends_one_routes_envelope_for_shared_sharded_relays(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    """As a sync, the watch loop tells contacts its seeds once every relay was asked: one envelope."""
    from test_watch import Watcher, wait_for

    relay_a = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    relay_b = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    alice, bob = person("alice", relay_a, relay_b), person("bob", relay_a, relay_b)
    befriend(alice, bob)
    with Watcher(SyncEngine(alice)) as watcher:
        assert wait_for(lambda: bool(alice.store.fetchall("SELECT envelope_id FROM outbox")))
        assert wait_for(
            lambda: not relay_store.pending_deliveries(alice.store, relay_a.url)
            and not relay_store.pending_deliveries(alice.store, relay_b.url)
        )
    assert all(not r.errors for r in watcher.reports), [r.errors for r in watcher.reports]
    assert len(alice.store.fetchall("SELECT envelope_id FROM outbox")) == 1
    mine = route_store.my_seeds(alice.store)
    sync_recorded(bob)
    assert bob.routes.known(alice.identity.public) == {
        relay_a.url: mine[relay_a.url],
        relay_b.url: mine[relay_b.url],
    }
