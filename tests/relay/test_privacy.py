"""What the relay's database holds: no addresses, no clear-text codes or credentials."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
from relay_helpers import RelayClient

from tui_sns.sync.relay.config import parse_db_url
from tui_sns.sync.relay.dump import dump_relay_storage
from tui_sns.sync.relay.storage import HOUR

ALLOWED_COLUMNS = {
    "envelopes": {"seq", "id", "data", "received_hour", "expires_hour", "broadcast", "shard_bits"},
    "envelope_shards": {"shard_bits", "shard", "seq"},
    "invites": {"code_hash", "uses_left", "expires_at", "created_hour", "revoked"},
    "credentials": {"credential_hash", "created_hour", "revoked"},
    "relay_migrations": {"version", "description", "applied_hour"},
    "relay_state": {"name", "value"},
}


def columns(db_url: str) -> dict[str, set[str]]:
    location = parse_db_url(db_url)
    if location.kind == "sqlite":
        with sqlite3.connect(location.target) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    with psycopg.connect(location.target) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        ).fetchall()
    result: dict[str, set[str]] = {}
    for table, column in rows:
        result.setdefault(table, set()).add(column)
    return result


async def test_schema_has_only_the_documented_columns(relay: RelayClient, db_url: str) -> None:
    allowed = dict(ALLOWED_COLUMNS)
    if not db_url.startswith("sqlite"):  # batches being written (milliseconds; seconds if a writer died)
        allowed["envelope_writes_pending"] = {"token", "first_seq", "writer"}
    assert columns(db_url) == allowed


async def test_tokens_and_addresses_never_stored_in_clear(
    make_relay: Callable[..., Any], db_url: str
) -> None:
    relay: RelayClient = await make_relay()
    codes = [relay.invite(uses=2) for _ in range(3)]
    credentials = []
    for code in codes:
        response = await relay.http.post(
            "/v1/invites/redeem", json={"code": code}, headers={"X-Forwarded-For": "203.0.113.77"}
        )
        credentials.append(response.json()["credential"])
    for credential in credentials:
        assert (await relay.post(b"\x00sealed\xff" + credential[:4].encode(), credential)).status_code == 201
    await relay.http.get("/v1/envelopes")
    dump = dump_relay_storage(db_url)
    assert b"sealed" in dump  # the dump really holds the stored bytes
    for secret in codes + credentials:
        assert secret.encode() not in dump
    for address in (b"127.0.0.1", b"203.0.113.77", b"relay.test"):
        assert address not in dump


async def test_times_are_coarse(relay: RelayClient) -> None:
    credential = await relay.credential()
    await relay.post(b"timed", credential, expires=2_000_000_123)
    storage: Any = relay.relay.storage
    location = parse_db_url(relay.relay.config.db)
    query = "SELECT received_hour, expires_hour FROM envelopes"
    if location.kind == "sqlite":
        with storage._reader() as conn:
            row = conn.execute(query).fetchone()
    else:
        with psycopg.connect(location.target) as conn:
            row = conn.execute(query).fetchone()
    assert row[0] % HOUR == 0
    assert row[1] % HOUR == 0 and 0 <= row[1] - 2_000_000_123 < HOUR
