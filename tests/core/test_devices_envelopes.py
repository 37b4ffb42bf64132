"""Device-sync envelopes (docs/design-v2.md §8.2; §17 step 8): queued ops sealed into self-only v2
envelopes (n = 4) on the sending device's self chain; a sibling opens them with the epoch's self key and
applies them; a replay, my own echo and a removed device's envelope are told apart; nobody else can
open them. The self key is made by hand here (the epoch service wires it in the sync)."""

from __future__ import annotations

import hashlib
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_sns.core.session import Session
from tui_sns.crypto.envelope_v2 import Keyring, OpenedV2, SelfKey, open_v2
from tui_sns.crypto.epochs import EpochKeys
from tui_sns.store import KdfParams

PASSPHRASE = "correct horse battery staple"
EPOCH = EpochKeys.derive(hashlib.blake2b(b"test seed", digest_size=32).digest(), 0, 3)


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Session, Session]]:
    first = tmp_path / "ana1"
    Session.create(first, "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()).close()
    shutil.copytree(first, tmp_path / "ana2")
    a, b = Session.unlock(first, PASSPHRASE), Session.unlock(tmp_path / "ana2", PASSPHRASE)
    with b.store.write() as conn:  # the copy is a new device
        conn.execute("DELETE FROM meta WHERE key IN ('devid', 'devtag_key')")
    da, db = a.devices.this_device("desktop"), b.devices.this_device("laptop")
    # what linking does: each lists the other (ops are queued only for a device that has siblings)
    a.devices.add_device(db.devid, db.public_key, db.name)
    b.devices.add_device(da.devid, da.public_key, da.name)
    yield a, b
    a.close()
    b.close()


def keyring(s: Session, *also: bytes) -> Keyring:
    live, removed = s.devices.known_devids()
    ring = Keyring(s.identity, devices=live | set(also), removed_devices=removed)
    ring.add_self_key(SelfKey.of(EPOCH))
    return ring


def outbox(s: Session) -> list[bytes]:
    return [bytes(r[0]) for r in s.store.fetchall("SELECT data FROM outbox ORDER BY rowid")]


def deliver(src: Session, dst: Session) -> list[str]:
    outcomes = []
    for data in outbox(src):
        opened = open_v2(keyring(dst, src.devices.devid), data)
        assert isinstance(opened, OpenedV2) and opened.from_self
        with dst.store.write() as conn:
            outcomes.append(dst.devices.receive(conn, opened))
    return outcomes


def test_ops_travel_in_self_only_envelopes(twins: tuple[Session, Session], tmp_path: Path) -> None:
    a, b = twins
    a.circles.create("close")
    a.diary.post("only for me")
    sealed = a.devices.seal_pending(SelfKey.of(EPOCH))
    assert len(sealed) == 1 and a.devices.queued() == []
    data = sealed[0].data
    assert data[0] == 2 and struct.unpack_from(">H", data, 65)[0] == 4  # one self slot, three decoys
    assert deliver(a, b) == ["synced"]
    assert [c.name for c in b.circles.list()] == ["close"] and b.diary.timeline()[0].body == "only for me"
    assert {d.name for d in b.devices.list()} == {"desktop", "laptop"}
    assert deliver(a, b) == ["replay"]  # the same (device, seq) again
    # the sending device's own copy
    opened = open_v2(keyring(a), data)
    assert isinstance(opened, OpenedV2)
    with a.store.write() as conn:
        assert a.devices.receive(conn, opened) == "mine"
    # nobody else finds a slot in it
    with Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as kenji:
        assert open_v2(Keyring(kenji.identity), data) is None
    # a second batch continues the self chain: seq 2, prev = the first one's header hash
    a.drafts.save("t", "b", draft_id="n")
    (second,) = a.devices.seal_pending(SelfKey.of(EPOCH))
    opened2 = open_v2(keyring(b, a.devices.devid), second.data)
    assert isinstance(opened2, OpenedV2) and (opened2.seq, opened2.prev) == (2, sealed[0].digest)
    assert b.diary.missing() == [] and b.diary.chain_breaks() == []


def test_nothing_queued_seals_nothing(twins: tuple[Session, Session]) -> None:
    a, _ = twins
    a.devices.seal_pending(SelfKey.of(EPOCH))  # the device op made on first use
    assert a.devices.seal_pending(SelfKey.of(EPOCH)) == []


def test_a_removed_device_is_not_listened_to(twins: tuple[Session, Session]) -> None:
    a, b = twins
    a.devices.seal_pending(SelfKey.of(EPOCH))
    deliver(a, b)
    b.devices.apply_ops(
        [
            {
                "o": "device",
                "t": [10**6, b.devices.devid.hex()],
                "devid": a.devices.devid.hex(),
                "removed": "2026-01-01T00:00:00+00:00",
            }
        ]
    )
    a.circles.create("late")
    (late,) = a.devices.seal_pending(SelfKey.of(EPOCH))
    opened = open_v2(keyring(b), late.data)
    assert isinstance(opened, OpenedV2) and opened.from_removed_device
    with b.store.write() as conn:
        assert b.devices.receive(conn, opened) == "from_removed_device"
    assert b.circles.list() == []
