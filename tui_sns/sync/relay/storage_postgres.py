"""PostgreSQL backend (psycopg 3 + psycopg_pool), for several relay processes on one database.

Tables live in the connection's ``search_path`` schema (choose one with
``options=-csearch_path=NAME`` in the DSN).

Writes scale with processes (docs/relay.md, "Seq order on PostgreSQL"): a batch is
two transactions sent as ONE pipelined round trip.  The first, under a
transaction-scoped advisory lock, draws the batch's block of seqs from the identity
and registers its first seq in ``envelope_writes_pending`` (a few microseconds of
work and no WAL flush: nothing acknowledged depends on that row).  The second, with
no lock, inserts every envelope with its final seq, its tag rows, deletes the
registration and commits durably, so several processes insert and flush in
parallel.  Readers return only seqs below the smallest registered first seq (the
*write gate*), in the same snapshot, so a reader that has seen seq N can never
later miss an envelope with a smaller seq.  Registrations of writers that died
are removed by :meth:`PostgresStorage.finish_writes`, which knows a writer is gone
when its connection's session advisory lock is free.  Each batch sends ``NOTIFY
tui_sns_relay``; every relay process LISTENs on a dedicated connection to wake its
streams.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from .errors import StorageError
from .migrations import CREATE_VERSION_TABLE, VERSION_TABLE, pending
from .storage import (
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

_SEQ_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.tui_sns_relay_seq'))"
# Each pool connection holds, for its whole session, an advisory lock on (this schema's writer
# class, a random key of its own), and registers its batches under that key: a registration whose
# key's lock is free belongs to a connection that is gone (finish_writes).
_WRITER_CLASS = "hashtext(current_schema() || '.tui_sns_relay_writer')"
_WRITER_SETTING = "tui_sns_relay.writer"
_CLAIM_WRITER_KEY = (
    f"SELECT k, pg_try_advisory_lock({_WRITER_CLASS}, k)"
    " FROM (SELECT floor(random() * 4294967296 - 2147483648)::int AS k) AS r"
)
# Transaction 1, under the seq lock, committed without waiting for its WAL flush (it stores nothing
# acknowledged; a crash aborts its batch too): the batch's seqs are the block first .. first + n - 1
# (only this statement draws from the identity, always under the lock), and the registration makes
# readers stop below `first` until transaction 2 commits.  Registrations left by this connection's
# earlier batches are stale (a connection writes one batch at a time): they go.
_DRAW_SEQS = (
    "WITH f AS (SELECT nextval(%(seq)s::regclass) AS first),"
    f" stale AS (DELETE FROM envelope_writes_pending WHERE writer = current_setting('{_WRITER_SETTING}')::int),"
    " reg AS (INSERT INTO envelope_writes_pending(token, first_seq, writer)"
    f"  SELECT %(token)s, first, current_setting('{_WRITER_SETTING}')::int FROM f)"
    " SELECT first, setval(%(seq)s::regclass, first + %(n)s - 1) FROM f"
)
# Transaction 2, no lock: every new envelope with its final seq (first + its index in the batch),
# sorted by id, so two writers inserting overlapping batches wait on each other's ids in the same
# order and cannot deadlock (an id being inserted by another transaction makes this statement wait
# for that transaction's end, then skip the id: its seq stays a gap); the new envelopes' tag rows (an
# envelope's first tag set sticks); and the registration goes, all in one durable commit.
_INSERT = (
    "WITH ins AS (INSERT INTO envelopes(seq, id, data, received_hour, expires_hour, broadcast, shard_bits)"
    "  SELECT (SELECT first_seq FROM envelope_writes_pending WHERE token = %(token)s) + t.ord - 1,"
    "   t.id, t.data, t.hour, t.expires, t.broadcast, t.bits"
    "  FROM unnest(%(ids)s::text[], %(datas)b::bytea[], %(hours)s::bigint[], %(expires)s::bigint[],"
    "   %(broadcast)s::boolean[], %(bits)s::smallint[]) WITH ORDINALITY AS t(id, data, hour, expires, broadcast, bits, ord)"
    "  ORDER BY t.id ON CONFLICT (id) DO NOTHING RETURNING id, seq, shard_bits),"
    " tags AS (INSERT INTO envelope_shards(shard_bits, shard, seq)"
    "  SELECT i.shard_bits, g.shard, i.seq FROM ins i"
    "  JOIN unnest(%(tag_ords)s::bigint[], %(tag_shards)s::int[]) AS g(ord, shard)"
    "  ON i.seq = (SELECT first_seq FROM envelope_writes_pending WHERE token = %(token)s) + g.ord - 1),"
    " done AS (DELETE FROM envelope_writes_pending WHERE token = %(token)s)"
    " SELECT id, seq FROM ins"
)
_NOTIFY = f"NOTIFY {CHANNEL}"
# Envelopes of the batch stored before (by this or another transaction, committed: the insert waited).
_EXISTING = "SELECT id, seq FROM envelopes WHERE id = ANY(%s::text[])"
_FORGET = "DELETE FROM envelope_writes_pending WHERE token = %s"
# Registrations whose connection is gone (its session lock is free: the shared try-lock succeeds;
# this connection's own registrations are stale too, and its own lock does not conflict with it).
_SWEEP = (
    f"DELETE FROM envelope_writes_pending WHERE pg_try_advisory_xact_lock_shared({_WRITER_CLASS}, writer)"
)
#: Reads return only seqs below this (the first seq of the oldest batch still being written).
WRITE_GATE = "(SELECT COALESCE(MIN(first_seq), 9223372036854775807) FROM envelope_writes_pending)"
_CURSOR_SQL = (
    f"SELECT (SELECT MIN(seq) FROM envelopes WHERE received_hour >= %s AND seq < {WRITE_GATE}),"
    f" (SELECT MAX(seq) FROM envelopes WHERE seq < {WRITE_GATE}),"
    " (SELECT value FROM relay_state WHERE name = %s)"
)


def _int_array(values: Iterable[int | None]) -> str:
    """A PostgreSQL array literal of integers or NULLs (``{1,NULL,3}``)."""
    return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"


def _claim_writer_key(conn: psycopg.Connection[Any]) -> None:
    """Pool ``configure``: hold a session advisory lock on a random key of this connection's own (drawn
    again on the rare collision with a live connection's) and remember the key in a session setting."""
    for _ in range(100):
        row = conn.execute(_CLAIM_WRITER_KEY).fetchone()
        if row is not None and row[1]:
            conn.execute("SELECT set_config(%s, %s, false)", (_WRITER_SETTING, str(row[0])))
            return
    raise StorageError("could not claim a writer key (100 collisions)")


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
    commits_in_seq_order = False

    def __init__(self, dsn: str, *, pool_size: int = 10) -> None:
        self.dsn = dsn
        with _storage_errors():
            psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT).close()
            self._pool = ConnectionPool(
                dsn,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                configure=_claim_writer_key,
                timeout=30,
                open=True,
            )
        self._group = GroupCommit(self._write_batch)
        self._seq_name: str | None = None
        self._lock_log = os.environ.get(LOCK_LOG_ENV) or None

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
        token = secrets.token_hex(16)
        insert = {
            "token": token,
            "ids": unique,
            "datas": [item.data for item in rows],
            "hours": _int_array(hour_floor(item.now) for item in rows),
            "expires": _int_array(item.expires for item in rows),
            "broadcast": "{" + ",".join("t" if item.tags is None else "f" for item in rows) + "}",
            "bits": _int_array(item.shard_bits for item in rows),
            # (integer arrays as literals: psycopg's list dumper costs ~0.4 µs per element, join ~0.06)
            "tag_ords": "{"
            + ",".join(",".join([str(i)] * len(r.tags)) for i, r in enumerate(rows, 1) if r.tags)
            + "}",
            "tag_shards": "{" + ",".join(",".join(map(str, r.tags)) for r in rows if r.tags) + "}",
        }
        with self._conn() as conn:
            seq_name = self._identity_sequence(conn)
            try:
                with conn.pipeline():  # one round trip: the lock is never held across a client wake-up
                    with conn.transaction():
                        conn.execute("SET LOCAL synchronous_commit = off")  # this transaction only
                        conn.execute(_SEQ_LOCK)
                        granted_cur = conn.execute(_SERVER_CLOCK) if self._lock_log else None
                        conn.execute(_DRAW_SEQS, {"seq": seq_name, "token": token, "n": len(unique)})
                    # Queued right behind the COMMIT, so the server runs it as soon as the commit is done.
                    committed_cur = conn.execute(_SERVER_CLOCK) if self._lock_log else None
                    with conn.transaction():
                        assigned_cur = conn.execute(_INSERT, insert)
                        conn.execute(_NOTIFY)
                    assigned = {eid: int(seq) for eid, seq in assigned_cur.fetchall()}
                    if granted_cur is not None and committed_cur is not None:
                        self._log_lock_hold(granted_cur.fetchone(), committed_cur.fetchone())
            except psycopg.Error:
                # Transaction 2 is over (the server answered): its registration must not hold readers.
                # A broken connection may still be running it: the sweep removes that one when it ends.
                if not conn.broken:
                    try:
                        conn.execute(_FORGET, (token,))
                    except psycopg.Error:
                        conn.close()  # its backend ends and frees its lock: the next sweep removes it
                raise
            missing = [eid for eid in unique if eid not in assigned]
            existing = (
                {eid: int(seq) for eid, seq in conn.execute(_EXISTING, (missing,)).fetchall()}
                if missing
                else {}
            )
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
                f" AND seq < {WRITE_GATE}"
                " AND (expires_hour IS NULL OR expires_hour > %s) ORDER BY seq LIMIT %s",
                (after, int(now), limit),
            ).fetchall()
        return [StoredEnvelope(int(seq), eid, bytes(data), exp) for seq, eid, data, exp in rows]

    def list_shard(
        self, shard_bits: int, shard: int, after: int, limit: int, now: float
    ) -> list[StoredEnvelope]:
        sql, params = shard_listing_sql(shard_bits, shard, after, limit, int(now), gate=WRITE_GATE)
        with self._conn() as conn:
            rows = conn.execute(sql.replace("?", "%s"), params).fetchall()
        return [StoredEnvelope(int(seq), eid, bytes(data), exp) for seq, eid, data, exp in rows]

    def max_seq(self) -> int:
        with self._conn() as conn:
            row = conn.execute(
                f"SELECT COALESCE(MAX(seq), 0) FROM envelopes WHERE seq < {WRITE_GATE}"
            ).fetchone()
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
            row = conn.execute(f"SELECT {WRITE_GATE} - 1").fetchone()
        return int(row[0]) if row else 0

    def finish_writes(self) -> int:
        """Remove the registrations of batches whose writer's connection is gone (it died between its
        two transactions; its seqs stay gaps), so readers move past them. Returns how many. Safe
        alongside live writers: a live connection holds its key's lock. The relay hub calls this
        every few seconds."""
        with self._tx() as conn:
            return conn.execute(_SWEEP).rowcount

    def first_seq(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM relay_state WHERE name = %s", (PRUNED_THROUGH,)).fetchone()
        return int(row[0]) + 1 if row else 0

    def cursor_at(self, hour: int) -> int:
        with self._conn() as conn:
            row = conn.execute(
                _CURSOR_SQL,
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
