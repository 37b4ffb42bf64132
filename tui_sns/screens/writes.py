"""One way for a screen to change something: (confirm →) call core on a worker thread → notify → refresh.

Every store write runs off the UI thread (a write takes the store's lock, may wait behind sync, and
bumps the key file's anti-rollback counter with an fsync), so the UI never waits for one. Errors of the
``TuiSnsError`` family become an error toast with their sentence; nothing else is caught here (a bug
shows as a bug).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.screen import Screen

from tui_sns.core.errors import TuiSnsError
from tui_sns.screens.widgets import Confirm

T = TypeVar("T")


def write(
    screen: Screen[Any],
    call: Callable[[], T],
    *,
    done: str | Callable[[T], str] | None = None,
    title: str = "",
    then: Callable[[T], None] | None = None,
    confirm: str | None = None,
    yes: str = "Yes",
) -> None:
    """Run ``call`` (a core call that writes) on a thread worker of ``screen``.

    ``confirm``: first ask this yes/no question (``yes`` labels the button); no means nothing happens.
    On success, on the UI thread: notify ``done`` (a sentence, or made from the result), then call
    ``then(result)`` (refresh what shows it). On a ``TuiSnsError``: an error toast titled ``title``.
    """

    def start() -> None:
        def work() -> None:
            try:
                result = call()
            except TuiSnsError as exc:
                screen.app.call_from_thread(
                    screen.notify, str(exc), title=title, severity="error", markup=False
                )
                return
            screen.app.call_from_thread(finish, result)

        screen.run_worker(work, thread=True, group="writes", name=title or "write")

    def finish(result: T) -> None:
        if done is not None:
            text = done(result) if callable(done) else done
            screen.notify(text, title=title, timeout=3, markup=False)
        if then is not None:
            then(result)

    if confirm is None:
        start()
        return

    def answered(yes: bool | None) -> None:
        if yes:
            start()

    screen.app.push_screen(Confirm(confirm, yes=yes), answered)
