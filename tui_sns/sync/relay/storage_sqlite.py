"""SQLite backend: WAL journal, ``synchronous=FULL``, ``secure_delete`` on.

One writer connection guarded by a lock serialises writes (SQLite allows one
writer anyway), so seq order equals commit order; reads borrow one of at most
``readers`` pooled connections (WAL lets them run beside the writer), so open file
handles stay bounded however many worker threads come and go.  Every write
commits before the call returns, so an acknowledged envelope survives ``kill -9``
and power loss.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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

POOL_WAIT = 30.0


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite error: {exc}") from exc


class SqliteStorage:
    """:class:`~tui_sns.sync.relay.storage.RelayStorage` on one SQLite file."""

    notifies_changes = False
    commits_in_seq_order = True

    def __init__(self, path: str, readers: int = 4) -> None:
        self.path = Path(path)
        try:
            # Private like the client's homes: a directory the relay creates is 0700, a new
            # database file 0600 (SQLite gives its -wal/-shm files the database file's mode).
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create directory {self.path.parent}: {exc.strerror}") from None
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot create {self.path}: {exc.strerror}") from None
        self._write_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._slots = threading.BoundedSemaphore(readers)
        self._closed = False
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._writer = self._connect()
        self._group = GroupCommit(self._write_batch)

    def _connect(self) -> sqlite3.Connection:
        with _storage_errors():
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """Borrow a pooled reader connection (waits while all ``readers`` are in use)."""
        if not self._slots.acquire(timeout=POOL_WAIT):
            raise StorageError(f"no SQLite reader connection free after {POOL_WAIT:.0f} s")
        try:
            with self._all_lock:
                if self._closed:
                    raise StorageError("the SQLite storage is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                with self._all_lock:
                    if self._closed:
                        conn.close()
                    else:
                        self._idle.append(conn)
        finally:
            self._slots.release()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, _storage_errors():
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def migrate(self) -> int:
        with self._write() as conn:
            conn.execute(CREATE_VERSION_TABLE)
            current = conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}").fetchone()[0]
            for migration in pending(current):
                for statement in migration.sqlite:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {VERSION_TABLE}(version, description, applied_hour) VALUES (?, ?, ?)",
                    (migration.version, migration.description, hour_floor(time.time())),
                )
                current = migration.version
        return int(current)

    def schema_version(self) -> int:
        with _storage_errors(), self._reader() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
            ).fetchone()
            if exists is None:
                return 0
            return int(conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}").fetchone()[0])

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._idle.clear()
            self._closed = True

    def ping(self) -> None:
        with _storage_errors(), self._reader() as conn:
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

    def _write_batch(self, batch: list[WriteItem]) -> list[StoreResult]:
        results: list[StoreResult] = []
        with self._write() as conn:
            for item in batch:
                eid = envelope_id(item.data)
                cur = conn.execute(
                    "INSERT INTO envelopes(id, data, received_hour, expires_hour, broadcast, shard_bits)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                    (eid, item.data, hour_floor(item.now), item.expires, item.tags is None, item.shard_bits),
                )
                if cur.rowcount == 1 and cur.lastrowid is not None:
                    seq = cur.lastrowid
                    if item.tags is not None:  # only a new envelope gets tags: the first set sticks
                        conn.executemany(
                            "INSERT INTO envelope_shards(shard_bits, shard, seq) VALUES (?, ?, ?)",
                            [(item.shard_bits, shard, seq) for shard in sorted(item.tags)],
                        )
                    results.append(StoreResult(seq, eid, True))
                else:
                    seq = conn.execute("SELECT seq FROM envelopes WHERE id = ?", (eid,)).fetchone()[0]
                    results.append(StoreResult(int(seq), eid, False))
        return results

    def list_envelopes(self, after: int, limit: int, now: float) -> list[StoredEnvelope]:
        with _storage_errors(), self._reader() as conn:
            rows = conn.execute(
                "SELECT seq, id, data, expires_hour FROM envelopes WHERE seq > ?"
                " AND (expires_hour IS NULL OR expires_hour > ?) ORDER BY seq LIMIT ?",
                (after, int(now), limit),
            ).fetchall()
        return [StoredEnvelope(int(seq), eid, bytes(data), exp) for seq, eid, data, exp in rows]

    def list_shard(
        self, shard_bits: int, shard: int, after: int, limit: int, now: float
    ) -> list[StoredEnvelope]:
        sql, params = shard_listing_sql(shard_bits, shard, after, limit, int(now))
        with _storage_errors(), self._reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [StoredEnvelope(int(seq), eid, bytes(data), exp) for seq, eid, data, exp in rows]

    def max_seq(self) -> int:
        with _storage_errors(), self._reader() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'envelopes'").fetchone()
        return int(row[0]) if row else 0

    def create_invite(self, code_hash: str, uses: int, expires_at: int | None, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO invites(code_hash, uses_left, expires_at, created_hour) VALUES (?, ?, ?, ?)",
                (code_hash, uses, expires_at, hour_floor(now)),
            )

    def redeem_invite(self, code_hash: str, credential_hash: str, now: float) -> None:
        with _storage_errors(), self._reader() as reader:  # refuse bad codes without the write lock
            check_invite(
                reader.execute(
                    "SELECT uses_left, expires_at, revoked FROM invites WHERE code_hash = ?", (code_hash,)
                ).fetchone(),
                now,
            )
        with self._write() as conn:
            row = conn.execute(
                "SELECT uses_left, expires_at, revoked FROM invites WHERE code_hash = ?", (code_hash,)
            ).fetchone()
            check_invite(row, now)
            conn.execute("UPDATE invites SET uses_left = uses_left - 1 WHERE code_hash = ?", (code_hash,))
            conn.execute(
                "INSERT INTO credentials(credential_hash, created_hour) VALUES (?, ?)",
                (credential_hash, hour_floor(now)),
            )

    def credential_valid(self, credential_hash: str) -> bool:
        with _storage_errors(), self._reader() as conn:
            row = conn.execute(
                "SELECT revoked FROM credentials WHERE credential_hash = ?", (credential_hash,)
            ).fetchone()
        return row is not None and not row[0]

    def list_invites(self) -> list[InviteInfo]:
        with _storage_errors(), self._reader() as conn:
            rows = conn.execute(
                "SELECT code_hash, uses_left, expires_at, created_hour, revoked FROM invites"
                " ORDER BY created_hour DESC, code_hash"
            ).fetchall()
        return [InviteInfo(h[:SHORT_ID_LEN], u, e, c, bool(r)) for h, u, e, c, r in rows]

    def revoke_invite(self, hash_or_prefix: str) -> int:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE invites SET revoked = 1 WHERE substr(code_hash, 1, ?) = ?",
                (len(hash_or_prefix), hash_or_prefix),
            )
            return cur.rowcount

    def list_credentials(self) -> list[CredentialInfo]:
        with _storage_errors(), self._reader() as conn:
            rows = conn.execute(
                "SELECT credential_hash, created_hour, revoked FROM credentials"
                " ORDER BY created_hour DESC, credential_hash"
            ).fetchall()
        return [CredentialInfo(h[:SHORT_ID_LEN], c, bool(r)) for h, c, r in rows]

    def revoke_credential(self, hash_or_prefix: str) -> int:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE credentials SET revoked = 1 WHERE substr(credential_hash, 1, ?) = ?",
                (len(hash_or_prefix), hash_or_prefix),
            )
            return cur.rowcount

    def stats(self, now: float) -> RelayStats:
        with _storage_errors(), self._reader() as conn:
            envelopes, size = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM envelopes"
            ).fetchone()
            creds, active = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(revoked = 0), 0) FROM credentials"
            ).fetchone()
            invites, usable = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(revoked = 0 AND uses_left > 0"
                " AND (expires_at IS NULL OR expires_at > ?)), 0) FROM invites",
                (int(now),),
            ).fetchone()
        return RelayStats(envelopes, size, creds, active, invites, usable)

    def prune(self, now: float, older_than: int | None) -> int:
        with self._write() as conn:
            expired = "expires_hour IS NOT NULL AND expires_hour <= ?"
            conn.execute(
                f"DELETE FROM envelope_shards WHERE seq IN (SELECT seq FROM envelopes WHERE {expired})",
                (int(now),),
            )
            deleted = conn.execute(f"DELETE FROM envelopes WHERE {expired}", (int(now),)).rowcount
            if older_than is not None:
                cutoff = prune_cutoff(now, older_than)
                (highest,) = conn.execute(
                    "SELECT MAX(seq) FROM envelopes WHERE received_hour <= ?", (cutoff,)
                ).fetchone()
                conn.execute(
                    "DELETE FROM envelope_shards WHERE seq IN (SELECT seq FROM envelopes WHERE received_hour <= ?)",
                    (cutoff,),
                )
                deleted += conn.execute("DELETE FROM envelopes WHERE received_hour <= ?", (cutoff,)).rowcount
                if highest is not None:
                    conn.execute(
                        "INSERT INTO relay_state(name, value) VALUES (?, ?)"
                        " ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                        (PRUNED_THROUGH, int(highest)),
                    )
        return deleted

    def first_seq(self) -> int:
        with _storage_errors(), self._reader() as conn:
            row = conn.execute("SELECT value FROM relay_state WHERE name = ?", (PRUNED_THROUGH,)).fetchone()
        return int(row[0]) + 1 if row else 0

    def cursor_at(self, hour: int) -> int:
        with _storage_errors(), self._reader() as conn:
            first_after, _ = conn.execute(CURSOR_SQL, (hour,)).fetchone()
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'envelopes'").fetchone()
            pruned = conn.execute(
                "SELECT value FROM relay_state WHERE name = ?", (PRUNED_THROUGH,)
            ).fetchone()
        return cursor_from(first_after, int(row[0]) if row else 0, int(pruned[0]) if pruned else 0)

    def shard_horizon(self) -> int:
        return 2**63 - 1

    def finish_writes(self) -> int:
        return 0  # one writer, seqs drawn and tag rows written in its transaction: nothing is ever pending

    def listen(self, on_change: Callable[[], None], stop: threading.Event) -> None:
        stop.wait()
