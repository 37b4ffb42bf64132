"""Diary entries: mine and the ones I received."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tui_sns.store.database import Store
from tui_sns.store.errors import NotFound
from tui_sns.store.records import Post, PostMeta

_SELECT = (
    "SELECT p.id, k.name, p.title, p.body, p.created, p.audience, p.author_id IS NULL, p.expires, p.edited, p.unread "
    "FROM posts p "
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
        expires=None if row[7] is None else str(row[7]),
        edited=None if row[8] is None else str(row[8]),
        unread=bool(row[9]),
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
    thread_key: bytes | None = None,
    expires: str | None = None,
    unread: bool = False,
) -> bool:
    """Insert an entry; False (and no change) if this author's entry is already stored.

    ``unread``: a received entry not shown to me yet (never for mine)."""
    unread = unread and author_id is not None
    with store.write() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO posts (id, remote_id, author_id, title, body, created, received, audience, "
            "envelope_id, thread_key, expires, unread) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                thread_key,
                expires,
                int(unread),
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
    order = " ORDER BY p.created DESC, p.id DESC"
    if offset > 0:
        # Find the page's first (created, id) with a narrow query the (created, id, author_id) index
        # answers on its own, then fetch the page from there: OFFSET over the full rows would read
        # (and decrypt) every skipped entry.
        first = store.fetchone(
            f"SELECT p.created, p.id FROM posts p {where}{order} LIMIT 1 OFFSET ?", (*params, offset)
        )
        if first is None:
            return []
        where = f"{where} AND" if where else "WHERE"
        where += " (p.created, p.id) <= (?, ?)"
        params = (*params, first[0], first[1])
    sql = f"{_SELECT} {where}{order}"
    if limit is not None:
        sql += " LIMIT ?"
        params = (*params, limit)
    return [_post(store, r, with_readers=False) for r in store.fetchall(sql, params)]


def count_posts(store: Store, *, circle: str | None = None, only_mine_private: bool = False) -> int:
    where, params = _filter(circle, only_mine_private)
    row = store.fetchone(f"SELECT count(*) FROM posts p {where}", params)
    return int(row[0]) if row else 0


def unread_count(store: Store, *, circle: str | None = None, only_mine_private: bool = False) -> int:
    """Unread entries among those ``count_posts`` counts with the same filters."""
    where, params = _filter(circle, only_mine_private)
    where = f"{where} AND p.unread" if where else "WHERE p.unread"
    row = store.fetchone(f"SELECT count(*) FROM posts p {where}", params)
    return int(row[0]) if row else 0


def unread_ids(store: Store, *, circle: str | None = None, only_mine_private: bool = False) -> list[str]:
    """Ids of the unread entries ``unread_count`` counts."""
    where, params = _filter(circle, only_mine_private)
    where = f"{where} AND p.unread" if where else "WHERE p.unread"
    return [str(r[0]) for r in store.fetchall(f"SELECT p.id FROM posts p {where}", params)]


def mark_read(store: Store, post_ids: Iterable[str]) -> int:
    """Mark entries read, in one transaction. Reads first: no write at all (no anti-rollback counter
    bump, no key file fsync) when none of them is unread. Returns how many changed."""
    ids = sorted(set(post_ids))
    unread: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = store.fetchall(f"SELECT id FROM posts WHERE unread AND id IN ({marks})", tuple(chunk))
        unread.extend(str(r[0]) for r in rows)
    if not unread:
        return 0
    changed = 0
    with store.write() as conn:
        for start in range(0, len(unread), _CHUNK):
            chunk = unread[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            changed += conn.execute(
                f"UPDATE posts SET unread = 0 WHERE unread AND id IN ({marks})", tuple(chunk)
            ).rowcount
    return changed


_CHUNK = 500  # ids per statement (SQLite's bound-parameter limit is far above this)


# Muted and blocked authors never show in the timeline.
_NOT_MUTED = "p.author_id IS NULL OR p.author_id NOT IN (SELECT id FROM contacts WHERE muted OR blocked)"


def _filter(circle: str | None, only_mine_private: bool) -> tuple[str, tuple[Any, ...]]:
    where, params = _base_filter(circle, only_mine_private)
    if only_mine_private:
        return where, params
    if not where:
        return f"WHERE ({_NOT_MUTED})", params
    return f"{where.replace('WHERE ', 'WHERE (', 1)}) AND ({_NOT_MUTED})", params


def _base_filter(circle: str | None, only_mine_private: bool) -> tuple[str, tuple[Any, ...]]:
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


def find_post_by(store: Store, author_id: int | None, remote_id: str) -> tuple[str, bytes | None] | None:
    """(local id, thread key) of ``author_id``'s entry ``remote_id`` (None: mine), or None."""
    if author_id is None:
        row = store.fetchone(
            "SELECT id, thread_key FROM posts WHERE author_id IS NULL AND remote_id = ?", (remote_id,)
        )
    else:
        row = store.fetchone(
            "SELECT id, thread_key FROM posts WHERE author_id = ? AND remote_id = ?", (author_id, remote_id)
        )
    if row is None:
        return None
    return str(row[0]), None if row[1] is None else bytes(row[1])


