"""Numbered schema migrations for both backends.

Each migration has a version number, a one-line description and the statements
for SQLite and for PostgreSQL.  Backends apply every pending migration in ONE
transaction and record each in ``relay_migrations``; a relay refuses to start on
a database whose version is newer than the code knows.  Never edit a released
migration: append a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import StorageError

VERSION_TABLE = "relay_migrations"

CREATE_VERSION_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
    " version INTEGER PRIMARY KEY,"
    " description TEXT NOT NULL,"
    " applied_hour BIGINT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    """One schema step for both backends."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "envelopes, invites and credentials",
        sqlite=(
            "CREATE TABLE envelopes ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " id TEXT NOT NULL UNIQUE,"
            " data BLOB NOT NULL,"
            " received_hour INTEGER NOT NULL,"
            " expires_hour INTEGER)",
            "CREATE INDEX envelopes_received ON envelopes(received_hour)",
            "CREATE INDEX envelopes_expires ON envelopes(expires_hour) WHERE expires_hour IS NOT NULL",
            "CREATE TABLE invites ("
            " code_hash TEXT PRIMARY KEY,"
            " uses_left INTEGER NOT NULL,"
            " expires_at INTEGER,"
            " created_hour INTEGER NOT NULL,"
            " revoked INTEGER NOT NULL DEFAULT 0)",
            "CREATE TABLE credentials ("
            " credential_hash TEXT PRIMARY KEY,"
            " created_hour INTEGER NOT NULL,"
            " revoked INTEGER NOT NULL DEFAULT 0)",
        ),
        postgres=(
            "CREATE TABLE envelopes ("
            " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " id TEXT NOT NULL UNIQUE,"
            " data BYTEA NOT NULL,"
            " received_hour BIGINT NOT NULL,"
            " expires_hour BIGINT)",
            "CREATE INDEX envelopes_received ON envelopes(received_hour)",
            "CREATE INDEX envelopes_expires ON envelopes(expires_hour) WHERE expires_hour IS NOT NULL",
            "CREATE TABLE invites ("
            " code_hash TEXT PRIMARY KEY,"
            " uses_left INTEGER NOT NULL,"
            " expires_at BIGINT,"
            " created_hour BIGINT NOT NULL,"
            " revoked BOOLEAN NOT NULL DEFAULT FALSE)",
            "CREATE TABLE credentials ("
            " credential_hash TEXT PRIMARY KEY,"
            " created_hour BIGINT NOT NULL,"
            " revoked BOOLEAN NOT NULL DEFAULT FALSE)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def pending(current: int) -> list[Migration]:
    """Migrations newer than ``current``; refuse a database from a newer relay."""
    if current > LATEST_VERSION:
        raise StorageError(
            f"database schema version {current} is newer than this relay knows ({LATEST_VERSION}); upgrade the relay"
        )
    return [m for m in MIGRATIONS if m.version > current]
