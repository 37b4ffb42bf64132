"""What a freshly linked device ends up with (docs/design-v2.md §9.4; issue 14 §2): the whole diary
as the first device had it at the moment of linking — contacts with their verified marks and circles,
entries received before, read state — and, from then on, every new entry my contacts write to me,
opened on the new device as on the old one, on a plain and on a sharded relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sync_helpers import befriend, link_device, sync

SHARDS = 16


def link(ana: Any, tmp_path: Path, name: str = "laptop") -> Any:
    return link_device(ana, tmp_path, name)


def view(session: Any) -> dict[str, Any]:
    return {
        "contacts": sorted((c.name, c.verified, tuple(sorted(c.circles))) for c in session.contacts.list()),
        "circles": sorted((c.name, tuple(sorted(c.members))) for c in session.circles.list()),
        "received": sorted((p.title, p.body, p.unread) for p in session.diary.timeline() if not p.mine),
        "mine": sorted((p.title, p.body) for p in session.diary.timeline() if p.mine),
    }


@pytest.mark.parametrize("shards", [1, SHARDS], ids=["plain-relay", "sharded-relay"])
def test_a_linked_device_has_the_diary_and_opens_new_entries(
    person: Any, spawn_relay: Any, tmp_path: Path, shards: int
) -> None:
    relay = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(shards)} if shards > 1 else None)
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    mio = person("mio", relay)
    befriend(ana, kenji)
    befriend(ana, mio)
    ana.contacts.mark_verified("kenji")
    ana.circles.create("close")
    ana.circles.add("close", ["kenji"])
    ana.diary.post("to my close ones", title="mine", to=["close"])
    sync(ana)
    kenji.diary.post("before the link", title="early", to=["ana"])
    mio.diary.post("also before", title="early-mio", to=["ana"])
    sync(kenji)
    sync(mio)
    sync(ana)
    early = {p.title: p for p in ana.diary.timeline() if not p.mine}
    ana.diary.mark_read([early["early"].id])
    want = view(ana)
    assert [c[0] for c in want["contacts"]] == ["kenji", "mio"] and len(want["received"]) == 2
    with link(ana, tmp_path) as laptop:
        sync(laptop)  # (nothing new for it: what it holds came with the link, or is read again)
        assert view(laptop) == want
        assert not laptop.diary.missing() and not laptop.diary.chain_breaks()  # no false gap
        # new entries from contacts, written after the link, open on the new device too
        kenji.diary.post("after the link", title="late", to=["ana"])
        mio.diary.post("after too", title="late-mio", to=["ana"])
        sync(kenji)
        sync(mio)
        sync(laptop)
        got = {p.title for p in laptop.diary.timeline() if not p.mine}
        assert {"late", "late-mio"} <= got
        sync(ana)
        assert view(laptop)["received"] == view(ana)["received"]


def test_last_seen_of_each_device(person: Any, relay: Any, tmp_path: Path) -> None:
    """``devices list``'s ``last_seen`` (§9.5): a sibling's is the time its newest device-sync envelope
    opened here; this device's is its last sync. Rounded to the minute."""
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    befriend(ana, kenji)
    sync(ana)
    with link(ana, tmp_path) as laptop:
        sync(laptop)  # nothing changed here: the new device still announces itself (§9.3)
        sync(ana)
        (new,) = [d for d in ana.devices.list() if d.name == "laptop"]
        assert new.last_seen is not None
        ana.circles.create("from-ana")
        sync(ana)
        sync(laptop)
        for session in (ana, laptop):
            seen = {d.name: d for d in session.devices.list()}
            assert set(seen) == {"laptop", ana.devices.this_device().name}
            assert all(d.last_seen is not None for d in seen.values()), seen
            assert all(d.last_seen.endswith(":00+00:00") for d in seen.values() if d.last_seen)  # type: ignore[union-attr]


def test_a_device_linked_before_my_first_card_reads_my_shard(
    person: Any, spawn_relay: Any, tmp_path: Path
) -> None:
    """On a sharded relay, contacts tag envelopes to me with my shard seed from my card. A device linked
    before any card named that relay must read the same shard as the first device (design-sharding §8):
    the seed is drawn at linking and travels in WELCOME, instead of each device drawing its own."""
    relay = spawn_relay(env={"TUI_SNS_RELAY_SHARDS": str(SHARDS)})
    ana = person("ana", relay)
    kenji = person("kenji", relay)
    with link(ana, tmp_path) as laptop:
        befriend(ana, kenji)  # ana's first card naming the relay: after the link
        sync(ana)
        sync(laptop)
        kenji.diary.post("after the link", title="late", to=["ana"])
        sync(kenji)
        sync(laptop)
        assert laptop.routes.seed(relay.url) == ana.routes.seed(relay.url)
        assert "late" in {p.title for p in laptop.diary.timeline() if not p.mine}
