"""PostgreSQL backend (psycopg 3 + psycopg_pool), for several relay processes on one database.

Tables live in the connection's ``search_path`` schema (choose one with
``options=-csearch_path=NAME`` in the DSN).  Writers take an EXCLUSIVE lock on
``envelopes`` (readers are not blocked) so seq values commit in seq order: a
reader that has seen seq N can never later miss an envelope with a smaller seq.
Each new envelope sends ``NOTIFY tui_sns_relay``; every relay process LISTENs
on a dedicated connection to wake its streams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from .errors import StorageError
from .migrations import CREATE_VERSION_TABLE, VERSION_TABLE, pending
from .storage import (
    SHORT_ID_LEN,
    CredentialInfo,
    GroupCommit,
    InviteInfo,
    RelayStats,
    StoredEnvelope,
    StoreResult,
    check_invite,
    envelope_id,
    hour_floor,
    prune_cutoff,
)

CHANNEL = "tui_sns_relay"
CONNECT_TIMEOUT = 5


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        raise StorageError(f"PostgreSQL error: {lines[0] if lines else type(exc).__name__}") from exc
    except PoolTimeout as exc:
        raise StorageError("PostgreSQL is not answering (connection pool timeout)") from exc


class PostgresStorage:
    """:class:`~tui_sns.sync.relay.storage.RelayStorage` on a PostgreSQL schema."""

    notifies_changes = True

    def __init__(self, dsn: str, *, pool_size: int = 10) -> None:
        self.dsn = dsn
        with _storage_errors():
            psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT).close()
            self._pool = ConnectionPool(
                dsn,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                timeout=30,
                open=True,
            )
        self._group = GroupCommit(self._write_batch)

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        with _storage_errors(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        with self._conn() as conn, conn.transaction():
            yield conn

    def migrate(self) -> int:
        with self._tx() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.tui_sns_relay_migrate'))"
            )
            conn.execute(CREATE_VERSION_TABLE)
            row = conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}").fetchone()
            current = int(row[0]) if row else 0
            for migration in pending(current):
                for statement in migration.postgres:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {VERSION_TABLE}(version, description, applied_hour)"
                    " VALUES (%s, %s, EXTRACT(EPOCH FROM date_trunc('hour', now()))::bigint)",
                    (migration.version, migration.description),
                )
                current = migration.version
        return current

    def schema_version(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
            if not row or not row[0]:
                return 0
            row = conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}").fetchone()
            return int(row[0]) if row else 0

    def close(self) -> None:
        self._pool.close()

    def ping(self) -> None:
        with self._conn() as conn:
            conn.execute("SELECT 1 FROM envelopes LIMIT 1").fetchall()

    def store_envelope(self, data: bytes, now: float, expires: int | None) -> StoreResult:
        return self._group.store(data, now, expires)

    def store_envelopes(self, items: list[tuple[bytes, int | None]], now: float) -> list[StoreResult]:
        return self._group.store_many(items, now)

    def _write_batch(self, batch: list[tuple[bytes, float, int | None]]) -> list[StoreResult]:
        results: list[StoreResult] = []
        with self._tx() as conn:
            conn.execute("LOCK TABLE envelopes IN EXCLUSIVE MODE")
            for data, now, expires in batch:
                eid = envelope_id(data)
                row = conn.execute(
                    "INSERT INTO envelopes(id, data, received_hour, expires_hour) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING RETURNING seq",
                    (eid, data, hour_floor(now), expires),
                ).fetchone()
                if row is None:
                    row = conn.execute("SELECT seq FROM envelopes WHERE id = %s", (eid,)).fetchone()
                    assert row is not None
                    results.append(StoreResult(int(row[0]), eid, False))
                else:
                    results.append(StoreResult(int(row[0]), eid, True))
            if any(result.created for result in results):
                conn.execute(f"NOTIFY {CHANNEL}")
        return results

    def list_envelopes(self, after: int, limit: int, now: float) -> list[StoredEnvelope]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT seq, id, data, expires_hour FROM envelopes WHERE seq > %s"
                " AND (expires_hour IS NULL OR expires_hour > %s) ORDER BY seq LIMIT %s",
                (after, int(now), limit),
            ).fetchall()
        return [StoredEnvelope(int(seq), eid, bytes(data), exp) for seq, eid, data, exp in rows]

    def max_seq(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM envelopes").fetchone()
        return int(row[0]) if row else 0

    def create_invite(self, code_hash: str, uses: int, expires_at: int | None, now: float) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO invites(code_hash, uses_left, expires_at, created_hour) VALUES (%s, %s, %s, %s)",
                (code_hash, uses, expires_at, hour_floor(now)),
            )

    def redeem_invite(self, code_hash: str, credential_hash: str, now: float) -> None:
        with self._conn() as reader:  # refuse bad codes without taking a row lock
            check_invite(
                reader.execute(
                    "SELECT uses_left, expires_at, revoked FROM invites WHERE code_hash = %s", (code_hash,)
                ).fetchone(),
                now,
            )
        with self._tx() as conn:
            row = conn.execute(
                "SELECT uses_left, expires_at, revoked FROM invites WHERE code_hash = %s FOR UPDATE",
                (code_hash,),
            ).fetchone()
            check_invite(row, now)
            conn.execute("UPDATE invites SET uses_left = uses_left - 1 WHERE code_hash = %s", (code_hash,))
            conn.execute(
                "INSERT INTO credentials(credential_hash, created_hour) VALUES (%s, %s)",
                (credential_hash, hour_floor(now)),
            )

    def credential_valid(self, credential_hash: str) -> bool:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT revoked FROM credentials WHERE credential_hash = %s", (credential_hash,)
            ).fetchone()
        return row is not None and not row[0]

    def list_invites(self) -> list[InviteInfo]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT code_hash, uses_left, expires_at, created_hour, revoked FROM invites"
                " ORDER BY created_hour DESC, code_hash"
            ).fetchall()
        return [InviteInfo(h[:SHORT_ID_LEN], u, e, c, bool(r)) for h, u, e, c, r in rows]

    def revoke_invite(self, hash_or_prefix: str) -> int:
        with self._tx() as conn:
            return conn.execute(
                "UPDATE invites SET revoked = TRUE WHERE starts_with(code_hash, %s)", (hash_or_prefix,)
            ).rowcount

    def list_credentials(self) -> list[CredentialInfo]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT credential_hash, created_hour, revoked FROM credentials"
                " ORDER BY created_hour DESC, credential_hash"
            ).fetchall()
        return [CredentialInfo(h[:SHORT_ID_LEN], c, bool(r)) for h, c, r in rows]

    def revoke_credential(self, hash_or_prefix: str) -> int:
        with self._tx() as conn:
            return conn.execute(
                "UPDATE credentials SET revoked = TRUE WHERE starts_with(credential_hash, %s)",
                (hash_or_prefix,),
            ).rowcount

    def stats(self, now: float) -> RelayStats:
        with self._conn() as conn:
            envelopes = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM envelopes"
            ).fetchone()
            creds = conn.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT revoked) FROM credentials"
            ).fetchone()
            invites = conn.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT revoked AND uses_left > 0"
                " AND (expires_at IS NULL OR expires_at > %s)) FROM invites",
                (int(now),),
            ).fetchone()
        assert envelopes is not None and creds is not None and invites is not None
        return RelayStats(
            int(envelopes[0]),
            int(envelopes[1]),
            int(creds[0]),
            int(creds[1]),
            int(invites[0]),
            int(invites[1]),
        )

    def prune(self, now: float, older_than: int | None) -> int:
        with self._tx() as conn:
            deleted = conn.execute(
                "DELETE FROM envelopes WHERE expires_hour IS NOT NULL AND expires_hour <= %s", (int(now),)
            ).rowcount
            if older_than is not None:
                deleted += conn.execute(
                    "DELETE FROM envelopes WHERE received_hour <= %s", (prune_cutoff(now, older_than),)
                ).rowcount
        return deleted

    def listen(self, on_change: Callable[[], None], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    on_change()  # anything stored while we were not listening
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            on_change()
            except psycopg.Error:
                stop.wait(1.0)
