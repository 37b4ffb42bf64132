"""Lean client bookkeeping (issue 15 §2): the seen table holds only what dedupe needs — the envelopes
that opened for me (or were mine) — and per relay its cursor; dedupe of replays is not weakened.

Seen: every envelope id a relay served went into the seen table (random-key inserts), so a first sync
slowed down as it went (89 → 124 µs per envelope over 200k envelopes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conv_helpers import befriend
from test_delivery import altered_decoy, take

from tui_sns.core.inbox import Outcome
from tui_sns.core.session import Session
from tui_sns.crypto.envelope import envelope_id
from tui_sns.store import KdfParams
from tui_sns.store import relays as relay_store
from tui_sns.store.backup import restore_backup, write_backup
from tui_sns.sync.engine import SyncEngine

PASS = "correct horse battery staple"


def seen_ids(session: Any) -> set[str]:
    return {str(r[0]) for r in session.store.fetchall("SELECT envelope_id FROM seen_envelopes")}


def test_an_envelope_for_someone_else_is_not_recorded(people: Callable[..., Any]) -> None:
    alice, bob, carol = people("alice", "bob", "carol")
    befriend(alice, bob)
    befriend(alice, carol)
    alice.diary.post("for carol", to=["carol"])
    alice.diary.post("for bob", to=["bob"])
    for_carol, for_bob = take(alice)
    junk = os.urandom(len(for_carol))  # malformed: rejected, and not recorded either
    report = bob.inbox.receive([for_carol, junk, for_bob])
    assert report.outcomes[Outcome.NOT_FOR_ME] == 1 and report.stored == 1
    assert report.outcomes[Outcome.REJECTED] == 1
    assert seen_ids(bob) == {envelope_id(for_bob)}
    # offered again, it costs one more open and still stores nothing
    again = bob.inbox.receive([for_carol, junk])
    assert again.outcomes[Outcome.NOT_FOR_ME] == 1 and again.outcomes[Outcome.REJECTED] == 1
    assert seen_ids(bob) == {envelope_id(for_bob)}
    assert [p.body for p in bob.diary.timeline()] == ["for bob"]


def test_a_replay_of_an_envelope_that_opened_is_still_caught(people: Callable[..., Any]) -> None:
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    alice.diary.post("once", to=["bob"])
    (original,) = take(alice)
    first = bob.inbox.receive([original, original])  # twice in one batch
    assert first.stored == 1 and first.outcomes[Outcome.DUPLICATE] == 1
    later = bob.inbox.receive([original])  # the same bytes again (another relay, a replay)
    assert later.outcomes[Outcome.DUPLICATE] == 1 and later.stored == 0
    changed = bob.inbox.receive([altered_decoy(original, bob, alice)])  # another id, same chain position
    assert changed.outcomes[Outcome.REPLAY] == 1 and changed.stored == 0
    assert [p.body for p in bob.diary.timeline()] == ["once"]
    # my own envelope coming back is recorded too: the second time it is a duplicate, not reopened
    bob.diary.post("mine", to=["alice"])
    (own,) = take(bob)
    assert bob.inbox.receive([own]).outcomes[Outcome.MINE] == 1
    assert bob.inbox.receive([own]).outcomes[Outcome.DUPLICATE] == 1


@pytest.mark.slow
def test_a_first_sync_records_only_what_opened_and_a_rewound_cursor_stores_nothing_twice(
    people: Callable[..., Any], spawn_relay: Callable[..., Any], tmp_path: Path
) -> None:
    """A first sync over a log mostly for others; then a restore from a backup taken before newer
    envelopes, and a cursor rewound to 0: what opened is a duplicate, nothing is stored twice."""
    relay = spawn_relay()
    alice, bob, carol = people("alice", "bob", "carol")
    for s in (alice, bob):
        s.relays.add(relay.url, relay.invite())
    befriend(alice, bob)
    befriend(alice, carol)
    with alice.store.write():
        for i in range(30):
            alice.diary.post(f"entry {i}", to=["bob" if i % 10 == 0 else "carol"])
    SyncEngine(alice).sync_once()
    first = SyncEngine(bob).sync_once()
    assert first.errors == [] and first.pulled == 30 and first.received.stored == 3
    assert first.received.outcomes[Outcome.NOT_FOR_ME] == 27
    assert len(seen_ids(bob)) == 3
    cursor = relay_store.get_state(bob.store, relay.url).cursor
    assert cursor > 0

    backup = tmp_path / "bob.backup"
    write_backup(bob.store, backup, PASS, KdfParams.insecure_for_tests())
    alice.diary.post("after the backup", to=["bob"])
    alice.diary.post("not for bob", to=["carol"])
    SyncEngine(alice).sync_once()
    assert SyncEngine(bob).sync_once().received.stored == 1

    restored = tmp_path / "restored"
    restore_backup(restored, backup, PASS, KdfParams.insecure_for_tests()).close()
    with Session.unlock(restored, PASS) as copy:
        assert relay_store.get_state(copy.store, relay.url).cursor == cursor  # the cursor came back
        after = SyncEngine(copy).sync_once()
        # only what came after the backup (2), plus the copy's own announcement of its new key
        # generation: a backup carries no epoch keys (design-v2 §15.4), so the entry sealed to the old
        # prekey after the backup is located but cannot be opened (KEY_DELETED, reported once)
        assert after.pulled == 3 and after.received.stored == 0
        assert after.received.outcomes[Outcome.KEY_DELETED] == 1
        assert after.received.outcomes[Outcome.MINE] == 1
        assert len(seen_ids(copy)) == 4
        # a cursor rewound to the start (a relay that renumbered, a hand-edited store): everything
        # is fetched again; what opened is a duplicate, the rest is opened again and stored nowhere
        with copy.store.write() as conn:
            conn.execute("UPDATE relay_state SET cursor = 0 WHERE url = ?", (relay.url,))
        rewound = SyncEngine(copy).sync_once()
        assert rewound.pulled == 33 and rewound.received.stored == 0
        assert rewound.received.outcomes[Outcome.DUPLICATE] == 5  # 4 seen, 1 already reported
        assert rewound.received.outcomes[Outcome.NOT_FOR_ME] == 28
        assert len(seen_ids(copy)) == 4
        assert len(copy.diary.timeline()) == 3
