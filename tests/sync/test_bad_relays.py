"""Misbehaving relays: each yields one clear error naming it, never an exception, and a healthy relay
synced in the same run still delivers. The network is in memory: a transport routes by host to the
real relay app (ASGI) or to a mock answering whatever the test wants."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend, received

from tui_sns.core.relays import RelayBook
from tui_sns.crypto.envelope import envelope_id
from tui_sns.store import relays as relay_store
from tui_sns.sync import engine
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig
from tui_sns.sync.relay.storage import new_token, token_hash

GOOD = "http://good.test"
BAD = "http://bad.test"
LIMITS = {"write_rate": 10_000.0, "write_burst": 10_000, "read_rate": 10_000.0, "read_burst": 10_000}


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the transport registered for its host."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@pytest.fixture
def good_app(tmp_path: Path) -> Any:
    return create_app(replace(RelayConfig(db=f"sqlite:///{tmp_path / 'good.db'}"), **LIMITS))


def invite(app: Any) -> str:
    code = new_token()
    app.state.relay.storage.create_invite(token_hash(code), 1, None, time.time())
    return code


def record(seq: int, data: bytes, eid: str | None = None) -> dict[str, Any]:
    return {"seq": seq, "id": eid or envelope_id(data), "data": base64.b64encode(data).decode()}


def page(items: list[dict[str, Any]], nxt: int, more: bool = False) -> httpx.Response:
    return httpx.Response(200, json={"envelopes": items, "next": nxt, "more": more})


def ack(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": envelope_id(request.content), "seq": 1})


def split_batch(body: bytes) -> list[bytes]:
    """The envelopes of a batch upload body (4-byte big-endian length, then the bytes; no expiries)."""
    datas, pos = [], 0
    while pos < len(body):
        size = int.from_bytes(body[pos : pos + 4], "big")
        datas.append(body[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return datas


def batch_ack(request: httpx.Request) -> httpx.Response:
    results = [{"id": envelope_id(d), "seq": 1, "stored": True} for d in split_batch(request.content)]
    return httpx.Response(200, json={"results": results})


def bad_relay(kind: str, known: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    """A mock relay misbehaving as ``kind``; ``known`` are real envelopes it may serve."""

    def handler(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params.get("after", "0"))
        if kind == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if kind == "500":
            return httpx.Response(500, json={"error": "internal", "detail": "the relay failed unexpectedly"})
        if request.method == "POST" and request.url.path == "/v1/envelopes/batch":
            count = len(split_batch(request.content))
            if kind == "wrong-ack":
                return httpx.Response(
                    200, json={"results": [{"id": "00" * 32, "seq": 1, "stored": True}] * count}
                )
            return batch_ack(request)
        if request.method == "POST":
            if kind == "wrong-ack":
                return httpx.Response(201, json={"id": "00" * 32, "seq": 1})
            return ack(request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if kind == "wrong-ack":
            return page([], after)
        if kind == "garbage":
            return httpx.Response(
                200, content=b"<html>not json{", headers={"Content-Type": "application/json"}
            )
        if kind == "garbage-shape":
            return httpx.Response(200, json={"envelopes": "nope", "next": None})
        if kind == "wrong-id":
            return page([record(1, known[0], eid="ab" * 32)], 1)
        if kind == "backwards":
            if after == 0:
                return page([record(5, known[0])], 5, more=True)
            return page([record(4, known[0])], 4)
        if kind == "cursor-backwards":
            if after == 0:
                return page([record(5, known[0])], 5, more=True)
            return page([], 2)
        raise AssertionError(kind)

    return handler


EXPECTED = {
    "timeout": "timed out",
    "500": "answered 500",
    "wrong-ack": "acknowledged a different envelope id",
    "garbage": "not JSON",
    "garbage-shape": "malformed page",
    "wrong-id": "do not match its id",
    "backwards": "went backwards",
    "cursor-backwards": "went backwards",
}


CASES = [
    (k, w) for k in sorted(EXPECTED) for w in ("mine", "contact's") if (k, w) != ("wrong-ack", "contact's")
]


@pytest.mark.parametrize(("kind", "whose"), CASES)  # (I never write to a contact's relay)
def test_a_bad_relay_is_reported_and_the_good_one_still_syncs(
    kind: str, whose: str, good_app: Any, person: Callable[..., Any]
) -> None:
    alice, bob = person("alice"), person("bob")
    envelopes_seen: list[bytes] = []
    router = Router({"good.test": httpx.ASGITransport(app=good_app)})
    for session in (alice, bob):
        RelayBook(session, transport=router).add(GOOD, invite(good_app))
    if whose == "mine":  # (after bob took alice's card: bob does not know of the bad relay)
        befriend(alice, bob)
        relay_store.add_relay(alice.store, BAD, "some-credential", "2026-01-01T00:00:00+00:00")
    else:  # alice knows of the bad relay only from bob's card
        relay_store.add_relay(bob.store, BAD, "cred", "2026-01-01T00:00:00+00:00")
        befriend(alice, bob)
        relay_store.remove_relay(bob.store, BAD)
    router.routes["bad.test"] = httpx.MockTransport(bad_relay(kind, envelopes_seen))

    bob.diary.post("from bob", title="bob's", to=["alice"])
    assert SyncEngine(bob, transport=router).sync_once().errors == []
    envelopes_seen.extend(row[1] for row in relay_store.pending_deliveries(alice.store, GOOD))
    alice.diary.post("from alice", title="alice's", to=["bob"])
    envelopes_seen.extend(row[1] for row in relay_store.pending_deliveries(alice.store, GOOD))

    report = SyncEngine(alice, transport=router).sync_once()
    assert len(report.errors) == 1, report.errors
    assert BAD in report.errors[0] and EXPECTED[kind] in report.errors[0], report.errors
    if whose != "mine":
        assert "named by the card of bob" in report.errors[0]
    assert "\n" not in report.errors[0]
    assert {p.title for p in received(alice)} == {"bob's"}
    status = SyncEngine(alice, transport=router).status().as_json()
    relays = {r["url"]: r for r in status["relays"]}  # type: ignore[attr-defined]
    assert relays[GOOD]["error"] is None and relays[GOOD]["last_ok"]
    assert BAD in str(relays[BAD]["error"])

    assert SyncEngine(bob, transport=router).sync_once().errors == []
    assert {p.title for p in received(bob)} == {"alice's"}


def test_a_push_interrupted_midway_keeps_what_was_acknowledged(
    good_app: Any, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay refuses the 2nd upload of two envelopes: the first two are recorded as delivered,
    the rest wait."""
    monkeypatch.setattr(engine, "PUSH_BATCH", 2)
    alice = person("alice")
    good = httpx.ASGITransport(app=good_app)
    posts = {"count": 0, "fail_at": 2}

    async def flaky(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.startswith("/v1/envelopes"):
            posts["count"] += 1
            if posts["count"] == posts["fail_at"]:
                return httpx.Response(503, json={"error": "storage_unavailable", "detail": "try later"})
        return await good.handle_async_request(request)

    router = Router({"good.test": httpx.MockTransport(flaky)})
    RelayBook(alice, transport=router).add(GOOD, invite(good_app))
    bob = person("bob")
    befriend(alice, bob)
    for i in range(5):
        alice.diary.post(f"entry {i}", title=f"t{i}", to=["bob"])

    first = SyncEngine(alice, transport=router).sync_once()
    assert first.pushed == 2
    assert len(first.errors) == 1 and "answered 503" in first.errors[0] and GOOD in first.errors[0]
    assert len(relay_store.pending_deliveries(alice.store, GOOD)) == 3
    second = SyncEngine(alice, transport=router).sync_once()
    assert (second.pushed, second.errors) == (3, [])
    assert relay_store.undelivered_count(alice.store) == 0
    assert len(good_app.state.relay.storage.list_envelopes(0, 100, time.time())) == 5
