"""Delivery you can trust (issue 10): arrival order changes nothing, chains never silently drop an entry.

Every case goes through the core services; envelopes are taken from the sender's outbox in the order
they were queued and handed to the reader's inbox in whatever order the case needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conv_helpers import befriend

from tui_sns.core import diary as diary_module
from tui_sns.core import outgoing as outgoing_module
from tui_sns.core.comments import DIFFERENT_ENTRY
from tui_sns.core.inbox import EXPIRY_TOLERANCE, Outcome, local_post_id
from tui_sns.core.messages import PostMessage
from tui_sns.core.outgoing import send
from tui_sns.crypto.envelope import HEADER_BYTES, HINT_BYTES, Opened, envelope_id, open_envelope
from tui_sns.store import mailbox
from tui_sns.store import posts as post_store


def take(sender: Any) -> list[bytes]:
    """The sender's outbox envelopes not taken before, in the order they were queued."""
    pending = mailbox.unexported(sender.store)
    mailbox.mark_exported(sender.store, [eid for eid, _ in pending])
    return [data for _, data in pending]


def titles(session: Any) -> list[tuple[str, str]]:
    return [(p.title, p.body) for p in session.diary.timeline()]


# -- 3. one path advances chains, inside one transaction --------------------------------------------


def test_a_forward_sent_while_posting_never_takes_the_entrys_sequence_number(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: posting sealed outside the write transaction; a comment forward queued in between (the
    background sync) took the same sequence number for a shared reader, who dropped the entry as a
    replay. The forward is forced into that window: it must wait for the entry's transaction."""
    alice, bob, carol = people("alice", "bob", "carol")
    befriend(alice, bob)
    befriend(alice, carol)
    first = alice.diary.post("first", to=["bob", "carol"]).id
    envelopes = take(alice)
    bob.inbox.receive(envelopes)
    carol.inbox.receive(envelopes)
    bob.comments.add(local_post_id(alice.identity.public, first), "nice")
    comment = take(bob)

    real_seal = outgoing_module.seal
    forwarded = threading.Event()
    blocked = threading.Event()
    worker: list[threading.Thread] = []

    def receive_comment() -> None:
        # The background sync receiving bob's comment, which queues its forward to carol.
        lock = alice.store._lock
        if lock.acquire(blocking=False):
            lock.release()
        else:
            blocked.set()  # the entry's transaction holds the store: the forward waits for it
        alice.inbox.receive(comment)
        forwarded.set()

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def sealing(*args: Any, **kwargs: Any) -> Any:
            payload = args[2] if len(args) > 2 else kwargs["payload"]
            if not worker and b'"type":"post"' in payload:
                thread = threading.Thread(target=receive_comment)
                worker.append(thread)
                thread.start()
                for _ in range(2000):  # until the forward is queued, or is waiting for our transaction
                    if forwarded.is_set() or blocked.is_set():
                        break
                    time.sleep(0.005)
            return real(*args, **kwargs)

        return sealing

    sealing = wrap(real_seal)
    monkeypatch.setattr(outgoing_module, "seal", sealing)
    if hasattr(outgoing_module, "seal_v2"):  # v2 readers (design-v2 §7) are sealed by seal_v2
        monkeypatch.setattr(outgoing_module, "seal_v2", wrap(outgoing_module.seal_v2))
    if hasattr(diary_module, "seal"):  # the code before the fix sealed entries in diary.py
        monkeypatch.setattr(diary_module, "seal", sealing)
    second = alice.diary.post("second", to=["bob", "carol"]).id
    worker[0].join(timeout=30)
    assert forwarded.is_set()
    report = carol.inbox.receive(take(alice))
    assert report.outcomes[Outcome.REPLAY] == 0
    assert {p.body for p in carol.diary.timeline()} == {"first", "second"}
    assert [c.body for c in carol.comments.list(local_post_id(alice.identity.public, first))] == ["nice"]
    assert carol.diary.missing() == [] and carol.diary.chain_breaks() == []
    assert second


def test_every_chained_send_goes_through_one_function(people: Callable[..., Any]) -> None:
    """Entries, comments, forwards, edits, deletions and hides all advance the chain through
    outgoing.send: the reader's chain has no gap and no fork."""
    alice, bob, carol = people("alice", "bob", "carol")
    befriend(alice, bob)
    befriend(alice, carol)
    calls: list[bytes] = []
    real_send = outgoing_module.send

    def counting(session: Any, contacts: Any, payload: bytes, **kwargs: Any) -> Any:
        calls.append(payload)
        return real_send(session, contacts, payload, **kwargs)

    import tui_sns.core.comments as comments_module

    mp = pytest.MonkeyPatch()
    mp.setattr(outgoing_module, "send", counting)
    mp.setattr(diary_module, "send", counting)
    mp.setattr(comments_module, "send", counting)
    try:
        entry = alice.diary.post("x", to=["bob", "carol"]).id
        envelopes = take(alice)
        bob.inbox.receive(envelopes)
        carol.inbox.receive(envelopes)
        alice.comments.add(entry, "mine")
        bob.comments.add(local_post_id(alice.identity.public, entry), "bob's")
        alice.inbox.receive(take(bob))
        alice.diary.edit(entry, body="y")
        bobs = [c for c in alice.comments.list(entry) if not c.mine]
        alice.comments.hide(entry, bobs[0].id)
        alice.diary.delete(entry)
    finally:
        mp.undo()
    kinds = [p.split(b'"type":"')[1].split(b'"')[0].decode() for p in calls]
    assert kinds == ["post", "thread", "comment", "thread", "edit", "hide", "delete"]
    carol.inbox.receive(take(alice))
    assert carol.diary.missing() == [] and carol.diary.chain_breaks() == []


def test_sync_opens_envelopes_outside_the_transaction(people: Callable[..., Any], monkeypatch: Any) -> None:
    """The inbox promises to open envelopes without holding the store: the sync engine's page apply
    opens first, then records the page and its cursor in one transaction."""
    import tui_sns.core.inbox as inbox_module
    from tui_sns.net.transport import RemoteEnvelope
    from tui_sns.sync.engine import SyncEngine

    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    alice.diary.post("hello", to=["bob"])
    envelopes = take(alice)
    depths: list[int] = []
    real_open = inbox_module.open_envelope

    def opening(me: Any, data: bytes) -> Any:
        depths.append(bob.store._depth)
        return real_open(me, data)

    monkeypatch.setattr(inbox_module, "open_envelope", opening)
    into = inbox_module.ReceiveReport()
    SyncEngine(bob)._apply(
        "https://relay.invalid", [RemoteEnvelope(1, envelope_id(envelopes[0]), envelopes[0])], 1, into
    )
    assert depths == [0]
    assert into.stored == 1


# -- 2. chain state belongs to keys, not to contact rows ---------------------------------------------


def test_remove_and_readd_keeps_my_sending_position(people: Callable[..., Any]) -> None:
    """Seen: removing and re-adding a contact reset my sending position to 1; my next entries reused
    numbers they already held and were dropped as replays, silently."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    alice.diary.post("one", to=["bob"])
    alice.diary.post("two", to=["bob"])
    bob.inbox.receive(take(alice))
    card = bob.contacts.my_card()
    alice.contacts.remove("bob")
    alice.contacts.add(card)
    alice.diary.post("three", to=["bob"])
    report = bob.inbox.receive(take(alice))
    assert report.outcomes[Outcome.STORED] == 1 and report.outcomes[Outcome.REPLAY] == 0
    assert sorted(p.body for p in bob.diary.timeline()) == ["one", "three", "two"]
    # block and unblock keeps it too
    alice.contacts.block("bob")
    alice.contacts.unblock("bob")
    alice.diary.post("four", to=["bob"])
    assert bob.inbox.receive(take(alice)).stored == 1


def altered_decoy(data: bytes, reader: Any, author: Any) -> bytes:
    """The envelope with one byte of a slot that is neither the reader's nor the author's changed
    (any relay can do this): a new envelope id, still opening for the reader."""
    n = (data[65] << 8) | data[66]
    for slot in range(n):
        at = HEADER_BYTES + slot * HINT_BYTES
        changed = data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]
        mine = open_envelope(reader.epochs.keyring(), changed)
        theirs = open_envelope(author.epochs.keyring(), changed)
        if isinstance(mine, Opened) and isinstance(theirs, Opened):
            return changed
    raise AssertionError("no decoy slot")


def test_remove_and_readd_keeps_replay_memory(people: Callable[..., Any]) -> None:
    """Seen: the replay memory went with the contact row; after a remove and re-add, an old envelope
    with one decoy byte changed brought a deleted entry back."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    entry = alice.diary.post("regret", to=["bob"]).id
    (original,) = take(alice)
    bob.inbox.receive([original])
    alice.diary.delete(entry)
    bob.inbox.receive(take(alice))
    assert bob.diary.timeline() == []
    card = alice.contacts.my_card()
    bob.contacts.remove("alice")
    bob.contacts.add(card)
    report = bob.inbox.receive([altered_decoy(original, bob, alice)])
    assert report.outcomes[Outcome.REPLAY] == 1
    assert bob.diary.timeline() == []


# -- 1. operations that arrive before their target ---------------------------------------------------


def test_a_deletion_arriving_before_its_entry_wins(people: Callable[..., Any]) -> None:
    """Seen: the client's own retry back-off reorders its outbox; a deletion that arrived first was
    ignored, and the entry appeared when it arrived later."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    entry = alice.diary.post("oops", to=["bob"]).id
    alice.diary.delete(entry)
    post, deletion = take(alice)
    bob.inbox.receive([deletion])
    report = bob.inbox.receive([post])
    assert report.outcomes[Outcome.DELETED] == 1
    assert bob.diary.timeline() == []


def test_an_edit_arriving_before_its_entry_is_applied(people: Callable[..., Any]) -> None:
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    entry = alice.diary.post("draft", title="t", to=["bob"]).id
    alice.diary.edit(entry, body="final")
    post, edit = take(alice)
    assert bob.inbox.receive([edit]).outcomes[Outcome.PENDING] == 1
    bob.inbox.receive([post])
    assert titles(bob) == [("t", "final")]
    assert post_store.pending_count(bob.store) == 0


def test_a_hide_arriving_before_its_comment_keeps_it_hidden(people: Callable[..., Any]) -> None:
    alice, bob, carol = people("alice", "bob", "carol")
    befriend(alice, bob)
    befriend(alice, carol)
    entry = alice.diary.post("x", to=["bob", "carol"]).id
    pid = local_post_id(alice.identity.public, entry)
    (post,) = take(alice)
    bob.inbox.receive([post])
    bob.comments.add(pid, "rude")
    alice.inbox.receive(take(bob))
    (comment,) = alice.comments.list(entry)
    alice.comments.hide(entry, comment.id)
    forward, hide = take(alice)
    # the hide first (the entry is not even here yet), then the forward, then the entry
    assert carol.inbox.receive([hide]).outcomes[Outcome.PENDING] == 1
    carol.inbox.receive([forward])
    carol.inbox.receive([post])
    assert carol.comments.list(pid) == []
    # and the entry first, then the hide, then the forward
    dave = people("dave")
    befriend(alice, dave)
    entry2 = alice.diary.post("y", to=["bob", "dave"]).id
    (post2,) = take(alice)
    bob.inbox.receive([post2])
    bob.comments.add(local_post_id(alice.identity.public, entry2), "rude again")
    alice.inbox.receive(take(bob))
    (comment2,) = alice.comments.list(entry2)
    alice.comments.hide(entry2, comment2.id)
    forward2, hide2 = take(alice)
    dave.inbox.receive([post2, hide2])
    dave.inbox.receive([forward2])
    assert dave.comments.list(local_post_id(alice.identity.public, entry2)) == []


def test_same_second_edits_apply_in_the_authors_order(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: edits were ordered by wall-clock seconds; two edits in one second delivered newest first
    left readers on the older text."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    monkeypatch.setattr(diary_module, "now_iso", lambda: "2026-06-01T12:00:00+00:00")
    entry = alice.diary.post("v1", to=["bob"]).id
    alice.diary.edit(entry, body="v2")
    alice.diary.edit(entry, body="v3")
    post, edit2, edit3 = take(alice)
    bob.inbox.receive([post, edit3])
    bob.inbox.receive([edit2])
    assert [p.body for p in bob.diary.timeline()] == ["v3"]
    assert alice.diary.get(entry).body == "v3"


def test_pending_operations_are_bounded_per_author(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_sns.core.inbox as inbox_module
    from tui_sns.core.messages import EditMessage

    monkeypatch.setattr(inbox_module, "MAX_PENDING_PER_AUTHOR", 3)
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    for i in range(5):
        send(
            alice,
            [alice.contacts.get("bob")],
            EditMessage(f"nothere{i}", "t", "b", "2026-01-01T00:00:00+00:00").encode(),
        )
    report = bob.inbox.receive(take(alice))
    assert report.outcomes[Outcome.PENDING] == 3 and report.outcomes[Outcome.IGNORED] == 2
    assert post_store.pending_count(bob.store) == 3


# -- 5. time -----------------------------------------------------------------------------------------


def test_a_future_claimed_time_cannot_keep_an_entry_on_top(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: a sender whose clock said 2031 stayed at the top of every reader's timeline."""
    alice, bob, carol = people("alice", "bob", "carol")
    befriend(alice, bob)
    befriend(carol, bob)
    with monkeypatch.context() as m:
        m.setattr(diary_module, "now_iso", lambda: "2031-01-01T00:00:00+00:00")
        alice.diary.post("from the future", to=["bob"])
    bob.inbox.receive(take(alice))
    import tui_sns.core.inbox as inbox_module

    an_hour_later = (datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)).isoformat()
    with monkeypatch.context() as m:  # carol writes, and bob receives, an hour later
        m.setattr(diary_module, "now_iso", lambda: an_hour_later)
        m.setattr(inbox_module, "now_iso", lambda: an_hour_later)
        carol.diary.post("later, honestly", to=["bob"])
        bob.inbox.receive(take(carol))
    (later, future) = bob.diary.timeline()
    assert (later.body, future.body) == ("later, honestly", "from the future")
    assert future.created <= datetime.now(UTC).isoformat()
    assert future.claimed == "2031-01-01T00:00:00+00:00"
    assert later.claimed is None


