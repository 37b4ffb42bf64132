"""The core scenario on PostgreSQL with two relay processes on one database: alice writes through
relay A, bob and carol read through relay B (both serve one log). Skipped without TUI_SNS_TEST_PG_DSN."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer
from sync_helpers import received, sync

from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.dump import dump_relay_storage

pytestmark = [pytest.mark.slow, pytest.mark.pg]


def test_two_relays_on_one_postgres_database(
    pg_url: str, spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    mark = secrets.token_hex(6)
    relay_a, relay_b = spawn_relay(pg_url), spawn_relay(pg_url)
    alice = person("alice", relay_a)
    bob, carol = person("bob", relay_b), person("carol", relay_b)
    # The cards alice hands out name relay B only, so bob and carol never talk to relay A.
    alice_card = alice.contacts.my_card(relays=(relay_b.url,))
    for friend in (bob, carol):
        friend.contacts.add(alice_card)
        alice.contacts.add(friend.contacts.my_card())
        assert [t[0] for t in SyncEngine(friend)._targets()] == [relay_b.url]
    alice.circles.create("close")
    alice.circles.add("close", ["bob"])
    alice.circles.create("work")
    alice.circles.add("work", ["carol"])

    alice.diary.post(f"b-{mark}", title=f"close-{mark}", to=["close"])
    alice.diary.post(f"b-{mark}", title=f"work-{mark}", to=["work"])
    alice.diary.post(f"b-{mark}", title=f"private-{mark}")
    bob.diary.post(f"b-{mark}", title=f"bob-{mark}", to=["alice"])

    report = SyncEngine(alice).sync_once()  # pushes through A; also reads B (named by bob's card)
    assert report.errors == [] and report.pushed == 2
    assert len(relay_b.envelopes()) == 2  # B serves what went in through A
    assert sync(bob).errors == []
    assert sync(carol).errors == []
    assert sync(alice).errors == []
    assert {p.title for p in received(bob)} == {f"close-{mark}"}
    assert {p.title for p in received(carol)} == {f"work-{mark}"}
    assert {p.title for p in received(alice)} == {f"bob-{mark}"}
    assert relay_a.envelopes() == relay_b.envelopes()

    dump = dump_relay_storage(pg_url)
    assert len(relay_b.envelopes()) == 3 and relay_b.envelopes()[0]["id"].encode() in dump
    for session in (alice, bob, carol):
        key = session.identity.public
        assert key not in dump and key.hex().encode() not in dump
        assert session.name.encode() not in dump
    assert mark.encode() not in dump
    for session in (alice, bob, carol):
        session.close()
