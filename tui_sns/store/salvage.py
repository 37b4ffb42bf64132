"""Salvage a damaged store: copy every readable row into a fresh store, sealed as a backup file.

A damaged page (a flipped bit, a bad sector) fails SQLCipher's per-page HMAC, and SQLite then refuses
every query that reads it. :func:`salvage` reads around the damage, table by table:

* tables with rowids are read in rowid order; where a read fails, the next readable rowid is found by
  probing ever further ahead (1, 2, 4, ... rows) and then bisecting back, so only the rows kept on the
  damaged page (or below a damaged interior page) are left behind;
* WITHOUT ROWID tables are read in key order from both ends up to the damage.

The rows go into a fresh database made by the same migrations (same schema version, same database key),
rows that name a lost row (foreign keys) are dropped, and the result is sealed exactly like
``tui-sns backup`` (backup.py). Nothing here writes to the damaged store; nothing leaves the process
unencrypted: the fresh database is SQLCipher-encrypted in a private temporary directory next to the
output file and removed before :func:`salvage` returns.
"""

from __future__ import annotations

import os
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from tui_sns.store.atomic import write_atomic
from tui_sns.store.backup import seal_backup
from tui_sns.store.database import DB_NAME, KEY_NAME, Connection, Store, _split
from tui_sns.store.epochs import scrub_epoch_secrets
from tui_sns.store.errors import StoreDamaged, StoreError, WrongKey
from tui_sns.store.keyfile import DEFAULT_KDF, KdfParams, KeyFile
from tui_sns.store.schema import LATEST, MIGRATIONS

MAX_ROWID = 2**63 - 1
BATCH = 256


@dataclass
class SalvageReport:
    """Rows copied and rows left behind, per table (``lost`` counts what could be counted: rows read
    around the damage are exact, rows inside it are estimated from the rowid gap)."""

    copied: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # readable rows naming a lost row
    damaged_tables: list[str] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return self.copied.get("posts", 0)

    @property
    def rows(self) -> int:
        return sum(self.copied.values())


def salvage(home: Path, passphrase: str, target: Path, kdf: KdfParams = DEFAULT_KDF) -> SalvageReport:
    """Copy every readable row of the store in ``home`` into a backup file at ``target`` (restore it
    with ``tui-sns restore``). Raises WrongPassphrase, KeyFileCorrupt, WrongKey, StoreDamaged (nothing
    can be salvaged: the schema page or the identity is unreadable), StoreError, OSError (``target``)."""
    Store.check_present(home)
    keyfile = KeyFile.load(home / KEY_NAME)
    keys = keyfile.unwrap_any(passphrase).keys
    source, db_key = _open_source(home / DB_NAME, keys)
    try:
        version, tables = _schema_of(source, home / DB_NAME)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tui-sns-salvage-") as tmp:
            fresh_path = Path(tmp) / "salvaged.db"
            report = _copy(source, fresh_path, db_key, version, tables, keyfile.counter)
            scrubbing = _keyed("file:" + urllib.parse.quote(str(fresh_path)), db_key)
            try:  # a salvage is a backup: no epoch secrets in it (design-v2 §15.4)
                scrub_epoch_secrets(scrubbing, int(time.time()))
            finally:
                scrubbing.close()
            data = db_key + fresh_path.read_bytes()
    finally:
        source.close()
    write_atomic(target, seal_backup(data, passphrase, kdf), mode=0o600)
    return report


def _keyed(uri: str, key: bytes) -> Connection:
    conn = sqlcipher3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


