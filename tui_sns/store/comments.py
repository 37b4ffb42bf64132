"""Comments under entries: mine, and the ones forwarded to me by an entry's author."""

from __future__ import annotations

from typing import Any

from tui_sns.store.database import Store
from tui_sns.store.records import CommentRecord


def _comment(row: tuple[Any, ...]) -> CommentRecord:
    return CommentRecord(
        post_id=str(row[0]),
        id=str(row[1]),
        author_key=None if row[2] is None else bytes(row[2]),
        author_label=str(row[3]),
        body=str(row[4]),
        created=str(row[5]),
        contact_name=None if row[6] is None else str(row[6]),
        post_author=None if row[7] is None else str(row[7]),
        entry_digest=None if row[8] is None else bytes(row[8]),
    )


_SELECT = (
    "SELECT c.post_id, c.id, c.author_key, c.author_label, c.body, c.created, k.name, a.name, c.entry_digest "
    "FROM comments c JOIN posts p ON p.id = c.post_id "
    "LEFT JOIN contacts k ON k.public_key = c.author_key "
    "LEFT JOIN contacts a ON a.id = p.author_id"
)


def insert_comment(
    store: Store,
    *,
    post_id: str,
    comment_id: str,
    author_key: bytes | None,
    author_label: str,
    body: str,
    created: str,
    entry_digest: bytes | None = None,
    seq: int | None = None,
) -> bool:
    """False (and no change) if this entry already has a comment with this id (shown or hidden).

    ``entry_digest``: the version of the entry the commenter saw (messages.entry_digest). ``seq``
    breaks ties of ``created``: the chain sequence of the entry author's forward; None (stored here
    first): one more than the entry's highest."""
    with store.write() as conn:
        if seq is None:
            row = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM comments WHERE post_id = ?", (post_id,))
            seq = int(row.fetchone()[0])
        cur = conn.execute(
            "INSERT OR IGNORE INTO comments (post_id, id, author_key, author_label, body, created, entry_digest, "
            "seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (post_id, comment_id, author_key, author_label, body, created, entry_digest, seq),
        )
        return bool(cur.rowcount)


def list_comments(store: Store, post_id: str) -> list[CommentRecord]:
    """The entry's visible comments, oldest first; ties by the entry author's order of forwarding, then
    arrival (hidden ones are never listed)."""
    rows = store.fetchall(
        f"{_SELECT} WHERE c.post_id = ? AND NOT c.hidden ORDER BY c.created, c.seq, c.rowid", (post_id,)
    )
    return [_comment(r) for r in rows]


def get_comment(store: Store, post_id: str, comment_id: str) -> CommentRecord | None:
    row = store.fetchone(
        f"{_SELECT} WHERE c.post_id = ? AND c.id = ? AND NOT c.hidden", (post_id, comment_id)
    )
    return None if row is None else _comment(row)


def find_my_comment(store: Store, comment_id: str) -> CommentRecord | None:
    """One of my own visible comments, by its id (unique among mine)."""
    row = store.fetchone(
        f"{_SELECT} WHERE c.id = ? AND c.author_key IS NULL AND NOT c.hidden LIMIT 1", (comment_id,)
    )
    return None if row is None else _comment(row)


def hide_comment(
    store: Store,
    post_id: str,
    comment_id: str,
    *,
    placeholder: bool = False,
    author_key: bytes | None = None,
) -> bool:
    """Hide a comment and erase its text. False if there was no visible comment with this id.

    ``placeholder``: when no comment with this id is stored yet, store it hidden (empty, by
    ``author_key`` if given), so the comment arriving later is never shown; True then too."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE comments SET hidden = 1, body = '' WHERE post_id = ? AND id = ? AND NOT hidden",
            (post_id, comment_id),
        )
        if cur.rowcount or not placeholder:
            return bool(cur.rowcount)
        cur = conn.execute(
            "INSERT OR IGNORE INTO comments (post_id, id, author_key, author_label, body, created, hidden) "
            "VALUES (?, ?, ?, '', '', '', 1)",
            (post_id, comment_id, author_key if author_key is not None else bytes(32)),
        )
        return bool(cur.rowcount)