def post_meta(store: Store, post_id: str) -> PostMeta:
    """Remote id, author contact id (None: mine), thread key and expiry of a stored entry (NotFound if
    it is not stored)."""
    row = store.fetchone(
        "SELECT remote_id, author_id, thread_key, expires FROM posts WHERE id = ?", (post_id,)
    )
    if row is None:
        raise NotFound(f"no entry with id {post_id!r}")
    return PostMeta(
        str(row[0]),
        None if row[1] is None else int(row[1]),
        None if row[2] is None else bytes(row[2]),
        None if row[3] is None else str(row[3]),
    )


def reader_ids(store: Store, post_id: str) -> list[int]:
    """Contact ids of my entry's stored readers who are still my contacts (as sealed; never widened)."""
    rows = store.fetchall(
        "SELECT contact_id FROM post_readers WHERE post_id = ? AND contact_id IS NOT NULL ORDER BY contact_id",
        (post_id,),
    )
    return [int(r[0]) for r in rows]


def update_post(store: Store, post_id: str, title: str, body: str, edited: str) -> bool:
    """Apply an edit unless a later one is already stored; False if nothing changed."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE posts SET title = ?, body = ?, edited = ? WHERE id = ? AND (edited IS NULL OR edited <= ?)",
            (title, body, edited, post_id, edited),
        )
        return bool(cur.rowcount)


def delete_post(store: Store, post_id: str) -> bool:
    """Delete an entry with its readers and comments (cascade). False if it was not stored."""
    with store.write() as conn:
        return bool(conn.execute("DELETE FROM posts WHERE id = ?", (post_id,)).rowcount)


def purge_expired(store: Store, now_iso: str, now_unix: int) -> int:
    """Delete expired entries (comments cascade) and expired outbox envelopes. Reads first: no write
    (and no anti-rollback counter bump) when nothing expired. Returns how many entries went."""
    expired_post = store.fetchone(
        "SELECT 1 FROM posts WHERE expires IS NOT NULL AND expires <= ? LIMIT 1", (now_iso,)
    )
    expired_out = store.fetchone(
        "SELECT 1 FROM outbox WHERE expires IS NOT NULL AND expires <= ? LIMIT 1", (now_unix,)
    )
    if expired_post is None and expired_out is None:
        return 0
    with store.write() as conn:
        gone = conn.execute(
            "DELETE FROM posts WHERE expires IS NOT NULL AND expires <= ?", (now_iso,)
        ).rowcount
        conn.execute("DELETE FROM outbox WHERE expires IS NOT NULL AND expires <= ?", (now_unix,))
    return int(gone)


def position(
    store: Store, post_id: str, *, circle: str | None = None, only_mine_private: bool = False
) -> int | None:
    """The 0-based row of ``post_id`` in the timeline with these filters (newest first), or None if the
    filters do not show it (or it is not stored)."""
    where, params = _filter(circle, only_mine_private)
    where = f"{where} AND p.id = ?" if where else "WHERE p.id = ?"
    row = store.fetchone(f"SELECT p.created, p.id FROM posts p {where}", (*params, post_id))
    if row is None:
        return None
    where, params = _filter(circle, only_mine_private)
    where = f"{where} AND" if where else "WHERE"
    newer = store.fetchone(
        f"SELECT count(*) FROM posts p {where} (p.created, p.id) > (?, ?)", (*params, row[0], row[1])
    )
    return int(newer[0]) if newer else 0