def test_entries_of_one_second_keep_the_authors_order_everywhere(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: entries written within one second were shown in random order, different for the author
    and the reader. Ties break by the author's sequence."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    monkeypatch.setattr(diary_module, "now_iso", lambda: "2026-06-01T12:00:00+00:00")
    bodies = [f"entry {i}" for i in range(8)]
    for body in bodies:
        alice.diary.post(body, to=["bob"])
    envelopes = take(alice)
    bob.inbox.receive(list(reversed(envelopes)))
    expected = list(reversed(bodies))
    assert [p.body for p in alice.diary.timeline()] == expected
    assert [p.body for p in bob.diary.timeline()] == expected
    assert [p.body for p in bob.diary.timeline(limit=3, offset=3)] == expected[3:6]


def test_a_slow_clock_never_drops_an_entry_silently(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: a slow clock plus --expires 7d made a received entry vanish on import with no word."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    slow = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    with monkeypatch.context() as m:
        m.setattr(diary_module, "now_iso", lambda: slow.isoformat())
        alice.diary.post("stale", to=["bob"], expires=timedelta(days=7))
    report = bob.inbox.receive(take(alice))
    assert report.expired == ["alice"] and report.outcomes[Outcome.EXPIRED] == 1
    # within the tolerance it is kept (expiring that much later)
    near = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7) - EXPIRY_TOLERANCE / 2
    with monkeypatch.context() as m:
        m.setattr(diary_module, "now_iso", lambda: near.isoformat())
        alice.diary.post("just in time", to=["bob"], expires=timedelta(days=7))
    report = bob.inbox.receive(take(alice))
    assert report.stored == 1 and report.expired == []
    assert [p.body for p in bob.diary.timeline()] == ["just in time"]


# -- 6. comments: who wrote them, about what ----------------------------------------------------------


def test_an_impostor_named_like_my_contact_is_never_shown_as_them(people: Callable[..., Any]) -> None:
    alice, bob, carol, mallory = people("alice", "bob", "carol", "mallory")
    befriend(alice, bob)
    befriend(alice, carol)
    befriend(carol, bob)
    alice.contacts.add(mallory.contacts.my_card("bob"), "mal")
    mallory.contacts.add(alice.contacts.my_card())
    entry = alice.diary.post("hi", to=["carol", "mal"]).id
    pid = local_post_id(alice.identity.public, entry)
    envelopes = take(alice)
    carol.inbox.receive(envelopes)
    mallory.inbox.receive(envelopes)
    mallory.comments.add(pid, "it's me, bob")
    alice.inbox.receive(take(mallory))
    carol.inbox.receive(take(alice))
    (comment,) = carol.comments.list(pid)
    assert comment.author == "bob, via alice, not in your contacts"
    assert not comment.in_contacts and not comment.mine


def test_a_comment_about_a_different_version_of_the_entry_is_flagged(people: Callable[..., Any]) -> None:
    """Seen: the entry's author sent different content under one entry id to different readers, so
    one reader's reply was shown to another under a different question."""
    alice, bob, dave = people("alice", "bob", "dave")
    befriend(alice, bob)
    befriend(alice, dave)
    befriend(bob, dave)
    entry = alice.diary.post("Do you like cats?", to=["bob", "dave"]).id
    bob.inbox.receive(take(alice))  # dave never gets the honest copy
    remote_id, _, thread_key, _ = post_store.post_meta(alice.store, entry)
    assert thread_key is not None
    lie = PostMessage(remote_id, "", "Do you like stealing?", "2026-01-01T00:00:00+00:00", thread_key.hex())
    send(alice, [alice.contacts.get("dave")], lie.encode())
    dave.inbox.receive(take(alice))
    pid = local_post_id(alice.identity.public, entry)
    bob.comments.add(pid, "yes, very much")
    alice.inbox.receive(take(bob))
    dave.inbox.receive(take(alice))
    (comment,) = dave.comments.list(pid)
    assert comment.warning == DIFFERENT_ENTRY
    # bob, who saw the same version, gets no warning on alice's own comment; nor after an edit
    alice.comments.add(entry, "me too")
    alice.diary.edit(entry, body="Do you like cats and dogs?")
    bob.inbox.receive(take(alice))
    assert [c.warning for c in bob.comments.list(pid)] == [None, None]


def test_someone_removed_from_the_circle_gets_no_more_derived_envelopes(people: Callable[..., Any]) -> None:
    """Seen: someone removed from a circle (not blocked) kept receiving new comments and edits of that
    circle's old entries."""
    alice, bob, dave = people("alice", "bob", "dave")
    befriend(alice, bob)
    befriend(alice, dave)
    alice.circles.create("close")
    alice.circles.add("close", ["bob", "dave"])
    entry = alice.diary.post("for close friends", to=["close"]).id
    envelopes = take(alice)
    bob.inbox.receive(envelopes)
    dave.inbox.receive(envelopes)
    alice.circles.remove("close", ["dave"])
    pid = local_post_id(alice.identity.public, entry)
    bob.comments.add(pid, "only for the circle")
    alice.inbox.receive(take(bob))
    alice.diary.edit(entry, body="edited for the circle")
    envelopes = take(alice)
    assert len(envelopes) == 1  # the edit, to bob: the comment's forward had nobody left to go to
    report = dave.inbox.receive(envelopes)
    assert report.outcomes[Outcome.NOT_FOR_ME] == 1
    assert dave.comments.list(pid) == [] and titles(dave) == [("", "for close friends")]
    # named directly as well as through the circle: still a reader
    alice.circles.add("close", ["dave"])
    entry2 = alice.diary.post("again", to=["close", "dave"]).id
    dave.inbox.receive(take(alice))
    alice.circles.remove("close", ["dave"])
    alice.diary.edit(entry2, body="again, edited")
    assert dave.inbox.receive(take(alice)).outcomes[Outcome.APPLIED] == 1


def test_waiting_operations_are_forgotten_after_their_lifetime(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_sns.core.inbox as inbox_module
    from tui_sns.core.messages import EditMessage

    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    bob_contact = alice.contacts.get("bob")
    send(alice, [bob_contact], EditMessage("gone", "t", "b", "2026-01-01T00:00:00+00:00").encode())
    bob.inbox.receive(take(alice))
    assert post_store.pending_count(bob.store) == 1
    later = (datetime.now(UTC) + inbox_module.PENDING_LIFETIME + timedelta(days=1)).replace(microsecond=0)
    monkeypatch.setattr(inbox_module, "now_iso", lambda: later.isoformat())
    send(alice, [bob_contact], EditMessage("also gone", "t", "b", "2026-01-01T00:00:00+00:00").encode())
    bob.inbox.receive(take(alice))
    assert post_store.pending_count(bob.store) == 1  # the old one was forgotten


def test_a_received_entry_deleted_here_keeps_no_waiting_operations(people: Callable[..., Any]) -> None:
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    entry = alice.diary.post("x", to=["bob"]).id
    bob.inbox.receive(take(alice))
    bob.diary.delete(local_post_id(alice.identity.public, entry))
    alice.diary.edit(entry, body="y")
    assert bob.inbox.receive(take(alice)).outcomes[Outcome.IGNORED] == 1
    assert post_store.pending_count(bob.store) == 0 and bob.diary.timeline() == []


def test_an_unreadable_or_offset_claimed_time_is_placed_sanely(people: Callable[..., Any]) -> None:
    """One more of the same kind: a claimed time that is not a time at all, or one far in the future
    written with a zone offset, is placed at the arrival time too."""
    alice, bob = people("alice", "bob")
    befriend(alice, bob)
    to_bob = [alice.contacts.get("bob")]
    send(alice, to_bob, PostMessage("r1", "", "no time", "yesterday-ish").encode())
    send(alice, to_bob, PostMessage("r2", "", "offset", "2999-01-01T09:00:00+09:00").encode())
    assert bob.inbox.receive(take(alice)).stored == 2
    now = datetime.now(UTC).isoformat()
    posts = {p.body: p for p in bob.diary.timeline()}
    assert posts["no time"].created <= now and posts["offset"].created <= now
    assert posts["offset"].claimed == "2999-01-01T00:00:00+00:00"
