"""Diary entries: mine and the ones I received."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from tui_sns.store.database import Store
from tui_sns.store.errors import NotFound
from tui_sns.store.forget import expired_entry_ids, forget_entries
from tui_sns.store.records import Post, PostMeta

_SELECT = (
    "SELECT p.id, k.name, p.title, p.body, p.created, p.audience, p.author_id IS NULL, p.expires, p.edited, "
    "p.unread, p.claimed "
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
        claimed=None if row[10] is None else str(row[10]),
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
    seq: int | None = None,
    claimed: str | None = None,
    digest: bytes | None = None,
    circle_ids: list[int] | None = None,
    direct: set[int] | None = None,
    dev: bytes = bytes(8),
) -> bool:
    """Insert an entry; False (and no change) if this author's entry is already stored.

    ``unread``: a received entry not shown to me yet (never for mine). ``seq``: breaks ties of
    ``created`` in the timeline (the author's chain sequence for a received entry; None for mine:
    one more than my last). ``claimed``: the author's claimed time when it differs from ``created``.
    ``digest``: of the version stored (comments bind it). ``circle_ids`` and ``direct`` (contact ids
    named directly): how my entry's readers were chosen, so later sends reach only current readers.
    ``dev``: the 8-byte device tag of the chain ``seq`` belongs to (zeros: v1, or mine)."""
    unread = unread and author_id is not None
    with store.write() as conn:
        if seq is None:
            row = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM posts INDEXED BY posts_mine_seq WHERE author_id IS NULL"
            ).fetchone()
            seq = int(row[0])
        cur = conn.execute(
            "INSERT OR IGNORE INTO posts (id, remote_id, author_id, title, body, created, received, audience, "
            "envelope_id, thread_key, expires, unread, seq, claimed, dev) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                seq,
                claimed,
                dev,
            ),
        )
        if cur.rowcount == 0:
            return False
        if readers:
            conn.executemany(
                "INSERT INTO post_readers (post_id, contact_id, name, direct) VALUES (?, ?, ?, ?)",
                [(post_id, cid, name, int(cid in (direct or ()))) for cid, name in readers],
            )
        if circle_ids:
            conn.executemany(
                "INSERT OR IGNORE INTO post_circles (post_id, circle_id) VALUES (?, ?)",
                [(post_id, c) for c in circle_ids],
            )
        if digest is not None:
            add_version(store, post_id, digest)
    return True


def add_version(store: Store, post_id: str, digest: bytes) -> None:
    """Remember the digest of one version of an entry that this device has held."""
    with store.write() as conn:
        conn.execute("INSERT OR IGNORE INTO post_versions (post_id, digest) VALUES (?, ?)", (post_id, digest))


def has_version(store: Store, post_id: str, digest: bytes) -> bool:
    row = store.fetchone("SELECT 1 FROM post_versions WHERE post_id = ? AND digest = ?", (post_id, digest))
    return row is not None


def timeline(
    store: Store,
    *,
    circle: str | None = None,
    only_mine_private: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Post]:
    where, params = _filter(circle, only_mine_private)
    # Ties of the (clamped) time break by the author's sequence, so the author and every reader see
    # entries written within one second in the order they were written.
    order = " ORDER BY p.created DESC, p.seq DESC, p.id DESC"
    if offset > 0:
        # Find the page's first (created, seq, id) with a narrow query the (created, seq, id, author_id)
        # index answers on its own, then fetch the page from there: OFFSET over the full rows would
        # read (and decrypt) every skipped entry.
        first = store.fetchone(
            f"SELECT p.created, p.seq, p.id FROM posts p {where}{order} LIMIT 1 OFFSET ?", (*params, offset)
        )
        if first is None:
            return []
        where = f"{where} AND" if where else "WHERE"
        where += " (p.created, p.seq, p.id) <= (?, ?, ?)"
        params = (*params, first[0], first[1], first[2])
    sql = f"{_SELECT} {where}{order}"
    if limit is not None:
        sql += " LIMIT ?"
        params = (*params, limit)
    return [_post(store, r, with_readers=False) for r in store.fetchall(sql, params)]


TimelineKey = tuple[str, int, str]  # (created, seq, id): an entry's place in the timeline order
PAGE_SIZE = 500  # entries per statement of timeline_pages


def timeline_key(store: Store, post_id: str) -> TimelineKey:
    """The place of an entry (full id, or a unique prefix of at least 4 characters) in the timeline
    order, whatever the filters. Raises ``NotFound`` (also for an ambiguous prefix)."""
    post = get_post(store, post_id)
    row = store.fetchone("SELECT created, seq, id FROM posts WHERE id = ?", (post.id,))
    if row is None:  # pragma: no cover - get_post found it a moment ago in the same connection
        raise NotFound(f"no entry with id {post_id!r}")
    return (str(row[0]), int(row[1]), str(row[2]))


def timeline_pages(
    store: Store,
    *,
    circle: str | None = None,
    only_mine_private: bool = False,
    before: TimelineKey | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[Post]]:
    """The timeline (newest first, as :func:`timeline`) in pages of at most ``page_size`` entries,
    read one page per statement with a keyset (the last entry's (created, seq, id)), so memory stays
    flat in the store's size and no page re-reads the ones before it. ``before``: start with the
    entries older than that place (see :func:`timeline_key`). Entries written while iterating may or
    may not appear; none appears twice."""
    base, base_params = _filter(circle, only_mine_private)
    select = _SELECT.replace(" FROM posts p", ", p.seq FROM posts p", 1)
    key = before
    while True:
        where, params = base, base_params
        if key is not None:
            where = f"{where} AND" if where else "WHERE"
            where += " (p.created, p.seq, p.id) < (?, ?, ?)"
            params = (*params, *key)
        rows = store.fetchall(
            f"{select} {where} ORDER BY p.created DESC, p.seq DESC, p.id DESC LIMIT ?", (*params, page_size)
        )
        if not rows:
            return
        yield [_post(store, r, with_readers=False) for r in rows]
        if len(rows) < page_size:
            return
        last = rows[-1]
        key = (str(last[4]), int(last[11]), str(last[0]))


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


# -- search: the FTS5 index kept by the triggers of the search migration ---------------------------

MAX_QUERY_TERMS = 16
MAX_TERM = 64


def match_expression(query: str) -> str:
    """The FTS5 MATCH expression of what a person typed: every word must occur (as a word, or as
    the start of one for the last), each quoted so that no input is FTS5 syntax. "" when the query
    has no word. At most ``MAX_QUERY_TERMS`` words of ``MAX_TERM`` characters are used."""
    words = [w[:MAX_TERM] for w in query.split() if any(ch.isalnum() for ch in w)][:MAX_QUERY_TERMS]
    if not words:
        return ""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


SMALL_MATCH = 5_000  # up to this many index hits, rows are fetched by id; beyond, by walking the timeline


def _index_hits(store: Store, expression: str) -> int:
    """How many entries the index matches (one index document per entry; no audience filter)."""
    row = store.fetchone("SELECT count(*) FROM post_search WHERE post_search MATCH ?", (expression,))
    return int(row[0]) if row else 0


def _search_where(
    expression: str, circle: str | None, only_mine_private: bool, walk: bool
) -> tuple[str, tuple[Any, ...]]:
    """The timeline's filter plus "is a hit". ``walk`` (many hits): ``+p.id`` keeps SQLite from
    looking the hits up by id, so it walks the timeline's order index newest first and stops at the
    page's end instead of sorting every hit."""
    where, params = _filter(circle, only_mine_private)
    column = "+p.id" if walk else "p.id"
    match = (
        f"{column} IN (SELECT m.post_id FROM post_search s JOIN post_search_map m ON m.doc = s.rowid "
        "WHERE post_search MATCH ?)"
    )
    where = f"{where} AND {match}" if where else f"WHERE {match}"
    return where, (*params, expression)


def search(
    store: Store,
    query: str,
    *,
    circle: str | None = None,
    only_mine_private: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Post]:
    """Entries whose title, body or visible comments hold every word of ``query``, newest first,
    with the same audience filter as :func:`timeline` (muted and blocked authors left out)."""
    expression = match_expression(query)
    if not expression:
        return []
    hits = _index_hits(store, expression)
    if hits == 0:
        return []
    walk = hits > SMALL_MATCH and limit is not None
    where, params = _search_where(expression, circle, only_mine_private, walk)
    sql = f"{_SELECT} {where} ORDER BY p.created DESC, p.seq DESC, p.id DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = (*params, limit, offset)
    return [_post(store, r, with_readers=False) for r in store.fetchall(sql, params)]


def search_count(
    store: Store, query: str, *, circle: str | None = None, only_mine_private: bool = False
) -> int:
    """How many entries :func:`search` finds. With no audience filter and nobody muted or blocked,
    that is the index's own count (no join at all)."""
    expression = match_expression(query)
    if not expression:
        return 0
    hits = _index_hits(store, expression)
    if hits == 0:
        return 0
    nobody_hidden = store.fetchone("SELECT 1 FROM contacts WHERE muted OR blocked LIMIT 1") is None
    if circle is None and not only_mine_private and nobody_hidden:
        return hits
    where, params = _search_where(expression, circle, only_mine_private, walk=False)
    row = store.fetchone(f"SELECT count(*) FROM posts p {where}", params)
    return int(row[0]) if row else 0


def get_post(store: Store, post_id: str) -> Post:
    """By full id or a unique prefix of at least 4 characters."""
    rows = store.fetchall(f"{_SELECT} WHERE p.id = ?", (post_id,))
    if not rows and len(post_id) >= 4:
        rows = store.fetchall(f"{_SELECT} WHERE p.id LIKE ? ESCAPE '\\' LIMIT 2", (_like_prefix(post_id),))
        if len(rows) > 1:
            raise NotFound(f"entry id {post_id!r} is ambiguous: give more characters")
    if not rows and len(post_id) < 4:
        raise NotFound(f"no entry with id {post_id!r} (give the whole id or at least its first 4 characters)")
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


def current_reader_ids(store: Store, post_id: str) -> list[int]:
    """Contact ids of my entry's readers as sealed, minus those no longer my contacts and those since
    removed from every audience that named them (named directly, or a member of one of its circles
    now). Blocked contacts are left to the caller (they get nothing at all)."""
    rows = store.fetchall(
        "SELECT r.contact_id FROM post_readers r WHERE r.post_id = ? AND r.contact_id IS NOT NULL AND ("
        "r.direct OR EXISTS (SELECT 1 FROM post_circles pc JOIN circle_members m ON m.circle_id = pc.circle_id "
        "WHERE pc.post_id = r.post_id AND m.contact_id = r.contact_id)) ORDER BY r.contact_id",
        (post_id,),
    )
    return [int(r[0]) for r in rows]


def sealed_reader_count(store: Store, post_id: str) -> int:
    """How many readers my entry was sealed to (whoever they are now)."""
    row = store.fetchone("SELECT count(*) FROM post_readers WHERE post_id = ?", (post_id,))
    return int(row[0]) if row else 0


def update_post(
    store: Store, post_id: str, title: str, body: str, edited: str, *, seq: int | None = None
) -> bool:
    """Apply an edit; False if nothing changed.

    ``seq`` (a received edit): the author's chain sequence of the edit; applied only if no edit with
    a higher one is stored, whatever the clocks say. None (mine): applied unless a later one is stored."""
    with store.write() as conn:
        if seq is None:
            cur = conn.execute(
                "UPDATE posts SET title = ?, body = ?, edited = ? WHERE id = ? AND (edited IS NULL OR edited <= ?)",
                (title, body, edited, post_id, edited),
            )
        else:
            cur = conn.execute(
                "UPDATE posts SET title = ?, body = ?, edited = ?, edit_seq = ? "
                "WHERE id = ? AND (edit_seq IS NULL OR edit_seq < ?)",
                (title, body, edited, seq, post_id, seq),
            )
        return bool(cur.rowcount)


def delete_post(store: Store, post_id: str) -> bool:
    """Delete an entry with its readers and comments (cascade). False if it was not stored."""
    with store.write() as conn:
        forget_entries(conn, [post_id])  # every row naming it goes too (store/forget.py)
        return bool(conn.execute("DELETE FROM posts WHERE id = ?", (post_id,)).rowcount)


# -- tombstones and operations waiting for their target ----------------------------------------------


def add_tombstone(store: Store, author_key: bytes, remote_id: str, when: str) -> None:
    """Remember that ``author_key``'s entry ``remote_id`` was deleted: it is never stored again."""
    with store.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO tombstones (author_key, remote_id, deleted) VALUES (?, ?, ?)",
            (author_key, remote_id, when),
        )
        conn.execute(
            "DELETE FROM pending_ops WHERE author_key = ? AND remote_id = ?", (author_key, remote_id)
        )


