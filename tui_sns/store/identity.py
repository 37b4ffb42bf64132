"""The identity row: this store's name and long-term key pair."""

from __future__ import annotations

from tui_sns.store.database import Store
from tui_sns.store.errors import NoIdentity
from tui_sns.store.records import IdentityRecord


def save_identity(store: Store, record: IdentityRecord) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO identity (id, name, secret_key, public_key, created) VALUES (1, ?, ?, ?, ?)",
            (record.name, record.secret_key, record.public_key, record.created),
        )


def load_identity(store: Store) -> IdentityRecord:
    row = store.fetchone("SELECT name, secret_key, public_key, created FROM identity WHERE id = 1")
    if row is None:
        raise NoIdentity("this store holds no identity")
    return IdentityRecord(str(row[0]), bytes(row[1]), bytes(row[2]), str(row[3]))


def get_meta(store: Store, key: str) -> str | None:
    row = store.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row[0])


def set_meta(store: Store, key: str, value: str) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def set_meta_once(store: Store, key: str, value: str) -> None:
    """Set ``key`` to ``value`` unless it already has a value."""
    with store.write() as conn:
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
