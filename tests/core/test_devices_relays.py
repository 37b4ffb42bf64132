"""The ``relay`` device-sync op (docs/design-v2.md §8.3): a relay joined or left on one device is joined
or left on my other devices, with the credential the relay issued and my shard seed there, merged last
writer wins like every op, and validated as strictly (a hostile sibling's relay op is skipped and
counted, never applied in part).

Two devices are made by copying a store (the ``twins`` of tests/core/test_devices_sync.py); a relay's
redeem is answered by a mock transport (the real relays are in tests/sync/test_device_relays.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_devices_sync import both_ways, push

from tui_sns.core.devices import MAX_RELAYS_HELD
from tui_sns.core.relays import RelayBook
from tui_sns.core.session import Session
from tui_sns.crypto.card import decode_card
from tui_sns.store import KdfParams
from tui_sns.store import relays as relay_store
from tui_sns.store import routes as route_store

PASSPHRASE = "correct horse battery staple"
R2 = "https://r2.example"
OTHER = "00000000000000ff"  # a sibling's devid (hex) for crafted ops


def _book(session: Session, credential: str) -> RelayBook:
    """session's relays, with a relay that redeems any invite for ``credential``."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"credential": credential})

    return RelayBook(session, transport=httpx.MockTransport(answer))


def _held(session: Session) -> dict[str, tuple[str, int | None]]:
    """{url: (credential, my seed there or None)}."""
    seeds = route_store.my_seeds(session.store)
    return {r.url: (r.credential, seeds.get(r.url)) for r in relay_store.list_relays(session.store)}


def _op(lamport: int, devid: str = OTHER, url: Any = R2, **fields: Any) -> dict[str, Any]:
    return {"o": "relay", "t": [lamport, devid], "url": url, **fields}


