"""Helpers for the relay tests (imported by conftest.py and the tests; pytest puts this directory on
sys.path). Kept out of conftest.py so that ``tests/relay`` and ``tests/sync`` can run in one pytest
session: both have a conftest.py, and only one of them can be the module named ``conftest``."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette

from tui_sns.sync.relay.app import Relay
from tui_sns.sync.relay.storage import new_token, token_hash

PG_ENV = "TUI_SNS_TEST_PG_DSN"
METRICS_TOKEN = "test-metrics-token"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
TEST_LIMITS: dict[str, Any] = {
    "write_rate": 10_000.0,
    "write_burst": 10_000,
    "read_rate": 10_000.0,
    "read_burst": 10_000,
    "redeem_rate": 10_000.0,
    "redeem_burst": 10_000,
    "metrics_token": METRICS_TOKEN,
}


def pg_dsn_or_skip() -> str:
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(f"{PG_ENV} not set: PostgreSQL tests skipped")
    return dsn


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN URL with ``options=-csearch_path=<schema>`` added."""
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"


class RelayClient:
    """An in-process relay app with an httpx client and admin shortcuts."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient) -> None:
        self.app = app
        self.http = client
        self.relay: Relay = app.state.relay

    def invite(self, uses: int = 1, expires_at: int | None = None) -> str:
        code = new_token()
        self.relay.storage.create_invite(token_hash(code), uses, expires_at, time.time())
        return code

    async def credential(self) -> str:
        response = await self.http.post("/v1/invites/redeem", json={"code": self.invite()})
        assert response.status_code == 201, response.text
        token: str = response.json()["credential"]
        return token

    async def post(self, data: bytes, credential: str, **params: Any) -> httpx.Response:
        return await self.http.post(
            "/v1/envelopes",
            content=data,
            params=params,
            headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/octet-stream"},
        )


TEST_ENV = {f"TUI_SNS_RELAY_{k.upper()}": str(v) for k, v in TEST_LIMITS.items() if k != "metrics_token"}


class SseReader:
    """Reads ``/v1/stream`` in a background thread; parsed ``envelope`` events land in ``events``.

    Leaving the ``with`` block stops the thread at once (its socket is shut down, so a read waiting
    for the next event returns) and joins it; the thread never dies of an exception: one raised
    before the reader was stopped is kept and raised again by ``__exit__`` in the test's thread.
    """

    def __init__(self, url: str, after: int = 0, headers: dict[str, str] | None = None) -> None:
        self.url = f"{url}/v1/stream"
        self.params = {"after": str(after)}
        self.headers = headers or {}
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._socket: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SseReader:
        self._thread.start()
        assert self.connected.wait(10), f"stream did not connect ({self.error!r})"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        assert not self._thread.is_alive(), "the stream reader did not stop"
        if self.error is not None and exc == (None, None, None):
            raise self.error

    def _run(self) -> None:
        try:
            self._read()
        except Exception as error:  # handed to the test's thread (or dropped: the reader was stopped)
            if not self._stop.is_set():
                self.error = error

    def _read(self) -> None:
        timeout = httpx.Timeout(5.0, read=5.0)
        with httpx.stream(
            "GET", self.url, params=self.params, headers=self.headers, timeout=timeout
        ) as response:
            assert response.status_code == 200
            stream = response.extensions.get("network_stream")
            self._socket = stream.get_extra_info("socket") if stream is not None else None
            self.connected.set()
            event: dict[str, str] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if not line:
                    if event.get("event") == "envelope":
                        self.events.put({"id": int(event["id"]), **json.loads(event["data"])})
                    event = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")

    def next(self, timeout: float) -> dict[str, Any]:
        return self.events.get(timeout=timeout)


def assert_error(response: Any, status: int, code: str | None = None) -> None:
    """``response`` is the relay's JSON error shape with this status (and machine code)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["error"] == code
