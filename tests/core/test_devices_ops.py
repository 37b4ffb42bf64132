"""The device-sync op kinds of design-v2 §8.3 beyond the first eight: ``comment``, ``received``,
``setting``, ``forwarded``, ``v1-send`` — each round-trips between two devices of one identity, waits
for its target when needed, and is validated as strictly as the others (hostile ops are skipped and
counted, never applied in part). Also the comment-forwarding rule and the v1 sender (§7).

Two devices are made by copying a store (as tests/core/test_devices_sync.py); Kenji (v2) and Lee (v1)
are in-process contacts, envelopes handed over from outbox to inbox."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_devices_sync import push

from tui_sns.core import clock
from tui_sns.core.devices import FORWARD_DELAY
from tui_sns.core.inbox import Outcome
from tui_sns.core.session import Session
from tui_sns.crypto.envelope import open_envelope
from tui_sns.store import KdfParams, mailbox

PASSPHRASE = "correct horse battery staple"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


class People:
    def __init__(self, root: Path, fake: clock.FakeClock) -> None:
        kdf = KdfParams.insecure_for_tests()
        with Session.create(root / "ana1", "ana", PASSPHRASE, kdf=kdf) as first:
            first.devices.this_device("desktop")
        shutil.copytree(root / "ana1", root / "ana2")
        self.a = Session.unlock(root / "ana1", PASSPHRASE)
        self.b = Session.unlock(root / "ana2", PASSPHRASE)
        with self.b.store.write() as conn:  # the copy is a new device (it lists the desktop already)
            conn.execute("DELETE FROM device")
            conn.execute("DELETE FROM meta WHERE key IN ('devid', 'devtag_key')")
        fake.advance(60)  # the laptop is the younger device: the desktop is the v1 sender
        db = self.b.devices.this_device("laptop")
        self.a.devices.add_device(db.devid, db.public_key, db.name)
        self.kenji = Session.create(root / "kenji", "kenji", PASSPHRASE, kdf=kdf)
        self.lee = Session.create(root / "lee", "lee", PASSPHRASE, kdf=kdf)
        self.lee.epochs.disable_v2_for_tests()
        for other in (self.kenji, self.lee):
            self.a.contacts.add(other.contacts.my_card())
            other.contacts.add(self.a.contacts.my_card())
        push(self.a, self.b)
        # (the laptop learns Kenji's prekey from his next announcement: contact ops carry no prekey)
        self.kenji.epochs.owe_announcement(self.a.identity.public)
        for s in (self.a, self.kenji, self.lee):  # announcements owed to new contacts
            sent = take(s)
            for other in (self.a, self.b, self.kenji, self.lee):
                if other is not s:
                    other.inbox.receive(sent)
        take(self.b)

    def close(self) -> None:
        for s in (self.a, self.b, self.kenji, self.lee):
            s.close()


def take(session: Session) -> list[bytes]:
    session.epochs.tick()
    rows = mailbox.unexported(session.store)
    mailbox.mark_exported(session.store, [i for i, _ in rows])
    return [d for _, d in rows]


@pytest.fixture
def fake() -> Iterator[clock.FakeClock]:
    source = clock.FakeClock(T0)
    with clock.use_source(source):
        yield source


@pytest.fixture
def people(tmp_path: Path, fake: clock.FakeClock) -> Iterator[People]:
    made = People(tmp_path, fake)
    yield made
    made.close()


def op(kind: str, sender: Session, lamport: int = 10**6, **fields: Any) -> dict[str, Any]:
    return {"o": kind, "t": [lamport, sender.devices.devid.hex()], **fields}


# -- comment -----------------------------------------------------------------------------------------


def test_my_comments_and_hides_reach_my_other_device(people: People) -> None:
    a, b = people.a, people.b
    entry = a.diary.post("a note", title="mine")
    comment = a.comments.add(entry.id, "a thought")
    report = push(a, b)
    assert report.applied >= 2 and report.invalid == 0
    assert [(c.id, c.body, c.mine) for c in b.comments.list(entry.id)] == [(comment.id, "a thought", True)]
    b.comments.delete(comment.id)
    push(b, a)
    assert a.comments.list(entry.id) == []
    assert push(b, a) is None  # nothing more queued


def test_a_comment_on_an_entry_not_here_yet_waits_for_it(people: People) -> None:
    a, b, kenji = people.a, people.b, people.kenji
    kenji.diary.post("kenji writes", title="k", to=["ana"])
    envelopes = take(kenji)
    a.inbox.receive(envelopes)
    (k,) = [p for p in a.diary.timeline() if p.title == "k"]
    mine = a.comments.add(k.id, "ana answers")
    report = push(a, b)
    assert report.pending == 1  # the laptop has not received Kenji's entry yet
    b.inbox.receive(envelopes)
    assert [(c.id, c.body) for c in b.comments.list(k.id)] == [(mine.id, "ana answers")]


def test_hostile_comment_ops_are_invalid(people: People) -> None:
    a, b = people.a, people.b
    entry = a.diary.post("x", title="e")
    push(a, b)
    me = a.identity.public.hex()
    good = {
        "author": me,
        "post": entry.id,
        "id": "c1",
        "body": "b",
        "created": clock.now_iso(),
        "label": "ana",
    }
    ops = [
        op("comment", a, **{**good, "body": "x" * 9000}),  # longer than a comment
        op("comment", a, **{**good, "label": "\u202eevil"}),  # a label my contact book refuses
        op("comment", a, **{**good, "digest": "00" * 32}),  # not a 16-byte digest
        op("comment", a, **{**good, "author": "zz"}),
        op("comment", a, **{k: v for k, v in good.items() if k != "body"}),  # neither whole nor a hide
        op("comment", a, **{**good, "id": ""}),
    ]
    report = b.devices.apply_ops(ops)
    assert (report.invalid, report.applied) == (len(ops), 0)
    assert b.comments.list(entry.id) == []
    assert b.devices.apply_ops([op("comment", a, **good)]).applied == 1
    assert [c.body for c in b.comments.list(entry.id)] == ["b"]


# -- setting -----------------------------------------------------------------------------------------


def test_settings_reach_my_other_device(people: People) -> None:
    a, b = people.a, people.b
    a.epochs.set_schedule(length=2 * 86400, grace=3 * 86400)
    a.epochs.set_require_forward_secrecy(True)
    assert push(a, b).applied == 3
    assert b.epochs.schedule() == (2 * 86400, 3 * 86400) and b.epochs.require_forward_secrecy
    b.epochs.set_require_forward_secrecy(False)
    push(b, a)
    assert not a.epochs.require_forward_secrecy
    # an older op loses (LWW), whatever order it comes in
    stale = b.devices.apply_ops([op("setting", a, 1, name="require_forward_secrecy", value=True)])
    assert stale.stale == 1 and not b.epochs.require_forward_secrecy


def test_hostile_setting_ops(people: People) -> None:
    a, b = people.a, people.b
    report = b.devices.apply_ops(
        [
            op("setting", a, name="epoch_length", value=60),  # under an hour
            op("setting", a, name="epoch_grace", value="7d"),
            op("setting", a, name="require_forward_secrecy", value=1),  # not a boolean
            op("setting", a, name="v1_sender", value="xyz"),
            op("setting", a, name="epoch_length", value=[1]),
            op("setting", a, name="a-newer-setting", value=1),  # skipped, counted
            op("setting", a, name=None, value=1),
        ]
    )
    assert (report.invalid, report.applied, dict(report.skipped)) == (6, 0, {"setting:a-newer-setting": 1})
    assert b.epochs.schedule() == a.epochs.schedule() and not b.epochs.require_forward_secrecy


# -- v1-send: the v1 sender seals every v1 envelope (§7) ---------------------------------------------


def test_the_younger_device_hands_v1_readers_to_the_v1_sender(people: People) -> None:
    a, b, kenji, lee = people.a, people.b, people.kenji, people.lee
    assert a.devices.is_v1_sender() and not b.devices.is_v1_sender()
    post = b.diary.post("from the laptop", title="l", to=["kenji", "lee"])
    assert b.diary.sealing(post.id).not_forward_secret == ("lee",)
    from_b = take(b)
    assert [open_envelope(lee.epochs.keyring(), e) for e in from_b] == [None] * len(from_b)
    assert kenji.inbox.receive(from_b).stored == 1
    report = push(b, a)
    assert report.invalid == 0
    from_a = take(a)
    assert lee.inbox.receive(from_a).stored == 1  # sealed v1 by the desktop, on its v1 chain
    assert kenji.inbox.receive(from_a).stored == 0  # (Kenji had his v2 copy from the laptop)
    (got,) = [p for p in lee.diary.timeline() if p.title == "l"]
    assert lee.diary.sealing(got.id).envelope_version == 1
    # the same op again seals nothing more; on the laptop (not the v1 sender) a v1-send does nothing
    (v1_send,) = [o for o in b.devices.snapshot() if o["o"] == "v1-send"] or [None]
    assert v1_send is None  # (not part of a snapshot)
    again = a.devices.apply_ops(
        [
            op(
                "v1-send",
                b,
                5,
                id="11" * 16,
                payload=base64.b64encode(b"{}").decode(),
                readers=[lee.identity.public.hex()],
            )
        ]
    )
    assert again.applied == 1
    assert len(take(a)) == 1
    assert (
        a.devices.apply_ops(
            [
                op(
                    "v1-send",
                    b,
                    5,
                    id="11" * 16,
                    payload=base64.b64encode(b"{}").decode(),
                    readers=[lee.identity.public.hex()],
                )
            ]
        ).stale
        == 1
    )
    assert take(a) == []
    ignored = b.devices.apply_ops(
        [
            op(
                "v1-send",
                a,
                6,
                id="22" * 16,
                payload=base64.b64encode(b"{}").decode(),
                readers=[lee.identity.public.hex()],
            )
        ]
    )
    assert ignored.applied == 1 and take(b) == []
    assert lee.diary.missing() == [] and lee.diary.chain_breaks() == []


def test_hostile_v1_send_ops(people: People) -> None:
    a, b, lee = people.a, people.b, people.lee
    key = lee.identity.public.hex()
    ops = [
        op("v1-send", b, id="33" * 16, payload="not base64!", readers=[key]),
        op("v1-send", b, id="33" * 16, payload="", readers=[key]),
        op("v1-send", b, id="33" * 16, payload=base64.b64encode(b"x" * 70_000).decode(), readers=[key]),
        op("v1-send", b, id="33" * 16, payload="e30=", readers=[]),
        op("v1-send", b, id="33" * 16, payload="e30=", readers=[key] * 2000),
        op("v1-send", b, id="33" * 16, payload="e30=", readers=["zz"]),
        op("v1-send", b, id="33" * 16, payload="e30=", readers=[key], expires=-1),
        op("v1-send", b, id="short", payload="e30=", readers=[key]),
        op("v1-send", b, id="33" * 16, readers=[key]),  # no payload
    ]
    report = a.devices.apply_ops(ops)
    assert (report.invalid, report.applied) == (len(ops), 0)
    assert take(a) == []


# -- forwarded: who forwards a comment on my entry (§8.3) ----------------------------------------------


def _kenji_comments_on(people: People, title: str, writer: Session) -> tuple[list[bytes], str]:
    post = writer.diary.post("to both", title=title, to=["kenji", "lee"])
    sent = take(writer)
    push(writer, people.a if writer is people.b else people.b)
    sent += take(people.a)  # (the v1 copy for Lee, sealed by the desktop when the laptop wrote it)
    people.kenji.inbox.receive(sent)
    people.lee.inbox.receive(sent)
    (k,) = [p for p in people.kenji.diary.timeline() if p.title == title]
    people.kenji.comments.add(k.id, "kenji's comment")
    return take(people.kenji), post.id


def test_the_device_that_wrote_the_entry_forwards(people: People) -> None:
    a, b = people.a, people.b
    comment, post_id = _kenji_comments_on(people, "written on the desktop", a)
    assert a.inbox.receive(comment).outcomes[Outcome.APPLIED] == 1
    assert b.inbox.receive(comment).outcomes[Outcome.APPLIED] == 1
    forwarded = take(a)
    assert forwarded and people.lee.inbox.receive(forwarded).outcomes[Outcome.APPLIED] == 1
    assert take(b) == []  # the laptop keeps its copy for an hour ...
    push(a, b)  # ... and drops it when the desktop says it forwarded
    clock_now = clock.now()
    with clock.use_source(clock.FakeClock(clock_now + FORWARD_DELAY * 2)):
        assert b.devices.send_due_forwards() == 0
    assert take(b) == []
    assert [c.body for c in b.comments.list(post_id)] == ["kenji's comment"]


def test_a_sibling_forwards_when_the_writer_says_nothing_for_an_hour(
    people: People, fake: clock.FakeClock
) -> None:
    a, b, lee = people.a, people.b, people.lee
    comment, post_id = _kenji_comments_on(people, "written on the desktop", a)
    b.inbox.receive(comment)  # the desktop is away
    assert b.devices.send_due_forwards() == 0 and take(b) == []
    fake.advance(FORWARD_DELAY.total_seconds() + 1)
    assert b.devices.send_due_forwards() == 1
    push(b, a)  # (its v1 part goes through the desktop, the v1 sender)
    forwarded = take(b) + take(a)
    assert lee.inbox.receive(forwarded).outcomes[Outcome.APPLIED] == 1
    (got,) = [p for p in lee.diary.timeline() if p.title == "written on the desktop"]
    assert [c.body for c in lee.comments.list(got.id)] == ["kenji's comment"]
    assert b.devices.send_due_forwards() == 0


# -- received: an entry I received, as a snapshot carries it --------------------------------------------


def test_received_ops(people: People) -> None:
    a, b, kenji = people.a, people.b, people.kenji
    me, key = a.identity.public.hex(), kenji.identity.public.hex()
    fields = {
        "title": "t",
        "body": "b",
        "created": clock.now_iso(),
        "received": clock.now_iso(),
        "version": 2,
    }
    report = b.devices.apply_ops(
        [
            op("received", a, author=key, id="r1", **fields),
            op("received", a, author=me, id="r2", **fields),  # my own entries are entry ops
            op("received", a, author=key, id="r3", **{**fields, "version": 3}),
            op("received", a, author=key, id="r4", **{**fields, "thread": "00"}),
            op("received", a, author="11" * 32, id="r5", **fields),  # not a contact (yet): waits
        ]
    )
    assert (report.applied, report.invalid, report.pending) == (1, 3, 1)
    (got,) = [p for p in b.diary.timeline() if not p.mine]
    assert (got.title, got.body, got.author) == ("t", "b", "kenji")
    deleted = b.devices.apply_ops([op("received", a, 10**6 + 1, author=key, id="r1", deleted=True)])
    assert deleted.applied == 1 and [p for p in b.diary.timeline() if not p.mine] == []
    late = b.devices.apply_ops([op("received", a, 10**6 + 2, author=key, id="r1", **fields)])
    assert late.stale == 1 and [p for p in b.diary.timeline() if not p.mine] == []


# -- edits carry the author's Lamport time (§8.4) -----------------------------------------------------


def test_edit_messages_carry_lc_and_order_by_it() -> None:
    from tui_sns.core.messages import MAX_EDIT_LC, EditMessage, decode_message

    when = "2026-12-01T00:00:00+00:00"
    edit = EditMessage("e1", "t", "b", when, 7)
    assert decode_message(edit.encode()) == edit
    assert decode_message(EditMessage("e1", "t", "b", when).encode()) == EditMessage("e1", "t", "b", when)
    for bad in ("7", 0, -1, MAX_EDIT_LC + 1, 1.5, True):
        payload = edit.encode().replace(b'"lc":7', b'"lc":' + json.dumps(bad).encode())
        assert decode_message(payload) is None, bad
    # Lamport time first (whatever the chain position), the version's digest breaks ties
    assert EditMessage("e1", "t", "b", when, 8).order(1) > EditMessage("e1", "t", "z", when, 7).order(99)
    assert EditMessage("e1", "t", "b", when).order(5) == 5  # an older client's edit: its chain position
    tie = {EditMessage("e1", "t", body, when, 7).order(1) for body in ("x", "y")}
    assert len(tie) == 2


# -- v1-chain: the v1 chain's positions follow the v1 sender role ----------------------------------------


def test_the_next_v1_sender_continues_the_v1_chain(people: People) -> None:
    a, b, lee = people.a, people.b, people.lee
    for i in range(2):
        a.diary.post(f"v1 {i}", title=f"v1-{i}", to=["lee"])
    assert lee.inbox.receive(take(a)).stored == 2
    push(a, b)
    b.devices.set_setting("v1_sender", b.devices.devid.hex())  # (as when the desktop is removed)
    push(b, a)
    assert b.devices.is_v1_sender() and not a.devices.is_v1_sender()
    b.diary.post("now from the laptop", title="v1-2", to=["lee"])
    report = lee.inbox.receive(take(b))
    assert report.stored == 1 and report.outcomes[Outcome.REPLAY] == 0
    assert lee.diary.missing() == [] and lee.diary.chain_breaks() == []
    # hostile or stale positions change nothing
    key = lee.identity.public.hex()
    bad = a.devices.apply_ops(
        [
            op("v1-chain", b, key=key, seq=0, prev="00" * 32),
            op("v1-chain", b, key=key, seq=5),
            op("v1-chain", b, key=a.identity.public.hex(), seq=9, prev="00" * 32),
            op("v1-chain", b, key=key, seq=2**60, prev="00" * 32),
        ]
    )
    assert (bad.invalid, bad.applied) == (4, 0)
    assert a.devices.apply_ops([op("v1-chain", b, key=key, seq=1, prev="00" * 32)]).stale == 1


# -- catchup: a device that lost envelopes asks its siblings (§5.4) ---------------------------------------


def test_a_catchup_is_answered_with_the_snapshot_once_an_hour(people: People, fake: clock.FakeClock) -> None:
    a, b = people.a, people.b
    a.diary.post("written while the laptop was away", title="lost")
    a.devices.sent([i for i, _ in a.devices.queued()])  # its envelope never reached the laptop
    assert [p.title for p in b.diary.timeline()] == []
    assert b.devices.ask_catchup()
    report = push(b, a)
    assert report.applied == 1
    push(a, b)
    assert [p.title for p in b.diary.timeline()] == ["lost"]
    # asked again within the hour: counted, not answered again; an hour later: answered
    b.devices.ask_catchup()
    push(b, a)
    assert a.devices.queued() == []
    fake.advance(3601)
    b.devices.ask_catchup()
    push(b, a)
    assert a.devices.queued() != []
    # my own ask coming back, and malformed asks, change nothing
    mine = b.devices.apply_ops([op("catchup", a, devid=b.devices.devid.hex(), since=clock.now_iso())])
    assert mine.stale == 1
    bad = a.devices.apply_ops(
        [op("catchup", b, devid="zz", since=clock.now_iso()), op("catchup", b, devid="00" * 8, since="later")]
    )
    assert bad.invalid == 2


def test_envelopes_under_erased_keys_make_the_device_ask(people: People, fake: clock.FakeClock) -> None:
    a, b, kenji = people.a, people.b, people.kenji
    kenji.diary.post("while the laptop sleeps", title="k", to=["ana"])
    held = take(kenji)
    assert a.inbox.receive(held).stored == 1
    b.devices.sent([i for i, _ in b.devices.queued()])
    fake.advance(23 * 86400)  # longer than epoch + grace: the laptop's keys go at its next tick
    b.epochs.tick()
    report = b.inbox.receive(held)
    assert report.outcomes[Outcome.KEY_DELETED] == 1
    assert [o["o"] for _, o in b.devices.queued()].count("catchup") == 1


# -- how my entry was sealed, on my other device (docs/protocol.md "The v1 fallback") ------------------


def _said(session: Session, post_id: str) -> tuple[str | None, dict[str, object]]:
    from tui_sns.core.diary import sealing_json, sealing_sentence

    post, sealing = session.diary.get(post_id), session.diary.sealing(post_id)
    return sealing_sentence(post, sealing), sealing_json(post, sealing)


def test_a_reader_my_v1_sender_sealed_v2_is_forward_secret_on_the_writing_device(people: People) -> None:
    """The laptop has no prekey of Kenji's yet: it hands him to the desktop (my v1 sender), which has
    one and seals v2. Both devices then say so (the laptop had said "not forward-secret")."""
    a, b, kenji = people.a, people.b, people.kenji
    with b.store.write() as conn:
        conn.execute("DELETE FROM peer_prekeys WHERE peer_key = ?", (kenji.identity.public,))
    post = b.diary.post("from the laptop", title="l", to=["kenji"])
    assert b.diary.sealing(post.id).not_forward_secret == ("kenji",)  # handed over: counted v1 here
    assert push(b, a).invalid == 0
    assert a.diary.sealing(post.id).forward_secret is True
    assert kenji.inbox.receive(take(a)).stored == 1
    assert push(a, b).invalid == 0
    assert _said(b, post.id) == _said(a, post.id)
    assert _said(b, post.id)[0] == "Sealed forward-secret to 1 reader."


def test_held_readers_are_not_called_forward_secret_and_their_release_is_told(people: People) -> None:
    """A reader held for a prekey conflict (§10.4) got nothing yet: `show` said "Sealed forward-secret
    to 1 reader." for them. Released, the seal is merged here and on my other device."""
    from tui_sns.store import epochs as epoch_store

    a, b, kenji = people.a, people.b, people.kenji
    epoch_store.set_conflict(a.store, kenji.identity.public, "0badc0de")
    post = a.diary.post("held", title="h", to=["kenji"])
    push(a, b)
    for s in (a, b):
        assert _said(s, post.id) == (
            "Held for kenji (not sealed yet).",
            {
                "envelope_version": None,
                "forward_secret": None,
                "not_forward_secret": [],
                "held": ["kenji"],
                "sealed_elsewhere": [],
            },
        )
    assert a.resets.release("kenji") == 1
    assert push(a, b).invalid == 0
    for s in (a, b):
        assert _said(s, post.id)[0] == "Sealed forward-secret to 1 reader."


