"""The relay's HTTP API v1 as a Starlette app: ``create_app(config) -> Starlette``.

See ``docs/relay.md`` for the contract.  Every error is JSON
``{"error": code, "detail": sentence}``; storage calls run in worker threads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hmac
import json
import logging
import re
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import RelayConfig
from .errors import ApiError, StorageError
from .guard import LimitLog, RequestGuard, TrustedProxies
from .limits import RateLimiter
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import RelayMetrics
from .openapi import MAX_BATCH_ITEMS, MAX_CURSOR_AT, openapi_document
from .pruning import PruneClock
from .storage import (
    RelayStorage,
    StoredEnvelope,
    StoreResult,
    Tags,
    hour_ceil,
    hour_floor,
    new_token,
    open_storage,
    token_hash,
)
from .stream import ChangeHub, StreamSlots, load_events, load_shard_events

log = logging.getLogger(__name__)

API_VERSION = 1
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1
MAX_EXPIRES = 2**41  # far beyond any sensible expiry, well inside a 64-bit column
MAX_TOKEN_CHARS = 256
MAX_REDEEM_BODY = 4096
BATCH_LENGTH = 4  # bytes of each batch item's big-endian length prefix
BATCH_EXPIRY = 8  # bytes of its big-endian expiry (unix s, 0 = none) with ?expiring=1
BATCH_TAG_COUNT = 2  # bytes of each item's big-endian tag count k with ?tagged=1 (0xFFFF: all shards)
BATCH_TAG = 2  # bytes of each big-endian shard number that follows
ALL_SHARDS = 0xFFFF
PAGE_BYTE_BUDGET = 16 * 1024 * 1024
STREAM_PAGE = 500
SHARD_GATE_POLL = 0.05  # s: a shard stream held below a batch being written looks again this often
FIRST_SEQ_CACHE = 10.0  # s between two reads of first_seq for /v1/info
_UINT_RE = re.compile(r"^[0-9]{1,19}$")


@dataclass
class Relay:
    """Everything one app instance shares between requests."""

    config: RelayConfig
    storage: RelayStorage
    metrics: RelayMetrics = field(default_factory=RelayMetrics)
    hub: ChangeHub = field(init=False)
    write_limiter: RateLimiter = field(init=False)
    read_limiter: RateLimiter = field(init=False)
    redeem_limiter: RateLimiter = field(init=False)
    limit_log: LimitLog = field(default_factory=LimitLog)
    trusted: TrustedProxies = field(init=False)
    prune_clock: PruneClock = field(default_factory=lambda: PruneClock())
    stream_slots: StreamSlots = field(init=False)
    #: (monotonic time read, value) of storage.first_seq(), cached for /v1/info.
    first_seq_read: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        self.hub = ChangeHub(self.storage, self.config.stream_poll_interval, self.metrics)
        self.write_limiter = RateLimiter(self.config.write_rate, self.config.write_burst)
        self.read_limiter = RateLimiter(self.config.read_rate, self.config.read_burst)
        self.redeem_limiter = RateLimiter(self.config.redeem_rate, self.config.redeem_burst)
        self.trusted = TrustedProxies(self.config.trusted_proxies)
        self.stream_slots = StreamSlots(self.config.max_streams, self.config.max_streams_per_address)

    async def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking storage call in a worker thread."""
        return await anyio.to_thread.run_sync(func, *args)

    async def first_seq(self) -> int:
        """``storage.first_seq()``, read at most every FIRST_SEQ_CACHE s (other processes prune too)."""
        cached = self.first_seq_read
        now = time.monotonic()
        if cached is None or now - cached[0] >= FIRST_SEQ_CACHE:
            cached = self.first_seq_read = (now, await self.call(self.storage.first_seq))
        return cached[1]

    async def latest_seq(self) -> int:
        """The highest committed seq known (the hub's, else one query)."""
        if self.hub.started:
            return self.hub.latest
        seq: int = await self.call(self.storage.max_seq)
        return seq


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The relay's JSON error shape."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _relay(request: Request) -> Relay:
    relay: Relay = request.app.state.relay
    return relay


def _uint_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _UINT_RE.match(raw) or not low <= int(raw) <= high:
        raise ApiError(
            f"query parameter {name} must be an integer from {low} to {high}", code="bad_parameter"
        )
    return int(raw)


