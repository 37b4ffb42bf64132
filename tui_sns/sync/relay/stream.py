"""Live delivery for ``/v1/stream``: one query per new batch, fanned out to every stream from memory.

One :class:`ChangeHub` per app tracks the highest committed seq.  It learns of
new envelopes from this process's own writes, from polling ``max_seq`` (every
``stream_poll_interval`` on SQLite; a slow safety net on PostgreSQL) and, on
PostgreSQL, from a LISTEN thread woken by other relay processes' NOTIFY.

When the seq grows and at least one stream is open, the hub loads the new envelopes ONCE (one
query in a worker thread, which also encodes them as SSE events; with no stream open it loads
nothing and only moves its top) into an in-memory tail of at most
``TAIL_BYTES`` and wakes every stream (at most every 10 ms + 0.2 ms per open stream, up to 200 ms,
so that bursts of uploads reach many streams as few, larger writes).  A stream that is caught up sends what it
lacks from that tail; a stream further behind (a client resuming from an old
cursor) reads pages from the database of at most ``stream_budget_bytes`` each,
encoded off the event loop.  Each stream holds at most one such page in flight,
sends it as one write and waits for the socket to drain (uvicorn's flow control)
before it takes the next; it stops as soon as its client is gone.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio.to_thread

from .errors import StorageError
from .limits import AddressSlots
from .metrics import RelayMetrics
from .storage import RelayStorage, StoredEnvelope

log = logging.getLogger(__name__)

NOTIFY_SAFETY_POLL = 5.0
TAIL_BYTES = 8 * 1024 * 1024  # encoded events kept in memory for caught-up streams
FETCH_BYTES = 4 * 1024 * 1024  # encoded events loaded by one fetch of the hub
PUBLISH_BASE = 0.01  # s between two wake-ups of every stream, plus PUBLISH_PER_STREAM per open stream,
PUBLISH_PER_STREAM = 0.0002  # at most PUBLISH_MAX: coalesces bursts of writes into fewer, larger sends
PUBLISH_MAX = 0.2


def encode_event(env: StoredEnvelope) -> bytes:
    """The SSE ``envelope`` event of one envelope (its list item as JSON), as UTF-8 bytes.

    The same bytes as ``json.dumps({"seq": .., "id": .., "data": base64})`` in the event's ``data``
    line, built around the base64 bytes directly: one copy of the envelope's size besides the result,
    where going through ``str`` and ``json.dumps`` made four (each a block the allocator of the
    worker thread that encodes keeps after it is freed)."""
    head = f'event: envelope\nid: {env.seq}\ndata: {{"seq": {env.seq}, "id": {json.dumps(env.id)}, "data": "'
    return b"".join((head.encode(), base64.b64encode(env.data), b'"}\n\n'))


@dataclass(frozen=True)
class Event:
    """An encoded envelope event: its seq, expiry hour (or None) and bytes."""

    seq: int
    expires: int | None
    data: bytes


def load_events(
    storage: RelayStorage,
    after: int,
    budget: int,
    per_query: int,
    now: float,
    shard: tuple[int, int] | None = None,
) -> tuple[list[Event], int, bool]:
    """Blocking: unexpired events after ``after`` up to ``budget`` bytes (at least one).

    Returns ``(events, cursor, more)``: ``cursor`` is the last seq loaded (``after`` if none) and
    ``more`` is False when the database held nothing further at query time.  Queries ask for
    ``per_query`` envelopes at a time, so the bytes read beyond the budget stay small.  With
    ``shard = (shard_bits, n)`` only that shard's envelopes are loaded (``storage.list_shard``).
    """
    events: list[Event] = []
    size = 0
    cursor = after
    while True:
        if shard is None:
            chunk = storage.list_envelopes(cursor, per_query, now)
        else:
            chunk = storage.list_shard(shard[0], shard[1], cursor, per_query, now)
        for env in chunk:
            event = Event(env.seq, env.expires, encode_event(env))
            if events and size + len(event.data) > budget:
                return events, cursor, True
            events.append(event)
            size += len(event.data)
            cursor = env.seq
        if len(chunk) < per_query:
            return events, cursor, False


def load_shard_events(
    storage: RelayStorage,
    after: int,
    budget: int,
    per_query: int,
    now: float,
    shard: tuple[int, int],
    known: int,
) -> tuple[list[Event], int, bool]:
    """Blocking: one shard's events after ``after`` (:func:`load_events`), the cursor a stream may move
    to: past the last event loaded, and when the database held nothing further, up to ``known`` (a seq
    committed before this call) but never past a seq whose tag rows may still be pending
    (``storage.shard_horizon()``, read before the listing: a batch being written then is above it, and
    one finished then has its envelopes and tag rows committed and visible to the listing), and whether
    the budget stopped it (``more``)."""
    horizon = storage.shard_horizon()
    events, cursor, more = load_events(storage, after, budget, per_query, now, shard)
    return events, cursor if more else max(cursor, min(known, horizon)), more


class SharedLoads:
    """One database query per woken shard: shard streams that ask for the same page (same shard, cursor
    and known top, as every caught-up stream of a shard does after a wake-up) share one query."""

    def __init__(self) -> None:
        self._inflight: dict[tuple[object, ...], asyncio.Future[tuple[list[Event], int, bool]]] = {}
        self.queries = 0  # (for tests)

    async def load(
        self, key: tuple[object, ...], run: Callable[[], Awaitable[tuple[list[Event], int, bool]]]
    ) -> tuple[list[Event], int, bool]:
        future = self._inflight.get(key)
        if future is None:
            self.queries += 1
            future = asyncio.ensure_future(run())
            self._inflight[key] = future

            def done(finished: asyncio.Future[tuple[list[Event], int, bool]]) -> None:
                if self._inflight.get(key) is finished:
                    del self._inflight[key]
                if not finished.cancelled():
                    finished.exception()  # (retrieved: a failure is raised to every waiter)

            future.add_done_callback(done)
        # Shielded: a stream that goes away does not cancel the query the others wait for.
        return await asyncio.shield(future)


class ChangeHub:
    """The highest committed seq, the recent envelopes as encoded events, and wake-ups for streams."""

    def __init__(
        self,
        storage: RelayStorage,
        poll_interval: float,
        metrics: RelayMetrics,
        per_query: int = 100,
        tail_bytes: int = TAIL_BYTES,
    ) -> None:
        self.storage = storage
        self.poll_interval = poll_interval
        self.metrics = metrics
        self.per_query = per_query
        self.tail_bytes = tail_bytes
        self.latest = 0  # highest seq known to be committed
        self.top = 0  # the tail holds every unexpired envelope with base < seq <= top
        self.base = 0
        self.closing = False
        self._tail: list[Event] = []
        self._seqs: list[int] = []
        self._tail_size = 0
        self._segment: tuple[int, int, int | None, bytes] | None = None
        self._subscribers: set[asyncio.Event] = set()
        self.shard_loads = SharedLoads()
        self._fetching = False
        self._poke: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._fetch_task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started = False

    async def start(self) -> None:
        """Start polling (and listening, on PostgreSQL) in the running event loop."""
        loop = self._loop = asyncio.get_running_loop()
        poke = self._poke = asyncio.Event()
        seq = await anyio.to_thread.run_sync(self.storage.max_seq)
        self.latest = self.top = self.base = seq
        self.metrics.latest_seq.set(seq)
        self.started = True
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
        for wake in self._subscribers:
            wake.set()

    async def stop(self) -> None:
        """Wake every stream so it ends, then stop the background work."""
        self.closing = True
        self._stop.set()
        self._wake_all()
        for task in (self._task, self._fetch_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._thread is not None:
            await anyio.to_thread.run_sync(self._thread.join, 2.0)

    def subscribe(self, wake: asyncio.Event) -> None:
        """``wake`` is set whenever the tail grows or the hub closes."""
        self._subscribers.add(wake)

    def unsubscribe(self, wake: asyncio.Event) -> None:
        self._subscribers.discard(wake)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def publish_interval(self) -> float:
        """Seconds between two wake-ups of every stream: longer with more streams, at most PUBLISH_MAX."""
        return min(PUBLISH_MAX, PUBLISH_BASE + PUBLISH_PER_STREAM * len(self._subscribers))

    async def _run(self) -> None:
        assert self._poke is not None
        interval = NOTIFY_SAFETY_POLL if self.storage.notifies_changes else self.poll_interval
        finished_writes = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._poke.wait()
            if self.closing:
                return
            self._poke.clear()
            if self.storage.notifies_changes and time.monotonic() - finished_writes >= NOTIFY_SAFETY_POLL:
                finished_writes = time.monotonic()
                try:  # batches a dead writer left registered (PostgreSQL), so readers move past them
                    await anyio.to_thread.run_sync(self.storage.finish_writes)
                except StorageError as exc:
                    log.warning("releasing dead writers' batches failed: %s", exc)
            try:
                seq = await anyio.to_thread.run_sync(self.storage.max_seq)
            except StorageError as exc:
                log.warning("stream poll failed: %s", exc)
                continue
            await self.advance(seq)

    async def wrote(self, seq: int) -> None:
        """This process committed ``seq``. Where commits follow seq order (SQLite) every smaller seq is
        settled too: advance to it; otherwise (PostgreSQL) advance as far as that holds (``max_seq``,
        one query; a batch still being written elsewhere holds it below that batch)."""
        if self.storage.commits_in_seq_order:
            await self.advance(seq)
            return
        try:
            settled = await anyio.to_thread.run_sync(self.storage.max_seq)
        except StorageError as exc:  # the write is committed: the next poll or NOTIFY catches up
            log.warning("reading max_seq after a write failed: %s", exc)
            return
        await self.advance(settled)

    async def advance(self, seq: int) -> None:
        """Record that every envelope up to ``seq`` is committed; load the new ones once and wake streams."""
        if seq <= self.latest:
            return
        self.latest = seq
        self.metrics.latest_seq.set(seq)
        if self.started and not self._fetching and not self.closing:
            self._fetching = True
            self._fetch_task = asyncio.create_task(self._fetch())

    async def _fetch(self) -> None:
        try:
            while self.latest > self.top and not self.closing:
                target, after = self.latest, self.top
                if not self._subscribers:  # nobody to send them to: load nothing (a stream that opens
                    self.forget_cached()  # later reads the database up to the new top)
                    self.top = self.base = target
                    continue
                events, cursor, more = await anyio.to_thread.run_sync(
                    load_events, self.storage, after, FETCH_BYTES, self.per_query, time.time()
                )
                if self.top != after:  # the tail was reset (a prune) meanwhile: load again
                    continue
                # Every seq <= target was committed before the query ran, so none is still to come.
                self._append(events, cursor if more else max(cursor, target))
                self._publish()
                await asyncio.sleep(self.publish_interval)
        except StorageError as exc:
            log.warning("stream fetch failed: %s", exc)  # the next poll tries again
        finally:
            self._fetching = False

    def _append(self, events: list[Event], top: int) -> None:
        # What this fetch added, joined once: a caught-up stream sends it as is.
        expiries = [event.expires for event in events if event.expires is not None]
        self._segment = (self.top, top, min(expiries, default=None), b"".join(e.data for e in events))
        self._tail.extend(events)
        self._seqs.extend(event.seq for event in events)
        self._tail_size += sum(len(event.data) for event in events)
        self.top = top
        drop = 0
        while self._tail_size > self.tail_bytes and drop < len(self._tail):
            self._tail_size -= len(self._tail[drop].data)
            self.base = self._tail[drop].seq
            drop += 1
        if drop:
            del self._tail[:drop]
            del self._seqs[:drop]

    def _publish(self) -> None:
        for wake in self._subscribers:
            wake.set()

    def forget_cached(self) -> None:
        """Drop the in-memory tail (after a prune deleted envelopes); streams then read the database."""
        self._tail, self._seqs, self._tail_size = [], [], 0
        self._segment = None
        self.base = self.top

    def events_after(self, cursor: int, budget: int, now: float) -> tuple[list[bytes], int] | None:
        """Encoded events after ``cursor`` from the tail, up to ``budget`` bytes (at least one).

        Returns ``(chunks, new cursor)``, or None when ``cursor`` is older than the tail (read the
        database instead).  Expired events are skipped; the cursor reaches ``top`` when the tail
        has nothing more.
        """
        if cursor < self.base or not self.started:
            return None
        segment = self._segment
        if (
            segment is not None
            and segment[0] == cursor
            and (segment[2] is None or segment[2] > now)
            and len(segment[3]) <= budget
        ):
            return ([segment[3]] if segment[3] else []), segment[1]
        index = bisect.bisect_right(self._seqs, cursor)
        chunks: list[bytes] = []
        size = 0
        tail = self._tail
        while index < len(tail):
            event = tail[index]
            if event.expires is None or event.expires > now:
                if chunks and size + len(event.data) > budget:
                    return chunks, cursor
                chunks.append(event.data)
                size += len(event.data)
            cursor = event.seq
            index += 1
        return chunks, max(cursor, self.top)


class StreamSlots(AddressSlots):
    """Open streams, globally and per client address, against ``max_streams``/``max_streams_per_address``."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        super().__init__(max_total, max_per_address, ("max_streams", "max_streams_per_address"))
