"""The client side of the relay HTTP API v1 (docs/relay.md), over httpx.

Every failure is raised as :class:`RelayUnavailable` (could not talk to the relay),
:class:`RelayRefused` (the relay answered with an error) or :class:`RelayGarbage` (the relay answered
something that does not follow the protocol), each with a sentence naming the relay. Tests swap the
network for an in-memory ASGI app by passing ``transport=httpx.ASGITransport(app)``.

A relay is any server a contact's card names, so every answer is checked here before the engine
sees it: seq and next are integers in 0..2^63-1, a page's seqs increase and stay above ``after``,
next never goes back and is at least the last seq, ids are 64 lowercase hex digits matching the
bytes, data is strict base64 of at most ``MAX_ENVELOPE_BYTES``, a page holds at most the envelopes
asked for, and a body is read only up to ``MAX_BODY_BYTES`` (a server-sent event up to
``MAX_EVENT_BYTES``). Anything else is :class:`RelayGarbage` naming the relay.

All relay traffic may go through a proxy (``TUI_SNS_PROXY`` or ``--proxy``; see :func:`use_proxy`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from tui_sns.crypto.card import check_relay_url
from tui_sns.crypto.envelope import envelope_id
from tui_sns.crypto.envelope_v2 import MAX_ANY_ENVELOPE_BYTES as MAX_ENVELOPE_BYTES  # v1 or v2
from tui_sns.crypto.errors import InvalidRelayUrl as CardRelayUrlError
from tui_sns.errors import NetworkError
from tui_sns.net.addresses import address_reason
from tui_sns.net.aio import wait_for

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
PAGE = 500
BATCH_MAX = 256  # envelopes per POST /v1/envelopes/batch (the relay's limit)
ALL_SHARDS = 0xFFFF  # a tagged batch item's tag count meaning "all shards" (no list follows)
MAX_SHARDS = 4096  # the most shards a relay may have (a power of two)
MAX_SEQ = 2**63 - 1  # seq and next are signed 64-bit on every relay (and in my store)
# A page answer is read up to this many bytes: a relay's page stops at 16 MiB of envelopes, which is
# about 21.4 MiB as base64 in JSON; anything longer is not a page.
MAX_BODY_BYTES = 24 * 1024 * 1024
MAX_SMALL_BODY_BYTES = 1024 * 1024  # acknowledgements, credentials, health, errors
# One server-sent event: one envelope record (base64 of at most MAX_ENVELOPE_BYTES) and its framing.
MAX_EVENT_BYTES = (MAX_ENVELOPE_BYTES * 4) // 3 + 4096
PROXY_ENV = "TUI_SNS_PROXY"
PROXY_SCHEMES = ("socks5", "socks5h", "http", "https")
_ID = re.compile(r"^[0-9a-f]{64}$")
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_CREDENTIAL = re.compile(r"^[!-~]{1,256}$")
_FIELDS = ("seq", "id", "data", "envelopes", "next", "more")
_REASONS = (
    "seq or next is not an integer in 0..2^63-1",
    "id is not 64 lowercase hex digits",
    "data is not text or longer than an envelope can be",
    "data is not base64",
)
_proxy_override: str | None = None


class RelayUnavailable(NetworkError):
    """Could not talk to the relay. ``reason``: "tls" (the TLS handshake failed: e.g. https to a
    plain-HTTP server), "dns" (its name was not found or could not be looked up), "refused" (the
    connection was refused), "timeout" (no answer in time), "private" (not contacted: a private
    address), "proxy" or "connection" (anything else); ``words``: why, without the relay's URL."""

    def __init__(self, message: str, reason: str = "connection", words: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.words = words or message


class RelayRefused(NetworkError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RelayGarbage(NetworkError):
    pass


class InvalidRelayUrl(NetworkError):
    """A relay URL that cannot be used (see :func:`tui_sns.crypto.card.check_relay_url`)."""


class InvalidProxy(NetworkError):
    """A ``--proxy`` / ``TUI_SNS_PROXY`` value that is not a usable proxy URL."""


@dataclass(frozen=True)
class RemoteEnvelope:
    seq: int
    id: str
    data: bytes


@dataclass(frozen=True)
class Page:
    envelopes: list[RemoteEnvelope]
    next: int
    more: bool


@dataclass(frozen=True)
class Probe:
    """What :meth:`RelayClient.probe` found. ``state``: "reachable" (it answers, and accepts my
    credential when one was given), "unreachable" (no answer: down, wrong address, timed out; then
    ``reason`` and ``detail`` say why, as :class:`RelayUnavailable`'s ``reason`` and ``words``),
    "error" (it answered its health check with an error: ``http_status``, e.g. 500; or with more than
    a health answer can be) or "refused" (it answers but refuses my credential: ``http_status`` 401)."""

    state: str
    http_status: int | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def reachable(self) -> bool:
        """It answered its health check (so also when it refuses my credential)."""
        return self.state in ("reachable", "refused")


class PrivateAddressRefused(httpcore.ConnectError, NetworkError):
    """A guarded connection's host resolved to a private address (see :class:`PublicOnlyBackend`).
    An httpcore error (httpx turns it into its ConnectError, which :class:`RelayClient` reports as the
    relay's error) and a tui-sns one (the client's single error family)."""


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to globally routable addresses: the name is resolved here, every address it
    resolves to is checked (:func:`tui_sns.net.addresses.address_reason`), and the connection goes to
    the checked address itself, so a name cannot resolve to a public address when checked and to a
    private one when connected (DNS rebinding). TLS still verifies and sends the name (httpcore starts
    TLS with the request's host). Raises :class:`PrivateAddressRefused`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}") from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from exc
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            reason = address_reason(address)
            if reason is not None:
                raise PrivateAddressRefused(f"{host} resolves to {reason}")
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host!r}")
        return await self.inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a relay is never reached through a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def public_only_transport() -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go only to public addresses (:class:`PublicOnlyBackend`).
    For direct connections only: through a proxy, the proxy resolves and connects."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    pool = transport._pool  # httpx builds its httpcore pool without a way to pass a network backend
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx does not let tui-sns guard connections: pin httpx 0.28")
    pool._network_backend = PublicOnlyBackend(pool._network_backend)
    return transport


def _environment_proxies() -> bool:
    """Whether httpx would take a proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY):
    then the proxy connects, and a guarded transport (which bypasses it) is not used."""
    import urllib.request

    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def _refused_private(exc: BaseException) -> str | None:
    """The sentence of a :class:`PrivateAddressRefused` behind ``exc`` (httpx wraps it), else None."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, PrivateAddressRefused):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _chain(exc: BaseException, depth: int = 8) -> list[BaseException]:
    """``exc`` and the exceptions behind it (causes, contexts), at most ``depth``."""
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(out) < depth and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


# OpenSSL's words when the server answered a TLS hello with something that is not TLS (plain HTTP)
_NOT_TLS = ("WRONG_VERSION_NUMBER", "record layer failure", "packet length too long", "http request")


def unavailable(url: str, exc: httpx.HTTPError, what: str = "", proxy: str | None = None) -> RelayUnavailable:
    """The :class:`RelayUnavailable` for a failed connection to ``url``, saying why in words a person
    can act on (never an exception class name): TLS, a name not found, refused, timed out, ...
    ``what``: what broke, e.g. " stream" (default: the relay itself). ``proxy``: the proxy in use
    ("" for one from the environment), whose own failures (refused, name not found) are named as the
    proxy's, never the relay's (shown as host and port only: a proxy URL may hold a password)."""
    import ssl

    refused = _refused_private(exc)
    if refused is not None:
        return RelayUnavailable(
            f"relay {url}{what} is unreachable (not contacted: {refused})", "private", f"not contacted: {refused}"
        )
    if isinstance(exc, httpx.TimeoutException):
        words = "no answer in time: it may be down or overloaded, or the network slow"
        return RelayUnavailable(f"relay {url}{what} timed out ({words})", "timeout", words)
    host = httpx.URL(url).host
    if proxy is not None:
        return _proxy_unavailable(url, exc, what, proxy)
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            words = f"its TLS certificate is not accepted ({cause.verify_message or 'not verified'})"
            return RelayUnavailable(f"relay {url}{what} is unreachable: {words}", "tls", words)
        if isinstance(cause, ssl.SSLError):
            text = f"{cause.reason or ''} {cause}"
            if url.startswith("https://") and any(sign in text for sign in _NOT_TLS):
                words = f"does not speak TLS; did you mean http://{url[len('https://'):]}?"
                return RelayUnavailable(f"relay {url} {words}", "tls", words)
            words = f"the TLS handshake failed ({cause.reason or 'no reason given'})"
            return RelayUnavailable(f"relay {url}{what} is unreachable: {words}", "tls", words)
        if isinstance(cause, socket.gaierror):
            if cause.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                words = f"name not found ({host} does not exist in DNS: check the address)"
            else:
                words = f"its name {host} could not be looked up (no answer from DNS: offline?)"
            return RelayUnavailable(f"relay {url}{what} is unreachable: {words}", "dns", words)
        if isinstance(cause, ConnectionRefusedError):
            words = "connection refused (nothing listens there: the relay is down, or the port is wrong)"
            return RelayUnavailable(f"relay {url}{what} is unreachable: {words}", "refused", words)
    words = _why(exc)
    reason = "proxy" if isinstance(exc, httpx.ProxyError) else "connection"
    if what:
        return RelayUnavailable(f"relay {url}{what} broke ({words})", reason, words)
    return RelayUnavailable(f"relay {url} is unreachable ({words})", reason, words)


def _proxy_unavailable(url: str, exc: httpx.HTTPError, what: str, proxy: str) -> RelayUnavailable:
    """:func:`unavailable` through a proxy: a refused connection or a name not found is the proxy's;
    TLS (end to end, through the proxy's tunnel) is still the relay's."""
    import ssl

    try:
        parsed = httpx.URL(proxy)
        where = f"the proxy at {parsed.host}:{parsed.port}" if parsed.host and parsed.port else "the proxy"
    except (httpx.InvalidURL, TypeError):
        where = "the proxy"
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLError):
            break
        if isinstance(cause, socket.gaierror):
            words = f"{where} was not found (its name does not resolve)"
            return RelayUnavailable(f"relay {url}{what} is unreachable: {words}", "proxy", words)
        if isinstance(cause, ConnectionRefusedError):
            words = f"{where} refused the connection (is it running?)"
            return RelayUnavailable(f"relay {url}{what} is unreachable: {words}", "proxy", words)
    return unavailable(url, exc, what)


def _why(exc: httpx.HTTPError) -> str:
    """What went wrong, in words a person can act on (never an exception class name)."""
    refused = _refused_private(exc)
    if refused is not None:
        return f"not contacted: {refused}"
    if isinstance(exc, httpx.ConnectError):
        return "no answer at that address: it may be down, or the address may be wrong"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "it broke off the connection"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection dropped"
    if isinstance(exc, httpx.ProxyError):
        return "the proxy refused to connect to it"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "the address must start with http:// or https://"
    if isinstance(exc, httpx.DecodingError):
        return "it answered something that could not be decoded"
    return "the connection failed"


def normalize_url(url: str) -> str:
    """``url`` checked as a relay URL (http or https, a host, a valid port, ...), without a trailing
    slash. Raises :class:`InvalidRelayUrl` (a :class:`NetworkError`) with a sentence naming it."""
    try:
        url = check_relay_url(url)
        httpx.URL(url)  # what httpx will parse must parse too
    except CardRelayUrlError as exc:
        raise InvalidRelayUrl(str(exc)) from exc
    except httpx.InvalidURL as exc:
        raise InvalidRelayUrl(f"not a valid relay URL {ascii(url[:80])}: {exc}") from exc
    return url


def check_proxy(proxy: str) -> str:
    """A proxy URL: ``socks5://host:port`` (``socks5h`` too: httpx always lets the proxy resolve names,
    which is what Tor needs), or ``http(s)://host:port``. Raises :class:`InvalidProxy`."""
    proxy = proxy.strip()
    try:
        parsed = httpx.URL(proxy)
    except httpx.InvalidURL as exc:
        raise InvalidProxy(f"not a valid proxy URL {ascii(proxy[:80])}: {exc}") from exc
    if parsed.scheme not in PROXY_SCHEMES or not parsed.host:
        raise InvalidProxy(
            f"not a valid proxy URL {ascii(proxy[:80])}: use socks5://HOST:PORT (e.g. Tor's "
            "socks5://127.0.0.1:9050) or http://HOST:PORT"
        )
    return proxy


def use_proxy(proxy: str | None) -> None:
    """Send all relay traffic of this process through ``proxy`` (``None``: back to ``TUI_SNS_PROXY``).

    The CLI's ``--proxy`` calls this before any command runs, so the app's background sync uses it too.
    """
    global _proxy_override
    _proxy_override = check_proxy(proxy) if proxy else None


def configured_proxy() -> str | None:
    """The proxy for relay traffic: the one set by :func:`use_proxy`, else ``$TUI_SNS_PROXY``, else none."""
    if _proxy_override:
        return _proxy_override
    from_env = os.environ.get(PROXY_ENV, "").strip()
    return check_proxy(from_env) if from_env else None


def _seq(value: Any) -> int:
    """A seq or next: a JSON integer (not a bool, not a float, not a string) in 0..MAX_SEQ."""
    if type(value) is not int or not 0 <= value <= MAX_SEQ:
        raise ValueError("seq or next is not an integer in 0..2^63-1")
    return value


def _why_bad(exc: Exception) -> str:
    """What was wrong, for the messages above: only our own sentences (never the relay's text)."""
    if isinstance(exc, KeyError):
        return f" (no {exc.args[0]!r})" if exc.args and exc.args[0] in _FIELDS else " (a field is missing)"
    if type(exc) is ValueError and exc.args and isinstance(exc.args[0], str) and exc.args[0] in _REASONS:
        return f" ({exc.args[0]})"
    return ""


def _parse_envelope(url: str, item: Any) -> RemoteEnvelope:
    try:
        if not isinstance(item, dict):
            raise TypeError
        seq, eid, text = _seq(item["seq"]), item["id"], item["data"]
        if not isinstance(eid, str) or not _ID.match(eid):
            raise ValueError("id is not 64 lowercase hex digits")
        if not isinstance(text, str) or len(text) > (MAX_ENVELOPE_BYTES + 2) // 3 * 4:
            raise ValueError("data is not text or longer than an envelope can be")
        if not _B64.match(text):
            raise ValueError("data is not base64")
        data = base64.b64decode(text, validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise RelayGarbage(f"relay {url} sent a malformed envelope record{_why_bad(exc)}") from exc
    if envelope_id(data) != eid:
        raise RelayGarbage(f"relay {url} sent an envelope whose bytes do not match its id")
    return RemoteEnvelope(seq, eid, data)


class RelayClient:
    """One relay. ``credential`` is sent when known (writes always need it; reads may)."""

    def __init__(
        self,
        url: str,
        credential: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: str | None = None,
        public_only: bool = False,
    ) -> None:
        """``proxy``: a proxy URL for this client (default :func:`configured_proxy`; ignored when a
        ``transport`` is given, as tests do). ``public_only``: connect only to public addresses
        (:class:`PublicOnlyBackend`; a direct connection only: through a proxy, the proxy connects).
        Raises :class:`InvalidRelayUrl`, :class:`InvalidProxy`."""
        self.url = normalize_url(url)
        self.credential = credential
        self._tested_transport = transport  # (given: tests' in-memory networks, no proxy)
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        self.proxy = (proxy or configured_proxy()) if transport is None else None
        if public_only and transport is None and self.proxy is None and not _environment_proxies():
            transport = public_only_transport()
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=TIMEOUT,
            transport=transport,
            proxy=self.proxy,
            trust_env=self.proxy is None,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _proxy_in_use(self) -> str | None:
        """The proxy this client connects through ("" for one from the environment), or None."""
        if self.proxy is not None:
            return self.proxy
        return "" if self._tested_transport is None and _environment_proxies() else None

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(
        self, method: str, path: str, max_bytes: int = MAX_SMALL_BODY_BYTES, **kw: Any
    ) -> httpx.Response:
        """One request; the answer's body is read up to ``max_bytes`` (more is :class:`RelayGarbage`)."""
        try:
            async with self._http.stream(method, path, **kw) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise RelayGarbage(
                            f"relay {self.url} sent an answer longer than {max_bytes // 1024} KiB"
                        )
                    chunks.append(chunk)
        except httpx.HTTPError as exc:  # (timeouts included)
            raise unavailable(self.url, exc, proxy=self._proxy_in_use()) from exc
        response = httpx.Response(
            response.status_code, headers=response.headers, content=b"".join(chunks), request=response.request
        )
        if response.status_code >= 400:
            raise RelayRefused(self._describe_error(response), response.status_code)
        return response

    def _describe_error(self, response: httpx.Response) -> str:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError, RecursionError):
            detail = str(response.json().get("detail", ""))
        # The relay's own words: one line, printable ASCII escapes, bounded.
        detail = ascii(detail[:200])[1:-1] if detail else ""
        status = response.status_code
        if status == 401:
            what = "refused the credential (members only, revoked, or not a member)"
        elif status == 429:
            retry = response.headers.get("Retry-After", "?")
            what = f"is rate-limiting (retry after {retry if retry.isdigit() and len(retry) < 8 else '?'} s)"
        else:
            what = f"answered {status}"
        return f"relay {self.url} {what}" + (f": {detail}" if detail else "")

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, RecursionError) as exc:  # (RecursionError: nesting too deep to parse)
            raise RelayGarbage(f"relay {self.url} answered something that is not JSON") from exc

    async def redeem(self, code: str) -> str:
        body = self._json(await self._request("POST", "/v1/invites/redeem", json={"code": code}))
        credential = body.get("credential") if isinstance(body, dict) else None
        if not isinstance(credential, str) or not _CREDENTIAL.match(credential):
            # (it goes into an HTTP header and the store: printable ASCII, as long as a relay's tokens)
            raise RelayGarbage(f"relay {self.url} did not return a usable credential")
        return credential

    async def info(self) -> RelayInfo:
        """``GET /v1/info``, checked (:func:`parse_relay_info`). Raises as every request does."""
        return parse_relay_info(self.url, self._json(await self._request("GET", "/v1/info")))

    async def put(self, data: bytes, expires: int | None = None, tags: Collection[int] | None = None) -> str:
        """Store one envelope (``POST /v1/envelopes``). ``tags``: its shard tags (None: all shards;
        send them only to a relay whose ``/v1/info`` says it has more than one shard)."""
        params: dict[str, str] = {"expires": str(expires)} if expires else {}
        if tags is not None:
            params["shards"] = ",".join(str(t) for t in sorted(tags))
        response = await self._request(
            "POST",
            "/v1/envelopes",
            content=data,
            params=params or None,
            headers={"Content-Type": "application/octet-stream"},
        )
        body = self._json(response)
        eid = body.get("id") if isinstance(body, dict) else None
        if eid != envelope_id(data):
            raise RelayGarbage(f"relay {self.url} acknowledged a different envelope id")
        return str(eid)

    async def put_many(
        self,
        datas: Sequence[bytes],
        expires: Sequence[int | None] | None = None,
        tags: Sequence[Collection[int] | None] | None = None,
    ) -> list[str]:
        """Store several envelopes in one request and one commit (``POST /v1/envelopes/batch``).

        All or nothing: on any error the relay stored none of them. ``expires`` gives each envelope's
        expiry (unix s, or None). ``tags`` gives each envelope's shard tags (None: all shards), sent in
        the tagged item format (``?tagged=1``; only to a relay with more than one shard). Returns the
        acknowledged ids, in order. At most ``BATCH_MAX`` envelopes;
        a relay without the endpoint answers 404 (:class:`RelayRefused`), so use :meth:`put` there.
        """
        if not datas:
            return []
        if len(datas) > BATCH_MAX:
            raise ValueError(f"at most {BATCH_MAX} envelopes per batch")
        expiring = expires is not None and any(expires)
        parts: list[bytes] = []
        for i, data in enumerate(datas):
            parts.append(len(data).to_bytes(4, "big"))
            if tags is not None:
                item = tags[i]
                if item is None:
                    parts.append(ALL_SHARDS.to_bytes(2, "big"))
                else:
                    parts.append(len(item).to_bytes(2, "big"))
                    parts.extend(t.to_bytes(2, "big") for t in sorted(item))
            if expiring:
                assert expires is not None
                parts.append((expires[i] or 0).to_bytes(8, "big"))
            parts.append(data)
        params = {"expiring": "1"} if expiring else {}
        if tags is not None:
            params["tagged"] = "1"
        response = await self._request(
            "POST",
            "/v1/envelopes/batch",
            content=b"".join(parts),
            params=params or None,
            headers={"Content-Type": "application/octet-stream"},
        )
        body = self._json(response)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(datas):
            raise RelayGarbage(f"relay {self.url} sent a malformed batch acknowledgement")
        ids: list[str] = []
        for data, result in zip(datas, results, strict=True):
            eid = result.get("id") if isinstance(result, dict) else None
            if eid != envelope_id(data):
                raise RelayGarbage(f"relay {self.url} acknowledged a different envelope id")
            ids.append(str(eid))
        return ids

    async def page(self, after: int, limit: int = PAGE, shard: int | None = None) -> Page:
        """The envelopes after ``after`` (at most ``limit``), checked as the module docstring says.
        ``shard``: only that shard's (``/v1/shards/{shard}/envelopes``; a relay without shards
        answers 404, :class:`RelayRefused`)."""
        path = "/v1/envelopes" if shard is None else f"/v1/shards/{int(shard)}/envelopes"
        response = await self._request("GET", path, MAX_BODY_BYTES, params={"after": after, "limit": limit})
        body = self._json(response)
        try:
            if not isinstance(body, dict):
                raise TypeError
            items, nxt, more = body["envelopes"], _seq(body["next"]), body["more"]
            if not isinstance(items, list) or not isinstance(more, bool):
                raise TypeError
        except (KeyError, TypeError, ValueError) as exc:
            raise RelayGarbage(f"relay {self.url} sent a malformed page{_why_bad(exc)}") from exc
        if len(items) > limit:
            raise RelayGarbage(f"relay {self.url} sent {len(items)} envelopes when asked for {limit}")
        envelopes = [_parse_envelope(self.url, i) for i in items]
        last = after
        for envelope in envelopes:
            if envelope.seq <= last:
                raise RelayGarbage(f"relay {self.url} went backwards in its log")
            last = envelope.seq
        if nxt < last:
            raise RelayGarbage(f"relay {self.url} went backwards in its log (next is behind its envelopes)")
        return Page(envelopes, nxt, more and bool(envelopes))

    async def cursor_at(self, at: int) -> int | None:
        """``GET /v1/cursor?at=``: a seq before every envelope that arrived at or after the hour of ``at``
        (unix s). None from a relay older than that endpoint (404). Raises NetworkError otherwise."""
        try:
            response = await self._request("GET", "/v1/cursor", params={"at": max(0, int(at))})
        except RelayRefused as exc:
            if exc.status == 404:
                return None
            raise
        body = self._json(response)
        try:
            if not isinstance(body, dict):
                raise TypeError
            return _seq(body["after"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RelayGarbage(f"relay {self.url} sent a malformed cursor{_why_bad(exc)}") from exc

    async def healthy(self) -> bool:
        try:
            await self._request("GET", "/healthz")
        except NetworkError:
            return False
        return True

    async def probe(self) -> Probe:
        """``GET /healthz``, and with a credential an empty ``POST /v1/envelopes/batch`` (which stores
        nothing: the relay checks the credential first, 401, then refuses the empty body, 400; an older
        relay without the endpoint answers 404 or 405). Never raises a :class:`NetworkError`."""
        try:
            await self._request("GET", "/healthz")
        except RelayRefused as exc:
            return Probe("error", exc.status)
        except RelayGarbage:
            return Probe("error")
        except RelayUnavailable as exc:
            return Probe("unreachable", reason=exc.reason, detail=exc.words)
        except NetworkError:
            return Probe("unreachable")
        if self.credential:
            try:
                await self._request(
                    "POST",
                    "/v1/envelopes/batch",
                    content=b"",
                    headers={"Content-Type": "application/octet-stream"},
                )
            except RelayRefused as exc:
                if exc.status == 401:
                    return Probe("refused", 401)
                if exc.status >= 500:
                    return Probe("error", exc.status)
            except RelayGarbage:
                return Probe("error")
            except RelayUnavailable as exc:
                return Probe("unreachable", reason=exc.reason, detail=exc.words)
            except NetworkError:
                return Probe("unreachable")
        return Probe("reachable")

    async def stream(self, after: int, shard: int | None = None) -> AsyncIterator[RemoteEnvelope]:
        """Server-sent events: every envelope after ``after``, then new ones as they arrive (with
        ``shard``, that shard's only: ``/v1/shards/{shard}/stream``).

        Each envelope is checked as in :meth:`page`, and seqs must increase; one event may hold at most
        ``MAX_EVENT_BYTES``.
        """
        last = after
        try:
            async with self._http.stream(
                "GET",
                "/v1/stream" if shard is None else f"/v1/shards/{int(shard)}/stream",
                params={"after": after},
                timeout=httpx.Timeout(10.0, read=60.0),
            ) as response:
                if response.status_code >= 400:
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_SMALL_BODY_BYTES:
                            break
                    error = httpx.Response(response.status_code, headers=response.headers, content=body)
                    raise RelayRefused(self._describe_error(error), response.status_code)
                event, data_lines, size = "message", list[str](), 0
                async for line in _bounded_lines(response, MAX_EVENT_BYTES, self.url):
                    size += len(line)
                    if size > MAX_EVENT_BYTES:
                        raise RelayGarbage(
                            f"relay {self.url} streamed an event longer than an envelope can be"
                        )
                    if line == "":
                        if event == "envelope" and data_lines:
                            try:
                                item = json.loads("\n".join(data_lines))
                            except (ValueError, RecursionError) as exc:
                                raise RelayGarbage(f"relay {self.url} streamed malformed data") from exc
                            envelope = _parse_envelope(self.url, item)
                            if envelope.seq <= last:
                                raise RelayGarbage(f"relay {self.url} went backwards in its stream")
                            last = envelope.seq
                            yield envelope
                        event, data_lines, size = "message", [], 0
                    elif line.startswith(":"):
                        continue
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data_lines.append(line[5:].lstrip())
        except httpx.HTTPError as exc:  # (timeouts included)
            raise unavailable(self.url, exc, " stream", self._proxy_in_use()) from exc


async def _bounded_lines(response: httpx.Response, max_line: int, url: str) -> AsyncIterator[str]:
    """The response's lines (any of CRLF, LF, CR ends one), refusing a line longer than ``max_line``.

    httpx's own line iterator buffers a line without bound; a relay that never sends a newline
    would fill memory.
    """
    buffer = ""
    pending_cr = False
    async for text in response.aiter_text():
        if pending_cr and text.startswith("\n"):
            text = text[1:]
        pending_cr = False
        buffer += text
        while True:
            cut = min((i for i in (buffer.find("\r"), buffer.find("\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            line, ending = buffer[:cut], buffer[cut]
            buffer = buffer[cut + 1 :]
            if ending == "\r":
                if buffer.startswith("\n"):
                    buffer = buffer[1:]
                elif not buffer:
                    pending_cr = True
            yield line
        if len(buffer) > max_line:
            raise RelayGarbage(f"relay {url} streamed a line longer than an envelope can be")
    if buffer:
        yield buffer


MAX_RETENTION = 2**41  # seconds; far beyond any real setting, and it keeps date arithmetic finite


@dataclass(frozen=True)
class RelayInfo:
    """The retention and shard fields of ``GET /v1/info`` (docs/relay.md, *Retention*, *Shards*), checked.

    ``retention``: seconds an envelope is kept (None: until it expires, or an older relay that does
    not say); ``first_seq``: 1 + the highest seq the relay deleted for age (0: none); ``latest_seq``;
    ``shards``: the relay's shard count S, a power of two 1..4096 (1: an older relay that does not say).
    """

    retention: int | None
    first_seq: int
    latest_seq: int
    shards: int = 1


def parse_relay_info(url: str, payload: Any) -> RelayInfo:
    """Validate the retention fields of a ``/v1/info`` JSON object; raise :class:`RelayGarbage`.

    Fields an older relay does not send (or, in members mode without a credential, sends as null)
    default to None / 0. Integers must be JSON integers (not
    booleans or floats): ``retention`` in 1..2^41 s or null, seqs in 0..2^63-1. A hostile relay
    can still claim a short retention, which only makes the client warn.
    """
    if not isinstance(payload, dict):
        raise RelayGarbage(f"relay {url} sent /v1/info that is not a JSON object")

    def integer(name: str, low: int, high: int, default: int | None) -> int | None:
        value = payload.get(name)
        if value is None:  # absent (an older relay), or withheld (members mode without a credential)
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RelayGarbage(f"relay {url} sent /v1/info with a bad {name}")
        return value

    retention = integer("retention", 1, MAX_RETENTION, None)
    first_seq = integer("first_seq", 0, MAX_SEQ, 0)
    latest_seq = integer("latest_seq", 0, MAX_SEQ, 0)
    shards = integer("shards", 1, MAX_SHARDS, 1)
    assert first_seq is not None and latest_seq is not None and shards is not None
    if shards & (shards - 1):
        raise RelayGarbage(f"relay {url} sent /v1/info with a bad shards")
    return RelayInfo(retention, first_seq, latest_seq, shards)
