"""Issue 10 through a real relay: one sync converges and reports by kind (§4); envelopes derived from an
entry carry nothing the relay can match to it (§7)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conv_helpers import befriend

from tui_sns.core.inbox import local_post_id
from tui_sns.crypto.envelope import envelope_id
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.dump import dump_relay_storage

pytestmark = pytest.mark.slow


def test_one_sync_forwards_a_pulled_comment_and_reports_it(
    people: Callable[..., Any], spawn_relay: Callable[..., Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Seen: a sync that pulled a comment on my entry queued its forward but sent it only at the next
    sync; `status` showed an outbox of 1 after a successful sync, and the report said "0 new entries"
    though a comment had arrived."""
    relay = spawn_relay()
    alice, bob, carol = people("alice", "bob", "carol")
    for s in (alice, bob, carol):
        s.relays.add(relay.url, relay.invite())
    befriend(alice, bob)
    befriend(alice, carol)
    entry = alice.diary.post("hello", to=["bob", "carol"]).id
    for s in (alice, bob, carol):
        SyncEngine(s).sync_once()
    pid = local_post_id(alice.identity.public, entry)
    bob.comments.add(pid, "hi!")
    SyncEngine(bob).sync_once()
    alice.store.close()  # alice syncs with the CLI
    result = cli(tmp_path / "home-alice", "sync")
    assert result.code == 0, result.err
    assert "Arrived: 0 entries, 1 comment, 0 edits, 0 deletions, 0 requests." in result.out
    status = cli(tmp_path / "home-alice", "status", "--json").json()
    assert status["outbox"] == 0
    report = SyncEngine(carol).sync_once()  # carol sees the comment after alice's one sync
    assert report.received.kinds["comments"] == 1
    assert [c.body for c in carol.comments.list(pid)] == ["hi!"]


def test_the_relay_cannot_tie_derived_envelopes_to_their_entry(
    people: Callable[..., Any], spawn_relay: Callable[..., Any]
) -> None:
    """Seen: comments, forwards, hides, edits and deletions of an entry were pushed with that entry's
    expiry (stored to the hour, sent to the second), and a comment forward used a smaller slot bucket
    than its entry. The relay's storage is dumped after an entry with comments, an edit and a hide:
    no stored field value is shared only by that entry's envelopes."""
    relay = spawn_relay()
    alice, bob, carol, dave, erin = people("alice", "bob", "carol", "dave", "erin")
    for s in (alice, bob, carol, dave, erin):
        s.relays.add(relay.url, relay.invite())
    for other in (bob, carol, dave, erin):
        befriend(alice, other)
    befriend(erin, bob)

    def sync(*sessions: Any) -> None:
        for s in sessions:
            SyncEngine(s).sync_once()

    # alice's entry to 4 readers (8 slots); its derived envelopes, once forwarded, go to 3 (4 slots
    # would reveal "at most 3"): they must use the entry's 8
    def queued(s: Any) -> set[str]:
        return {str(r[0]) for r in s.store.fetchall("SELECT envelope_id FROM outbox")}

    mine: set[str] = set()  # every envelope of alice's entry: the entry and all derived from it
    sent_by_alice: set[str] = set()
    before = queued(alice)
    entry = alice.diary.post("secret", to=["bob", "carol", "dave", "erin"], expires=timedelta(hours=5)).id
    (entry_envelope,) = queued(alice) - before
    mine.add(entry_envelope)
    # erin's unrelated entry, with a comment of its own: other envelopes of the same week
    other = erin.diary.post("unrelated", to=["bob"]).id
    sync(alice, erin, bob, carol, dave)
    pid = local_post_id(alice.identity.public, entry)
    for s, body in ((bob, "first"), (carol, "second")):
        before = queued(s)
        s.comments.add(pid, body)
        mine |= queued(s) - before
    bob.comments.add(local_post_id(erin.identity.public, other), "on erin's")
    before = queued(alice)
    sync(bob, carol, alice, erin)
    alice.diary.edit(entry, body="secret, edited")
    (comment,) = [c for c in alice.comments.list(entry) if c.body == "second"]
    alice.comments.hide(entry, comment.id)
    sent_by_alice = queued(alice) - before  # her forwards, the edit and the hide
    mine |= sent_by_alice
    sync(alice, bob, carol, dave, erin)

    db_path = Path(relay.db.removeprefix("sqlite:///"))
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT id, data, received_hour, expires_hour FROM envelopes").fetchall()
    stored = {str(r[0]): r for r in rows}
    assert len(mine) == 7 and len(sent_by_alice) == 4 and mine <= set(stored)
    # no field value (received hour, expiry hour) is shared only by this entry's envelopes
    for column in (2, 3):
        holders: dict[Any, set[str]] = defaultdict(set)
        for eid, row in stored.items():
            holders[row[column]].add(eid)
        for value, ids in holders.items():
            if len(ids) > 1:
                assert not ids <= mine, (
                    f"column {column} value {value} is shared only by the entry's envelopes"
                )
    # the entry's own exact expiry is carried by the entry alone
    assert sum(1 for r in rows if r[3] == stored[entry_envelope][3]) == 1
    # every envelope alice sent about the entry has the entry's slot count
    slots = {eid: (stored[eid][1][65] << 8) | stored[eid][1][66] for eid in mine}
    assert {slots[e] for e in sent_by_alice} == {slots[entry_envelope]} == {8}
    assert all(envelope_id(bytes(stored[e][1])) == e for e in mine)
    assert len(dump_relay_storage(relay.db)) > 1000
