"""The ``routes`` payload (docs/protocol.md, "Shard routes"): a contact's shard seeds, accepted only
from contacts, validated, stored per key and relay (bounded); the tag sets built from them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from tui_sns.core.inbox import Outcome
from tui_sns.core.messages import RoutesMessage, decode_message
from tui_sns.core.outgoing import send, send_unchained
from tui_sns.core.routing import shard_tags, slot_count
from tui_sns.store import routes as route_store
from tui_sns.store.routes import MAX_PEER_ROUTES

RELAY = "https://relay.example"


def routes_payload(routes: object) -> bytes:
    return json.dumps({"type": "routes", "routes": routes}).encode()


def test_routes_round_trip() -> None:
    message = RoutesMessage(((RELAY, 40213), ("http://10.0.0.2:8080", None)))
    assert decode_message(message.encode()) == message
    # stored without a trailing slash, like every relay URL
    assert decode_message(routes_payload([{"relay": RELAY + "/", "shard": 1}])) == RoutesMessage(
        ((RELAY, 1),)
    )


@pytest.mark.parametrize(
    "routes",
    [
        [],
        {},
        "x",
        [None],
        [{"shard": 1}],
        [{"relay": 7, "shard": 1}],
        [{"relay": "ftp://relay.example", "shard": 1}],
        [{"relay": "https://u:p@relay.example", "shard": 1}],
        [{"relay": RELAY, "shard": -1}],
        [{"relay": RELAY, "shard": 65536}],
        [{"relay": RELAY, "shard": True}],
        [{"relay": RELAY, "shard": 1.5}],
        [{"relay": RELAY, "shard": "1"}],
        [{"relay": RELAY, "shard": 1}, {"relay": RELAY + "/", "shard": 2}],  # one relay twice
        [{"relay": f"https://r{i}.example", "shard": i} for i in range(17)],  # over 16
    ],
)
def test_malformed_routes_are_refused(routes: object) -> None:
    assert decode_message(routes_payload(routes)) is None


def test_routes_from_a_contact_are_stored(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, bob = people("alice", "bob")
    alice.contacts.add(bob.contacts.my_card())
    bob.contacts.add(alice.contacts.my_card())
    send(bob, [bob.contacts.get("alice")], RoutesMessage(((RELAY, 513),)).encode())
    [report] = deliver(bob, alice)
    assert report.outcomes[Outcome.APPLIED] == 1
    assert route_store.peer_routes(alice.store, bob.public_keys[0]) == {RELAY: 513}
    send(bob, [bob.contacts.get("alice")], RoutesMessage(((RELAY, None),)).encode())  # forget it
    deliver(bob, alice)
    assert route_store.peer_routes(alice.store, bob.public_keys[0]) == {}


def test_routes_from_a_stranger_or_a_blocked_contact_are_dropped(
    people: Callable[..., Any], deliver: Callable[..., Any]
) -> None:
    alice, eve, mallory = people("alice", "eve", "mallory")
    eve.contacts.add(alice.contacts.my_card())  # eve knows alice; alice does not know eve
    send_unchained(eve, eve.contacts.get("alice"), RoutesMessage(((RELAY, 9),)).encode())
    [report] = deliver(eve, alice)
    assert report.outcomes[Outcome.STRANGER] == 1
    assert route_store.peer_routes(alice.store, eve.public_keys[0]) == {}
    alice.contacts.add(mallory.contacts.my_card())
    mallory.contacts.add(alice.contacts.my_card())
    alice.contacts.block("mallory")
    send(mallory, [mallory.contacts.get("alice")], RoutesMessage(((RELAY, 9),)).encode())
    [report] = deliver(mallory, alice)
    assert report.outcomes[Outcome.BLOCKED] == 1
    assert route_store.peer_routes(alice.store, mallory.public_keys[0]) == {}


def test_malformed_routes_from_a_contact_store_nothing(
    people: Callable[..., Any], deliver: Callable[..., Any]
) -> None:
    alice, bob = people("alice", "bob")
    alice.contacts.add(bob.contacts.my_card())
    bob.contacts.add(alice.contacts.my_card())
    send(bob, [bob.contacts.get("alice")], routes_payload([{"relay": RELAY, "shard": 70000}]))
    [report] = deliver(bob, alice)
    assert report.outcomes[Outcome.APPLIED] == 0
    assert route_store.peer_routes(alice.store, bob.public_keys[0]) == {}


def test_a_contact_cannot_grow_my_routes_without_bound(
    people: Callable[..., Any], deliver: Callable[..., Any]
) -> None:
    alice, bob = people("alice", "bob")
    alice.contacts.add(bob.contacts.my_card())
    bob.contacts.add(alice.contacts.my_card())
    for k in range(4):
        routes = tuple((f"https://r{k}-{i}.example", i) for i in range(16))
        send(bob, [bob.contacts.get("alice")], RoutesMessage(routes).encode())
    deliver(bob, alice)
    stored = route_store.peer_routes(alice.store, bob.public_keys[0])
    assert len(stored) == MAX_PEER_ROUTES


def test_a_card_gives_its_seeds(people: Callable[..., Any]) -> None:
    alice, bob = people("alice", "bob")
    card = bob.contacts.my_card(relays=(RELAY,))
    alice.contacts.add(card)
    assert route_store.peer_routes(alice.store, bob.public_keys[0]) == {RELAY: bob.routes.seed(RELAY)}
    # A seed is drawn once per relay and never changes.
    assert bob.routes.seed(RELAY) == bob.routes.seed(RELAY)
    assert bob.contacts.my_card(relays=(RELAY,)) == card


def test_outbox_envelopes_know_their_recipients(people: Callable[..., Any]) -> None:
    alice, bob, carol = people("alice", "bob", "carol")
    for other in (bob, carol):
        alice.contacts.add(other.contacts.my_card(relays=(RELAY,)))
    alice.diary.post("hi", title="hi", to=["bob", "carol"])
    [(eid,)] = alice.store.fetchall("SELECT envelope_id FROM outbox")
    seeds = route_store.recipient_seeds(alice.store, RELAY, [eid])
    assert sorted(seeds[eid]) == sorted([bob.routes.seed(RELAY), carol.routes.seed(RELAY)])
    assert route_store.recipient_seeds(alice.store, "https://other.example", [eid]) == {eid: [None, None]}


# -- tags (docs/design-sharding.md §3.2) ---------------------------------------------------------


@pytest.mark.parametrize("shards", [2, 16, 256, 4096])
def test_tags_hold_every_recipient_and_exactly_n_shards(shards: int) -> None:
    rng = random.Random(shards)
    for _ in range(300):
        slots = rng.choice([4, 8, 16, 32, 64])
        seeds: list[int | None] = [rng.randrange(65536) for _ in range(rng.randrange(1, slots))]
        tags = shard_tags(seeds, slots, shards, rng=rng)
        if slots >= shards:
            assert tags is None
            continue
        assert tags is not None and len(tags) == slots
        assert {s % shards for s in seeds if s is not None} <= tags
        assert all(0 <= t < shards for t in tags)


def test_broadcast_cases() -> None:
    assert shard_tags([1, 2], 4, 1) is None  # one shard
    assert shard_tags([1, None], 4, 256) is None  # a recipient's seed unknown
    assert shard_tags(None, 4, 256) is None  # recipients not known (queued before they were recorded)
    assert shard_tags([], 4, 256) is None
    assert shard_tags([1], 4, 4) is None  # n >= S
    assert shard_tags([1], 4, 256, extra=6) is None  # 4 · 2^6 = 256 >= S
    assert len(shard_tags([1], 4, 256, extra=2) or ()) == 16


def test_covers_are_fresh_and_spread() -> None:
    rng = random.Random(1)
    seen: set[int] = set()
    for _ in range(400):
        tags = shard_tags([5], 4, 64, rng=rng)
        assert tags is not None and 5 in tags
        seen |= tags
    assert seen == set(range(64))  # every other shard serves as a cover sometime


def test_slot_count_reads_the_header(people: Callable[..., Any]) -> None:
    alice, bob = people("alice", "bob")
    alice.contacts.add(bob.contacts.my_card())
    sealed = send(alice, [alice.contacts.get("bob")], b'{"type":"x"}', min_slots=16)
    assert sealed is not None and slot_count(sealed.data) == 16
    assert slot_count(b"\x01" * 10) is None
