"""Device sync between two devices of one identity (docs/design-v2.md §8.3, §8.4; §17 step 8).

Two devices are made by copying a store (linking comes in §17 step 9): each makes its own device row on
first use. Payloads go from one to the other through :meth:`Devices.sync_payload` and
:meth:`Devices.apply_payload` (the envelope around them is the next step). Every op kind round-trips,
concurrent conflicting edits converge on both devices, and hostile ops are bounded."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.devices import MAX_OPS, Devices
from tui_sns.core.session import Session
from tui_sns.store import KdfParams

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Session, Session]]:
    """ana1 and ana2: one identity, two stores (the second a copy of the first before any device)."""
    first = tmp_path / "ana1"
    Session.create(first, "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()).close()
    shutil.copytree(first, tmp_path / "ana2")
    a, b = Session.unlock(first, PASSPHRASE), Session.unlock(tmp_path / "ana2", PASSPHRASE)
    with b.store.write() as conn:  # the copy is a new device: not the stand-in ids of the first
        conn.execute("DELETE FROM meta WHERE key IN ('devid', 'devtag_key')")
    da, db = a.devices.this_device("desktop"), b.devices.this_device("laptop")
    # what linking does: each lists the other (ops are queued only for a device that has siblings)
    a.devices.add_device(db.devid, db.public_key, db.name)
    b.devices.add_device(da.devid, da.public_key, da.name)
    yield a, b
    a.close()
    b.close()


def push(src: Session, dst: Session) -> Any:
    """Every queued op of ``src`` to ``dst`` (payload by payload); returns the last report."""
    report = None
    while (batch := src.devices.sync_payload()) is not None:
        payload, ids = batch
        report = dst.devices.apply_payload(payload, src.devices.devid)
        src.devices.sent(ids)
    return report


def both_ways(a: Session, b: Session) -> None:
    push(a, b)
    push(b, a)


def diary(s: Session) -> dict[str, Any]:
    """Everything that must be the same on every device of the identity."""
    return {
        "contacts": sorted(
            (c.name, c.card_name, c.public_key, c.verified, c.blocked, c.muted, c.circles, c.relays)
            for c in s.contacts.list()
        ),
        "circles": sorted((c.name, c.members) for c in s.circles.list()),
        "entries": sorted(
            (p.id, p.title, p.body, p.created, p.expires, str(p.audience), p.readers)
            for p in s.diary.timeline()
        ),
    }


@pytest.fixture
def kenji_card(tmp_path: Path) -> Callable[[str], str]:
    made: dict[str, str] = {}

    def card(name: str) -> str:
        if name not in made:
            with Session.create(
                tmp_path / f"peer-{name}", name, PASSPHRASE, kdf=KdfParams.insecure_for_tests()
            ) as p:
                made[name] = p.contacts.my_card()
        return made[name]

    return card


def test_the_device_row_takes_over_the_migration_stand_ins(tmp_path: Path) -> None:
    with Session.create(tmp_path / "solo", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as s:
        meta = dict(s.store.fetchall("SELECT key, value FROM meta WHERE key IN ('devid', 'devtag_key')"))
        device = s.devices.this_device()
        assert (device.devid.hex(), device.devtag_key.hex()) == (meta["devid"], meta["devtag_key"])


def test_a_device_alone_queues_nothing(tmp_path: Path) -> None:
    with Session.create(tmp_path / "solo", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as s:
        s.circles.create("close")
        s.diary.post("x")
        assert s.devices.queued() == [] and s.devices.sync_payload() is None  # the snapshot covers it
        assert s.devices.snapshot()  # the clocks were kept


def test_each_device_makes_its_own_device_and_they_learn_of_each_other(
    twins: tuple[Session, Session],
) -> None:
    a, b = twins
    assert a.devices.devid != b.devices.devid
    both_ways(a, b)
    for s, me in ((a, "desktop"), (b, "laptop")):
        listed = {d.name: d for d in s.devices.list()}
        assert set(listed) == {"desktop", "laptop"} and listed[me].this and not listed[me].removed
        assert sum(d.this for d in listed.values()) == 1
    assert diary(a) == diary(b)
    seen = {d.name: d.last_seen for d in a.devices.list()}
    assert seen["laptop"] is not None and seen["laptop"].endswith(":00+00:00")  # rounded to the minute


def test_contacts_circles_and_members_round_trip(
    twins: tuple[Session, Session], kenji_card: Callable[[str], str]
) -> None:
    a, b = twins
    a.contacts.add(kenji_card("kenji"))
    a.contacts.add(kenji_card("lee"), "Lee")
    a.contacts.mark_verified("kenji")
    a.contacts.mute("Lee")
    a.circles.create("close")
    a.circles.add("close", ["kenji", "Lee"])
    push(a, b)
    assert diary(a) == diary(b)
    assert b.contacts.get("kenji").verified and b.contacts.get("Lee").muted
    assert b.circles.get("close").members == ("Lee", "kenji")
    # the shared secret was derived on the receiving device: it can seal to them
    assert b.identity.shared(b.contacts.get("kenji").public_key) == a.identity.shared(
        a.contacts.get("kenji").public_key
    )
    b.circles.remove("close", ["Lee"])
    b.circles.rename("close", "closest")
    b.contacts.block("kenji")  # leaves every circle too
    b.contacts.unmute("Lee")
    push(b, a)
    assert diary(a) == diary(b)
    assert a.circles.get("closest").members == () and a.contacts.get("kenji").blocked
    a.contacts.remove("Lee")
    a.circles.delete("closest")
    push(a, b)
    assert diary(a) == diary(b)
    assert [c.name for c in b.contacts.list()] == ["kenji"] and b.circles.list() == []


def test_entries_only_me_included_edits_and_deletions(
    twins: tuple[Session, Session], kenji_card: Callable[[str], str]
) -> None:
    a, b = twins
    a.contacts.add(kenji_card("kenji"))
    secret = a.diary.post("only for me", title="private").id
    shared = a.diary.post("for kenji", to=["kenji"]).id
    push(a, b)
    assert diary(a) == diary(b)
    assert b.diary.get(secret).body == "only for me" and b.diary.get(shared).readers == ("kenji",)
    b.diary.edit(secret, body="edited on the laptop")
    push(b, a)
    assert a.diary.get(secret).body == "edited on the laptop"
    a.diary.delete(shared)
    push(a, b)
    assert diary(a) == diary(b)
    assert [p.id for p in b.diary.timeline()] == [secret]


def test_a_late_op_cannot_resurrect_a_deleted_entry(twins: tuple[Session, Session]) -> None:
    a, b = twins
    entry = a.diary.post("soon gone").id
    creation = a.devices.sync_payload()
    assert creation is not None
    a.devices.sent(creation[1])
    a.diary.delete(entry)
    push(a, b)  # the deletion arrives first
    b.devices.apply_payload(creation[0])  # then the creation, late
    assert b.diary.timeline() == [] and a.diary.timeline() == []


def test_drafts_and_the_composer_per_device(twins: tuple[Session, Session]) -> None:
    a, b = twins
    a.drafts.save("title a", "typed on the desktop")
    b.drafts.save("title b", "typed on the laptop")
    a.drafts.save("notes", "kept", draft_id="notes")
    both_ways(a, b)
    # each composer keeps its own draft; the sibling's arrives under its device's id
    assert a.drafts.load().body == "typed on the desktop" and b.drafts.load().body == "typed on the laptop"
    assert b.drafts.load(f"composer:{a.devices.devid.hex()}").body == "typed on the desktop"
    assert b.drafts.load("notes").body == "kept"
    a.drafts.delete("notes")
    push(a, b)
    assert b.drafts.load("notes") is None


def test_autosaves_replace_each_other_in_the_queue(twins: tuple[Session, Session]) -> None:
    a, _ = twins
    for i in range(20):
        a.drafts.save("t", f"body {i}")
    drafts = [op for _, op in a.devices.queued() if op["o"] == "draft"]
    assert [op["body"] for op in drafts] == ["body 19"]


def test_read_state_and_requests(twins: tuple[Session, Session], tmp_path: Path) -> None:
    a, b = twins
    kenji = Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=KdfParams.insecure_for_tests())
    try:
        a.contacts.add(kenji.contacts.my_card())
        kenji.contacts.add(a.contacts.my_card())
        push(a, b)
        kenji.diary.post("hello ana", to=["ana"])
        bundle = tmp_path / "kenji.tsns"
        kenji.exchange.export_outbox(bundle)
        a.exchange.import_inbox(bundle)
        (post,) = a.diary.timeline()
        assert post.unread
        a.diary.mark_read([post.id])
        assert push(a, b).pending == 1  # the read op arrives before the entry: it waits
        b.exchange.import_inbox(bundle)
        assert not b.diary.get(post.id).unread
        # a request accepted on one device is gone from the other
        lee = Session.create(tmp_path / "lee", "lee", PASSPHRASE, kdf=KdfParams.insecure_for_tests())
        try:
            lee.contacts.request(a.contacts.my_card(), "hi")
            bundle = tmp_path / "lee.tsns"
            lee.exchange.export_outbox(bundle)
            a.exchange.import_inbox(bundle)
            b.exchange.import_inbox(bundle)
            assert len(a.requests.list()) == len(b.requests.list()) == 1
            a.requests.accept(a.requests.list()[0].id)
            push(a, b)
            assert b.requests.list() == [] and b.contacts.get("lee").public_key == lee.identity.public
        finally:
            lee.close()
    finally:
        kenji.close()


def test_concurrent_conflicting_edits_converge(
    twins: tuple[Session, Session], kenji_card: Callable[[str], str]
) -> None:
    a, b = twins
    a.contacts.add(kenji_card("kenji"))
    a.circles.create("friends")
    entry = a.diary.post("v0").id
    push(a, b)
    # both devices change the same fields before hearing from each other
    a.contacts.mark_verified("kenji", True)
    b.contacts.mark_verified("kenji", False)
    b.contacts.mark_verified("kenji", True)
    b.contacts.mark_verified("kenji", False)  # b is ahead in Lamport time: its value wins
    a.circles.rename("friends", "amigos")
    b.circles.rename("friends", "freunde")
    a.diary.edit(entry, body="desktop text")
    b.diary.edit(entry, body="laptop text")
    a.drafts.save("d", "desktop", draft_id="shared")
    b.drafts.save("d", "laptop", draft_id="shared")
    both_ways(a, b)
    both_ways(a, b)
    assert diary(a) == diary(b)
    # the laptop made more changes, so its writes carry the later Lamport times and win everywhere
    assert a.drafts.load("shared").body == b.drafts.load("shared").body == "laptop"
    assert a.contacts.get("kenji").verified is False
    assert a.diary.get(entry).body == b.diary.get(entry).body == "laptop text"
    assert [c.name for c in a.circles.list()] == ["freunde"]


def test_name_collision_after_merge(twins: tuple[Session, Session], kenji_card: Callable[[str], str]) -> None:
    a, b = twins
    a.contacts.add(kenji_card("kenji"))  # an older "kenji"
    b.contacts.add(kenji_card("other"), "kenji")
    b.contacts.mark_verified("kenji")  # moves b's Lamport time on; the name's own stamp stays
    both_ways(a, b)
    assert diary(a) == diary(b)
    names = sorted(c.name for c in a.contacts.list())
    assert names == ["kenji", "kenji (2)"]


def test_lamport_time_moves_past_what_is_received(twins: tuple[Session, Session]) -> None:
    a, b = twins
    for i in range(5):
        a.drafts.save("t", str(i), draft_id=f"d{i}")
    push(a, b)
    assert b.devices.lamport() >= a.devices.lamport()
    b.drafts.save("t", "x", draft_id="after")
    (_, op), *_ = [(i, o) for i, o in b.devices.queued() if o.get("id") == "after"]
    assert op["t"][0] > a.devices.lamport()


def test_snapshot_recreates_the_diary(
    twins: tuple[Session, Session], kenji_card: Callable[[str], str]
) -> None:
    a, b = twins
    a.contacts.add(kenji_card("kenji"))
    a.circles.create("close")
    a.circles.add("close", ["kenji"])
    a.diary.post("mine alone")
    a.drafts.save("n", "b", draft_id="notes")
    for _, ops in [(0, a.devices.queued())]:
        a.devices.sent([i for i, _ in ops])  # b hears nothing incrementally
    report = b.devices.apply_ops(a.devices.snapshot())
    assert report.invalid == 0 and not report.skipped
    assert diary(a)["contacts"] == diary(b)["contacts"]
    assert diary(a)["circles"] == diary(b)["circles"] and diary(a)["entries"] == diary(b)["entries"]
    assert b.drafts.load("notes").body == "b"
    again = b.devices.apply_ops(a.devices.snapshot())  # idempotent
    assert again.applied == 0 and again.pending == 0


# -- hostile ops ------------------------------------------------------------------------------------


def test_hostile_ops_are_bounded_and_counted(twins: tuple[Session, Session]) -> None:
    a, b = twins
    devid = a.devices.devid.hex()
    ops: list[Any] = [
        {"o": "no-such-kind", "t": [5, devid]},
        {"o": "later-kind", "t": [5, devid], "since": 1},
        {"o": "contact", "t": [5, devid], "key": "zz", "name": "x", "card_name": "x"},  # bad key
        {
            "o": "contact",
            "t": [5, devid],
            "key": b.identity.public.hex(),
            "name": "me!",
            "card_name": "x",
        },  # myself
        {"o": "contact", "t": [5, devid], "key": "11" * 32, "name": "\u202eevil", "card_name": "x"},  # bidi
        {"o": "contact", "t": [2**60, devid], "key": "11" * 32, "name": "ok", "card_name": "x"},  # lamport
        {"o": "circle", "t": [5, devid], "uid": "00" * 16, "name": "me"},  # reserved name
        {"o": "circle", "t": [5, "xyz"], "uid": "00" * 16, "name": "ok"},  # bad devid
        {"o": "draft", "t": [5, devid], "id": "d", "body": "x" * 70_000},
        {
            "o": "entry",
            "t": [5, devid],
            "id": "e1",
            "title": "t",
            "body": "b",
            "created": "yesterday",
            "audience": {},
        },
        {"o": "read", "t": [5, devid], "author": "11" * 32, "id": "r", "read": "yes"},
        {"o": "member", "t": [5, devid], "circle": "00" * 16, "key": "11" * 32, "in": 1},
        {
            "o": "device",
            "t": [5, devid],
            "devid": "00" * 8,
            "key": "22" * 32,
            "name": "x",
            "added": "2026-01-01T00:00:00",  # no zone
        },
        "not an object",
        [1, 2],
        {"o": "contact", "t": [5, devid], "key": "11" * 32},  # no fields
    ]
    report = b.devices.apply_ops(ops)
    assert report.applied == 0 and report.pending == 0
    assert report.skipped == {"no-such-kind": 1, "later-kind": 1}
    assert report.invalid == len(ops) - 2
    assert b.contacts.list() == [] and b.circles.list() == []
    assert b.devices.lamport() < 2**53


def test_too_many_ops_or_bytes_refuse_the_payload_whole(twins: tuple[Session, Session]) -> None:
    a, b = twins
    devid = a.devices.devid.hex()
    op = {"o": "circle", "t": [1, devid], "uid": "00" * 16, "name": "c"}
    report = b.devices.apply_ops([op] * (MAX_OPS + 1))
    assert report.rejected is not None and b.circles.list() == []
    huge = json.dumps({"type": "sync", "ops": [op] * 100_000}).encode()
    assert b.devices.apply_payload(huge).rejected == "payload over 64 KiB"
    for bad in (b"", b"[]", b"{", b'{"type":"post"}', b'{"type":"sync","ops":{}}', b"[" * 50_000):
        assert b.devices.apply_payload(bad).rejected is not None
    assert b.devices.apply_ops([op]).applied == 1 and [c.name for c in b.circles.list()] == ["c"]


def test_pending_ops_are_bounded(twins: tuple[Session, Session]) -> None:
    a, b = twins
    devid = a.devices.devid.hex()
    waiting = [
        {"o": "member", "t": [i + 1, devid], "circle": f"{i:032x}", "key": "11" * 32, "in": True}
        for i in range(MAX_OPS)
    ]
    for _ in range(3):
        b.devices.apply_ops(waiting)
    from tui_sns.store import posts as post_store

    assert post_store.pending_count(b.store) == MAX_OPS  # idempotent, and capped overall


def test_devices_is_a_session_service(twins: tuple[Session, Session]) -> None:
    a, _ = twins
    assert isinstance(a.devices, Devices)
