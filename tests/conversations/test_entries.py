"""Edits, deletions and expiry of entries; blocking and muting; contact requests from strangers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conv_helpers import befriend

from tui_sns.core import clock
from tui_sns.core.errors import InvalidInput
from tui_sns.core.inbox import Outcome, local_post_id
from tui_sns.core.messages import EditMessage, PostMessage, RequestMessage
from tui_sns.core.outgoing import send
from tui_sns.crypto.card import Card
from tui_sns.crypto.envelope import Recipient, seal
from tui_sns.crypto.keys import Identity


def count(session: Any, table: str) -> int:
    row = session.store.fetchone(f"SELECT count(*) FROM {table}")
    return int(row[0])


def test_edit_and_delete_reach_readers(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, bob, dave = people("alice", "bob", "dave")
    befriend(alice, bob)
    befriend(alice, dave)
    befriend(bob, dave)
    entry = alice.diary.post("first draft", title="t1", to=["bob", "dave"]).id
    deliver(alice, bob, dave)
    pid = local_post_id(alice.identity.public, entry)
    alice.diary.edit(entry, title="t2")
    assert alice.diary.get(entry).title == "t2"
    reports = deliver(alice, bob, dave)
    assert all(r.outcomes[Outcome.APPLIED] == 1 for r in reports)
    post = bob.diary.get(pid)
    assert (post.title, post.body, post.edited is not None) == ("t2", "first draft", True)
    # bob forges an edit of alice's entry to dave: ignored
    send(
        bob,
        [bob.contacts.get("dave")],
        EditMessage(entry, "forged", "forged", "2099-01-01T00:00:00+00:00").encode(),
    )
    (report,) = deliver(bob, dave)
    # kept as waiting for an entry of *bob's* with that id (bounded per author), never applied to alice's
    assert report.outcomes[Outcome.PENDING] == 1
    assert dave.diary.get(pid).title == "t2"
    # someone else's entry cannot be edited
    with pytest.raises(InvalidInput):
        bob.diary.edit(pid, title="mine now")
    alice.diary.delete(entry)
    assert alice.diary.timeline() == []
    deliver(alice, bob, dave)
    assert bob.diary.timeline() == [] and dave.diary.timeline() == []


def test_expired_entries_leave_every_store(
    people: Callable[..., Any], deliver: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    entry = alice.diary.post("gone soon", to=["bob"], expires=timedelta(minutes=1)).id
    assert alice.store.fetchone("SELECT expires FROM outbox")[0] is not None
    deliver(alice, bob)
    pid = local_post_id(alice.identity.public, entry)
    bob.comments.add(pid, "quick, before it goes")
    assert count(bob, "posts") == 1 and count(bob, "comments") == 1
    assert bob.diary.get(pid).expires is not None

    # two minutes later, through the clock seam (tui_sns.core.clock) that every "now" of the core reads
    monkeypatch.setattr(clock, "_source", clock.FakeClock(datetime.now(UTC) + timedelta(minutes=2)))
    assert bob.diary.timeline() == []
    assert count(bob, "posts") == 0 and count(bob, "comments") == 0
    assert count(bob, "outbox") == 0  # the comment envelope expired with its entry
    assert alice.diary.timeline() == [] and count(alice, "posts") == 0


def test_an_already_expired_entry_is_not_stored(
    people: Callable[..., Any], deliver: Callable[..., Any]
) -> None:
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    payload = PostMessage(
        "0123456789abcdef", "old", "old", "2020-01-01T00:00:00+00:00", "00" * 32, "2020-01-02T00:00:00+00:00"
    )
    send(alice, [alice.contacts.get("bob")], payload.encode())
    (report,) = deliver(alice, bob)
    assert report.outcomes[Outcome.EXPIRED] == 1 and count(bob, "posts") == 0
    assert report.expired == ["alice"]  # not silently: the report names whose entry arrived expired


def test_block_and_mute(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    for other in (bob, carol, dave):
        befriend(alice, other)
    alice.circles.create("friends")
    alice.circles.add("friends", ["bob", "carol", "dave"])
    entry = alice.diary.post("before the block", to=["friends"]).id
    deliver(alice, bob, carol, dave)
    alice.contacts.block("bob")
    assert "bob" not in alice.circles.get("friends").members
    assert {c.name: (c.blocked, c.muted) for c in alice.contacts.list()}["bob"] == (True, False)
    with pytest.raises(InvalidInput, match="blocked"):
        alice.diary.post("hi", to=["bob"])
    with pytest.raises(InvalidInput, match="blocked"):
        alice.circles.add("friends", ["bob"])
    bob.diary.post("from bob", to=["alice"])
    (report,) = deliver(bob, alice)
    assert report.outcomes[Outcome.BLOCKED] == 1
    assert [p.body for p in alice.diary.timeline() if not p.mine] == []
    # a comment by dave on the old entry (bob was a reader) is not forwarded to bob
    dave.comments.add(local_post_id(alice.identity.public, entry), "hello")
    deliver(dave, alice)
    bob_report, carol_report = deliver(alice, bob, carol)
    assert bob_report.outcomes[Outcome.NOT_FOR_ME] == 1
    assert carol_report.outcomes[Outcome.APPLIED] == 1
    # mute: carol's entries leave alice's timeline, alice's still reach carol
    alice.contacts.mute("carol")
    carol.diary.post("from carol", to=["alice"])
    deliver(carol, alice)
    assert [p.body for p in alice.diary.timeline() if not p.mine] == []
    alice.diary.post("to my friends", to=["friends"])
    (report,) = deliver(alice, carol)
    assert report.stored == 1
    assert "carol" in alice.circles.get("friends").members
    alice.contacts.unmute("carol")
    assert [p.body for p in alice.diary.timeline() if not p.mine] == ["from carol"]


def request_envelope(stranger: Identity, to: bytes, note: str, card_key: bytes | None = None) -> bytes:
    card = Card(name="stranger", public_key=card_key or stranger.public).encode()
    return seal(stranger, [Recipient(to, 0)], RequestMessage(card, note).encode()).data


def test_stranger_request_flow(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, eve = people("alice", "eve")
    contact = eve.contacts.request(alice.contacts.my_card(), "we met at the library")
    assert contact.name == "alice"
    (report,) = deliver(eve, alice)
    assert report.outcomes[Outcome.REQUEST] == 1
    (request,) = alice.requests.list()
    assert (request.card_name, request.note, request.public_key) == (
        "eve",
        "we met at the library",
        eve.identity.public.hex(),
    )
    eve.diary.post("eve's entry", to=["alice"])
    (report,) = deliver(eve, alice)
    assert report.outcomes[Outcome.STRANGER] == 1
    assert alice.diary.timeline() == []
    alice.requests.accept(request.id, name="eve-from-library")
    assert alice.requests.list() == []
    eve.diary.post("now we are contacts", to=["alice"])
    deliver(eve, alice)
    assert [(p.author, p.body) for p in alice.diary.timeline()] == [
        ("eve-from-library", "now we are contacts")
    ]


def test_requests_are_bounded_and_replaced(people: Callable[..., Any]) -> None:
    alice = people("alice")
    me = alice.identity.public
    strangers = [Identity.generate() for _ in range(60)]
    report = alice.inbox.receive([request_envelope(s, me, f"note {i}") for i, s in enumerate(strangers)])
    assert report.outcomes[Outcome.REQUEST] == 50
    assert len(alice.requests.list()) == 50
    # a second request from a pending sender replaces the first
    report = alice.inbox.receive([request_envelope(strangers[0], me, "second thoughts")])
    assert report.outcomes[Outcome.REQUEST] == 1
    notes = [r.note for r in alice.requests.list() if r.public_key == strangers[0].public.hex()]
    assert notes == ["second thoughts"]
    # a card naming someone else's key is dropped; so is an over-long note
    alice.requests.reject(alice.requests.list()[0].id)
    liar = Identity.generate()
    report = alice.inbox.receive([request_envelope(liar, me, "hi", card_key=Identity.generate().public)])
    assert report.outcomes[Outcome.STRANGER] == 1
    report = alice.inbox.receive([request_envelope(liar, me, "x" * 501)])
    assert report.outcomes[Outcome.STRANGER] == 1
    assert len(alice.requests.list()) == 49
