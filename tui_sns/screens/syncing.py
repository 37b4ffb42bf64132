"""The sync lifecycle of one open session, owned by the app: the engine, the background watcher, the
relay status probes and arrival detection. The diary screen only shows what it is told, through typed
messages (``SyncReportArrived``, ``StatusChanged``, ``EntriesArrived``, ``ReadStateChanged``,
``RequestsArrived``, ``SyncFailed``).

Threads (docs/architecture.md): the engine is asyncio-based and writes to the store while it opens
envelopes, so the watcher runs it in a thread with its own event loop (as ``tui_sns.sync.engine``
advises); polls, status probes and "sync now" run on short-lived threads of their own, one of each kind
at a time. None of them touches a widget: results reach the UI thread as messages (``post_message`` is
thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from textual.app import App
    from textual.message_pump import MessagePump
    from textual.timer import Timer

    from tui_sns.core.session import Session
    from tui_sns.sync.engine import SyncEngine, SyncReport, SyncStatus

log = logging.getLogger(__name__)
EPOCH_TICK_SECONDS = 600.0  # design-v2 §5.2: "every 10 minutes in the app's background worker"

NEW_ENTRIES_SHOWN = 50  # arrival detection names the authors of at most this many new entries


# -- messages to the diary screen --------------------------------------------------------------------


class SyncReportArrived(Message):
    """A sync round finished (in the background, or ``manual``: asked for with "sync now")."""

    def __init__(self, report: SyncReport, manual: bool = False) -> None:
        super().__init__()
        self.report = report
        self.manual = manual


class SyncFailed(Message):
    """Sync could not run: the background watcher stopped, or "sync now" failed (``manual``)."""

    def __init__(self, error: str, manual: bool = False) -> None:
        super().__init__()
        self.error = error
        self.manual = manual


@dataclass(frozen=True)
class StatusView:
    """What the status line shows: the engine's status (None: no sync engine), the entries known to be
    missing per contact, or the sentence of a probe that failed."""

    status: SyncStatus | None
    missing: list[tuple[str, int]]
    error: str | None = None


class StatusChanged(Message):
    def __init__(self, view: StatusView) -> None:
        super().__init__()
        self.view = view


class EntriesArrived(Message):
    """The stored entries changed behind the UI's back (sync, a bundle import, another process).
    ``ids``/``authors``: the new entries from others (empty when entries went, or only mine came)."""

    def __init__(self, ids: tuple[str, ...], authors: tuple[str, ...]) -> None:
        super().__init__()
        self.ids = ids
        self.authors = authors


class ReadStateChanged(Message):
    """Unread counts changed without new entries (read elsewhere, e.g. ``tui-sns show``)."""


class RequestsArrived(Message):
    """New contact requests from strangers: the names their cards give (theirs, unchecked)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names


# -- engine helpers -----------------------------------------------------------------------------------


def make_engine(session: Session) -> SyncEngine | None:
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


def has_targets(engine: SyncEngine | None) -> bool:
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
        self,
        engine: SyncEngine,
        on_report: Callable[[SyncReport], None],
        on_crash: Callable[[str], None],
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


# -- the controller ------------------------------------------------------------------------------------