def test_an_entry_op_without_sealed_versions_claims_nothing(people: People) -> None:
    """An entry op from a sibling that sent no ``sealed`` map (a store synced before it existed):
    how the readers got it is not known here, and nothing says they got the v1 fallback."""
    a, b, kenji = people.a, people.b, people.kenji
    fields = {
        "id": "q" * 16,
        "title": "t",
        "body": "b",
        "created": "2026-12-01T00:00:00+00:00",
        "audience": {"circles": [], "contacts": ["kenji"]},
        "readers": [kenji.identity.public.hex()],
    }
    assert b.devices.apply_ops([op("entry", a, **fields)]).applied == 1
    said = _said(b, "q" * 16)
    assert said[0] == "Sealed to kenji on another of your devices."
    assert said[1]["not_forward_secret"] == [] and said[1]["forward_secret"] is None
    assert said[1]["envelope_version"] is None and said[1]["sealed_elsewhere"] == ["kenji"]
    # the map, when it comes, is merged; a lower version never overrides a higher one
    key = kenji.identity.public.hex()
    assert b.devices.apply_ops([op("entry", a, 5, id="q" * 16, sealed={key: 2})]).applied == 1
    assert b.devices.apply_ops([op("entry", a, 10**7, id="q" * 16, sealed={key: 1})]).applied == 0
    assert _said(b, "q" * 16)[0] == "Sealed forward-secret to 1 reader."


