"""Unread entries in the app: kept in the store, so they survive restarts and syncs while closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui_sns.core.session import Session
from tui_sns.screens.main import ALL, AudienceItem, MainScreen
from tui_sns.screens.widgets import Timeline

from .conftest import add_entry, befriend
from .test_app import SIZE, wait_for


@pytest.fixture
def fast_reading() -> Iterator[None]:
    saved = MainScreen.READ_AFTER, MainScreen.FLUSH_SECONDS
    MainScreen.READ_AFTER, MainScreen.FLUSH_SECONDS = 0.3, 0.3
    yield
    MainScreen.READ_AFTER, MainScreen.FLUSH_SECONDS = saved


def _received_while_closed(person: Callable[[str], Session], tmp_path: Path, n: int) -> Session:
    """Ann, with ``n`` of Bob's entries imported before the app starts, and a newer entry of her own
    on top of the timeline (so nothing unread sits in the reading pane at start)."""
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    for i in range(n):
        bob.diary.post(f"body {i}", title=f"From Bob {i}", to=["Ann"])
    bob.exchange.export_outbox(tmp_path / "bundle")
    assert ann.exchange.import_inbox(tmp_path / "bundle").stored == n
    add_entry(ann, "Mine, newest", "on top", "2099-01-01T00:00:00+00:00")
    return ann


def _unread_shown(app: object, key: object = ALL) -> int:
    items = [i for i in app.screen.query(AudienceItem) if i.key == key]  # type: ignore[attr-defined]
    return items[0].unread


async def test_unread_from_before_start_then_read_by_dwelling(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast_reading: None
) -> None:
    ann = _received_while_closed(person, tmp_path, 2)
    assert ann.diary.unread() == 2
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 3)
        await wait_for(pilot, lambda: _unread_shown(app) == 2)
        label = str(next(iter(app.screen.query(AudienceItem))).label.render())
        assert label == "All  3  ●2"
        first = timeline.post_at(1)
        assert first is not None and timeline.is_unread(first)
        assert not timeline.is_unread(timeline.post_at(0))  # type: ignore[arg-type]

        await pilot.press("j")  # shown in the reading pane: read after READ_AFTER, written in a batch
        await wait_for(pilot, lambda: _unread_shown(app) == 1)
        assert not timeline.is_unread(first)
        assert ann.diary.unread() == 1 and not ann.diary.get(first.id).unread

        await pilot.press("R")  # the rest of the current audience (All)
        await wait_for(pilot, lambda: _unread_shown(app) == 0)
        assert ann.diary.unread() == 0
        assert str(next(iter(app.screen.query(AudienceItem))).label.render()) == "All  3"


async def test_passing_over_entries_quickly_reads_nothing(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast_reading: None
) -> None:
    ann = _received_while_closed(person, tmp_path, 3)
    MainScreen.READ_AFTER = 3.0  # j/k steps on a loaded machine can take a second each: not a dwell
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 4)
        await pilot.press("j", "j", "j", "k", "k", "k")  # j/k steps: nothing dwelt long enough
        await pilot.pause(1.2)
        assert ann.diary.unread() == 3


async def test_reads_not_flushed_yet_are_written_on_quit(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast_reading: None
) -> None:
    ann = _received_while_closed(person, tmp_path, 1)
    MainScreen.FLUSH_SECONDS = 3600.0
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 2)
        await pilot.press("j")
        await wait_for(pilot, lambda: bool(timeline.read))
        assert ann.diary.unread() == 1  # read, not written yet
    assert ann.diary.unread() == 0
