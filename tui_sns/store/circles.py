"""Circles: named groups of contacts. They never leave my devices (linked devices sync them by ``uid``)."""

from __future__ import annotations

import os

from tui_sns.store.database import Store
from tui_sns.store.errors import NotFound
from tui_sns.store.records import Circle


def _circle_id(store: Store, name: str) -> int:
    row = store.fetchone("SELECT id FROM circles WHERE name = ?", (name,))
    if row is None:
        raise NotFound(f"no circle named {name!r}")
    return int(row[0])


def circle_exists(store: Store, name: str) -> bool:
    return store.fetchone("SELECT 1 FROM circles WHERE name = ?", (name,)) is not None


def create_circle(store: Store, name: str, created: str, uid: bytes | None = None) -> None:
    """A new circle; ``uid`` (16 bytes, random when omitted) is its id across my devices (§8.3)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO circles (name, created, uid) VALUES (?, ?, ?)",
            (name, created, uid or os.urandom(16)),
        )


def rename_circle(store: Store, old: str, new: str) -> None:
    with store.write() as conn:
        if conn.execute("UPDATE circles SET name = ? WHERE name = ?", (new, old)).rowcount == 0:
            raise NotFound(f"no circle named {old!r}")


def delete_circle(store: Store, name: str) -> None:
    with store.write() as conn:
        if conn.execute("DELETE FROM circles WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound(f"no circle named {name!r}")


def add_members(store: Store, circle: str, contact_ids: list[int]) -> None:
    with store.write() as conn:
        cid = _circle_id(store, circle)
        conn.executemany(
            "INSERT OR IGNORE INTO circle_members (circle_id, contact_id) VALUES (?, ?)",
            [(cid, c) for c in contact_ids],
        )


def remove_members(store: Store, circle: str, contact_ids: list[int]) -> None:
    with store.write() as conn:
        cid = _circle_id(store, circle)
        conn.executemany(
            "DELETE FROM circle_members WHERE circle_id = ? AND contact_id = ?",
            [(cid, c) for c in contact_ids],
        )


def member_ids(store: Store, circle: str) -> list[int]:
    cid = _circle_id(store, circle)
    return [
        int(r[0]) for r in store.fetchall("SELECT contact_id FROM circle_members WHERE circle_id = ?", (cid,))
    ]


def list_circles(store: Store) -> list[Circle]:
    rows = store.fetchall(
        "SELECT c.id, c.name, group_concat(k.name, char(31)) FROM circles c "
        "LEFT JOIN circle_members m ON m.circle_id = c.id LEFT JOIN contacts k ON k.id = m.contact_id "
        "GROUP BY c.id ORDER BY c.name"
    )
    return [
        Circle(int(r[0]), str(r[1]), tuple(sorted(str(r[2]).split("\x1f"))) if r[2] else ()) for r in rows
    ]
