"""Live change tracking for ``/v1/stream``.

One :class:`ChangeHub` per app tracks the highest committed seq.  It learns of
new envelopes from this process's own writes, from polling ``max_seq`` (every
``stream_poll_interval`` on SQLite; a slow safety net on PostgreSQL) and, on
PostgreSQL, from a LISTEN thread woken by other relay processes' NOTIFY.
Streams wait on it instead of each polling the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import anyio.to_thread

from .errors import StorageError
from .metrics import RelayMetrics
from .storage import RelayStorage

log = logging.getLogger(__name__)

NOTIFY_SAFETY_POLL = 5.0


class ChangeHub:
    """The highest seq known to be committed, and a way to wait for it to grow."""

    def __init__(self, storage: RelayStorage, poll_interval: float, metrics: RelayMetrics) -> None:
        self.storage = storage
        self.poll_interval = poll_interval
        self.metrics = metrics
        self.latest = 0
        self.closing = False
        self._cond: asyncio.Condition | None = None
        self._poke: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Start polling (and listening, on PostgreSQL) in the running event loop."""
        loop = self._loop = asyncio.get_running_loop()
        self._cond = asyncio.Condition()
        poke = self._poke = asyncio.Event()
        await self.advance(await anyio.to_thread.run_sync(self.storage.max_seq))
        self._task = asyncio.create_task(self._run())
        if self.storage.notifies_changes:

            def on_change() -> None:
                loop.call_soon_threadsafe(poke.set)

            self._thread = threading.Thread(
                target=self.storage.listen, args=(on_change, self._stop), name="relay-listen", daemon=True
            )
            self._thread.start()

    def begin_close(self) -> None:
        """Ask every stream to end (safe from a signal handler in the loop's thread)."""
        self.closing = True
        self._stop.set()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        if self._poke is not None:
            self._poke.set()
        if self._cond is not None:
            asyncio.ensure_future(self._notify_all())

    async def _notify_all(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    async def stop(self) -> None:
        """Wake every stream so it ends, then stop the background work."""
        self.closing = True
        self._stop.set()
        if self._cond is not None:
            async with self._cond:
                self._cond.notify_all()
        if self._poke is not None:
            self._poke.set()
        if self._task is not None:
            await self._task
        if self._thread is not None:
            await anyio.to_thread.run_sync(self._thread.join, 2.0)

    async def _run(self) -> None:
        assert self._poke is not None
        interval = NOTIFY_SAFETY_POLL if self.storage.notifies_changes else self.poll_interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._poke.wait()
            if self.closing:
                return
            self._poke.clear()
            try:
                seq = await anyio.to_thread.run_sync(self.storage.max_seq)
            except StorageError as exc:
                log.warning("stream poll failed: %s", exc)
                continue
            await self.advance(seq)

    def forget_cached(self) -> None:
        """Drop envelopes held in memory (after a prune deleted some)."""

    async def advance(self, seq: int) -> None:
        """Record that every envelope up to ``seq`` is committed, and wake waiting streams."""
        if seq <= self.latest:
            return
        self.latest = seq
        self.metrics.latest_seq.set(seq)
        if self._cond is not None:
            async with self._cond:
                self._cond.notify_all()

    async def wait_beyond(self, seq: int, timeout: float) -> None:
        """Return when ``latest > seq``, the hub is closing, or ``timeout`` seconds passed.

        Without a started hub (an app used without its lifespan) this just sleeps
        one poll interval, so callers fall back to polling the database themselves.
        """
        if self.latest > seq or self.closing or timeout <= 0:
            return
        if self._cond is None:
            await asyncio.sleep(min(timeout, self.poll_interval))
            return
        async with self._cond:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._cond.wait_for(lambda: self.latest > seq or self.closing)
