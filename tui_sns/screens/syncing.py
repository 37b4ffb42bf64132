"""Glue between the screens and the sync engine: background watching in its own thread.

The engine is asyncio-based and writes to the store while it opens envelopes, so it runs in a
thread with its own event loop (as ``tui_sns.sync.engine`` advises): the UI loop never waits on the
network, on crypto or on the store. Reports come back to the UI as messages (``post_message`` is
thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_sns.core.session import Session

log = logging.getLogger(__name__)


def make_engine(session: Session) -> Any | None:
    """The sync engine, imported on first use (httpx and the inbox are not needed for the first paint)."""
    try:  # the app still works (with nothing to sync) where the sync package is unavailable
        from tui_sns.sync.engine import SyncEngine
    except ImportError:  # pragma: no cover
        return None
    try:
        return SyncEngine(session)
    except Exception:  # pragma: no cover - a broken engine must not stop the diary
        log.exception("sync engine unavailable")
        return None


def has_targets(engine: Any | None) -> bool:
    """Are there relays to sync with (mine, or named by my contacts' cards)?"""
    if engine is None:
        return False
    try:
        return bool(engine.status(probe=False).relays)
    except Exception:
        log.exception("cannot read sync status")
        return False


class Watcher:
    """Runs ``engine.watch(on_report)`` in a daemon thread until ``stop()``."""

    def __init__(
        self, engine: Any, on_report: Callable[[Any], None], on_crash: Callable[[str], None]
    ) -> None:
        self.engine = engine
        self.on_report = on_report
        self.on_crash = on_crash
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="tui-sns-sync", daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self.engine.watch(self.on_report))
            self._ready.set()
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            log.exception("sync stopped")
            self.on_crash(str(exc) or type(exc).__name__)
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 3.0) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        if self._thread.is_alive():
            self._thread.join(timeout)
