"""PostgreSQL backend (psycopg 3 + psycopg_pool), for several relay processes on one database.

Tables live in the connection's ``search_path`` schema (choose one with
``options=-csearch_path=NAME`` in the DSN).

Writes scale with processes (docs/relay.md, "Seq order on PostgreSQL"): a batch is
ONE pipelined transaction (one round trip) of a multi-row ``INSERT`` of every
envelope under a negative placeholder seq, taken without any lock, so several
processes insert the bytes in parallel; then, under a transaction-scoped advisory
lock, one ``UPDATE`` draws the real seqs from the identity in item order, and the
transaction commits.  The lock is held only for that ``UPDATE`` and the commit, and
PostgreSQL releases it only after the commit is visible, so seqs become visible in
the order they were drawn: a reader that has seen seq N can never later miss an
envelope with a smaller seq.  Readers take no lock and never see placeholders
(uncommitted, and negative).  Each batch that stored something sends ``NOTIFY
tui_sns_relay``; every relay process LISTENs on a dedicated connection to wake its
streams.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from .errors import StorageError
from .migrations import CREATE_VERSION_TABLE, VERSION_TABLE, pending
from .storage import (
    CURSOR_SQL,
    PRUNED_THROUGH,
    SHORT_ID_LEN,
    CredentialInfo,
    GroupCommit,
    InviteInfo,
    RelayStats,
    StoredEnvelope,
    StoreResult,
    Tags,
    WriteItem,
    check_invite,
    cursor_from,
    envelope_id,
    hour_floor,
    prune_cutoff,
    shard_listing_sql,
    write_items,
)

CHANNEL = "tui_sns_relay"
CONNECT_TIMEOUT = 5
#: Bench-only: when this environment variable names a file, each write appends the ms its
#: transaction held the seq lock (server clock, from the lock's grant to the end of the commit).
LOCK_LOG_ENV = "TUI_SNS_RELAY_BENCH_LOCK_LOG"
_SERVER_CLOCK = "SELECT extract(epoch FROM clock_timestamp())::float8"

# Phase 1, no lock: every new envelope under a unique negative placeholder seq (invisible to readers,
# which ask for seq > after >= 0).  Sorted by id, so two writers inserting overlapping batches wait on
# each other's ids in the same order and cannot deadlock.  A conflicting id being inserted by another
# transaction makes this statement wait for that transaction's end, then skip the id.
_INSERT_PENDING = (
    "INSERT INTO envelopes(seq, id, data, received_hour, expires_hour, broadcast, shard_bits)"
    " SELECT -nextval('envelopes_pending_seq'), id, data, hour, expires, broadcast, bits"
    " FROM unnest(%s::text[], %s::bytea[], %s::bigint[], %s::bigint[], %s::boolean[], %s::smallint[])"
    " AS t(id, data, hour, expires, broadcast, bits)"
    " ORDER BY id ON CONFLICT (id) DO NOTHING"
)
# Envelopes of the batch stored (and committed) before: they keep their seq.
_EXISTING = "SELECT id, seq FROM envelopes WHERE id = ANY(%s::text[]) AND seq > 0"
_SEQ_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.tui_sns_relay_seq'))"
# Phase 2, under the lock: draw the real seqs in item order (this transaction's pending rows are the only
# ones it can see with seq < 0) and NOTIFY when there was at least one.
_ASSIGN_SEQS = (
    "WITH mine AS MATERIALIZED ("
    "  SELECT u.id, u.ord FROM unnest(%s::text[]) WITH ORDINALITY AS u(id, ord)"
    "  JOIN envelopes e ON e.id = u.id AND e.seq < 0),"
    " numbered AS MATERIALIZED ("
    "  SELECT id, nextval(%s::regclass) AS seq FROM (SELECT id FROM mine ORDER BY ord) AS ordered),"
    " done AS (UPDATE envelopes e SET seq = n.seq FROM numbered n WHERE e.id = n.id"
    "  RETURNING e.id, e.seq, e.shard_bits),"
    # The tag rows of the new envelopes (only new ones: an envelope's first tag set sticks), as ONE
    # pending row of arrays; its first_seq holds shard readers below it until the rows are written.
    " tagged AS (INSERT INTO envelope_tags_pending(token, first_seq, seqs, shards, bits)"
    "  SELECT %s, min(d.seq), array_agg(d.seq), array_agg(t.shard), array_agg(d.shard_bits) FROM done d"
    "  JOIN unnest(%s::text[], %s::int[]) AS t(id, shard) ON t.id = d.id HAVING count(*) > 0)"
    " SELECT id, seq FROM done"
    f" WHERE (SELECT count(pg_notify('{CHANNEL}', '')) FROM (SELECT 1 FROM done LIMIT 1) AS one) >= 0"
)


# Phase 3, a transaction of its own after the commit, no lock: a batch's pending tag rows become
# envelope_shards rows, and the pending row goes (shard readers may now pass its seqs).
_WRITE_TAGS = (
    "WITH p AS (DELETE FROM envelope_tags_pending WHERE token = ANY(%s::text[]) RETURNING seqs, shards, bits),"
    " written AS (INSERT INTO envelope_shards(shard_bits, shard, seq)"
    "  SELECT u.bits, u.shard, u.seq FROM p, unnest(p.seqs, p.shards, p.bits) AS u(seq, shard, bits)"
    "  ON CONFLICT DO NOTHING RETURNING 1)"
    f" SELECT count(pg_notify('{CHANNEL}', '')) FROM (SELECT 1 FROM written LIMIT 1) AS one"
)
# Pending rows: one that two sweeps in a row (at least NOTIFY_SAFETY_POLL s apart) both found was left by
# a writer that died between its commit and phase 3 (its own phase 3 follows in the same round trip).
_PENDING_TAGS = "SELECT token FROM envelope_tags_pending"
#: Shard reads stop below the first seq whose tag rows are still pending.
SHARD_GATE = "(SELECT COALESCE(MIN(first_seq), 9223372036854775807) FROM envelope_tags_pending)"


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
        self._seq_name: str | None = None
        self._lock_log = os.environ.get(LOCK_LOG_ENV) or None
        self._pending_seen: set[str] = set()  # pending tag batches the previous finish_tags found

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

    def store_envelope(
        self, data: bytes, now: float, expires: int | None, tags: Tags = None, shard_bits: int = 0
    ) -> StoreResult:
        return self._group.store_many(write_items([(data, expires)], now, [tags], shard_bits))[0]

    def store_envelopes(
        self,
        items: list[tuple[bytes, int | None]],
        now: float,
        tags: list[Tags] | None = None,
        shard_bits: int = 0,
    ) -> list[StoreResult]:
        return self._group.store_many(write_items(items, now, tags, shard_bits))

    def _identity_sequence(self, conn: psycopg.Connection[Any]) -> str:
        if self._seq_name is None:
            row = conn.execute("SELECT pg_get_serial_sequence('envelopes', 'seq')").fetchone()
            assert row is not None and row[0]
            self._seq_name = str(row[0])
        return self._seq_name

    def _write_batch(self, batch: list[WriteItem]) -> list[StoreResult]:
        ids = [envelope_id(item.data) for item in batch]
        first: dict[str, int] = {}  # id -> index of its first occurrence in the batch
        for index, eid in enumerate(ids):
            first.setdefault(eid, index)
        unique = list(first)
        rows = [batch[first[eid]] for eid in unique]
        with self._conn() as conn:
            seq_name = self._identity_sequence(conn)
            with conn.pipeline():  # one round trip: the lock is never held across a client wake-up
                with conn.transaction():
                    conn.execute(
                        _INSERT_PENDING,
                        (
                            unique,
                            [item.data for item in rows],
                            [hour_floor(item.now) for item in rows],
                            [item.expires for item in rows],
                            [item.tags is None for item in rows],
                            [item.shard_bits for item in rows],
                        ),
                    )
                    existing_cur = conn.execute(_EXISTING, (unique,))
                    conn.execute(_SEQ_LOCK)
                    granted_cur = conn.execute(_SERVER_CLOCK) if self._lock_log else None
                    tag_ids = [eid for eid, item in zip(unique, rows, strict=True) for _ in (item.tags or ())]
                    tag_shards = [shard for item in rows for shard in sorted(item.tags or ())]
                    token = secrets.token_hex(16)
                    assigned_cur = conn.execute(_ASSIGN_SEQS, (unique, seq_name, token, tag_ids, tag_shards))
                # Queued right behind the COMMIT, so the server runs it as soon as the commit is done.
                committed_cur = conn.execute(_SERVER_CLOCK) if self._lock_log else None
                if tag_ids:  # the tag rows, in the same round trip, outside the lock
                    with conn.transaction():
                        conn.execute(_WRITE_TAGS, ([token],))
                existing = {eid: int(seq) for eid, seq in existing_cur.fetchall()}
                assigned = {eid: int(seq) for eid, seq in assigned_cur.fetchall()}
                if granted_cur is not None and committed_cur is not None:
                    self._log_lock_hold(granted_cur.fetchone(), committed_cur.fetchone())
        results: list[StoreResult] = []
        for index, eid in enumerate(ids):
            if eid in assigned:
                results.append(StoreResult(assigned[eid], eid, first[eid] == index))
            else:
                seq = existing.get(eid)
                if seq is None:
                    raise StorageError("an envelope of the batch got no seq (concurrent prune?); retry")
                results.append(StoreResult(seq, eid, False))
        return results

    def _log_lock_hold(self, granted: Any, committed: Any) -> None:
        assert self._lock_log is not None
        if granted and committed:
            with open(self._lock_log, "a", encoding="ascii") as handle:
                handle.write(f"{(float(committed[0]) - float(granted[0])) * 1000:.3f}\n")

    def list_envelopes(self, after: int, limit: int, now: float) -> list[StoredEnvelope]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT seq, id, data, expires_hour FROM envelopes WHERE seq > %s"
                " AND (expires_hour IS NULL OR expires_hour > %s) ORDER BY seq LIMIT %s",
                (after, int(now), limit),
            ).fetchall()
        return [StoredEnvelope(int(seq), eid, bytes(data), exp) for seq, eid, data, exp in rows]

    def list_shard(
        self, shard_bits: int, shard: int, after: int, limit: int, now: float
    ) -> list[StoredEnvelope]:
        sql, params = shard_listing_sql(shard_bits, shard, after, limit, int(now), gate=SHARD_GATE)
        with self._conn() as conn:
            rows = conn.execute(sql.replace("?", "%s"), params).fetchall()
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
            expired = "expires_hour IS NOT NULL AND expires_hour <= %s AND seq > 0"
            conn.execute(
                f"DELETE FROM envelope_shards WHERE seq IN (SELECT seq FROM envelopes WHERE {expired})",
                (int(now),),
            )
            deleted = conn.execute(f"DELETE FROM envelopes WHERE {expired}", (int(now),)).rowcount
            if older_than is not None:
                cutoff = prune_cutoff(now, older_than)
                row = conn.execute(
                    "SELECT MAX(seq) FROM envelopes WHERE received_hour <= %s AND seq > 0", (cutoff,)
                ).fetchone()
                conn.execute(
                    "DELETE FROM envelope_shards WHERE seq IN"
                    " (SELECT seq FROM envelopes WHERE received_hour <= %s AND seq > 0)",
                    (cutoff,),
                )
                deleted += conn.execute(
                    "DELETE FROM envelopes WHERE received_hour <= %s AND seq > 0", (cutoff,)
                ).rowcount
                if row is not None and row[0] is not None:
                    conn.execute(
                        "INSERT INTO relay_state(name, value) VALUES (%s, %s)"
                        " ON CONFLICT (name) DO UPDATE SET value = GREATEST(relay_state.value, EXCLUDED.value)",
                        (PRUNED_THROUGH, int(row[0])),
                    )
        return deleted

    def shard_horizon(self) -> int:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {SHARD_GATE} - 1").fetchone()
        return int(row[0]) if row else 0

    def finish_tags(self) -> int:
        """Write the tag rows of batches whose writer died between its commit and writing them: those
        pending at this call and at the previous one (no time is stored; the relay hub calls this every
        few seconds). Returns how many batches. Safe alongside the writers (the DELETE decides)."""
        with self._conn() as conn:
            pending = {str(row[0]) for row in conn.execute(_PENDING_TAGS).fetchall()}
            stale = sorted(pending & self._pending_seen)
            self._pending_seen = pending - set(stale)
            if stale:
                with conn.transaction():
                    conn.execute(_WRITE_TAGS, (stale,))
        return len(stale)

    def first_seq(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM relay_state WHERE name = %s", (PRUNED_THROUGH,)).fetchone()
        return int(row[0]) + 1 if row else 0

    def cursor_at(self, hour: int) -> int:
        with self._conn() as conn:
            row = conn.execute(
                CURSOR_SQL.replace("?", "%s") + ", (SELECT value FROM relay_state WHERE name = %s)",
                (hour, PRUNED_THROUGH),
            ).fetchone()
        assert row is not None
        return cursor_from(row[0], int(row[1] or 0), int(row[2] or 0))

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