class SyncController:
    """Owns the sync lifecycle of one session for the app; tells a target screen what happened.

    ``attach(screen)`` starts it (timers for polls and status probes; the engine and the watcher after
    the first paint); ``stop()`` then ``join()`` end it before the session closes. ``enabled=False``
    (tests, ``--no-sync``): no engine, but polls (entries imported behind the UI's back) still run.
    """

    def __init__(self, app: App[Any], session: Session, *, enabled: bool = True) -> None:
        self.app = app
        self.session = session
        self.enabled = enabled
        self.engine: SyncEngine | None = None
        self.watcher: Watcher | None = None
        self._target: MessagePump | None = None
        self._timers: list[Timer] = []
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._again: set[str] = set()
        self._stopped = False
        # arrival detection (poll): what the store held at the last look
        self._known_total: int | None = None
        self._known_unread: int | None = None
        self._known_requests: set[int] = set()  # empty: requests waiting at open are announced too

    # lifecycle (UI thread)

    def attach(self, target: MessagePump, *, poll_seconds: float, status_seconds: float) -> None:
        self._target = target
        self._timers = [
            self.app.set_interval(poll_seconds, self.poll),
            self.app.set_interval(status_seconds, self.refresh_status),
            self.app.set_interval(EPOCH_TICK_SECONDS, self.tick_epochs),
        ]
        self.poll()  # the baseline
        # after the first paint: the sync engine's imports, the relay probe, the watcher thread
        self.app.call_after_refresh(self._start)

    def _start(self) -> None:
        if self._stopped:
            return
        if self.enabled:
            self.engine = make_engine(self.session)
            self.start_watching()
        self.refresh_status()

    def start_watching(self) -> None:
        """Start the background watcher if it is not running and there is a relay to watch (called
        again after writes: a first contact's card can bring the first relay)."""
        if self._stopped or not self.enabled:
            return
        if self.watcher is not None and self.watcher.running:
            return
        if not has_targets(self.engine):
            return
        assert self.engine is not None
        self.watcher = Watcher(self.engine, on_report=self._reported, on_crash=self._crashed)
        self.watcher.start()

    def restart_watching(self) -> None:
        """The set of relays changed (joined or left one): a new watcher follows the new set (a watcher
        reads its targets when it starts). Non-blocking: the old one is asked to stop."""
        if self.watcher is not None:
            self.watcher.stop(timeout=0)
            self.watcher = None
        self.start_watching()

    def stop(self) -> None:
        """Stop the timers and ask the watcher to stop; no new work starts. Non-blocking."""
        self._stopped = True
        for timer in self._timers:
            timer.stop()
        self._timers = []
        if self.watcher is not None:
            self.watcher.stop(timeout=0)

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the watcher and the running polls and probes to finish, ``timeout`` seconds at most in
        all. Blocking: call it before closing the session, off the UI thread where it can be. A thread
        still running after it fails quietly on the closed store (it was stopped)."""
        deadline = time.monotonic() + timeout
        if self.watcher is not None:
            self.watcher.stop(max(0.0, deadline - time.monotonic()))
            self.watcher = None
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # requests (UI thread); the work runs on threads

    @property
    def has_targets(self) -> bool:
        return has_targets(self.engine)

    def poll(self) -> None:
        """Look for entries, read state and requests stored behind the UI's back."""
        self._spawn("poll", self._poll)

    def refresh_status(self) -> None:
        self._spawn("status", self._status)

    def tick_epochs(self) -> None:
        """Epoch rotation and key deletion (design-v2 §5.2), every ``EPOCH_TICK_SECONDS`` in the
        background: keys are erased on time even when no sync happens."""
        self._spawn("epochs", self._tick)

    def _tick(self) -> None:
        self.session.epochs.tick()

    def sync_now(self) -> bool:
        """One sync round now, in the background; False if there is no relay to sync with."""
        if not self.has_targets:
            return False
        self._spawn("sync-now", self._sync_now)
        return True

    def _spawn(self, kind: str, work: Callable[[], None]) -> None:
        """Run ``work`` on a thread, one of each ``kind`` at a time (asked again while it runs: once
        more after it)."""
        with self._lock:
            if self._stopped:
                return
            if kind in self._running:
                self._again.add(kind)
                return
            thread = threading.Thread(
                target=self._run, args=(kind, work), name=f"tui-sns-{kind}", daemon=True
            )
            self._running[kind] = thread
        thread.start()

    def _run(self, kind: str, work: Callable[[], None]) -> None:
        while True:
            try:
                work()
            except Exception:  # a probe that broke, a closed store at quit: never take the app down
                if not self._stopped:
                    log.exception("background %s failed", kind)
            with self._lock:
                if kind in self._again and not self._stopped:
                    self._again.discard(kind)
                    continue
                self._running.pop(kind, None)
                return

    def _post(self, message: Message) -> None:
        if self._target is not None and not self._stopped:
            self._target.post_message(message)

    # the work (threads)

    def _poll(self) -> None:
        diary = self.session.diary
        total, unread = diary.count(), diary.unread()
        requests = {r.id: r.card_name for r in self.session.requests.list()}
        known_total, known_unread, known_requests = (
            self._known_total,
            self._known_unread,
            self._known_requests,
        )
        self._known_total, self._known_unread, self._known_requests = total, unread, set(requests)
        if fresh := set(requests) - known_requests:
            self._post(RequestsArrived(tuple(requests[i] for i in sorted(fresh))))
        if known_total is None:
            return  # the first look: the baseline
        if total != known_total:
            new = []
            if total > known_total:
                shown = min(total - known_total, NEW_ENTRIES_SHOWN)
                new = [p for p in diary.timeline(limit=shown) if not p.mine]
            self._post(EntriesArrived(tuple(p.id for p in new), tuple(p.author or "?" for p in new)))
        elif unread != known_unread:
            self._post(ReadStateChanged())

    def _status(self) -> None:
        missing = self.session.diary.missing()
        if self.engine is None:
            self._post(StatusChanged(StatusView(None, missing)))
            return
        try:
            status = self.engine.status(probe=True)
        except Exception as exc:  # a status probe must never take the app down
            self._post(StatusChanged(StatusView(None, missing, str(exc) or type(exc).__name__)))
            return
        self._post(StatusChanged(StatusView(status, missing)))

    def _sync_now(self) -> None:
        assert self.engine is not None
        try:
            report = self.engine.sync_once()
        except Exception as exc:
            self._post(SyncFailed(str(exc) or type(exc).__name__, manual=True))
            return
        self._post(SyncReportArrived(report, manual=True))
        self._after_report(report)

    def _reported(self, report: SyncReport) -> None:
        """A background round finished (on the watcher's thread)."""
        self._post(SyncReportArrived(report))
        self._after_report(report)

    def _after_report(self, report: SyncReport) -> None:
        if report.new_post_ids or report.received.stored:
            self.poll()
        self.refresh_status()

    def _crashed(self, error: str) -> None:
        self._post(SyncFailed(error))
