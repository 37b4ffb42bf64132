"""Removing a device and resetting keys, through a test relay (docs/design-v2.md §10, §17 step 10).

Three devices of Ana (``ana`` the first, ``laptop`` and ``phone`` linked to it) and her contact Kenji.
After ``ana`` removes ``phone``, the phone reads nothing written afterwards — neither by Ana's devices
nor by Kenji once he synced —, a reset it forges is refused, device-sync ops it injects are ignored
(``stale_generation``, ``from_removed_device``); concurrent resets converge or stop and ask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sync_helpers import befriend, link_device, sync

from tui_sns.core import clock
from tui_sns.core.errors import InvalidInput
from tui_sns.core.resets import device_warnings
from tui_sns.crypto.envelope_v2 import SelfKey, seal_v2
from tui_sns.store import mailbox
from tui_sns.store import routes as route_store
from tui_sns.sync.engine import SyncEngine


@pytest.fixture
def fake() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(datetime.now(UTC).replace(microsecond=0))
    with clock.use_source(fake):
        yield fake


def _link(ana: Any, tmp_path: Path, name: str) -> Any:
    return link_device(ana, tmp_path, name)


def _family(person: Any, spawn_relay: Any, tmp_path: Path) -> tuple[Any, Any, Any, Any]:
    """Ana with three devices that all know each other, and Kenji; everyone synced."""
    relay = spawn_relay()
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    befriend(ana, kenji)
    sync(ana)
    sync(kenji)
    laptop = _link(ana, tmp_path, "laptop")
    phone = _link(ana, tmp_path, "phone")
    for s in (ana, laptop, phone, ana, laptop, phone):
        sync(s)
    for s in (ana, laptop, phone):
        live = sorted(d.name for d in s.devices.list() if not d.removed)
        assert live == sorted([ana.devices.this_device().name, "laptop", "phone"])
    return ana, laptop, phone, kenji


def _titles(session: Any) -> set[str]:
    return {p.title for p in session.diary.timeline()} | {
        p.title for p in session.diary.timeline(only_me=True)
    }


def _gen_keys(session: Any) -> tuple[int, int, int]:
    keys = session.epochs.current()
    return keys.generation, keys.self_key_id, keys.prekey_id


def _synced(session: Any) -> Any:
    """One sync that reached the relay without an error (a failed push or pull would otherwise show up
    later as something a device lacks, far from its cause)."""
    report = sync(session)
    assert not report.errors, report.errors
    return report


def test_a_removed_device_reads_nothing_written_after_its_removal(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock
) -> None:
    ana, laptop, phone, kenji = _family(person, spawn_relay, tmp_path)
    kenji.diary.post("before", title="k-before", to=["ana"])
    _synced(kenji)
    _synced(phone)
    assert "k-before" in _titles(phone)  # the phone reads while it is a device of Ana's
    gen = ana.resets.generation()

    result = ana.resets.remove("phone")
    assert result.removed == ("phone",) and result.sent_to == 1 and result.generation == gen + 1
    # its own reset coming back is no warning (a sync op the phone sealed before its removal may be)
    assert "excluded_reset" not in _synced(ana).received.device_warnings
    assert "excluded_reset" not in _synced(laptop).received.device_warnings  # adopts the reset
    assert laptop.resets.generation() == gen + 1
    assert _gen_keys(laptop)[:2] == _gen_keys(ana)[:2]
    assert [d.name for d in laptop.devices.list() if d.removed] == ["phone"]
    _synced(kenji)  # learns the new generation's prekey
    kenji.epochs.owe_announcement(ana.identity.public)  # and his own prekey reaches Ana's devices,
    kenji.epochs.tick()  # so what the laptop writes to him is v2, self slot under the new generation
    _synced(kenji)
    for s in (ana, laptop):
        _synced(s)
    assert laptop.epochs.forward_secret(kenji.identity.public)
    fake.advance(60)

    ana.diary.post("only for me", title="a-only-me")
    ana.diary.post("to kenji", title="a-after", to=["kenji"])
    ana.circles.create("after-circle")
    laptop.diary.post("laptop to kenji", title="l-after", to=["kenji"])
    kenji.diary.post("kenji to ana", title="k-after", to=["ana"])
    for s in (kenji, ana, laptop, kenji, ana, laptop):
        _synced(s)
    assert {"a-only-me", "a-after", "l-after", "k-after"} <= _titles(ana)
    assert {"a-only-me", "a-after", "l-after", "k-after"} <= _titles(laptop)
    assert {"a-after", "l-after"} <= _titles(kenji)
    assert "after-circle" in [c.name for c in laptop.circles.list()]

    told = _synced(phone).received.device_warnings  # the phone is told a reset left it out
    assert told == {"excluded_reset": 1}
    assert not _synced(phone).received.device_warnings  # once
    assert "left this device out" in " ".join(device_warnings(told))
    assert not {"a-only-me", "a-after", "l-after", "k-after"} & _titles(phone)
    assert "after-circle" not in [c.name for c in phone.circles.list()]
    assert phone.resets.generation() == gen  # it never learnt the new one


def test_a_reset_forged_by_the_removed_device_is_refused(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock
) -> None:
    ana, laptop, phone, kenji = _family(person, spawn_relay, tmp_path)
    gen = ana.resets.generation()
    ana.resets.remove("phone")
    sync(ana)
    sync(laptop)
    fake.advance(60)
    # the phone, still holding the identity, generation `gen` and its old device key, resets "for" Ana
    forged = phone.resets.reset_keys()
    assert forged.sent_to == 2 and forged.generation == gen + 1  # to ana's and laptop's old device keys
    assert phone.resets.reset_keys().generation == gen + 2  # and one generation ahead of theirs
    sync(phone)
    report_l = sync(laptop)
    report_a = sync(ana)
    for s in (ana, laptop):
        assert s.resets.generation() == gen + 1
        assert s.resets.warnings()["from_removed_device"] >= 1
    assert _gen_keys(ana) == _gen_keys(laptop) != _gen_keys(phone)
    assert report_l.received.device_warnings["from_removed_device"] == 2
    assert report_a.received.device_warnings["from_removed_device"] == 2

    # once the reset window is over the old device keys are erased: a forged reset does not even open
    fake.advance(2 * 86400)
    for s in (ana, laptop):
        s.epochs.tick()
    phone.resets.reset_keys()
    sync(phone)
    before = ana.resets.warnings()["from_removed_device"]
    sync(ana)
    assert ana.resets.warnings()["from_removed_device"] == before
    assert ana.resets.generation() == gen + 1


def test_the_removed_device_cannot_inject_device_sync_ops(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock
) -> None:
    ana, laptop, phone, kenji = _family(person, spawn_relay, tmp_path)
    ana.resets.remove("phone")
    sync(ana)
    sync(laptop)
    fake.advance(60)
    # 1. as itself: its device is removed
    phone.circles.create("from-the-phone")
    assert SyncEngine(phone).seal_device_ops() >= 1
    # 2. under the laptop's devid, with the old generation's self key it still holds
    old = phone.epochs.self_key()
    me = phone.identity.public
    op = {"o": "circle", "t": [10**6, laptop.devices.devid.hex()], "uid": "ab" * 16, "name": "injected"}
    import json

    payload = json.dumps({"type": "sync", "lc": 10**6, "ops": [op]}).encode()
    sealed = seal_v2(
        phone.identity,
        [],
        payload,
        self_key=old,
        devid=laptop.devices.devid,
        devtag_key=os.urandom(32),
        self_seq=10**6,
    )
    with phone.store.write():
        mailbox.queue_envelope(phone.store, sealed.id, sealed.data, clock.now_iso())
        route_store.set_recipients(phone.store, sealed.id, [me])
    sync(phone)
    report = sync(ana)
    names = [c.name for c in ana.circles.list()]
    assert "from-the-phone" not in names and "injected" not in names
    assert report.received.device_warnings["stale_generation"] == 1
    assert report.received.device_warnings["from_removed_device"] >= 1
    assert ana.resets.warnings()["stale_generation"] == 1
    assert isinstance(old, SelfKey)


@pytest.mark.parametrize("order", ["ana-first", "phone-gets-both", "laptop-first"])
def test_two_benign_concurrent_resets_converge_everywhere(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock, order: str
) -> None:
    ana, laptop, phone, kenji = _family(person, spawn_relay, tmp_path)
    gen = ana.resets.generation()
    ana.resets.reset_keys()
    laptop.resets.reset_keys()  # at the same moment, before either synced
    assert _gen_keys(ana)[0] == _gen_keys(laptop)[0] == gen + 1
    assert _gen_keys(ana) != _gen_keys(laptop)
    rounds = {
        "ana-first": (ana, laptop, phone, kenji),
        "phone-gets-both": (laptop, ana, phone, kenji),  # the phone gets both resets in one sync
        "laptop-first": (laptop, kenji, phone, ana),  # Kenji sees the laptop's announcement alone first
    }[order]
    for s in rounds + rounds:
        sync(s)
    assert _gen_keys(ana) == _gen_keys(laptop) == _gen_keys(phone)
    assert _gen_keys(ana)[0] == gen + 1
    # Kenji saw two prekeys of one generation; the superseding announcement cleared the flag
    assert not kenji.epochs.conflict(ana.identity.public)
    usable = kenji.epochs.usable_prekeys([ana.identity.public])[ana.identity.public]
    assert (usable.gen, usable.kid) == (gen + 1, _gen_keys(ana)[2])
    # and every device still reads the others' changes
    phone.circles.create("still-synced")
    for s in (phone, ana, laptop):
        sync(s)
    assert "still-synced" in [c.name for c in ana.circles.list()]
    assert "still-synced" in [c.name for c in laptop.circles.list()]


def test_two_mutually_removing_resets_stop_and_ask(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock
) -> None:
    ana, laptop, phone, kenji = _family(person, spawn_relay, tmp_path)
    gen = ana.resets.generation()
    ana.resets.remove("phone")
    phone.resets.remove(ana.devices.this_device().name)  # racing: each removes the other
    sync(ana)
    sync(phone)
    sync(laptop)
    conflict = laptop.resets.conflict()
    assert conflict is not None
    assert {conflict.a_name, conflict.b_name} == {ana.devices.this_device().name, "phone"}
    assert "Which device is yours?" in conflict.question()
    laptop.circles.create("waits")
    assert SyncEngine(laptop).seal_device_ops() == 0  # device sync stopped
    with pytest.raises(InvalidInput, match="Which device is yours"):  # and nothing is sealed
        laptop.diary.post("sealed under whose keys?", title="not now", to=["kenji"])
    assert "not now" not in _titles(laptop)
    assert laptop.devices.queued()
    # the person answers on the laptop: keep ana, remove the phone (a new reset, generation g+2)
    result = laptop.resets.remove("phone")
    assert result.generation == gen + 2 and laptop.resets.conflict() is None
    sync(laptop)
    sync(ana)
    assert ana.resets.generation() == gen + 2
    assert _gen_keys(ana) == _gen_keys(laptop)
    assert [d.name for d in ana.devices.list() if d.removed] == ["phone"]
    sync(laptop)
    sync(ana)
    assert "waits" in [c.name for c in ana.circles.list()]


def test_a_thief_announcing_its_own_prekey_makes_contacts_hold_and_say_so(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock
) -> None:
    """§10.4: the removed phone (a thief holding ``s``) announces a prekey of its own to Kenji. Kenji's
    client cannot tell which of the two announced keys is Ana's: it flags the conflict, holds what it
    writes to Ana (neither key is used), says so, and sends it once Kenji releases it."""
    from tui_sns.core.outgoing import send
    from tui_sns.core.resets import hold_sentence

    ana, laptop, phone, kenji = _family(person, spawn_relay, tmp_path)
    kenji.epochs.owe_announcement(ana.identity.public)  # Kenji's prekey reaches all of Ana's devices
    kenji.epochs.tick()
    for s in (kenji, ana, laptop, phone):
        sync(s)
    assert phone.epochs.forward_secret(kenji.identity.public)  # the thief can seal v2 to Kenji
    ana.resets.remove("phone")
    sync(ana)
    sync(kenji)  # Kenji holds Ana's genuine generation g+1
    assert not kenji.epochs.conflict(ana.identity.public)
    # the thief starts a generation of its own and announces it to Kenji as Ana
    phone.resets.reset_keys()
    payload = phone.epochs.announce_payload()
    with phone.store.write():
        send(phone, [phone.contacts.get("kenji")], payload, hold=False)
    sync(phone)
    sync(kenji)
    assert kenji.epochs.conflict(ana.identity.public)

    before = {eid for eid, _ in kenji.store.fetchall("SELECT envelope_id, 0 FROM outbox")}
    result = kenji.diary.post("for ana", title="held", to=["ana"])
    assert result.held == ("ana",) and result.envelope_id is None
    assert {eid for eid, _ in kenji.store.fetchall("SELECT envelope_id, 0 FROM outbox")} == before
    assert kenji.resets.held() == {"ana": 1}
    assert "Compare safety numbers with ana" in hold_sentence("ana")
    sync(kenji)
    sync(ana)
    sync(phone)
    assert "held" not in _titles(ana) and "held" not in _titles(phone)

    # Kenji compared safety numbers with Ana and keeps the keys held before the conflict (Ana's own)
    assert kenji.resets.release("ana") == 1
    assert not kenji.epochs.conflict(ana.identity.public) and kenji.resets.held() == {}
    sync(kenji)
    sync(ana)
    sync(phone)
    assert "held" in _titles(ana)
    assert "held" not in _titles(phone)