def test_hostile_sealed_maps(people: People) -> None:
    a, b, kenji = people.a, people.b, people.kenji
    post = a.diary.post("x", title="x", to=["kenji"])
    push(a, b)
    key = kenji.identity.public.hex()
    bad: list[object] = [
        {key: 3},
        {key: -1},
        {key: "2"},
        {key: True},
        {"zz": 2},
        [key],
        {f"{n:064x}": 2 for n in range(1100)},
    ]
    report = b.devices.apply_ops([op("entry", a, id=post.id, sealed=s) for s in bad])
    assert (report.invalid, report.applied) == (len(bad), 0)
    assert b.diary.sealing(post.id).forward_secret is True


def test_the_writing_device_says_when_the_v1_sender_will_seal(people: People) -> None:
    """design-v2 §7: "Lee reads this when your device 'desktop' next syncs." — on the laptop only."""
    from tui_sns.core.diary import reads_when_synced_sentence

    a, b = people.a, people.b
    readers = b.diary.audience(["kenji", "lee"]).readers
    assert b.diary.not_forward_secret(readers) == ["lee"]
    said = "lee reads this when your device 'desktop' next syncs."
    assert b.diary.handed_over_sentence(b.diary.not_forward_secret(readers)) == said
    post = b.diary.post("from the laptop", to=["kenji", "lee"])
    assert b.diary.handed_over_sentence(b.diary.sealing(post.id).not_forward_secret) == said
    assert b.diary.handed_over_sentence([]) is None
    # the v1 sender seals them itself: nothing to say there
    assert a.diary.handed_over_sentence(a.diary.not_forward_secret(readers)) is None
    assert reads_when_synced_sentence(["Lee", "Kenji"], None) == (
        "Lee and Kenji read this when your other device next syncs."
    )
    assert reads_when_synced_sentence(["Lee", "Kenji", "Mio"], "desk") == (
        "Lee, Kenji and Mio read this when your device 'desk' next syncs."
    )
    hostile = reads_when_synced_sentence(["Le\x1b[2Je\n"], "desk\x1b]0;x\x07top\u202e")
    assert not any(ch in hostile for ch in "\x1b\n\x07\u202e")