def is_tombstoned(store: Store, author_key: bytes, remote_id: str) -> bool:
    row = store.fetchone(
        "SELECT 1 FROM tombstones WHERE author_key = ? AND remote_id = ?", (author_key, remote_id)
    )
    return row is not None


def add_pending(
    store: Store,
    author_key: bytes,
    seq: int,
    remote_id: str,
    payload: bytes,
    received: str,
    cap: int,
    forget_before: str,
    dev: bytes = bytes(8),
) -> bool:
    """Keep an operation whose target entry has not arrived. Operations of this author kept before
    ``forget_before`` are dropped first (their entry is not coming). False (nothing kept) when this
    author still has ``cap`` waiting. ``(dev, seq)``: its place in the author device's chain."""
    with store.write() as conn:
        conn.execute(
            "DELETE FROM pending_ops WHERE author_key = ? AND received < ?", (author_key, forget_before)
        )
        row = conn.execute("SELECT count(*) FROM pending_ops WHERE author_key = ?", (author_key,)).fetchone()
        if int(row[0]) >= cap:
            return False
        conn.execute(
            "INSERT OR IGNORE INTO pending_ops (author_key, dev, seq, remote_id, payload, received) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (author_key, dev, seq, remote_id, payload, received),
        )
    return True


def take_pending(store: Store, author_key: bytes, remote_id: str) -> list[tuple[int, bytes]]:
    """Remove and return the operations waiting for this entry, as (seq, payload), in the author's order."""
    with store.write() as conn:
        rows = conn.execute(
            "SELECT seq, payload FROM pending_ops WHERE author_key = ? AND remote_id = ? ORDER BY seq",
            (author_key, remote_id),
        ).fetchall()
        conn.execute(
            "DELETE FROM pending_ops WHERE author_key = ? AND remote_id = ?", (author_key, remote_id)
        )
    return [(int(r[0]), bytes(r[1])) for r in rows]


