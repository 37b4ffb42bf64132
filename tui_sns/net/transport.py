"""The client side of the relay HTTP API v1 (docs/relay.md), over httpx.

Every failure is raised as :class:`RelayUnavailable` (could not talk to the relay),
:class:`RelayRefused` (the relay answered with an error) or :class:`RelayGarbage` (the relay answered
something that does not follow the protocol), each with a sentence naming the relay. Tests swap the
network for an in-memory ASGI app by passing ``transport=httpx.ASGITransport(app)``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tui_sns.crypto.envelope import envelope_id
from tui_sns.errors import NetworkError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
PAGE = 500
BATCH_MAX = 256  # envelopes per POST /v1/envelopes/batch (the relay's limit)


class RelayUnavailable(NetworkError):
    pass


class RelayRefused(NetworkError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RelayGarbage(NetworkError):
    pass


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


def _why(exc: httpx.HTTPError) -> str:
    """What went wrong, in words a person can act on (never an exception class name)."""
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
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise NetworkError(f"relay URL must start with http:// or https://: {url!r}")
    return url


def _parse_envelope(url: str, item: Any) -> RemoteEnvelope:
    try:
        seq, eid, data = int(item["seq"]), str(item["id"]), base64.b64decode(item["data"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise RelayGarbage(f"relay {url} sent a malformed envelope record") from exc
    if envelope_id(data) != eid:
        raise RelayGarbage(f"relay {url} sent an envelope whose bytes do not match its id")
    return RemoteEnvelope(seq, eid, data)


class RelayClient:
    """One relay. ``credential`` is sent when known (writes always need it; reads may)."""

    def __init__(
        self, url: str, credential: str | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url = normalize_url(url)
        self.credential = credential
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=TIMEOUT, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kw)
        except httpx.TimeoutException as exc:
            raise RelayUnavailable(f"relay {self.url} timed out") from exc
        except httpx.HTTPError as exc:
            raise RelayUnavailable(f"relay {self.url} is unreachable ({_why(exc)})") from exc
        if response.status_code >= 400:
            raise RelayRefused(self._describe_error(response), response.status_code)
        return response

    def _describe_error(self, response: httpx.Response) -> str:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(response.json().get("detail", ""))
        status = response.status_code
        if status == 401:
            what = "refused the credential (members only, revoked, or not a member)"
        elif status == 429:
            what = f"is rate-limiting (retry after {response.headers.get('Retry-After', '?')} s)"
        else:
            what = f"answered {status}"
        return f"relay {self.url} {what}" + (f": {detail}" if detail else "")

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise RelayGarbage(f"relay {self.url} answered something that is not JSON") from exc

    async def redeem(self, code: str) -> str:
        body = self._json(await self._request("POST", "/v1/invites/redeem", json={"code": code}))
        credential = body.get("credential") if isinstance(body, dict) else None
        if not isinstance(credential, str) or not credential:
            raise RelayGarbage(f"relay {self.url} did not return a credential")
        return credential

    async def put(self, data: bytes, expires: int | None = None) -> str:
        params = {"expires": str(expires)} if expires else None
        response = await self._request(
            "POST",
            "/v1/envelopes",
            content=data,
            params=params,
            headers={"Content-Type": "application/octet-stream"},
        )
        body = self._json(response)
        eid = body.get("id") if isinstance(body, dict) else None
        if eid != envelope_id(data):
            raise RelayGarbage(f"relay {self.url} acknowledged a different envelope id")
        return str(eid)

    async def put_many(
        self, datas: Sequence[bytes], expires: Sequence[int | None] | None = None
    ) -> list[str]:
        """Store several envelopes in one request and one commit (``POST /v1/envelopes/batch``).

        All or nothing: on any error the relay stored none of them. ``expires`` gives each envelope's
        expiry (unix s, or None). Returns the acknowledged ids, in order. At most ``BATCH_MAX`` envelopes;
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
            if expiring:
                assert expires is not None
                parts.append((expires[i] or 0).to_bytes(8, "big"))
            parts.append(data)
        response = await self._request(
            "POST",
            "/v1/envelopes/batch",
            content=b"".join(parts),
            params={"expiring": "1"} if expiring else None,
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

    async def page(self, after: int, limit: int = PAGE) -> Page:
        response = await self._request("GET", "/v1/envelopes", params={"after": after, "limit": limit})
        body = self._json(response)
        try:
            items, nxt, more = body["envelopes"], int(body["next"]), bool(body["more"])
            if not isinstance(items, list):
                raise TypeError
        except (KeyError, TypeError, ValueError) as exc:
            raise RelayGarbage(f"relay {self.url} sent a malformed page") from exc
        envelopes = [_parse_envelope(self.url, i) for i in items]
        if any(e.seq <= after for e in envelopes) or nxt < after:
            raise RelayGarbage(f"relay {self.url} went backwards in its log")
        return Page(envelopes, nxt, more and bool(envelopes))

    async def healthy(self) -> bool:
        try:
            await self._request("GET", "/healthz")
        except NetworkError:
            return False
        return True

    async def stream(self, after: int) -> AsyncIterator[RemoteEnvelope]:
        """Server-sent events: every envelope after ``after``, then new ones as they arrive."""
        try:
            async with self._http.stream(
                "GET", "/v1/stream", params={"after": after}, timeout=httpx.Timeout(10.0, read=60.0)
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise RelayRefused(self._describe_error(response), response.status_code)
                event, data_lines = "message", list[str]()
                async for line in response.aiter_lines():
                    if line == "":
                        if event == "envelope" and data_lines:
                            try:
                                item = json.loads("\n".join(data_lines))
                            except ValueError as exc:
                                raise RelayGarbage(f"relay {self.url} streamed malformed data") from exc
                            yield _parse_envelope(self.url, item)
                        event, data_lines = "message", []
                    elif line.startswith(":"):
                        continue
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data_lines.append(line[5:].lstrip())
        except httpx.TimeoutException as exc:
            raise RelayUnavailable(f"relay {self.url} stream timed out") from exc
        except httpx.HTTPError as exc:
            raise RelayUnavailable(f"relay {self.url} stream broke ({_why(exc)})") from exc