def _join(lamport: int, devid: str = OTHER, **fields: Any) -> dict[str, Any]:
    return _op(lamport, devid, **({"credential": "c" * 32, "shard": 7, "removed": False} | fields))


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Session, Session]]:
    """ana1 and ana2: one identity, two stores, each listing the other (as test_devices_sync.py)."""
    first = tmp_path / "ana1"
    Session.create(first, "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()).close()
    shutil.copytree(first, tmp_path / "ana2")
    a, b = Session.unlock(first, PASSPHRASE), Session.unlock(tmp_path / "ana2", PASSPHRASE)
    with b.store.write() as conn:  # the copy is a new device
        conn.execute("DELETE FROM meta WHERE key IN ('devid', 'devtag_key')")
    da, db = a.devices.this_device("desktop"), b.devices.this_device("laptop")
    a.devices.add_device(db.devid, db.public_key, db.name)
    b.devices.add_device(da.devid, da.public_key, da.name)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def alone(twins: tuple[Session, Session]) -> Iterator[Session]:
    yield twins[1]


def test_a_relay_joined_on_one_device_is_joined_on_the_other(twins: tuple[Session, Session]) -> None:
    a, b = twins
    url = _book(a, "cred-of-r2").add(R2 + "/", "invite")
    assert url == R2
    (op,) = [op for _, op in a.devices.queued() if op["o"] == "relay"]
    seed = route_store.my_seeds(a.store)[R2]
    assert op["url"] == R2 and op["credential"] == "cred-of-r2" and op["shard"] == seed
    assert op["removed"] is False
    report = push(a, b)
    assert report.applied >= 1 and report.invalid == 0
    assert _held(b) == {R2: ("cred-of-r2", seed)} == _held(a)
    # b's card names it, with the same seed as a's card (contacts' tags reach both devices)
    card_a, card_b = decode_card(a.contacts.my_card()), decode_card(b.contacts.my_card())
    assert card_b.relays == (R2,) and card_b.shards == card_a.shards == ((R2, seed),)
    # and leaving it on b leaves it on a
    b.relays.remove(R2 + "/")
    push(b, a)
    assert _held(a) == {} and _held(b) == {}


def test_concurrent_joins_of_one_relay_converge(twins: tuple[Session, Session]) -> None:
    """Both devices redeem an invite of the same relay before hearing of each other's: each holds its
    own credential and seed until the ops cross; then both hold the last writer's, on both devices."""
    a, b = twins
    _book(a, "cred-a").add(R2, "one")
    _book(b, "cred-b").add(R2, "two")
    both_ways(a, b)
    push(a, b)
    assert _held(a) == _held(b)
    assert _held(a)[R2][0] in ("cred-a", "cred-b")


def test_a_later_removal_wins_over_an_older_join(alone: Session) -> None:
    b = alone
    assert b.devices.apply_ops([_join(100)]).applied == 1
    assert _held(b) == {R2: ("c" * 32, 7)}
    assert b.devices.apply_ops([_op(200, removed=True)]).applied == 1
    assert _held(b) == {}
    report = b.devices.apply_ops([_join(150, "00000000000000aa", credential="d" * 32)])
    assert report.stale == 0 and _held(b) == {}  # (credential/shard clocks were older: kept, not joined)
    # a join after the removal joins again
    assert b.devices.apply_ops([_join(300, shard=9)]).applied == 1
    assert _held(b) == {R2: ("c" * 32, 9)}


def test_a_change_before_the_join_waits_for_it(alone: Session) -> None:
    b = alone
    report = b.devices.apply_ops([_op(300, shard=11)])
    assert report.pending == 1 and _held(b) == {}
    report = b.devices.apply_ops([_join(250, shard=7)])
    assert report.applied == 2 and report.pending == 0
    assert _held(b) == {R2: ("c" * 32, 11)}


@pytest.mark.parametrize(
    "op",
    [
        _join(5, url="ftp://r2.example"),
        _join(5, url=R2 + "/"),  # not the checked form: one relay must be one object
        _join(5, url="https://user:pw@r2.example"),
        _join(5, url="https://" + "a" * 300 + ".example"),
        _join(5, url=5),
        {"o": "relay", "t": [5, OTHER], "credential": "c" * 32, "shard": 7, "removed": False},
        _join(5, credential=""),
        _join(5, credential="a b"),
        _join(5, credential="x" * 257),
        _join(5, credential="caf\u00e9"),
        _join(5, credential=5),
        _join(5, shard=65536),
        _join(5, shard=-1),
        _join(5, shard="7"),
        _join(5, shard=True),
        _join(5, removed="no"),
        _op(5),  # no field at all
    ],
)
def test_hostile_relay_ops_are_skipped_and_counted(alone: Session, op: dict[str, Any]) -> None:
    b = alone
    report = b.devices.apply_payload(json.dumps({"type": "sync", "lc": 5, "ops": [op]}).encode())
    assert report.invalid == 1 and report.applied == 0 and report.pending == 0
    assert _held(b) == {}
    # nothing of it was applied: not even a clock (an older valid join still joins)
    assert b.devices.apply_ops([_join(1)]).applied == 1
    assert _held(b) == {R2: ("c" * 32, 7)}


def test_a_sibling_cannot_make_me_hold_more_than_the_bound(alone: Session) -> None:
    b = alone
    ops = [_join(10 + i, url=f"https://r{i}.example") for i in range(MAX_RELAYS_HELD + 1)]
    report = b.devices.apply_ops(ops)
    assert report.applied == MAX_RELAYS_HELD and report.invalid == 1
    assert len(_held(b)) == MAX_RELAYS_HELD
    # leaving one makes room again
    b.devices.apply_ops([_op(100, url="https://r0.example", removed=True)])
    assert b.devices.apply_ops([_join(101, url=f"https://r{MAX_RELAYS_HELD}.example")]).applied == 1


def test_the_snapshot_carries_my_relays_with_credential_and_seed(twins: tuple[Session, Session]) -> None:
    a, _ = twins
    _book(a, "cred-of-r2").add(R2, "invite")
    seed = route_store.my_seeds(a.store)[R2]
    ops = [op for op in a.devices.snapshot() if op["o"] == "relay"]
    assert ops and all(op["url"] == R2 for op in ops)
    merged: dict[str, Any] = {}
    for op in ops:
        merged.update(op)
    assert merged["credential"] == "cred-of-r2" and merged["shard"] == seed and merged["removed"] is False


def test_a_relay_read_under_another_shard_is_read_again(alone: Session) -> None:
    """The laptop read r2 (a contact's relay) under a seed of its own before my desktop joined it: the
    envelopes tagged with the desktop's seed below that cursor were never read, so it starts again."""
    b = alone
    route_store.ensure_seed(b.store, R2, lambda: 3, "2026-01-01T00:00:00+00:00")
    relay_store.set_cursor(b.store, R2, 50)
    relay_store.record_result(b.store, R2, "2026-01-01T00:00:00+00:00", None)
    assert b.devices.apply_ops([_join(10, shard=3)]).applied == 1
    assert relay_store.get_state(b.store, R2).cursor == 50  # the same shard: nothing to read again
    assert b.devices.apply_ops([_op(11, shard=9)]).applied == 1
    state = relay_store.get_state(b.store, R2)
    assert (state.cursor, state.last_ok) == (0, None) and _held(b)[R2] == ("c" * 32, 9)
