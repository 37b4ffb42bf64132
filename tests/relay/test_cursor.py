"""GET /v1/cursor?at= (issue 15 §6, docs/design-sharding.md §7.1): a newcomer's first read starts at a seq
before every envelope that arrived at or after the hour of ``at``, on both backends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from relay_helpers import RelayClient

from tui_sns.sync.relay.config import RelayConfig
from tui_sns.sync.relay.openapi import openapi_document
from tui_sns.sync.relay.storage import hour_floor

HOUR = 3600
DAY = 86400


async def test_cursor_starts_before_everything_that_arrived_since_the_hour(
    make_relay: Callable[..., Any],
) -> None:
    relay: RelayClient = await make_relay()
    storage = relay.relay.storage
    now = time.time()
    # Two days ago, yesterday, and this hour, stored with the relay's arrival clock.
    old = storage.store_envelope(b"two days ago", now - 2 * DAY, None).seq
    mid = storage.store_envelope(b"yesterday", now - DAY, None).seq
    new = storage.store_envelope(b"this hour", now, None).seq
    await relay.relay.hub.advance(new)

    async def cursor(at: float) -> int:
        response = await relay.http.get("/v1/cursor", params={"at": int(at)})
        assert response.status_code == 200, response.text
        return int(response.json()["after"])

    assert await cursor(now - 3 * DAY) == old - 1  # before everything stored
    assert await cursor(now - 2 * DAY) == old - 1  # the hour of `at` counts: envelopes of that hour are after
    assert await cursor(now - DAY - HOUR) == mid - 1
    assert await cursor(now) == new - 1
    # Nothing arrived at or after `at` yet: the cursor is the latest seq, and a later upload is above it.
    assert await cursor(hour_floor(now) + HOUR) == new
    later = storage.store_envelope(b"later", now + 2 * HOUR, None).seq
    assert later > await cursor(now + HOUR)


async def test_an_envelope_of_the_hour_committed_before_an_older_one_is_not_skipped(
    make_relay: Callable[..., Any],
) -> None:
    """Seqs follow commit order, arrival hours follow each process's clock: the answer is computed from
    arrival hours (the smallest seq that arrived at or after the hour), not from the last seq before it."""
    relay: RelayClient = await make_relay()
    storage = relay.relay.storage
    hour = hour_floor(time.time())
    first = storage.store_envelope(b"arrived at the hour, committed first", hour + 1, None).seq
    storage.store_envelope(b"arrived a second earlier, committed later", hour - 1, None)
    response = await relay.http.get("/v1/cursor", params={"at": hour + 10})
    assert response.json() == {"after": first - 1}


async def test_cursor_is_never_below_what_was_pruned_and_is_zero_on_an_empty_relay(
    make_relay: Callable[..., Any],
) -> None:
    relay: RelayClient = await make_relay()
    storage = relay.relay.storage
    assert (await relay.http.get("/v1/cursor", params={"at": 0})).json() == {"after": 0}
    now = time.time()
    storage.store_envelope(b"a", now - 40 * DAY, None)
    gone = storage.store_envelope(b"b", now - 40 * DAY, None).seq
    assert storage.prune(now, 30 * DAY) == 2
    assert (await relay.http.get("/v1/cursor", params={"at": 0})).json() == {"after": gone}


async def test_cursor_refuses_a_missing_or_bad_at(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay()
    for params in ({}, {"at": "-1"}, {"at": "soon"}, {"at": str(2**40 + 1)}, {"at": "1.5"}):
        response = await relay.http.get("/v1/cursor", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "bad_parameter"


async def test_cursor_needs_a_credential_in_members_mode(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(read="members")
    assert (await relay.http.get("/v1/cursor", params={"at": 0})).status_code == 401
    credential = await relay.credential()
    response = await relay.http.get(
        "/v1/cursor", params={"at": 0}, headers={"Authorization": f"Bearer {credential}"}
    )
    assert response.status_code == 200


def test_openapi_documents_the_cursor() -> None:
    document = openapi_document(RelayConfig())
    operation = document["paths"]["/v1/cursor"]["get"]
    assert operation["parameters"][0]["name"] == "at" and operation["parameters"][0]["required"] is True
    assert document["components"]["schemas"]["Cursor"]["required"] == ["after"]
