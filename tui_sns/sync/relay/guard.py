"""Keep slow or numerous clients from holding the relay hostage.

Two layers, both configured by :class:`~tui_sns.sync.relay.config.RelayConfig`:

* :func:`guarded_protocol` -- a uvicorn HTTP protocol (httptools, else h11) that caps
  open connections globally (``max_connections``) and per peer address
  (``max_connections_per_address``, not applied to ``trusted_proxies``), answering past
  the cap with a fixed 503 ``too_many_connections`` and closing; that closes a
  connection whose request headers are not complete ``header_timeout`` seconds after
  it opened (or after its previous response ended), and one whose unfinished headers
  exceed ``max_header_bytes`` (431).  Idle keep-alive connections are closed by
  uvicorn's own ``timeout_keep_alive`` (``idle_timeout``).
* :class:`RequestGuard` -- ASGI middleware giving each request body ``body_timeout``
  seconds to arrive (else 408 ``request_timeout`` and ``Connection: close``), and
  taking the client address from ``X-Forwarded-For`` only when the peer is one of
  ``trusted_proxies``.

When a limit trips, :class:`LimitLog` logs one line per kind at most every
``LOG_EVERY`` seconds, with a count and never an address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError
from .limits import AddressSlots

log = logging.getLogger("tui_sns.sync.relay")

LOG_EVERY = 10.0
REFUSED_LINGER = 1.0  # seconds a refused connection stays half-open so the client reads the 503


class LimitLog:
    """Log that a limit tripped: one line per kind per ``LOG_EVERY`` s, with a count, no address."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def trip(self, kind: str) -> None:
        self._count[kind] = self._count.get(kind, 0) + 1
        now = self._clock()
        if now - self._last.get(kind, -LOG_EVERY) >= LOG_EVERY:
            log.warning("limit tripped: %s (%d time(s) since the last such line)", kind, self._count[kind])
            self._last[kind] = now
            self._count[kind] = 0


class TrustedProxies:
    """Which peers may tell the relay the client's address (``X-Forwarded-For``)."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, host: str) -> bool:
        if not self._networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def client_host(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer, or (behind trusted proxies) the last untrusted hop."""
        if forwarded_for is None or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # a malformed hop: fall back to the proxy itself
        return hops[0] if hops else peer


def _fixed_response(status: int, reason: str, code: str, detail: str) -> bytes:
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "retry-after: 5\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


TOO_MANY_CONNECTIONS = _fixed_response(
    503, "Service Unavailable", "too_many_connections", "the relay has too many open connections; retry later"
)
HEADERS_TOO_LARGE = _fixed_response(
    431, "Request Header Fields Too Large", "headers_too_large", "the request headers are too large"
)


class ConnectionGuard:
    """Connection counts (global and per peer address) shared by every connection of one server."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_per_address: int,
        header_timeout: float,
        max_header_bytes: int,
        trusted: TrustedProxies,
        limit_log: LimitLog | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.trusted = trusted
        self.limit_log = limit_log or LimitLog()
        self.slots = AddressSlots(
            max_connections, max_per_address, ("max_connections", "max_connections_per_address")
        )

    def admit(self, host: str) -> bool:
        """Count a new connection from ``host``; False (and a log line) when a cap is reached."""
        refused = self.slots.take(host, exempt=self.trusted.trusts(host))
        if refused is not None:
            self.limit_log.trip(refused)
            return False
        return True

    def release(self, host: str) -> None:
        self.slots.give_back(host)


def _base_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools missing: uvicorn's pure-Python h11 protocol
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class enforcing ``guard`` (pass it as ``uvicorn.run(http=...)``)."""
    base: Any = _base_protocol()

    class GuardedProtocol(base):  # type: ignore[misc]
        _g_host = ""
        _g_admitted = False
        _g_timer: asyncio.TimerHandle | None = None
        _g_seen: object = None
        _g_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._g_host = self.client[0] if self.client else ""
            if not guard.admit(self._g_host):
                transport.write(TOO_MANY_CONNECTIONS)
                if transport.can_write_eof():
                    transport.write_eof()
                self.loop.call_later(REFUSED_LINGER, transport.close)
                return
            self._g_admitted = True
            self._g_arm()

        def _g_arm(self) -> None:
            self._g_disarm()
            self._g_bytes = 0
            self._g_timer = self.loop.call_later(guard.header_timeout, self._g_expired)

        def _g_disarm(self) -> None:
            if self._g_timer is not None:
                self._g_timer.cancel()
                self._g_timer = None

        def _g_expired(self) -> None:
            self._g_timer = None
            if not self.transport.is_closing():
                guard.limit_log.trip("header_timeout")
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if not self._g_admitted:
                return  # refused: the 503 is on its way, the request is ignored
            super().data_received(data)
            if self.cycle is not self._g_seen:  # the headers of a new request are complete
                self._g_seen = self.cycle
                self._g_disarm()
            elif self._g_timer is not None:
                self._g_bytes += len(data)
                if self._g_bytes > guard.max_header_bytes and not self.transport.is_closing():
                    guard.limit_log.trip("max_header_bytes")
                    self._g_disarm()
                    self.transport.write(HEADERS_TOO_LARGE)
                    self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._g_arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._g_disarm()
            if self._g_admitted:
                self._g_admitted = False
                guard.release(self._g_host)
            super().connection_lost(exc)

    return GuardedProtocol


class RequestGuard:
    """ASGI middleware: a deadline for each request body, and the client address behind trusted proxies.

    A body not complete ``body_timeout`` seconds after the request reached the app raises
    :class:`ApiError` 408 ``request_timeout`` (with ``Connection: close``, so the server
    closes the socket after answering) from the app's ``receive``.
    """

    def __init__(
        self,
        app: ASGIApp,
        body_timeout: float,
        trusted: TrustedProxies,
        limit_log: LimitLog,
        closing: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self.closing = closing
        self.body_timeout = body_timeout
        self.trusted = trusted
        self.limit_log = limit_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.trusted and scope.get("client"):
            peer, port = scope["client"]
            forwarded = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    text = value.decode("latin-1")
                    forwarded = text if forwarded is None else f"{forwarded}, {text}"
            host = self.trusted.client_host(peer, forwarded)
            if host != peer:
                scope = {**scope, "client": (host, port)}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                body_done = True
                self.limit_log.trip("body_timeout")
                raise ApiError(
                    "the request body did not arrive in time",
                    status=408,
                    code="request_timeout",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        try:
            await self.app(scope, timed_receive, send)
        except asyncio.CancelledError:
            if self.closing():
                return  # the server cancelled a request still running at shutdown: end it quietly
            raise