def has_pending(store: Store, author_key: bytes, remote_id: str) -> bool:
    row = store.fetchone(
        "SELECT 1 FROM pending_ops WHERE author_key = ? AND remote_id = ? LIMIT 1", (author_key, remote_id)
    )
    return row is not None


def pending_count(store: Store) -> int:
    row = store.fetchone("SELECT count(*) FROM pending_ops")
    return int(row[0]) if row else 0


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
        # A received entry that expired leaves a tombstone, so late operations on it are not kept as
        # waiting; unsent envelopes derived from an expired entry leave the outbox with it.
        conn.execute(
            "INSERT OR IGNORE INTO tombstones (author_key, remote_id, deleted) "
            "SELECT k.public_key, p.remote_id, ? FROM posts p JOIN contacts k ON k.id = p.author_id "
            "WHERE p.expires IS NOT NULL AND p.expires <= ?",
            (now_iso, now_iso),
        )
        conn.execute(
            "DELETE FROM outbox WHERE target IN (SELECT id FROM posts WHERE expires IS NOT NULL AND expires <= ?)",
            (now_iso,),
        )
        forget_entries(conn, expired_entry_ids(conn, now_iso))  # every row naming them goes too
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
    row = store.fetchone(f"SELECT p.created, p.seq, p.id FROM posts p {where}", (*params, post_id))
    if row is None:
        return None
    where, params = _filter(circle, only_mine_private)
    where = f"{where} AND" if where else "WHERE"
    newer = store.fetchone(  # the timeline's order: (created, seq, id), newest first
        f"SELECT count(*) FROM posts p {where} (p.created, p.seq, p.id) > (?, ?, ?)",
        (*params, row[0], row[1], row[2]),
    )
    return int(newer[0]) if newer else 0
