"""Linked devices keep showing the same diary through the relay (docs/design-v2.md §8.2): a sync
seals the queued device-sync ops into self-only envelopes and pushes them; a sibling's sync opens
them through its self slot and merges them, in either order of syncs and in both directions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend, link_device, sync

from tui_sns.core import clock
from tui_sns.store import routes as route_store
from tui_sns.sync.engine import SyncEngine

SHARDS = 16


def _link(ana: Any, tmp_path: Path) -> Any:
    return link_device(ana, tmp_path)


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


def _sealing(session: Any, post_id: str) -> tuple[str | None, dict[str, object]]:
    from tui_sns.core.diary import sealing_json, sealing_sentence

    post = session.diary.get(post_id)
    sealing = session.diary.sealing(post_id)
    return sealing_sentence(post, sealing), sealing_json(post, sealing)


@pytest.fixture
def fake() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(datetime.now(UTC).replace(microsecond=0))
    with clock.use_source(fake):
        yield fake


def test_how_my_entry_was_sealed_is_the_same_on_my_other_device(
    person: Any, spawn_relay: Any, tmp_path: Path, fake: clock.FakeClock
) -> None:
    """Seen in a new-user trial: `show a7de` on ana's laptop said "Not forward-secret for Kenji: their
    app has not sent a current key." (JSON envelope_version 1) for an entry her first device had
    sealed forward-secret to Kenji: the entry op carried no per-reader sealed version, so the laptop
    took its default (v1). Now it travels with the entry, both ways; a v1 reader stays named."""
    relay = spawn_relay()
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    lee = person("lee", relay)
    lee.epochs.disable_v2_for_tests()  # Lee's app is older
    befriend(ana, kenji)
    befriend(ana, lee)
    for s in (ana, kenji, lee):
        sync(s)
    kenji.epochs.owe_announcement(ana.identity.public)  # Kenji's prekey reaches Ana
    kenji.epochs.tick()
    sync(kenji)
    sync(ana)
    fake.advance(60)  # (a prekey is used from its start on)
    assert ana.epochs.forward_secret(kenji.identity.public)
    assert not ana.epochs.forward_secret(lee.identity.public)
    with _link(ana, tmp_path) as laptop:
        sync(laptop)
        first = ana.diary.post("from the first device", title="a7", to=["kenji"]).id
        both = ana.diary.post("to both", title="b", to=["kenji", "lee"]).id
        sync(ana)
        sync(laptop)
        for post_id in (first, both):
            assert _sealing(laptop, post_id) == _sealing(ana, post_id)
        assert _sealing(laptop, first) == (
            "Sealed forward-secret to 1 reader.",
            {
                "envelope_version": 2,
                "forward_secret": True,
                "not_forward_secret": [],
                "held": [],
                "sealed_elsewhere": [],
            },
        )
        assert _sealing(laptop, both)[1]["not_forward_secret"] == ["lee"]
        # and the other way: the laptop's own entry, seen on the first device
        assert laptop.epochs.forward_secret(kenji.identity.public)
        mine = laptop.diary.post("from the laptop", title="c", to=["kenji"]).id
        sync(laptop)
        sync(ana)
        assert _sealing(ana, mine) == _sealing(laptop, mine)
        assert _sealing(ana, mine)[1]["forward_secret"] is True
        # Lee's part of a laptop entry is sealed by the first device (my v1 sender): said on both
        handed = laptop.diary.post("to both from the laptop", title="d", to=["kenji", "lee"]).id
        sync(laptop)
        sync(ana)
        sync(laptop)
        assert _sealing(ana, handed) == _sealing(laptop, handed)
        assert _sealing(laptop, handed)[0] == (
            "Sealed forward-secret to 1 reader; not forward-secret for lee: their app has not sent a current key."
        )
