"""Relays joined or left after linking reach my other devices (docs/design-v2.md §8.3 ``relay``).

Seen in a trial of linked devices: a relay joined on one device after linking stayed unknown to the
other (WELCOME carries the relays at link time only); once my card named only that relay, contacts'
new entries reached only the device that joined it. Through real test relays: the laptop learns the
relay, its credential and my shard seed there (a sharded relay: contacts tag their envelopes with the
seed my card gives), reads and writes it; leaving it on one device leaves it on the other; a hostile
sibling's relay ops change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sync_helpers import befriend, sync
from test_device_sync_relay import _link
from test_watch import Watcher, wait_for

from tui_sns.crypto.card import decode_card
from tui_sns.store import devices as device_store
from tui_sns.store import relays as relay_store
from tui_sns.store import routes as route_store
from tui_sns.sync.engine import SyncEngine

SHARDS = 16


def _relays(session: Any) -> dict[str, str]:
    return {r.url: r.credential for r in relay_store.list_relays(session.store)}


def _received(session: Any) -> set[str]:
    return {p.title for p in session.diary.timeline() if not p.mine}


def test_a_relay_joined_after_linking_is_read_and_written_by_both_devices(
    person: Any, spawn_relay: Any, tmp_path: Path
) -> None:
    r1 = spawn_relay()
    r2 = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    ana = person("ana", r1)
    sync(ana)
    with _link(ana, tmp_path) as laptop:
        sync(laptop)
        assert set(_relays(laptop)) == {r1.url}
        # the desktop joins r2 after linking, and drops r1: its card names r2 only
        ana.relays.add(r2.url, r2.invite())
        sync(ana)
        sync(laptop)  # learns r2 from the relay op (through r1) and reads it in this same sync
        assert _relays(laptop) == _relays(ana) == {r1.url: _relays(ana)[r1.url], r2.url: _relays(ana)[r2.url]}
        assert relay_store.get_state(laptop.store, r2.url).last_ok is not None  # (read in that sync)
        seed = route_store.my_seeds(ana.store)[r2.url]
        assert route_store.my_seeds(laptop.store)[r2.url] == seed
        ana.relays.remove(r1.url)
        sync(ana)
        sync(laptop)
        assert set(_relays(laptop)) == set(_relays(ana)) == {r2.url}
        # Mio writes only to r2; her card names only r2, and so does mine (on either device)
        mio = person("mio", r2)
        befriend(ana, mio)
        assert decode_card(laptop.contacts.my_card()).relays == (r2.url,)
        assert decode_card(laptop.contacts.my_card()).shards == ((r2.url, seed),)
        sync(mio)  # (her shard count of r2: she tags for my seed there)
        sync(ana)
        sync(laptop)  # the contact op reaches the laptop through r2 alone
        assert [c.name for c in laptop.contacts.list()] == ["mio"]
        mio.diary.post("to both", title="hello ana", to=["ana"])
        sync(mio)
        sync(ana)
        sync(laptop)
        assert "hello ana" in _received(ana)
        assert "hello ana" in _received(laptop)
        # the laptop writes to r2 with the shared credential: Mio reads what it posts
        laptop.diary.post("from the laptop", title="hello mio", to=["mio"])
        sync(laptop)
        sync(ana)  # (the v1 sender seals what the laptop could only seal v1, design-v2 §7)
        sync(mio)
        assert "hello mio" in _received(mio)
        assert mio.diary.missing() == [] and mio.diary.chain_breaks() == []
        # leaving r2 on the laptop leaves it on the desktop, joining r1 again reaches both
        laptop.relays.add(r1.url, r1.invite())
        sync(laptop)
        sync(ana)  # (through r2, the relay both still read; then r1 in the same sync)
        assert set(_relays(ana)) == {r1.url, r2.url} and _relays(ana)[r1.url] == _relays(laptop)[r1.url]
        laptop.relays.remove(r2.url)
        sync(laptop)
        sync(ana)
        assert set(_relays(ana)) == set(_relays(laptop)) == {r1.url}


def test_hostile_relay_ops_from_a_sibling_change_nothing(
    person: Any, spawn_relay: Any, tmp_path: Path
) -> None:
    r1 = spawn_relay()
    ana = person("ana", r1)
    sync(ana)
    with _link(ana, tmp_path) as laptop:
        sync(laptop)
        before = _relays(laptop), route_store.my_seeds(laptop.store)
        me = ana.devices.devid.hex()
        lc = ana.devices.lamport() + 1
        hostile = [
            {"o": "relay", "t": [lc, me], "url": "ftp://evil.example", "credential": "x" * 32, "shard": 1},
            {"o": "relay", "t": [lc, me], "url": r1.url + "/", "removed": True},
            {"o": "relay", "t": [lc, me], "url": r1.url, "credential": "a b"},
            {"o": "relay", "t": [lc, me], "url": r1.url, "shard": 70000},
            {
                "o": "relay",
                "t": [lc, me],
                "url": "https://evil.example",
                "credential": "x" * 32,
                "shard": "1",
            },
        ]
        with ana.store.write() as conn:
            for op in hostile:
                device_store.queue_op(conn, json.dumps(op))
        assert SyncEngine(ana).seal_device_ops() >= 1
        sync(ana)
        sync(laptop)
        assert (_relays(laptop), route_store.my_seeds(laptop.store)) == before


def test_watch_mode_follows_a_relay_my_other_device_joined(
    person: Any, spawn_relay: Any, tmp_path: Path
) -> None:
    """The app watches: a relay my desktop joins is followed by the laptop's running watcher (no
    restart), so an entry from a contact who writes only there arrives while it watches."""
    r1 = spawn_relay()
    r2 = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": "4"})
    ana = person("ana", r1)
    sync(ana)
    with _link(ana, tmp_path) as laptop:
        sync(laptop)
        with Watcher(SyncEngine(laptop)) as watcher:
            assert wait_for(lambda: any(r.errors == [] for r in watcher.reports))  # caught up
            ana.relays.add(r2.url, r2.invite())
            mio = person("mio", r2)
            befriend(ana, mio)
            sync(mio)
            sync(ana)
            assert wait_for(lambda: r2.url in _relays(laptop) and bool(laptop.contacts.list()), timeout=20)
            mio.diary.post("while watching", title="from mio", to=["ana"])
            sync(mio)
            assert wait_for(lambda: "from mio" in _received(laptop), timeout=20)
        assert not [r.errors for r in watcher.reports if r.errors]
