"""HTTP API v1 behaviour, in process, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

from relay_helpers import METRICS_AUTH, RelayClient, assert_error

from tui_sns.sync.relay.storage import HOUR, token_hash


async def test_redeem_ok_and_single_use(relay: RelayClient) -> None:
    code = relay.invite()
    first = await relay.http.post("/v1/invites/redeem", json={"code": code})
    assert first.status_code == 201
    credential = first.json()["credential"]
    assert isinstance(credential, str) and len(credential) >= 32
    assert_error(await relay.http.post("/v1/invites/redeem", json={"code": code}), 410, "invite_gone")


async def test_redeem_multi_use(relay: RelayClient) -> None:
    code = relay.invite(uses=2)
    creds = {
        (await relay.http.post("/v1/invites/redeem", json={"code": code})).json()["credential"]
        for _ in range(2)
    }
    assert len(creds) == 2
    assert_error(await relay.http.post("/v1/invites/redeem", json={"code": code}), 410)


async def test_redeem_unknown_expired_revoked(relay: RelayClient) -> None:
    assert_error(await relay.http.post("/v1/invites/redeem", json={"code": "nope"}), 404, "invite_unknown")
    expired = relay.invite(expires_at=int(time.time()) - 1)
    assert_error(await relay.http.post("/v1/invites/redeem", json={"code": expired}), 410, "invite_gone")
    revoked = relay.invite()
    assert relay.relay.storage.revoke_invite(token_hash(revoked)[:8]) == 1
    assert_error(await relay.http.post("/v1/invites/redeem", json={"code": revoked}), 410, "invite_gone")


async def test_redeem_malformed(relay: RelayClient) -> None:
    for body in (b"", b"not json", b"[]", b'{"code": 5}', b'{"code": ""}', b"[" * 3000, b'{"x": "y"}'):
        assert_error(await relay.http.post("/v1/invites/redeem", content=body), 400, "bad_body")
    assert_error(await relay.http.post("/v1/invites/redeem", content=b"x" * 10_000), 400)


async def test_store_and_idempotent(relay: RelayClient) -> None:
    credential = await relay.credential()
    data = os.urandom(100)
    first = await relay.post(data, credential)
    assert first.status_code == 201
    expected_id = hashlib.blake2b(data, digest_size=32).hexdigest()
    assert first.json() == {"id": expected_id, "seq": first.json()["seq"]}
    again = await relay.post(data, credential)
    assert again.status_code == 200
    assert again.json() == first.json()
    listing = (await relay.http.get("/v1/envelopes")).json()
    assert [e["id"] for e in listing["envelopes"]] == [expected_id]
    assert base64.b64decode(listing["envelopes"][0]["data"]) == data


async def test_store_requires_valid_credential(relay: RelayClient) -> None:
    assert_error(await relay.http.post("/v1/envelopes", content=b"x"), 401, "unauthorized")
    assert_error(await relay.post(b"x", "not-a-credential"), 401)
    bad_scheme = await relay.http.post("/v1/envelopes", content=b"x", headers={"Authorization": "Basic abc"})
    assert_error(bad_scheme, 401)
    credential = await relay.credential()
    assert (await relay.post(b"ok", credential)).status_code == 201
    assert relay.relay.storage.revoke_credential(token_hash(credential)[:8]) == 1
    assert_error(await relay.post(b"after revoke", credential), 401)


async def test_store_bad_input(relay: RelayClient) -> None:
    credential = await relay.credential()
    assert_error(await relay.post(b"", credential), 400, "empty_envelope")
    for expires in ("soon", "-5", "1.5", "1", str(2**70)):
        assert_error(await relay.post(b"x", credential, expires=expires), 400, "bad_parameter")


async def test_store_too_large(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(max_envelope_bytes=1000)
    credential = await relay.credential()
    assert (await relay.post(b"x" * 1000, credential)).status_code == 201
    assert_error(await relay.post(b"y" * 1001, credential), 413, "envelope_too_large")

    async def chunks() -> Any:  # no Content-Length: the relay must stop reading by itself
        for _ in range(100):
            yield b"z" * 100

    response = await relay.http.post(
        "/v1/envelopes", content=chunks(), headers={"Authorization": f"Bearer {credential}"}
    )
    assert_error(response, 413)
    info = (await relay.http.get("/v1/info")).json()
    assert info == {
        "version": 1,
        "read": "anyone",
        "max_envelope_bytes": 1000,
        "shards": 1,
        "retention": 30 * 86400,
        "first_seq": 0,
        "latest_seq": 1,  # the one envelope stored above
    }


async def test_write_rate_limit(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(write_rate=1.0, write_burst=3)
    credential = await relay.credential()
    statuses = [(await relay.post(os.urandom(8), credential)).status_code for _ in range(3)]
    assert statuses == [201, 201, 201]
    limited = await relay.post(b"one too many", credential)
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    other = await relay.credential()  # the limit is per credential
    assert (await relay.post(b"other writer", other)).status_code == 201


async def test_read_rate_limit(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(read_rate=0.5, read_burst=2)
    assert (await relay.http.get("/v1/envelopes")).status_code == 200
    assert (await relay.http.get("/v1/envelopes")).status_code == 200
    limited = await relay.http.get("/v1/envelopes")
    assert_error(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1


async def test_listing_pages_and_expiry(relay: RelayClient) -> None:
    credential = await relay.credential()
    stored = [(await relay.post(f"envelope {i}".encode(), credential)).json() for i in range(7)]
    seqs = [s["seq"] for s in stored]
    assert seqs == sorted(seqs)
    page = (await relay.http.get("/v1/envelopes", params={"limit": 3})).json()
    assert [e["seq"] for e in page["envelopes"]] == seqs[:3]
    assert page["next"] == seqs[2] and page["more"] is True
    page = (await relay.http.get("/v1/envelopes", params={"after": page["next"], "limit": 3})).json()
    assert [e["seq"] for e in page["envelopes"]] == seqs[3:6] and page["more"] is True
    page = (await relay.http.get("/v1/envelopes", params={"after": page["next"], "limit": 3})).json()
    assert [e["seq"] for e in page["envelopes"]] == seqs[6:] and page["more"] is False
    empty = (await relay.http.get("/v1/envelopes", params={"after": seqs[-1]})).json()
    assert empty == {"envelopes": [], "next": seqs[-1], "more": False}
    exactly = (await relay.http.get("/v1/envelopes", params={"limit": 7})).json()
    assert len(exactly["envelopes"]) == 7 and exactly["more"] is False


async def test_list_bad_params(relay: RelayClient) -> None:
    for params in ({"after": "-1"}, {"after": "x"}, {"limit": "0"}, {"limit": "1001"}, {"after": str(2**64)}):
        assert_error(await relay.http.get("/v1/envelopes", params=params), 400, "bad_parameter")
    assert_error(await relay.http.get("/v1/stream", params={"after": "nope"}), 400)


async def test_expiry_rounded_up_and_pruned(relay: RelayClient) -> None:
    credential = await relay.credential()
    now = int(time.time())
    kept = await relay.post(b"expires later", credential, expires=now + 10)
    assert kept.status_code == 201
    # Rounded up to the hour: still listed, and the stored expiry is on an hour boundary.
    assert len((await relay.http.get("/v1/envelopes")).json()["envelopes"]) == 1
    assert relay.relay.storage.prune(now, None) == 0
    later = now + 2 * HOUR
    assert relay.relay.storage.list_envelopes(0, 10, later) == []
    assert relay.relay.storage.prune(later, None) == 1
    assert relay.relay.storage.stats(later).envelopes == 0


async def test_prune_older_than(relay: RelayClient) -> None:
    credential = await relay.credential()
    await relay.post(b"old", credential)
    storage = relay.relay.storage
    assert storage.prune(time.time(), 7 * 86400) == 0
    assert storage.prune(time.time() + 3 * HOUR, HOUR) == 1
    assert storage.stats(time.time()).envelopes == 0
    # seq never goes back after a prune, so clients' cursors stay valid.
    seq = (await relay.post(b"new", credential)).json()["seq"]
    assert seq == 2


async def test_members_read_mode(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(read="members")
    assert (await relay.http.get("/v1/info")).json()["read"] == "members"
    assert_error(await relay.http.get("/v1/envelopes"), 401)
    assert_error(await relay.http.get("/v1/stream"), 401)
    credential = await relay.credential()
    await relay.post(b"members only", credential)
    listing = await relay.http.get("/v1/envelopes", headers={"Authorization": f"Bearer {credential}"})
    assert listing.status_code == 200 and len(listing.json()["envelopes"]) == 1
    doc = (await relay.http.get("/openapi.json")).json()
    assert doc["paths"]["/v1/envelopes"]["get"]["security"] == [{"credential": []}]


async def test_unknown_route_and_method(relay: RelayClient) -> None:
    assert_error(await relay.http.get("/nope"), 404, "not_found")
    assert_error(await relay.http.delete("/v1/envelopes"), 405, "method_not_allowed")
    assert_error(await relay.http.get("/v1/invites/redeem"), 405)


async def test_health_ready_metrics(relay: RelayClient) -> None:
    assert (await relay.http.get("/healthz")).json() == {"status": "ok"}
    assert (await relay.http.get("/readyz")).json() == {"status": "ok"}
    credential = await relay.credential()
    await relay.post(b"m" * 10, credential)
    text = (await relay.http.get("/metrics", headers=METRICS_AUTH)).text
    assert "relay_envelopes_stored_total 1.0" in text
    assert "relay_envelope_bytes_stored_total 10.0" in text
    assert 'relay_http_requests_total{status="201"}' in text
    assert "relay_stream_subscribers 0.0" in text
    relay.relay.storage.close()
    ready = await relay.http.get("/readyz")
    assert_error(ready, 503, "not_ready")


async def test_stream_in_process(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(stream_max_seconds=0.5)
    credential = await relay.credential()
    seqs = [(await relay.post(f"s{i}".encode(), credential)).json()["seq"] for i in range(3)]
    response = await relay.http.get("/v1/stream", params={"after": seqs[0]})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block.startswith("event: envelope")]
    assert [int(e.split("\nid: ")[1].split("\n")[0]) for e in events] == seqs[1:]
