"""Diary entries: mine and the ones I received."""

from __future__ import annotations

import json
from typing import Any

from tui_sns.store.database import Store
from tui_sns.store.errors import NotFound
from tui_sns.store.records import Post

_SELECT = (
    "SELECT p.id, k.name, p.title, p.body, p.created, p.audience, p.author_id IS NULL FROM posts p "
    "LEFT JOIN contacts k ON k.id = p.author_id"
)


def _post(store: Store, row: tuple[Any, ...], with_readers: bool) -> Post:
    mine = bool(row[6])
    readers: tuple[str, ...] | None = None
    if mine and with_readers:
        readers = tuple(
            str(r[0])
            for r in store.fetchall(
                "SELECT name FROM post_readers WHERE post_id = ? ORDER BY name", (row[0],)
            )
        )
    return Post(
        id=str(row[0]),
        author=None if mine else str(row[1]),
        title=str(row[2]),
        body=str(row[3]),
        created=str(row[4]),
        audience=json.loads(row[5]) if (mine and row[5]) else None,
        readers=readers,
    )


def insert_post(
    store: Store,
    *,
    post_id: str,
    remote_id: str,
    author_id: int | None,
    title: str,
    body: str,
    created: str,
    received: str,
    audience: dict[str, list[str]] | None = None,
    readers: list[tuple[int, str]] | None = None,
    envelope_id: str | None = None,
) -> bool:
    """Insert an entry; False (and no change) if this author's entry is already stored."""
    with store.write() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO posts (id, remote_id, author_id, title, body, created, received, audience, "
            "envelope_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                post_id,
                remote_id,
                author_id,
                title,
                body,
                created,
                received,
                None if audience is None else json.dumps(audience),
                envelope_id,
            ),
        )
        if cur.rowcount == 0:
            return False
        if readers:
            conn.executemany(
                "INSERT INTO post_readers (post_id, contact_id, name) VALUES (?, ?, ?)",
                [(post_id, cid, name) for cid, name in readers],
            )
    return True


def timeline(
    store: Store,
    *,
    circle: str | None = None,
    only_mine_private: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Post]:
    where, params = _filter(circle, only_mine_private)
    sql = f"{_SELECT} {where} ORDER BY p.created DESC, p.id DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = (*params, limit, offset)
    return [_post(store, r, with_readers=False) for r in store.fetchall(sql, params)]


def count_posts(store: Store, *, circle: str | None = None, only_mine_private: bool = False) -> int:
    where, params = _filter(circle, only_mine_private)
    row = store.fetchone(f"SELECT count(*) FROM posts p {where}", params)
    return int(row[0]) if row else 0


def _filter(circle: str | None, only_mine_private: bool) -> tuple[str, tuple[Any, ...]]:
    if only_mine_private:
        return (
            "WHERE p.author_id IS NULL AND NOT EXISTS (SELECT 1 FROM post_readers r WHERE r.post_id = p.id)",
            (),
        )
    if circle is None:
        return ("", ())
    # Entries "in" a circle: mine sealed to it, and those written by its members.
    return (
        "WHERE (p.author_id IS NULL AND EXISTS (SELECT 1 FROM json_each(p.audience, '$.circles') j "
        "WHERE j.value = ?)) OR p.author_id IN (SELECT m.contact_id FROM circle_members m "
        "JOIN circles c ON c.id = m.circle_id WHERE c.name = ?)",
        (circle, circle),
    )


def get_post(store: Store, post_id: str) -> Post:
    """By full id or a unique prefix of at least 4 characters."""
    rows = store.fetchall(f"{_SELECT} WHERE p.id = ?", (post_id,))
    if not rows and len(post_id) >= 4:
        rows = store.fetchall(f"{_SELECT} WHERE p.id LIKE ? ESCAPE '\\' LIMIT 2", (_like_prefix(post_id),))
        if len(rows) > 1:
            raise NotFound(f"entry id {post_id!r} is ambiguous: give more characters")
    if not rows:
        raise NotFound(f"no entry with id {post_id!r}")
    return _post(store, rows[0], with_readers=True)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
