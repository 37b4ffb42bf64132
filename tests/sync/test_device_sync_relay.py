"""Linked devices keep showing the same diary through the relay (docs/design-v2.md §8.2): a sync
seals the queued device-sync ops into self-only envelopes and pushes them; a sibling's sync opens
them through its self slot and merges them, in either order of syncs and in both directions."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend, sync

from tui_sns.core.linking import host_link, join_link
from tui_sns.store import KdfParams
from tui_sns.store import routes as route_store
from tui_sns.sync.engine import SyncEngine

SHARDS = 16


def _link(ana: Any, tmp_path: Path) -> Any:
    """A second device of ``ana`` linked over her first relay (as tests/sync/test_link_relay.py)."""
    url = ana.relays.list()[0].url
    credential = ana.relays.list()[0].credential
    shown: dict[str, Any] = {}
    ready = threading.Event()
    result: dict[str, Any] = {}

    def show(code: Any, qr: str) -> None:
        shown["code"] = code
        ready.set()

    def host() -> None:
        try:
            result["hello"] = host_link(ana, url, credential, 60, show, lambda hello: True)
        except BaseException as exc:  # reported by the main thread
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    try:
        assert ready.wait(30) and "error" not in result
        laptop = join_link(
            tmp_path / "laptop",
            os.environ["TUI_SNS_PASSPHRASE"],
            shown["code"],
            url,
            None,
            "laptop",
            lambda sas: None,
            timeout=30,
            kdf=KdfParams.insecure_for_tests(),
        )
    finally:
        thread.join(30)
    assert "error" not in result, result.get("error")
    return laptop


def _view(session: Any) -> dict[str, Any]:
    return {
        "contacts": sorted(c.name for c in session.contacts.list()),
        "circles": sorted((c.name, tuple(sorted(c.members))) for c in session.circles.list()),
        "only_me": sorted((p.title, p.body) for p in session.diary.timeline(only_me=True)),
        "unread": sorted(p.title for p in session.diary.timeline() if p.unread),
        "received": sorted(p.title for p in session.diary.timeline() if not p.mine),
    }


def _served_shards(url: str, envelope_id: str) -> set[int]:
    """The shards whose listing holds ``envelope_id`` (as tests/sync/test_shard_routing.py)."""
    found = set()
    for n in range(SHARDS):
        page = httpx.get(f"{url}/v1/shards/{n}/envelopes", params={"after": 0, "limit": 500}).json()
        if any(e["id"] == envelope_id for e in page["envelopes"]):
            found.add(n)
    return found


@pytest.mark.parametrize(
    ("laptop_first", "shards"),
    [(False, 1), (True, 1), (False, SHARDS)],
    ids=["host-syncs-first", "laptop-syncs-first", "sharded-relay"],
)
def test_changes_reach_the_other_device(
    person: Any, spawn_relay: Any, tmp_path: Path, laptop_first: bool, shards: int
) -> None:
    relay = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(shards)} if shards > 1 else None)
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    mio = person("mio", relay)
    befriend(ana, kenji)
    ana.contacts.my_card()  # draws my shard seed on the relay
    sync(ana)
    with _link(ana, tmp_path) as laptop:
        if laptop_first:
            sync(laptop)
        kenji.diary.post("for ana", title="hello", to=["ana"])
        sync(kenji)
        sync(ana)
        (hello,) = [p for p in ana.diary.timeline() if not p.mine]
        assert hello.unread
        # on the first device: a contact, a circle, an only-me entry, and read state
        ana.contacts.add(mio.contacts.my_card())
        ana.circles.create("close")
        ana.circles.add("close", ["mio", "kenji"])
        ana.diary.post("just mine", title="secret")
        ana.diary.mark_read([hello.id])
        if laptop_first:
            sync(laptop)
        before = {eid for eid, _ in ana.store.fetchall("SELECT envelope_id, 0 FROM outbox")}
        assert SyncEngine(ana).seal_device_ops() >= 1
        device_sync = {eid for eid, _ in ana.store.fetchall("SELECT envelope_id, 0 FROM outbox")} - before
        assert device_sync and not ana.devices.queued()
        sync(ana)
        if shards > 1:  # device-sync envelopes carry my own shard plus three covers (design-sharding §8)
            mine = route_store.my_seeds(ana.store)[relay.url] % SHARDS
            for eid in device_sync:
                tags = _served_shards(relay.url, eid)
                assert mine in tags and len(tags) == 4
        sync(laptop)
        want = _view(ana)
        assert want["contacts"] == ["kenji", "mio"] and want["unread"] == []
        assert want["only_me"] == [("secret", "just mine")]
        assert _view(laptop) == want
        # and back: a change on the second device reaches the first
        laptop.circles.create("far")
        laptop.diary.post("from the laptop", title="note")
        if laptop_first:
            sync(ana)
        sync(laptop)
        sync(ana)
        assert ("far", ()) in _view(ana)["circles"]
        assert ("note", "from the laptop") in _view(ana)["only_me"]
        assert _view(ana) == _view(laptop)


def test_entries_from_the_second_device_leave_no_phantom_gap(
    person: Any, spawn_relay: Any, tmp_path: Path
) -> None:
    """Seen in a trial: after posting from the second device, Kenji's app said "1 entry from ana has
    not arrived". The laptop (no prekey of Kenji's yet) sealed its first entry v1 at seq 1 of its one
    counter, then the next v2 at seq 2 on its own device chain, which Kenji counted as one missing.
    Now v1 and v2 chains count apart, and only my v1 sender device writes v1 (design-v2 §7)."""
    relay = spawn_relay()
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    befriend(ana, kenji)
    ana.diary.post("zero", title="zero", to=["kenji"])
    sync(ana)
    sync(kenji)
    with _link(ana, tmp_path) as laptop:
        sync(laptop)
        laptop.diary.post("two", title="two", to=["kenji"])
        sync(laptop)
        sync(ana)  # (the v1 sender seals what the laptop could only seal v1)
        sync(kenji)
        kenji.epochs.tick()
        kenji.diary.post("k", title="k", to=["ana"])  # (and his announcement reaches the laptop)
        sync(kenji)
        sync(laptop)
        laptop.diary.post("four", title="four", to=["kenji"])
        sync(laptop)
        sync(ana)
        sync(kenji)
        assert {p.title for p in kenji.diary.timeline()} == {"zero", "two", "four", "k"}
        assert kenji.diary.missing() == [] and kenji.diary.chain_breaks() == []