class _Source:
    """The damaged database, read-only. SQLCipher leaves a connection in an error state after a page
    fails its HMAC, so every failed read is followed by a fresh connection."""

    def __init__(self, uri: str, key: bytes) -> None:
        self.uri, self.key = uri, key
        self.conn = _keyed(uri, key)

    def rows(self, sql: str, params: tuple[Any, ...], out: list[tuple[Any, ...]]) -> bool:
        """Append the query's rows to ``out`` until it ends (True) or fails on a damaged page (False)."""
        try:
            for row in self.conn.execute(sql, params):
                out.append(tuple(row))
        except sqlcipher3.Error:
            self.conn.close()
            self.conn = _keyed(self.uri, self.key)
            return False
        return True

    def readable(self, sql: str, params: tuple[Any, ...]) -> bool:
        return self.rows(sql + " LIMIT 1", params, [])

    def readable_into(self, sql: str, params: tuple[Any, ...], out: list[tuple[Any, ...]]) -> bool:
        return self.rows(sql + " LIMIT 1", params, out)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def _open_source(path: Path, keys: tuple[bytes, ...]) -> tuple[_Source, bytes]:
    """The damaged database, read-only, with the first key whose pages pass their HMAC: ``mode=ro``
    when a crash left a write-ahead log to read (and the directory is writable), else ``immutable=1``
    (which creates no -wal or -shm file)."""
    quoted = "file:" + urllib.parse.quote(str(path))
    wal = path.with_name(path.name + "-wal")
    log_left = wal.exists() and wal.stat().st_size > 0
    uri = quoted + ("?mode=ro" if log_left and os.access(path.parent, os.W_OK) else "?immutable=1")
    for key in keys:
        conn = _keyed(uri, key)
        try:
            lines = [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
        except sqlcipher3.Error:
            lines = []
        finally:
            conn.close()
        pages = max(1, path.stat().st_size // 4096)
        if sum("HMAC" in line for line in lines) < pages:
            return _Source(uri, key), key
    raise WrongKey(f"{path} cannot be opened with this key file: nothing to salvage with it")


def _schema_of(source: _Source, path: Path) -> tuple[int, list[str]]:
    try:
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
        names = [
            str(r[0])
            for r in source.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        ]
    except sqlcipher3.Error as exc:
        raise StoreDamaged(
            f"{path}: the first page (the store's table of contents) is damaged, so nothing can be "
            "salvaged: restore a backup"
        ) from exc
    if not 1 <= version <= LATEST:
        raise StoreError(f"{path}: schema {version} cannot be salvaged by this program (knows 1 to {LATEST})")
    return version, names


def _columns(conn: Connection | _Source, table: str) -> tuple[list[str], list[str], bool]:
    """(column names, primary-key columns in key order, has rowid)."""
    info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    cols = [str(r[1]) for r in info]
    pk = [str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: int(r[5]))]
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    without_rowid = row is not None and "WITHOUT ROWID" in str(row[0]).upper()
    return cols, pk, not without_rowid


def _copy(
    source: _Source, fresh_path: Path, key: bytes, version: int, tables: list[str], key_counter: int
) -> SalvageReport:
    report = SalvageReport()
    fresh = _keyed("file:" + urllib.parse.quote(str(fresh_path)), key)
    try:
        fresh.execute("PRAGMA foreign_keys = OFF")
        fresh.execute("BEGIN")
        for script in MIGRATIONS[:version]:
            for statement in _split(script):
                fresh.execute(statement)
        fresh.execute(f"PRAGMA user_version = {version}")
        # virtual tables (the search index) and their shadow tables are not copied: the migrations'
        # triggers fill them as the rows they index go in
        virtual = [
            str(r[0])
            for r in fresh.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
            ).fetchall()
        ]
        fresh_tables = [
            str(r[0])
            for r in fresh.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            if not any(str(r[0]) == v or str(r[0]).startswith(v + "_") for v in virtual)
        ]
        for table in fresh_tables:
            if table not in tables:
                report.damaged_tables.append(table)
                continue
            cols, pk, has_rowid = _columns(fresh, table)
            try:
                src_cols = set(_columns(source, table)[0])
            except sqlcipher3.Error:
                report.damaged_tables.append(table)
                continue
            cols = [c for c in cols if c in src_cols]
            rows, complete = (_rowid_rows if has_rowid else _keyed_rows)(source, table, cols, pk)
            if not complete:
                report.damaged_tables.append(table)
            names = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join("?" * len(cols))
            verb = "INSERT OR REPLACE" if table == "meta" else "INSERT OR IGNORE"
            fresh.executemany(f'{verb} INTO "{table}" ({names}) VALUES ({marks})', rows)
            report.copied[table] = len(rows)
        _drop_orphans(fresh, report)
        if fresh.execute("SELECT count(*) FROM identity").fetchone()[0] != 1:
            raise StoreDamaged(
                "the identity (your key pair) is on a damaged page, so nothing usable can be salvaged: "
                "restore a backup"
            )
        row = fresh.execute("SELECT value FROM meta WHERE key = 'write_counter'").fetchone()
        counter = max(int(row[0]) if row else 0, key_counter) + 1  # never below what the key file saw
        fresh.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write_counter', ?)", (counter,))
        fresh.execute("COMMIT")
        fresh.execute("VACUUM")
    finally:
        fresh.close()
    return report


