"""`tui-sns demo` headless: a real relay on loopback, entries arriving through background sync."""

from __future__ import annotations

import asyncio

from tui_sns.demo import setup_demo
from tui_sns.screens.main import MainScreen
from tui_sns.screens.widgets import Timeline

from .test_app import SIZE, wait_for


async def test_demo_entries_arrive_through_the_relay() -> None:
    demo = await asyncio.to_thread(setup_demo)  # it runs event loops of its own (relay joins, pushes)
    try:
        assert demo.app is not None and demo.relay.thread.is_alive()
        assert demo.relay.url.startswith("http://127.0.0.1:")
        assert demo.me.diary.count() == 3  # the friends' entries are on the relay, not here yet
        app = demo.app
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            timeline = app.screen.query_one(Timeline)
            await wait_for(pilot, lambda: timeline.total == 6, timeout=15)
            titles = {timeline.post_at(i).title for i in range(timeline.total)}  # type: ignore[union-attr]
            assert {"Re: Saturday", "Quarry", "Tea notes"} <= titles
            authors = {p.author for p in demo.me.diary.timeline() if not p.mine}
            assert authors == {"Bob", "Kenji"}
    finally:
        await asyncio.to_thread(demo.teardown)
    assert not demo.relay.thread.is_alive()
    assert not demo.root.exists()
    demo.teardown()  # idempotent
