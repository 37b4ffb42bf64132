"""Every byte a relay has stored, for privacy tests that grep it.

``dump_relay_storage(db_url)`` returns, for SQLite, the raw bytes of the database
file followed by its ``-wal`` file (deleted-but-not-overwritten pages included);
for PostgreSQL, every row of every table in the relay's schema, each rendered as
PostgreSQL text and, for binary columns, also as the raw bytes.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from .config import parse_db_url


def _dump_sqlite(path: Path) -> bytes:
    parts = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists():
            parts.append(candidate.read_bytes())
    return b"".join(parts)


def _dump_postgres(dsn: str) -> bytes:
    parts: list[bytes] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        for (table,) in tables:
            parts.append(f"-- table {table}\n".encode())
            query = sql.SQL("SELECT t::text, t.* FROM {} AS t").format(sql.Identifier(table))
            for row in conn.execute(query):
                parts.append(row[0].encode("utf-8") + b"\n")
                parts.extend(value for value in row[1:] if isinstance(value, bytes))
    return b"".join(parts)


def dump_relay_storage(db_url: str) -> bytes:
    """All stored bytes of the relay database named by ``db_url``."""
    location = parse_db_url(db_url)
    if location.kind == "sqlite":
        return _dump_sqlite(Path(location.target))
    return _dump_postgres(location.target)