def _drop_orphans(fresh: Connection, report: SalvageReport) -> None:
    """Delete rows whose foreign key names a row that was lost, until none is left (cascades)."""
    tables = [
        str(r[0])
        for r in fresh.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    for _ in range(len(tables) + 1):
        deleted = 0
        for table in tables:
            for fk in fresh.execute(f'PRAGMA foreign_key_list("{table}")').fetchall():
                parent, child_col, parent_col = str(fk[2]), str(fk[3]), str(fk[4] or "rowid")
                cur = fresh.execute(
                    f'DELETE FROM "{table}" WHERE "{child_col}" IS NOT NULL AND "{child_col}" NOT IN '
                    f'(SELECT "{parent_col}" FROM "{parent}")'
                )
                if cur.rowcount > 0:
                    deleted += cur.rowcount
                    report.dropped[table] = report.dropped.get(table, 0) + cur.rowcount
                    report.copied[table] = report.copied.get(table, 0) - cur.rowcount
        if not deleted:
            return


def _rowid_rows(
    source: _Source, table: str, cols: list[str], pk: list[str]
) -> tuple[list[tuple[Any, ...]], bool]:
    """Every readable row in rowid order. Reads in batches; a batch that fails is read again one row
    at a time (``LIMIT 1`` never steps onto the next page, and the driver's read-ahead would lose the
    row before a damaged page), and the first unreadable rowid is then skipped over."""
    names = ", ".join(f'"{c}"' for c in cols)
    sql = f'SELECT rowid, {names} FROM "{table}" WHERE rowid >= ? ORDER BY rowid'
    out: list[tuple[Any, ...]] = []
    complete = True
    start = -MAX_ROWID - 1
    for _ in range(1_000_000):  # bounded: every round moves ``start`` forward
        got: list[tuple[Any, ...]] = []
        if source.rows(f"{sql} LIMIT {BATCH}", (start,), got):
            out.extend(got)
            if len(got) < BATCH or got[-1][0] == MAX_ROWID:
                break
            start = got[-1][0] + 1
            continue
        complete = False
        for _ in range(BATCH + 1):  # row by row up to the damage
            one: list[tuple[Any, ...]] = []
            if not source.readable_into(sql, (start,), one):
                break
            if not one:
                return [row[1:] for row in out], complete
            out.extend(one)
            start = one[0][0] + 1
        nxt = _next_readable(source, sql, start)
        if nxt is None:
            break
        start = nxt
    return [row[1:] for row in out], complete


def _next_readable(source: _Source, sql: str, bad: int) -> int | None:
    """The smallest rowid r > bad from which a read succeeds (a read from ``bad`` failed): probes
    bad + 1, + 2, + 4, ... and then bisects back."""
    step = 1
    while True:
        probe = min(bad + step, MAX_ROWID)
        if source.readable(sql, (probe,)):
            break
        if probe == MAX_ROWID:
            return None
        bad, step = probe, step * 2
    good = probe
    while good - bad > 1:
        mid = (bad + good) // 2
        if source.readable(sql, (mid,)):
            good = mid
        else:
            bad = mid
    return good


def _keyed_rows(
    source: _Source, table: str, cols: list[str], pk: list[str]
) -> tuple[list[tuple[Any, ...]], bool]:
    """Every row readable from either end of a WITHOUT ROWID table's key order, up to the damage
    (the keys on a damaged page are unknown, so nothing past it can be sought)."""
    if not pk or any(c not in cols for c in pk):
        got: list[tuple[Any, ...]] = []
        names = ", ".join(f'"{c}"' for c in cols)
        return got, source.rows(f'SELECT {names} FROM "{table}"', (), got)
    ahead, complete = _keyed_scan(source, table, cols, pk, descending=False)
    if complete:
        return ahead, True
    behind, _ = _keyed_scan(source, table, cols, pk, descending=True)
    key_at = [cols.index(c) for c in pk]
    seen = {tuple(r[i] for i in key_at) for r in ahead}
    return ahead + [r for r in behind if tuple(r[i] for i in key_at) not in seen], False


def _keyed_scan(
    source: _Source, table: str, cols: list[str], pk: list[str], *, descending: bool
) -> tuple[list[tuple[Any, ...]], bool]:
    """Rows in key order (or its reverse) until the end (complete) or the first unreadable row: in
    batches, then row by row (``LIMIT 1``) through the batch that failed."""
    names = ", ".join(f'"{c}"' for c in cols)
    keys = ", ".join(f'"{c}"' for c in pk)
    direction = " DESC" if descending else ""
    order = ", ".join(f'"{c}"{direction}' for c in pk)
    key_at = [cols.index(c) for c in pk]
    out: list[tuple[Any, ...]] = []
    after: tuple[Any, ...] | None = None
    for _ in range(1_000_000):  # bounded: every round reads at least one row or ends
        where, params = "", ()
        if after is not None:
            where = f"WHERE ({keys}) {'<' if descending else '>'} ({', '.join('?' * len(pk))})"
            params = after
        sql = f'SELECT {names} FROM "{table}" {where} ORDER BY {order}'
        got: list[tuple[Any, ...]] = []
        if source.rows(f"{sql} LIMIT {BATCH}", params, got):
            out.extend(got)
            if len(got) < BATCH:
                return out, True
            after = tuple(got[-1][i] for i in key_at)
            continue
        one: list[tuple[Any, ...]] = []
        if not source.readable_into(sql, params, one):
            return out, False
        if not one:
            return out, True
        out.extend(one)
        after = tuple(one[0][i] for i in key_at)
    return out, False
