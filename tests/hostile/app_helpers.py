"""Helpers for the Pilot tests of the hostile-input suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SIZE = (120, 36)


async def wait_for(pilot: Any, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll until ``predicate()`` holds (a ceiling, not a timed assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    if not predicate():
        raise AssertionError("condition not met in time")


def screen_text(app: Any) -> str:
    """Every character the app's current screen would send to the terminal as content (the styles
    between them are the app's own escape sequences), plus the title bar's text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def notices(app: Any) -> str:
    """The titles and messages of the app's current notifications (toasts), as they will be shown."""
    return "\n".join(f"{n.title}\n{n.message}" for n in app._notifications)