def _bearer_hash(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return token_hash(token)


async def _require_credential(relay: Relay, request: Request) -> str:
    credential = _bearer_hash(request)
    if credential is None:
        raise ApiError("a Bearer credential is required", status=401, code="unauthorized")
    if not await relay.call(relay.storage.credential_valid, credential):
        raise ApiError("the credential is unknown or revoked", status=401, code="unauthorized")
    return credential


def _client_host(request: Request) -> str:
    """The client's address (``X-Forwarded-For`` is honoured only from ``trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


def _rate_limit(limiter: RateLimiter, key: str, cost: int = 1, log: LimitLog | None = None) -> None:
    wait = limiter.acquire(key, cost)
    if wait:
        if log is not None:
            log.trip("rate_limit")
        raise ApiError(
            f"too many requests: retry in {wait} s",
            status=429,
            code="rate_limited",
            headers={"Retry-After": str(wait)},
        )


async def _check_read(relay: Relay, request: Request) -> None:
    if relay.config.read == "members":
        await _require_credential(relay, request)
    _rate_limit(relay.read_limiter, _client_host(request), log=relay.limit_log)


async def _read_body(request: Request, limit: int, too_large: ApiError) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError("the client went away before sending the whole body", code="incomplete_body") from None
    return b"".join(chunks)


def _envelope_json(env: StoredEnvelope) -> dict[str, Any]:
    return {"seq": env.seq, "id": env.id, "data": base64.b64encode(env.data).decode("ascii")}


def _page(
    storage: RelayStorage, after: int, limit: int, now: float, shard: tuple[int, int] | None = None
) -> tuple[list[StoredEnvelope], bool]:
    """Up to ``limit`` envelopes after ``after`` (of one ``(shard_bits, n)`` shard) within a byte budget,
    and whether more exist."""
    rows: list[StoredEnvelope] = []
    size = 0
    cursor = after
    while True:
        want = min(100, limit + 1 - len(rows))
        if shard is None:
            chunk = storage.list_envelopes(cursor, want, now)
        else:
            chunk = storage.list_shard(shard[0], shard[1], cursor, want, now)
        for env in chunk:
            if len(rows) == limit or (rows and size + len(env.data) > PAGE_BYTE_BUDGET):
                return rows, True
            rows.append(env)
            size += len(env.data)
            cursor = env.seq
        if len(chunk) < want:
            return rows, False


async def redeem_invite(request: Request) -> Response:
    relay = _relay(request)
    # Per address, before the body is read or the database touched: guessing codes is slow.
    _rate_limit(relay.redeem_limiter, _client_host(request), log=relay.limit_log)
    body = await _read_body(
        request, MAX_REDEEM_BODY, ApiError("the request body is too large", code="bad_body")
    )
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError('the body must be JSON {"code": "..."}', code="bad_body") from None
    code = payload.get("code") if isinstance(payload, dict) else None
    if not isinstance(code, str) or not code or len(code) > MAX_TOKEN_CHARS:
        raise ApiError('the body must be JSON {"code": "<invite code>"}', code="bad_body")
    credential = new_token()
    await relay.call(relay.storage.redeem_invite, token_hash(code), token_hash(credential), time.time())
    return JSONResponse({"credential": credential}, status_code=201)


async def store_envelope(request: Request) -> Response:
    relay = _relay(request)
    credential = await _require_credential(relay, request)
    now = time.time()
    expires: int | None = None
    if "expires" in request.query_params:
        expires = _uint_param(request, "expires", 0, 0, MAX_EXPIRES)
        if expires <= now:
            raise ApiError("expires must be a unix time in the future", code="bad_parameter")
        expires = hour_ceil(expires)
    tags = _tags_param(request, relay.config)
    _rate_limit(relay.write_limiter, credential)
    limit = relay.config.max_envelope_bytes
    data = await _read_body(
        request,
        limit,
        ApiError(f"envelopes are limited to {limit} bytes", status=413, code="envelope_too_large"),
    )
    if not data:
        raise ApiError("the envelope is empty", code="empty_envelope")
    result = await relay.call(relay.storage.store_envelope, data, now, expires, tags, relay.config.shard_bits)
    if result.created:
        relay.metrics.envelopes_stored.inc()
        relay.metrics.bytes_stored.inc(len(data))
        await relay.hub.wrote(result.seq)
    return JSONResponse({"id": result.id, "seq": result.seq}, status_code=201 if result.created else 200)


def _check_tags(shards: list[int], config: RelayConfig, where: str) -> Tags:
    """A tag list checked against the relay's shard count: distinct, each below S, at most ``max_tags``."""
    if not shards:
        raise ApiError(f"{where}: the shard list is empty", code="bad_parameter")
    if len(shards) > config.max_tags:
        raise ApiError(f"{where}: at most {config.max_tags} shards per envelope", code="bad_parameter")
    if len(set(shards)) != len(shards):
        raise ApiError(f"{where}: a shard is listed twice", code="bad_parameter")
    if max(shards) >= config.shards:
        raise ApiError(
            f"{where}: shards are numbered 0 to {config.shards - 1} on this relay", code="bad_parameter"
        )
    return frozenset(shards)


def _tags_param(request: Request, config: RelayConfig) -> Tags:
    """``?shards=3,17,40`` or ``?shards=all`` (or absent: all); ignored when the relay has one shard."""
    raw = request.query_params.get("shards")
    if raw is None or config.shards == 1 or raw == "all":
        return None
    parts = raw.split(",")
    if len(parts) > config.max_tags:
        raise ApiError(f"shards: at most {config.max_tags} shards per envelope", code="bad_parameter")
    if not all(_UINT_RE.match(part) and len(part) <= 5 for part in parts):
        raise ApiError('shards must be "all" or comma-separated shard numbers', code="bad_parameter")
    return _check_tags([int(part) for part in parts], config, "shards")


def _expiry(raw: int, now: float) -> int | None:
    """A requested expiry (unix s) checked and rounded up to the hour; 0 means none."""
    if raw == 0:
        return None
    if raw <= now or raw > MAX_EXPIRES:
        raise ApiError("each expiry must be 0 (none) or a unix time in the future", code="bad_parameter")
    return hour_ceil(raw)


def _parse_batch(
    body: bytes, expiring: bool, tagged: bool, config: RelayConfig, max_items: int, now: float
) -> tuple[list[tuple[bytes, int | None]], list[Tags]]:
    """Split a batch body into (envelope, expiry) items and their tags, refusing the whole batch on any fault.

    Each item is a 4-byte big-endian length; with ``tagged`` a 2-byte tag count ``k`` and ``k``
    2-byte shard numbers (``k = 0xFFFF``: all shards, no list); with ``expiring`` an 8-byte
    big-endian expiry (unix s, 0 = none); then that many envelope bytes.  Tags are checked as for
    single uploads and ignored (broadcast) when the relay has one shard.
    """
    if not body:
        raise ApiError("the batch is empty", code="bad_body")
    max_bytes = config.max_envelope_bytes
    items: list[tuple[bytes, int | None]] = []
    tags: list[Tags] = []
    view = memoryview(body)
    pos, end = 0, len(body)
    while pos < end:
        index = len(items)
        if index == max_items:
            raise ApiError(
                f"a batch holds at most {max_items} envelopes on this relay",
                status=413,
                code="batch_too_large",
            )
        if pos + BATCH_LENGTH > end:
            raise ApiError(f"item {index} of the batch is truncated", code="bad_body")
        size = int.from_bytes(view[pos : pos + BATCH_LENGTH], "big")
        pos += BATCH_LENGTH
        item_tags: Tags = None
        if tagged:
            if pos + BATCH_TAG_COUNT > end:
                raise ApiError(f"item {index} of the batch is truncated", code="bad_body")
            count = int.from_bytes(view[pos : pos + BATCH_TAG_COUNT], "big")
            pos += BATCH_TAG_COUNT
            if count != ALL_SHARDS:
                if count > config.max_tags:
                    raise ApiError(
                        f"item {index} of the batch: at most {config.max_tags} shards per envelope",
                        code="bad_parameter",
                    )
                if pos + BATCH_TAG * count > end:
                    raise ApiError(f"item {index} of the batch is truncated", code="bad_body")
                shards = list(struct.unpack_from(f">{count}H", view, pos))  # BATCH_TAG == 2 bytes each
                pos += BATCH_TAG * count
                if config.shards > 1:  # one shard: tags mean nothing, like ?shards= on a single upload
                    item_tags = _check_tags(shards, config, f"item {index} of the batch")
        expires: int | None = None
        if expiring:
            if pos + BATCH_EXPIRY > end:
                raise ApiError(f"item {index} of the batch is truncated", code="bad_body")
            expires = _expiry(int.from_bytes(view[pos : pos + BATCH_EXPIRY], "big"), now)
            pos += BATCH_EXPIRY
        if size == 0:
            raise ApiError(f"item {index} of the batch is an empty envelope", code="empty_envelope")
        if size > max_bytes:
            raise ApiError(
                f"item {index} of the batch is larger than {max_bytes} bytes",
                status=413,
                code="envelope_too_large",
            )
        if pos + size > end:
            raise ApiError(f"item {index} of the batch is truncated", code="bad_body")
        items.append((body[pos : pos + size], expires))
        tags.append(item_tags)
        pos += size
    return items, tags


async def store_batch(request: Request) -> Response:
    relay = _relay(request)
    config = relay.config
    credential = await _require_credential(relay, request)
    expiring = _uint_param(request, "expiring", 0, 0, 1) == 1
    tagged = _uint_param(request, "tagged", 0, 0, 1) == 1
    now = time.time()
    limit = config.max_batch_bytes
    body = await _read_body(
        request,
        limit,
        ApiError(f"a batch body is limited to {limit} bytes", status=413, code="batch_too_large"),
    )
    # A batch costs one write token per envelope, so it can never be larger than the burst.
    max_items = min(MAX_BATCH_ITEMS, config.write_burst)
    items, tags = _parse_batch(body, expiring, tagged, config, max_items, now)
    _rate_limit(relay.write_limiter, credential, len(items))
    results: list[StoreResult] = await relay.call(
        relay.storage.store_envelopes, items, now, tags, config.shard_bits
    )
    created = [(result, data) for result, (data, _) in zip(results, items, strict=True) if result.created]
    if created:
        relay.metrics.envelopes_stored.inc(len(created))
        relay.metrics.bytes_stored.inc(sum(len(data) for _, data in created))
        await relay.hub.wrote(max(result.seq for result, _ in created))
    return JSONResponse({"results": [{"id": r.id, "seq": r.seq, "stored": r.created} for r in results]})


def _shard_path(request: Request, config: RelayConfig) -> tuple[int, int]:
    """The ``{n}`` of ``/v1/shards/{n}/...`` checked against the shard count: ``(shard_bits, n)``."""
    raw = request.path_params["n"]
    if not _UINT_RE.match(raw) or int(raw) >= config.shards:
        raise ApiError(
            f"the shard must be a number from 0 to {config.shards - 1} on this relay", code="bad_parameter"
        )
    return config.shard_bits, int(raw)


async def list_envelopes(request: Request) -> Response:
    relay = _relay(request)
    shard = _shard_path(request, relay.config) if "n" in request.path_params else None
    after = _uint_param(request, "after", 0, 0, MAX_SEQ)
    limit = _uint_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    await _check_read(relay, request)
    rows, more = await relay.call(_page, relay.storage, after, limit, time.time(), shard)
    return JSONResponse(
        {
            "envelopes": [_envelope_json(env) for env in rows],
            "next": rows[-1].seq if rows else after,
            "more": more,
        }
    )


class EventStream(Response):
    """``/v1/stream``: SSE events from the hub's tail or database pages, one budget in flight at a time."""

    media_type = "text/event-stream"

    def __init__(self, relay: Relay, after: int, host: str, shard: tuple[int, int] | None = None) -> None:
        self.relay = relay
        self.after = after
        self.host = host
        self.shard = shard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relay = self.relay
        refused = relay.stream_slots.take(self.host)
        if refused is not None:
            relay.limit_log.trip(refused)
            response = error_response(
                503, "too_many_streams", "too many open streams; retry later", {"Retry-After": "5"}
            )
            await response(scope, receive, send)
            return
        wake = asyncio.Event()
        gone = asyncio.Event()

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    wake.set()
                    return

        relay.metrics.stream_subscribers.inc()
        listener = asyncio.create_task(listen())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
            await _pump(relay, self.after, send, wake, gone, self.shard)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            listener.cancel()
            relay.metrics.stream_subscribers.dec()
            relay.stream_slots.give_back(self.host)


async def _pump(
    relay: Relay,
    after: int,
    send: Send,
    wake: asyncio.Event,
    gone: asyncio.Event,
    shard: tuple[int, int] | None = None,
) -> None:
    """Send events after ``after`` until the client goes, the hub closes or the stream's time is up."""
    hub = relay.hub

    async def write(body: bytes) -> None:
        # uvicorn's send first waits while the socket's buffer is full, then hands the body to the
        # transport and returns. An empty body after it waits for that page to drain, so the stream
        # loads its next page only then: one page in flight (the transport's), not one more held here.
        await send({"type": "http.response.body", "body": body, "more_body": True})
        del body
        if not gone.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": True})

    hub.subscribe(wake)
    try:
        await _pump_events(relay, after, write, wake, gone, shard)
    finally:
        hub.unsubscribe(wake)


async def _pump_events(
    relay: Relay,
    after: int,
    write: Callable[[bytes], Awaitable[None]],
    wake: asyncio.Event,
    gone: asyncio.Event,
    shard: tuple[int, int] | None = None,
) -> None:
    """With ``shard``, only that shard's envelopes, read from the database after each wake-up (the hub's
    tail holds the whole log)."""
    config, hub = relay.config, relay.hub
    budget = config.stream_budget_bytes
    per_query = max(1, min(100, budget // max(1, config.max_envelope_bytes)))
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    cursor = after
    shard_top = -1  # a shard stream: the hub's top its last complete read covered (-1: none yet)
    gated = more = False
    while not gone.is_set() and not hub.closing:
        wake.clear()
        chunks: list[bytes]
        got = hub.events_after(cursor, budget, time.time()) if shard is None else None
        from_tail = got is not None
        if shard is not None and not gated and shard_top >= hub.top:
            chunks, new_cursor, more = [], cursor, False  # woken with nothing new for any shard
        elif got is None and shard is not None:
            # A shard's page after each wake-up: one query per woken shard (its caught-up streams share
            # it); the cursor passes only what is surely complete (load_shard_events).
            known, at = hub.top, cursor
            try:
                events, new_cursor, more = await hub.shard_loads.load(
                    (shard, at, known, budget),
                    functools.partial(
                        relay.call,
                        load_shard_events,
                        relay.storage,
                        at,
                        budget,
                        per_query,
                        time.time(),
                        shard,
                        known,
                    ),
                )
            except StorageError as exc:
                log.warning("stream ended: %s", exc)
                return
            chunks = [event.data for event in events]
            gated = False
            if not more:  # complete up to known, except what batches being written still hide (gated)
                shard_top = known
                gated = new_cursor < known
        elif got is None:  # older than the in-memory tail: one page from the database, encoded off the loop
            known = hub.top
            try:
                events, new_cursor, more = await relay.call(
                    load_events, relay.storage, cursor, budget, per_query, time.time(), shard
                )
            except StorageError as exc:
                log.warning("stream ended: %s", exc)
                return
            chunks = [event.data for event in events]
            if not more:  # every seq <= known was committed before the query: none is still to come
                new_cursor = max(new_cursor, known)
        else:
            chunks, new_cursor = got
        if chunks and not gone.is_set():
            page = [b"".join(chunks)]
            chunks, events, got = [], [], None  # only write() holds the page (and drops it once sent)
            await write(page.pop())
            last_sent = loop.time()
        # A shard stream that read to known (or to a batch being written) waits for the next wake-up.
        caught_up = not more if shard is not None else from_tail and new_cursor >= hub.top
        if new_cursor != cursor:
            cursor = new_cursor
            if not caught_up:
                await asyncio.sleep(0)  # let other requests run between pages
                continue
        now = loop.time()
        if config.stream_max_seconds and now - started >= config.stream_max_seconds:
            return
        if now - last_sent >= config.stream_keepalive:
            await write(b": ping\n\n")
            last_sent = now
        timeout = config.stream_keepalive - (now - last_sent)
        if config.stream_max_seconds:
            timeout = min(timeout, started + config.stream_max_seconds - now)
        if not hub.started:  # an app used without its lifespan: poll the database
            timeout = min(timeout, config.stream_poll_interval)
        if gated:  # a batch being written: look again shortly
            timeout = min(timeout, SHARD_GATE_POLL)
        if (hub.top > (cursor if shard is None else shard_top)) or gone.is_set():
            continue
        timer = loop.call_later(max(0.0, timeout), wake.set)  # cheaper than asyncio.timeout per wait
        try:
            await wake.wait()
        finally:
            timer.cancel()


async def stream(request: Request) -> Response:
    relay = _relay(request)
    shard = _shard_path(request, relay.config) if "n" in request.path_params else None
    after = _uint_param(request, "after", 0, 0, MAX_SEQ)
    await _check_read(relay, request)
    return EventStream(relay, after, _client_host(request), shard)


async def cursor_at(request: Request) -> Response:
    """``GET /v1/cursor?at=``: a seq before every envelope that arrived at or after the hour of ``at``."""
    relay = _relay(request)
    if "at" not in request.query_params:
        raise ApiError("query parameter at (a unix time in seconds) is required", code="bad_parameter")
    at = _uint_param(request, "at", 0, 0, MAX_CURSOR_AT)
    await _check_read(relay, request)
    after: int = await relay.call(relay.storage.cursor_at, hour_floor(at))
    return JSONResponse({"after": after})


async def info(request: Request) -> Response:
    relay = _relay(request)
    config = relay.config
    # The seqs tell how many envelopes the relay holds: in members mode, only members see them.
    readable = config.read == "anyone"
    if not readable:
        credential = _bearer_hash(request)
        readable = credential is not None and await relay.call(relay.storage.credential_valid, credential)
    return JSONResponse(
        {
            "version": API_VERSION,
            "read": config.read,
            "max_envelope_bytes": config.max_envelope_bytes,
            "shards": config.shards,
            "retention": config.effective_retention,
            "first_seq": await relay.first_seq() if readable else None,
            "latest_seq": await relay.latest_seq() if readable else None,
        }
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    relay = _relay(request)
    try:
        await relay.call(relay.storage.ping)
    except StorageError:
        return error_response(503, "not_ready", "the database does not answer")
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    relay = _relay(request)
    token = relay.config.metrics_token
    if token is None:
        raise HTTPException(404)  # off on the public listener unless an admin token is configured
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError("/metrics needs the admin token", status=401, code="unauthorized")
    return Response(relay.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(_relay(request).config))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.detail, exc.headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(
        exc.status_code, exc.detail
    )
    return error_response(exc.status_code, code, detail, dict(exc.headers or {}))


async def _storage_error(request: Request, exc: Exception) -> Response:
    log.error("storage error: %s", exc)
    return error_response(
        503, "storage_unavailable", "the relay's database is not available; try again later"
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal", "the relay failed unexpectedly")


class StatusCounter:
    """ASGI middleware counting responses by status code (no paths, no addresses)."""

    def __init__(self, app: ASGIApp, metrics: RelayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(status=str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


async def prune_once(relay: Relay) -> int | None:
    """One run of the background pruner: the number deleted, or None when skipped (clock jumped, error)."""
    now = relay.prune_clock.check()
    if now is None:
        log.warning(
            "automatic prune skipped: the wall clock jumped since the last run "
            "(it is trusted again once it has run steadily for %d s)",
            int(relay.prune_clock.settle),
        )
        return None
    try:
        deleted: int = await relay.call(relay.storage.prune, now, relay.config.effective_retention)
    except StorageError as exc:
        log.warning("automatic prune failed: %s", exc)
        return None
    if deleted:
        log.info("pruned %d envelope(s)", deleted)
        relay.hub.forget_cached()
        relay.first_seq_read = None
    return deleted


async def _prune_forever(relay: Relay) -> None:
    while True:
        await asyncio.sleep(relay.config.prune_interval)
        await prune_once(relay)


def create_app(config: RelayConfig, storage: RelayStorage | None = None) -> Starlette:
    """Build the relay app; opens the database and applies migrations now (raises StorageError)."""
    if storage is None:
        storage = open_storage(config.db, pool_size=config.pg_pool_size, sqlite_readers=config.sqlite_readers)
    try:
        storage.migrate()
    except BaseException:
        storage.close()
        raise
    relay = Relay(config, storage)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await relay.hub.start()
        pruner = asyncio.create_task(_prune_forever(relay))
        try:
            yield
        finally:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
            await relay.hub.stop()
            storage.close()

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        StorageError: _storage_error,
        Exception: _internal_error,
    }
    app = Starlette(
        routes=[
            Route("/v1/invites/redeem", redeem_invite, methods=["POST"]),
            Route("/v1/envelopes", store_envelope, methods=["POST"]),
            Route("/v1/envelopes/batch", store_batch, methods=["POST"]),
            Route("/v1/envelopes", list_envelopes, methods=["GET"]),
            Route("/v1/stream", stream, methods=["GET"]),
            Route("/v1/shards/{n}/envelopes", list_envelopes, methods=["GET"]),
            Route("/v1/shards/{n}/stream", stream, methods=["GET"]),
            Route("/v1/cursor", cursor_at, methods=["GET"]),
            Route("/v1/info", info, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                RequestGuard,
                body_timeout=config.body_timeout,
                trusted=relay.trusted,
                limit_log=relay.limit_log,
                closing=lambda: relay.hub.closing,
            ),
            Middleware(StatusCounter, metrics=relay.metrics),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.relay = relay
    return app
