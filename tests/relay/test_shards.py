"""Shard routing on the relay (issue 15 §1, docs/design-sharding.md §3.3): an envelope tagged with shards
{a, b} is served on a and b and never on c; untagged (and `all`) uploads are broadcast to every shard;
an upload's first tag set sticks; hostile tag lists are a 400 and store nothing.  Both backends."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from relay_helpers import RelayClient, assert_error

from tui_sns.sync.relay.config import load_config
from tui_sns.sync.relay.errors import ConfigError
from tui_sns.sync.relay.storage import envelope_id

S = 16
ALL = 0xFFFF


def tagged_body(items: list[tuple[bytes, list[int] | None]], expiries: list[int] | None = None) -> bytes:
    """The ``?tagged=1`` wire format: length, tag count (0xFFFF: all) and tags, [expiry,] bytes."""
    parts: list[bytes] = []
    for i, (data, tags) in enumerate(items):
        parts.append(len(data).to_bytes(4, "big"))
        if tags is None:
            parts.append(ALL.to_bytes(2, "big"))
        else:
            parts.append(len(tags).to_bytes(2, "big"))
            parts.extend(t.to_bytes(2, "big") for t in tags)
        if expiries is not None:
            parts.append(expiries[i].to_bytes(8, "big"))
        parts.append(data)
    return b"".join(parts)


async def post_batch(relay: RelayClient, body: bytes, credential: str, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/octet-stream"}
    return await relay.http.post("/v1/envelopes/batch", content=body, params=params, headers=headers)


async def shard_ids(relay: RelayClient, shard: int, limit: int = 7) -> list[str]:
    """Every id listed on ``/v1/shards/{shard}/envelopes``, paging with a small limit; seqs ascend."""
    ids: list[str] = []
    after, last = 0, 0
    for _ in range(1000):
        page = (
            await relay.http.get(f"/v1/shards/{shard}/envelopes", params={"after": after, "limit": limit})
        ).json()
        for item in page["envelopes"]:
            assert item["seq"] > last
            last = item["seq"]
            ids.append(item["id"])
        after = page["next"]
        if not page["more"]:
            return ids
    raise AssertionError("paging did not end")


async def stored_count(relay: RelayClient) -> int:
    return relay.relay.storage.stats(time.time()).envelopes


async def test_an_envelope_is_served_on_its_shards_and_never_on_others(
    make_relay: Callable[..., Any],
) -> None:
    relay: RelayClient = await make_relay(shards=S)
    credential = await relay.credential()
    rng = random.Random(15)
    expected: dict[int, set[str]] = {n: set() for n in range(S)}

    def expect(data: bytes, tags: list[int] | None) -> None:
        for n in range(S) if tags is None else tags:
            expected[n].add(envelope_id(data))

    for i in range(40):  # single uploads: tagged, `all`, and untagged (broadcast)
        data = os.urandom(40)
        if i % 10 == 0:
            response = await relay.post(data, credential)
            expect(data, None)
        elif i % 10 == 1:
            response = await relay.post(data, credential, shards="all")
            expect(data, None)
        else:
            tags = rng.sample(range(S), rng.choice([1, 2, 4, 8]))
            response = await relay.post(data, credential, shards=",".join(map(str, tags)))
            expect(data, tags)
        assert response.status_code == 201, response.text
    items: list[tuple[bytes, list[int] | None]] = []
    for i in range(60):  # one tagged batch, some items broadcast
        tags = None if i % 15 == 0 else rng.sample(range(S), rng.choice([1, 2, 4, 8]))
        items.append((os.urandom(40), tags))
        expect(*items[-1])
    response = await post_batch(relay, tagged_body(items), credential, tagged=1)
    assert response.status_code == 200, response.text

    everything = {
        e["id"] for e in (await relay.http.get("/v1/envelopes", params={"limit": 1000})).json()["envelopes"]
    }
    assert len(everything) == 100  # the whole log is unchanged for old clients
    for n in range(S):
        listed = await shard_ids(relay, n)
        assert len(listed) == len(set(listed))
        assert set(listed) == expected[n]  # every envelope for n, and nothing tagged only for others
    info = (await relay.http.get("/v1/info")).json()
    assert info["shards"] == S


async def test_the_first_tag_set_sticks(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(shards=S)
    credential = await relay.credential()
    data = b"retried push"
    first = await relay.post(data, credential, shards="1,2")
    again = await relay.post(data, credential, shards="3")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["seq"] == first.json()["seq"]
    batch = await post_batch(relay, tagged_body([(data, [4]), (data, None)]), credential, tagged=1)
    assert [r["stored"] for r in batch.json()["results"]] == [False, False]
    assert [envelope_id(data) in await shard_ids(relay, n) for n in range(6)] == [
        False,
        True,
        True,
        False,
        False,
        False,
    ]


async def test_hostile_tag_lists_are_refused_and_store_nothing(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(shards=S, max_tags=8)
    credential = await relay.credential()
    for shards in (
        "1,1",
        "16",
        "3,16",
        "",
        ",",
        "-1",
        "1;2",
        "x",
        "1,,2",
        "01234567",
        ",".join(["1"] * 5000),
    ):
        assert_error(await relay.post(b"tagged", credential, shards=shards), 400, "bad_parameter")
    assert_error(await relay.post(b"tagged", credential, shards="0,1,2,3,4,5,6,7,8"), 400, "bad_parameter")
    good = (os.urandom(10), [1])
    hostile_batches = [
        tagged_body([good, (b"dup", [2, 2])]),
        tagged_body([good, (b"range", [S])]),
        tagged_body([good, (b"many", list(range(9)))]),  # more than max_tags
        tagged_body([good, (b"empty", [])]),
        # k says 70,000 / 9 tags but the body ends first
        len(b"x").to_bytes(4, "big") + (9).to_bytes(2, "big") + (1).to_bytes(2, "big"),
        tagged_body([good])[:-3] + b"",  # truncated bytes
        tagged_body([good]) + len(b"k").to_bytes(4, "big") + (0xFFFE).to_bytes(2, "big"),
    ]
    for body in hostile_batches:
        response = await post_batch(relay, body, credential, tagged=1)
        assert response.status_code == 400, (body[:40], response.text)
    assert await stored_count(relay) == 0
    for path in (
        "/v1/shards/16/envelopes",
        "/v1/shards/-1/envelopes",
        "/v1/shards/x/envelopes",
        "/v1/shards/16/stream",
    ):
        assert_error(await relay.http.get(path), 400, "bad_parameter")


async def test_one_shard_is_todays_behaviour(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay()  # shards = 1, the default
    credential = await relay.credential()
    assert (await relay.post(b"a", credential, shards="5,9")).status_code == 201  # ignored
    body = tagged_body([(b"b", [3]), (b"c", None)])
    assert (await post_batch(relay, body, credential, tagged=1)).status_code == 200
    assert (await relay.post(b"d", credential)).status_code == 201
    whole = [e["id"] for e in (await relay.http.get("/v1/envelopes")).json()["envelopes"]]
    assert await shard_ids(relay, 0) == whole and len(whole) == 4
    assert_error(await relay.http.get("/v1/shards/1/envelopes"), 400, "bad_parameter")


async def test_a_changed_shard_count_still_serves_old_tags(
    db_url: str, make_relay: Callable[..., Any]
) -> None:
    # Tags keep the shard bits of their upload: doubling S splits each shard in two (design §3.3).
    before: RelayClient = await make_relay(shards=4)
    credential = await before.credential()
    data = b"tagged when S was 4"
    assert (await before.post(data, credential, shards="1")).status_code == 201
    after: RelayClient = await make_relay(shards=8)  # the same database, restarted with S = 8
    assert [envelope_id(data) in await shard_ids(after, n) for n in range(8)] == [
        n in (1, 5) for n in range(8)
    ]
    fewer: RelayClient = await make_relay(shards=2)
    assert [envelope_id(data) in await shard_ids(fewer, n) for n in range(2)] == [False, True]


async def test_pruning_drops_tags_with_their_envelope(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(shards=S)
    credential = await relay.credential()
    now = time.time()
    await relay.post(b"short", credential, shards="2", expires=int(now) + 3600)
    assert relay.relay.storage.prune(now + 3 * 3600, None) == 1
    assert await shard_ids(relay, 2) == []
    storage: Any = relay.relay.storage
    query = "SELECT COUNT(*) FROM envelope_shards"
    if hasattr(storage, "_reader"):
        with storage._reader() as conn:
            assert conn.execute(query).fetchone()[0] == 0
    else:
        with storage._conn() as conn:
            assert conn.execute(query).fetchone()[0] == 0


async def test_shard_stream_sends_only_its_shard(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(shards=S, stream_max_seconds=0.5)
    credential = await relay.credential()
    mine = (await relay.post(b"for 3", credential, shards="3,7")).json()["seq"]
    await relay.post(b"for 4", credential, shards="4")
    everyone = (await relay.post(b"for all", credential)).json()["seq"]
    response = await relay.http.get("/v1/shards/3/stream", params={"after": 0})
    assert response.status_code == 200
    events = [block for block in response.text.split("\n\n") if block.startswith("event: envelope")]
    assert [int(e.split("\nid: ")[1].split("\n")[0]) for e in events] == [mine, everyone]


def test_the_shard_count_is_a_power_of_two_up_to_4096() -> None:
    assert load_config({}, environ={}).shards == 1
    assert load_config({}, environ={"TUI_SNS_RELAY_SHARDS": "256"}).shard_bits == 8
    for bad in ("0", "3", "100", "8192", "-4", "1.5", "x"):
        with pytest.raises(ConfigError, match="shards"):
            load_config({}, environ={"TUI_SNS_RELAY_SHARDS": bad})
    with pytest.raises(ConfigError, match="max_tags"):
        load_config({}, environ={"TUI_SNS_RELAY_MAX_TAGS": "5000"})


async def test_streams_of_one_shard_share_one_query_per_wake_up(make_relay: Callable[..., Any]) -> None:
    """docs/design-sharding.md §3.3 "Streams": a shard's caught-up streams woken by a new envelope read the
    database once between them, not once each."""
    import asyncio

    relay: RelayClient = await make_relay(shards=S, stream_max_seconds=1.5)
    credential = await relay.credential()
    loads = relay.relay.hub.shard_loads

    async def follow() -> list[int]:
        response = await relay.http.get("/v1/shards/3/stream", params={"after": 0})
        events = [block for block in response.text.split("\n\n") if block.startswith("event: envelope")]
        return [int(e.split("\nid: ")[1].split("\n")[0]) for e in events]

    streams = [asyncio.create_task(follow()) for _ in range(8)]
    for _ in range(100):  # until every stream has made its first read (at most 1 s)
        await asyncio.sleep(0.01)
        if relay.relay.hub.subscribers == len(streams):
            break
    await asyncio.sleep(0.1)
    before = loads.queries
    seq = (await relay.post(b"for 3", credential, shards="3")).json()["seq"]
    got = await asyncio.gather(*streams)
    assert got == [[seq]] * len(streams)
    assert 1 <= loads.queries - before <= 2, loads.queries - before  # one per wake-up, not one per stream
