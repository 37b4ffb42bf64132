"""Contact requests from strangers: at most one pending per sender key, a bounded number in total."""

from __future__ import annotations

from typing import Any

from tui_sns.store.database import Store
from tui_sns.store.records import RequestRecord

_COLUMNS = "id, sender_key, card, note, received"


def _request(row: tuple[Any, ...]) -> RequestRecord:
    return RequestRecord(
        id=int(row[0]), sender_key=bytes(row[1]), card=str(row[2]), note=str(row[3]), received=str(row[4])
    )


def save_request(store: Store, sender_key: bytes, card: str, note: str, received: str, limit: int) -> bool:
    """Keep a request: a later one from the same sender replaces theirs; a new sender is dropped
    (False) once ``limit`` requests are pending."""
    with store.write() as conn:
        existing = conn.execute("SELECT id FROM requests WHERE sender_key = ?", (sender_key,)).fetchone()
        if existing is not None:
            conn.execute(
                "UPDATE requests SET card = ?, note = ?, received = ? WHERE id = ?",
                (card, note, received, existing[0]),
            )
            return True
        (pending,) = conn.execute("SELECT count(*) FROM requests").fetchone()
        if int(pending) >= limit:
            return False
        conn.execute(
            "INSERT INTO requests (sender_key, card, note, received) VALUES (?, ?, ?, ?)",
            (sender_key, card, note, received),
        )
        return True


def list_requests(store: Store) -> list[RequestRecord]:
    return [_request(r) for r in store.fetchall(f"SELECT {_COLUMNS} FROM requests ORDER BY received, id")]


def get_request(store: Store, request_id: int) -> RequestRecord | None:
    row = store.fetchone(f"SELECT {_COLUMNS} FROM requests WHERE id = ?", (request_id,))
    return None if row is None else _request(row)


def delete_request(store: Store, request_id: int) -> bool:
    with store.write() as conn:
        return bool(conn.execute("DELETE FROM requests WHERE id = ?", (request_id,)).rowcount)


def delete_requests_from(store: Store, sender_key: bytes) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM requests WHERE sender_key = ?", (sender_key,))
