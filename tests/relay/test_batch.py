"""POST /v1/envelopes/batch: many envelopes in one request and one commit, all or nothing."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
from relay_helpers import METRICS_AUTH, RelayClient, assert_error

from tui_sns.sync.relay.storage import HOUR, token_hash


def batch_body(datas: list[bytes], expiries: list[int] | None = None) -> bytes:
    """The wire format: per item a 4-byte big-endian length, [8-byte expiry,] the bytes."""
    parts: list[bytes] = []
    for i, data in enumerate(datas):
        parts.append(len(data).to_bytes(4, "big"))
        if expiries is not None:
            parts.append(expiries[i].to_bytes(8, "big"))
        parts.append(data)
    return b"".join(parts)


async def post_batch(
    relay: RelayClient, body: bytes, credential: str | None, **params: Any
) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if credential is not None:
        headers["Authorization"] = f"Bearer {credential}"
    return await relay.http.post("/v1/envelopes/batch", content=body, params=params, headers=headers)


def eid(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def stored_count(relay: RelayClient) -> int:
    return relay.relay.storage.stats(time.time()).envelopes


async def test_batch_results_in_order_and_idempotent(relay: RelayClient) -> None:
    credential = await relay.credential()
    a, b, c, d = (os.urandom(50 + i) for i in range(4))
    first = await post_batch(relay, batch_body([a, b, a, c]), credential)
    assert first.status_code == 200, first.text
    results = first.json()["results"]
    assert [r["id"] for r in results] == [eid(a), eid(b), eid(a), eid(c)]
    assert [r["stored"] for r in results] == [True, True, False, True]
    assert results[2]["seq"] == results[0]["seq"]  # the same bytes twice in one batch: stored once
    assert results[0]["seq"] < results[1]["seq"] < results[3]["seq"]
    # Across batches and with the single endpoint: already stored bytes keep their seq.
    second = (await post_batch(relay, batch_body([c, d]), credential)).json()["results"]
    assert (second[0]["seq"], second[0]["stored"]) == (results[3]["seq"], False)
    assert second[1]["stored"] is True and second[1]["seq"] > results[3]["seq"]
    single = await relay.post(b, credential)
    assert single.status_code == 200 and single.json() == {"id": eid(b), "seq": results[1]["seq"]}
    listing = (await relay.http.get("/v1/envelopes")).json()["envelopes"]
    assert [e["id"] for e in listing] == [eid(a), eid(b), eid(c), eid(d)]
    text = (await relay.http.get("/metrics", headers=METRICS_AUTH)).text
    assert "relay_envelopes_stored_total 4.0" in text
    assert f"relay_envelope_bytes_stored_total {len(a) + len(b) + len(c) + len(d)}.0" in text


async def test_batch_of_the_maximum_size(relay: RelayClient) -> None:
    credential = await relay.credential()
    datas = [os.urandom(32) for _ in range(256)]
    response = await post_batch(relay, batch_body(datas), credential)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [eid(d) for d in datas]
    assert stored_count(relay) == 256


async def test_batch_malformed_stores_nothing(relay: RelayClient) -> None:
    credential = await relay.credential()
    good = batch_body([b"first", b"second"])
    for body in (
        b"",  # no item at all
        b"\x00\x00",  # truncated length
        good + b"\x00\x00\x00",  # trailing bytes that are not an item
        good + (10).to_bytes(4, "big") + b"short",  # the last item is shorter than its length
    ):
        assert_error(await post_batch(relay, body, credential), 400, "bad_body")
    assert_error(await post_batch(relay, good + batch_body([b""]), credential), 400, "empty_envelope")
    for expiring in ("2", "x", "-1"):
        assert_error(await post_batch(relay, good, credential, expiring=expiring), 400, "bad_parameter")
    now = int(time.time())
    for bad_expiry in (now - 10, 2**63):
        body = batch_body([b"first", b"second"], [now + 100, bad_expiry])
        assert_error(await post_batch(relay, body, credential, expiring=1), 400, "bad_parameter")
    assert stored_count(relay) == 0


async def test_batch_too_large_stores_nothing(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(max_envelope_bytes=1000, max_batch_bytes=20_000, write_burst=300)
    credential = await relay.credential()
    over = batch_body([b"fine", b"y" * 1001, b"also fine"])
    assert_error(await post_batch(relay, over, credential), 413, "envelope_too_large")
    declared = (2**32 - 1).to_bytes(4, "big") + b"x"  # a declared length over the limit is enough
    assert_error(await post_batch(relay, declared, credential), 413, "envelope_too_large")
    too_big = batch_body([os.urandom(1000) for _ in range(20)])
    assert_error(await post_batch(relay, too_big, credential), 413, "batch_too_large")

    async def chunks() -> Any:  # no Content-Length: the relay must stop reading by itself
        for _ in range(30):
            yield b"z" * 1000

    streamed = await relay.http.post(
        "/v1/envelopes/batch", content=chunks(), headers={"Authorization": f"Bearer {credential}"}
    )
    assert_error(streamed, 413, "batch_too_large")
    too_many = batch_body([i.to_bytes(2, "big") for i in range(257)])
    assert_error(await post_batch(relay, too_many, credential), 413, "batch_too_large")
    assert stored_count(relay) == 0
    exactly = batch_body([b"x" * 1000, b"y" * 1000])
    assert (await post_batch(relay, exactly, credential)).status_code == 200


async def test_batch_requires_valid_credential(relay: RelayClient) -> None:
    body = batch_body([b"one", b"two"])
    assert_error(await post_batch(relay, body, None), 401, "unauthorized")
    assert_error(await post_batch(relay, body, "not-a-credential"), 401, "unauthorized")
    credential = await relay.credential()
    assert (await post_batch(relay, body, credential)).status_code == 200
    assert relay.relay.storage.revoke_credential(token_hash(credential)[:8]) == 1
    assert_error(await post_batch(relay, batch_body([b"three"]), credential), 401)
    assert stored_count(relay) == 2


async def test_batch_rate_limit_counts_each_item(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(write_rate=0.01, write_burst=5)
    credential = await relay.credential()
    assert (await post_batch(relay, batch_body([b"a", b"b", b"c"]), credential)).status_code == 200
    limited = await post_batch(relay, batch_body([b"d", b"e", b"f"]), credential)
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert stored_count(relay) == 3
    # The refused batch took no token: two single writes still fit in the burst, a third does not.
    assert (await relay.post(b"g", credential)).status_code == 201
    assert (await relay.post(b"h", credential)).status_code == 201
    assert_error(await relay.post(b"i", credential), 429, "rate_limited")
    # More items than the burst could ever allow is refused as too large, not "retry later".
    other = await relay.credential()
    six = batch_body([bytes([i]) for i in range(6)])
    assert_error(await post_batch(relay, six, other), 413, "batch_too_large")
    doc = (await relay.http.get("/openapi.json")).json()
    assert "At most 5 items" in doc["paths"]["/v1/envelopes/batch"]["post"]["description"]


async def test_batch_with_expiries(relay: RelayClient) -> None:
    credential = await relay.credential()
    now = int(time.time())
    body = batch_body([b"expires soon", b"kept"], [now + 10, 0])
    response = await post_batch(relay, body, credential, expiring=1)
    assert response.status_code == 200, response.text
    assert [r["stored"] for r in response.json()["results"]] == [True, True]
    storage = relay.relay.storage
    assert len(storage.list_envelopes(0, 10, now)) == 2
    assert [e.data for e in storage.list_envelopes(0, 10, now + 2 * HOUR)] == [b"kept"]
    assert storage.prune(now + 2 * HOUR, None) == 1
    # expiring=0 is the plain format: the same bytes read as lengths and data, not as expiries.
    plain = await post_batch(relay, batch_body([b"plain"]), credential, expiring=0)
    assert plain.status_code == 200


async def test_batch_wakes_streams(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(stream_max_seconds=0.5)
    credential = await relay.credential()
    results = (await post_batch(relay, batch_body([b"s1", b"s2", b"s3"]), credential)).json()["results"]
    assert relay.relay.hub.latest == results[-1]["seq"]
    response = await relay.http.get("/v1/stream", params={"after": 0})
    events = [block for block in response.text.split("\n\n") if block.startswith("event: envelope")]
    assert len(events) == 3


async def test_batch_route_is_post_only(relay: RelayClient) -> None:
    assert_error(await relay.http.get("/v1/envelopes/batch"), 405, "method_not_allowed")
