"""The client pushes its outbox in batches (POST /v1/envelopes/batch), in memory against the real relay
app: fewer requests, same guarantees; old relays and refused envelopes are handled one by one."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend, received

from tui_sns.core.relays import RelayBook
from tui_sns.crypto.envelope import envelope_id
from tui_sns.net.transport import RelayClient, RelayGarbage
from tui_sns.store import relays as relay_store
from tui_sns.sync import engine
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig
from tui_sns.sync.relay.storage import new_token, token_hash

URL = "http://relay.test"
LIMITS = {"write_rate": 10_000.0, "write_burst": 10_000, "read_rate": 10_000.0, "read_burst": 10_000}


def make_app(tmp_path: Path, **overrides: Any) -> Any:
    return create_app(
        replace(RelayConfig(db=f"sqlite:///{tmp_path / 'relay.db'}"), **{**LIMITS, **overrides})
    )


def invite(app: Any) -> str:
    code = new_token()
    app.state.relay.storage.create_invite(token_hash(code), 1, None, time.time())
    return code


class Counting(httpx.AsyncBaseTransport):
    """Counts requests by (method, path) and can answer some paths itself."""

    def __init__(self, app: Any, answer: dict[str, int] | None = None) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.answer = answer or {}
        self.seen: Counter[tuple[str, str]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen[(request.method, request.url.path)] += 1
        status = self.answer.get(request.url.path)
        if status is not None:
            return httpx.Response(status, json={"error": "not_found", "detail": "no such endpoint"})
        return await self.inner.handle_async_request(request)


def stored(app: Any) -> list[bytes]:
    return [e.data for e in app.state.relay.storage.list_envelopes(0, 10_000, time.time())]


def setup(tmp_path: Path, person: Callable[..., Any], transport: Counting, app: Any) -> tuple[Any, Any]:
    alice, bob = person("alice"), person("bob")
    RelayBook(alice, transport=transport).add(URL, invite(app))
    RelayBook(bob, transport=transport).add(URL, invite(app))
    befriend(alice, bob)
    return alice, bob


def test_the_outbox_goes_in_batches(tmp_path: Path, person: Callable[..., Any], monkeypatch: Any) -> None:
    monkeypatch.setattr(engine, "PUSH_BATCH", 4)
    app = make_app(tmp_path)
    transport = Counting(app)
    alice, bob = setup(tmp_path, person, transport, app)
    for i in range(10):
        alice.diary.post(f"entry {i}", title=f"t{i}", to=["bob"])
    alice.diary.post("short-lived", title="expiring", to=["bob"], expires=timedelta(days=1))
    pending = relay_store.pending_deliveries(alice.store, URL)
    transport.seen.clear()

    report = SyncEngine(alice, transport=transport).sync_once()
    assert (report.pushed, report.errors) == (len(pending), [])
    assert transport.seen[("POST", "/v1/envelopes/batch")] == 3  # 4 + 4 + the rest
    assert transport.seen[("POST", "/v1/envelopes")] == 0
    assert stored(app) == [data for _, data, _, _ in pending]  # in outbox order
    assert relay_store.undelivered_count(alice.store) == 0
    # The expiring envelope went in a batch with its expiry: the relay drops it after a day.
    later = app.state.relay.storage.list_envelopes(0, 10_000, time.time() + 3 * 86400)
    assert len(later) == len(pending) - 1

    assert SyncEngine(bob, transport=transport).sync_once().errors == []
    assert {p.title for p in received(bob)} == {f"t{i}" for i in range(10)} | {"expiring"}
    again = SyncEngine(alice, transport=transport).sync_once()
    assert (again.pushed, again.errors) == (0, [])


def test_a_relay_without_the_batch_endpoint_gets_one_at_a_time(
    tmp_path: Path, person: Callable[..., Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(engine, "PUSH_BATCH", 3)
    app = make_app(tmp_path)
    transport = Counting(app, answer={"/v1/envelopes/batch": 404})
    alice, _bob = setup(tmp_path, person, transport, app)
    for i in range(7):
        alice.diary.post(f"entry {i}", title=f"t{i}", to=["bob"])
    pending = relay_store.pending_deliveries(alice.store, URL)
    transport.seen.clear()

    report = SyncEngine(alice, transport=transport).sync_once()
    assert (report.pushed, report.errors) == (len(pending), [])
    assert transport.seen[("POST", "/v1/envelopes/batch")] == 1  # tried once per push
    assert transport.seen[("POST", "/v1/envelopes")] == len(pending)
    assert stored(app) == [data for _, data, _, _ in pending]


def test_an_envelope_too_large_for_the_relay_does_not_block_the_others(
    tmp_path: Path, person: Callable[..., Any]
) -> None:
    probe = make_app(tmp_path / "probe")
    alice, _bob = setup(tmp_path, person, Counting(probe), probe)
    alice.diary.post("big " * 2000, title="big", to=["bob"])
    for i in range(4):
        alice.diary.post(f"entry {i}", title=f"t{i}", to=["bob"])
    pending = relay_store.pending_deliveries(alice.store, URL)
    big = max(pending, key=lambda row: len(row[1]))
    small_limit = max(len(row[1]) for row in pending if row is not big)
    assert len(big[1]) > small_limit
    probe.state.relay.storage.close()

    app = make_app(tmp_path, max_envelope_bytes=small_limit)
    relay_store.add_relay(alice.store, URL, "", "2026-01-01T00:00:00+00:00")  # re-point: a new relay
    credential = asyncio.run(RelayClient(URL, transport=Counting(app)).redeem(invite(app)))
    relay_store.add_relay(alice.store, URL, credential, "2026-01-01T00:00:00+00:00")
    transport = Counting(app)

    for _ in range(2):  # the refused envelope stays refused; it never holds up the rest
        report = SyncEngine(alice, transport=transport).sync_once()
        assert len(report.errors) == 1 and "answered 413" in report.errors[0], report.errors
        assert [row[0] for row in relay_store.pending_deliveries(alice.store, URL)] == [big[0]]
        assert sorted(stored(app)) == sorted(row[1] for row in pending if row is not big)
    assert report.pushed == 0
    # One batch (refused whole: 413), then one by one; the next sync has only the big one left.
    assert transport.seen[("POST", "/v1/envelopes/batch")] == 1
    assert transport.seen[("POST", "/v1/envelopes")] == len(pending) + 1


async def test_put_many_checks_the_acknowledgement(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with RelayClient(URL, transport=httpx.ASGITransport(app=app)) as anonymous:
        credential = await anonymous.redeem(invite(app))
    datas = [b"one", b"two", b"one"]
    async with RelayClient(URL, credential, transport=httpx.ASGITransport(app=app)) as client:
        assert await client.put_many(datas) == [envelope_id(d) for d in datas]
        assert await client.put_many([]) == []
        with pytest.raises(ValueError):
            await client.put_many([b"x"] * 257)

    def short(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"results": [{"id": envelope_id(b"one"), "seq": 1, "stored": True}]})

    async with RelayClient(URL, "c", transport=httpx.MockTransport(short)) as client:
        with pytest.raises(RelayGarbage, match="malformed batch acknowledgement"):
            await client.put_many(datas)
