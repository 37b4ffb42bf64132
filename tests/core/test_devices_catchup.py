"""Catch-up from a sibling (docs/design-v2.md §5.4, the ``catchup`` op), beyond the round trip of
tests/core/test_devices_ops.py: a contact's entry the away device can no longer open comes back in the
sibling's snapshot; asks and answers are bounded against strangers (who can forge a slot naming an old
key id of mine) and a hostile sibling (who can name any devid).

The devices are test_devices_ops.py's (a store copied, Kenji on v2), the clock faked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_devices_ops import T0, People, take
from test_devices_sync import push

from tui_sns.core import clock
from tui_sns.core.devices import CATCHUP_INTERVAL
from tui_sns.core.inbox import Outcome
from tui_sns.core.session import Session

DAY = 86400


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


def _asks(session: Session) -> list[dict[str, Any]]:
    return [op for _, op in session.devices.queued(10**6) if op["o"] == "catchup"]


def _ask(asker: Session, devid: str, lamport: int) -> dict[str, Any]:
    return {
        "o": "catchup",
        "t": [lamport, asker.devices.devid.hex()],
        "devid": devid,
        "since": clock.now_iso(),
    }


def test_a_contacts_entry_lost_to_erased_keys_comes_back_from_a_sibling(
    people: People, fake: clock.FakeClock
) -> None:
    a, b, kenji = people.a, people.b, people.kenji
    kenji.diary.post("while the laptop sleeps", title="from kenji", to=["ana"])
    held = take(kenji)
    assert a.inbox.receive(held).stored == 1
    b.devices.sent([i for i, _ in b.devices.queued()])
    fake.advance(23 * DAY)  # longer than epoch + grace: the laptop's keys go at its next tick
    b.epochs.tick()
    assert b.inbox.receive(held).outcomes[Outcome.KEY_DELETED] == 1
    assert "from kenji" not in [p.title for p in b.diary.timeline()]
    push(b, a)  # the ask
    push(a, b)  # the desktop's snapshot: received entries included
    (entry,) = [p for p in b.diary.timeline() if p.title == "from kenji"]
    assert entry.body == "while the laptop sleeps" and not entry.mine


def test_a_device_asks_at_most_once_an_hour(people: People, fake: clock.FakeClock) -> None:
    """Anyone with my card can write slots naming old key ids of mine: each would be a fresh
    KEY_DELETED and, before, a fresh ask sealed to my devices."""
    b = people.b
    assert b.devices.ask_catchup()
    b.devices.sent([i for i, _ in b.devices.queued()])
    assert not b.devices.ask_catchup() and _asks(b) == []
    fake.advance(CATCHUP_INTERVAL.total_seconds() + 1)
    assert b.devices.ask_catchup() and len(_asks(b)) == 1


def test_asks_naming_many_devices_cost_one_snapshot_an_hour(people: People, fake: clock.FakeClock) -> None:
    a, b = people.a, people.b
    # a devid that is not a device of mine (a hostile sibling can name any): invalid, nothing queued
    report = a.devices.apply_ops([_ask(b, f"{i:016x}", 10**6 + i) for i in range(1, 200)])
    assert report.invalid == 199 and a.devices.queued() == []
    # a third device of mine, and the laptop, ask in the same hour: one snapshot answers both
    a.devices.add_device(bytes.fromhex("0123456789abcdef"), b"\x09" * 32, "phone")
    a.devices.sent([i for i, _ in a.devices.queued()])
    assert a.devices.apply_ops([_ask(b, b.devices.devid.hex(), 10**6)]).applied == 1
    answer = len(a.devices.queued(10**6))
    assert answer > 0
    a.devices.sent([i for i, _ in a.devices.queued(10**6)])
    assert a.devices.apply_ops([_ask(b, "0123456789abcdef", 10**6 + 1)]).applied == 1
    assert a.devices.queued() == []
    fake.advance(CATCHUP_INTERVAL.total_seconds() + 1)
    assert a.devices.apply_ops([_ask(b, "0123456789abcdef", 10**6 + 2)]).applied == 1
    assert len(a.devices.queued(10**6)) >= answer
    # a removed device's ask is refused
    a.devices.sent([i for i, _ in a.devices.queued(10**6)])
    with a.store.write() as conn:
        conn.execute(
            "UPDATE devices SET removed = ? WHERE devid = ?",
            (clock.now_iso(), bytes.fromhex("0123456789abcdef")),
        )
    fake.advance(CATCHUP_INTERVAL.total_seconds() + 1)
    assert a.devices.apply_ops([_ask(b, "0123456789abcdef", 10**6 + 3)]).invalid == 1
    assert a.devices.queued() == []
