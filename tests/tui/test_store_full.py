"""The app on a full disk: sealing fails with a clear message and the typed text stays (issue 11, item 1)."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Input, Static, TextArea

from tui_sns.core.session import Session
from tui_sns.screens.compose import ComposeScreen
from tui_sns.screens.main import MainScreen

from .test_app import SIZE, wait_for


def _disk_full(session: Session, full: bool) -> None:
    with session.store.read() as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages if full else 1_000_000}")


async def test_sealing_on_a_full_disk_keeps_the_text(ann_world: Session, make_app: Callable) -> None:
    """Seen: saving an entry on a full disk crashed the app and the typed text was lost."""
    ann = ann_world
    body = "A long thought that does not fit. " * 600  # ~20 KB: needs new pages
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        screen = app.screen
        screen.query_one("#title", Input).value = "Kept on screen"
        screen.query_one("#body", TextArea).load_text(body)
        _disk_full(ann, True)
        await pilot.press("ctrl+s")
        state = screen.query_one("#draft-state", Static)
        await wait_for(pilot, lambda: "full" in str(state.render()))
        assert app.screen is screen and app.is_running
        assert screen.query_one("#body", TextArea).text == body
        assert screen.query_one("#title", Input).value == "Kept on screen"
        assert "Kept on screen" not in [p.title for p in ann.diary.timeline()]
        _disk_full(ann, False)  # space again: the same text seals
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    assert ann.diary.timeline(limit=1)[0].body == body


async def test_the_app_reads_a_read_only_store(ann_world: Session, make_app: Callable) -> None:
    """Read-only media: the app opens as a reader (timeline, an entry shown, no crash)."""
    from tui_sns.store import Store

    from .conftest import PASS

    home = ann_world.store.home
    ann_world.close()
    with Session(Store.open(home, PASS, read_only=True)) as reader:
        app = make_app(home, reader)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("j", "enter")
            await pilot.pause()
            await pilot.press("escape", "k")
            await pilot.pause()
            assert app.is_running
