"""Reading and writing the objects linked devices keep in step (docs/design-v2.md §8.3), by their ids
across devices: contacts by public key, circles by ``uid``, members by (circle uid, contact key), drafts
by id, read state by (author key, remote id), my entries by remote id. All SQL of device sync lives here;
``tui_sns.core.devices`` decides what wins (LWW by Lamport time) and validates every field first.
"""

from __future__ import annotations

import json
from typing import Any

from tui_sns.store.database import Connection, Store
from tui_sns.store.epochs import SEALED_UNKNOWN, sealed_map

# -- names (contacts and circles share one namespace) ------------------------------------------------


def name_owner(conn: Connection, name: str) -> tuple[str, bytes] | None:
    """Who holds ``name``: ("contact", public key), ("circle", uid), or None."""
    row = conn.execute("SELECT public_key FROM contacts WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return "contact", bytes(row[0])
    row = conn.execute("SELECT uid FROM circles WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return "circle", bytes(row[0])
    return None


def names_from(conn: Connection, prefix: str) -> set[str]:
    """Every contact and circle name that begins with ``prefix`` (one indexed range read per table)."""
    out: set[str] = set()
    for table in ("contacts", "circles"):
        rows = conn.execute(
            f"SELECT name FROM {table} WHERE name >= ? AND name <= ?", (prefix, prefix + "\U0010ffff")
        )
        out.update(str(r[0]) for r in rows if str(r[0]).startswith(prefix))
    return out


# -- contacts ------------------------------------------------------------------------------------------

CONTACT_COLUMNS = ("name", "card_name", "relays", "verified", "blocked", "muted")


def contact_state(conn: Connection, key: bytes) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT name, card_name, relays, verified, blocked, muted, added FROM contacts WHERE public_key = ?",
        (key,),
    ).fetchone()
    if row is None:
        return None
    return {
        "name": str(row[0]),
        "card_name": str(row[1]),
        "relays": list(json.loads(row[2])),
        "verified": bool(row[3]),
        "blocked": bool(row[4]),
        "muted": bool(row[5]),
        "added": str(row[6]),
    }


def all_contact_keys(store: Store) -> list[bytes]:
    return [bytes(r[0]) for r in store.fetchall("SELECT public_key FROM contacts ORDER BY public_key")]


def insert_contact(conn: Connection, key: bytes, shared: bytes, fields: dict[str, Any], added: str) -> None:
    conn.execute(
        "INSERT INTO contacts (name, card_name, public_key, shared_key, relays, verified, blocked, muted, added) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            fields["name"],
            fields["card_name"],
            key,
            shared,
            json.dumps(list(fields.get("relays", []))),
            int(bool(fields.get("verified", False))),
            int(bool(fields.get("blocked", False))),
            int(bool(fields.get("muted", False))),
            added,
        ),
    )


def update_contact(conn: Connection, key: bytes, fields: dict[str, Any]) -> None:
    """Set the given columns (of :data:`CONTACT_COLUMNS`) of the contact with ``key``."""
    for column in CONTACT_COLUMNS:
        if column in fields:
            value = fields[column]
            if column == "relays":
                value = json.dumps(list(value))
            elif column in ("verified", "blocked", "muted"):
                value = int(bool(value))
            conn.execute(f"UPDATE contacts SET {column} = ? WHERE public_key = ?", (value, key))
    if fields.get("blocked"):
        conn.execute(
            "DELETE FROM circle_members WHERE contact_id = (SELECT id FROM contacts WHERE public_key = ?)",
            (key,),
        )


def delete_contact(conn: Connection, key: bytes) -> None:
    conn.execute("DELETE FROM contacts WHERE public_key = ?", (key,))


# -- circles and members -------------------------------------------------------------------------------


def circle_uid(store: Store, name: str) -> bytes | None:
    row = store.fetchone("SELECT uid FROM circles WHERE name = ?", (name,))
    return None if row is None else bytes(row[0])


def circle_state(conn: Connection, uid: bytes) -> dict[str, Any] | None:
    row = conn.execute("SELECT name, created FROM circles WHERE uid = ?", (uid,)).fetchone()
    return None if row is None else {"name": str(row[0]), "created": str(row[1])}


def all_circle_uids(store: Store) -> list[bytes]:
    return [bytes(r[0]) for r in store.fetchall("SELECT uid FROM circles ORDER BY uid")]


def insert_circle(conn: Connection, uid: bytes, name: str, created: str) -> None:
    conn.execute("INSERT INTO circles (name, created, uid) VALUES (?, ?, ?)", (name, created, uid))


def rename_circle(conn: Connection, uid: bytes, name: str) -> None:
    conn.execute("UPDATE circles SET name = ? WHERE uid = ?", (name, uid))


def rename_contact(conn: Connection, key: bytes, name: str) -> None:
    conn.execute("UPDATE contacts SET name = ? WHERE public_key = ?", (name, key))


def delete_circle(conn: Connection, uid: bytes) -> None:
    conn.execute("DELETE FROM circles WHERE uid = ?", (uid,))


def set_member(conn: Connection, uid: bytes, key: bytes, member: bool) -> bool:
    """Put the contact ``key`` in (or out of) circle ``uid``; False when either does not exist here."""
    circle = conn.execute("SELECT id FROM circles WHERE uid = ?", (uid,)).fetchone()
    contact = conn.execute("SELECT id, blocked FROM contacts WHERE public_key = ?", (key,)).fetchone()
    if circle is None or contact is None:
        return False
    if member and not contact[1]:
        conn.execute(
            "INSERT OR IGNORE INTO circle_members (circle_id, contact_id) VALUES (?, ?)",
            (circle[0], contact[0]),
        )
    elif not member:
        conn.execute(
            "DELETE FROM circle_members WHERE circle_id = ? AND contact_id = ?", (circle[0], contact[0])
        )
    return True


def all_members(store: Store) -> list[tuple[bytes, bytes]]:
    """Every (circle uid, contact key) membership."""
    rows = store.fetchall(
        "SELECT c.uid, k.public_key FROM circle_members m JOIN circles c ON c.id = m.circle_id "
        "JOIN contacts k ON k.id = m.contact_id ORDER BY c.uid, k.public_key"
    )
    return [(bytes(r[0]), bytes(r[1])) for r in rows]


def member_keys(store: Store, uid: bytes) -> list[bytes]:
    rows = store.fetchall(
        "SELECT k.public_key FROM circle_members m JOIN circles c ON c.id = m.circle_id "
        "JOIN contacts k ON k.id = m.contact_id WHERE c.uid = ? ORDER BY k.public_key",
        (uid,),
    )
    return [bytes(r[0]) for r in rows]


# -- drafts --------------------------------------------------------------------------------------------


def draft_state(conn: Connection, draft_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT title, body, audience FROM drafts WHERE id = ?", (draft_id,)).fetchone()
    if row is None:
        return None
    return {"title": str(row[0]), "body": str(row[1]), "audience": list(json.loads(row[2]))}


def all_draft_ids(store: Store) -> list[str]:
    return [str(r[0]) for r in store.fetchall("SELECT id FROM drafts ORDER BY id")]


def put_draft(
    conn: Connection,
    draft_id: str,
    title: str,
    body: str,
    audience: list[str],
    updated: str,
    device: bytes | None,
) -> None:
    conn.execute(
        "INSERT INTO drafts (id, title, body, audience, updated, device) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body, "
        "audience = excluded.audience, updated = excluded.updated, device = excluded.device",
        (draft_id, title, body, json.dumps(audience), updated, device),
    )


def delete_draft(conn: Connection, draft_id: str) -> None:
    conn.execute("DELETE FROM drafts WHERE id = ?", (draft_id,))


# -- read state ----------------------------------------------------------------------------------------


def set_read(conn: Connection, author_key: bytes, remote_id: str, read: bool) -> bool:
    """Mark the received entry (author key, remote id) read or unread; False when it is not stored."""
    row = conn.execute(
        "SELECT p.id FROM posts p JOIN contacts k ON k.id = p.author_id WHERE k.public_key = ? AND p.remote_id = ?",
        (author_key, remote_id),
    ).fetchone()
    if row is None:
        return False
    conn.execute("UPDATE posts SET unread = ? WHERE id = ?", (int(not read), row[0]))
    return True


def read_keys(store: Store, post_ids: list[str]) -> list[tuple[bytes, str]]:
    """(author key, remote id) of the given received entries (mine are skipped)."""
    return _author_keys(store, post_ids, "")


def unread_keys(store: Store, post_ids: list[str]) -> list[tuple[bytes, str]]:
    """(author key, remote id) of those of the given entries that are received and unread."""
    return _author_keys(store, post_ids, "p.unread AND ")


def _author_keys(store: Store, post_ids: list[str], condition: str) -> list[tuple[bytes, str]]:
    out: list[tuple[bytes, str]] = []
    for start in range(0, len(post_ids), 500):
        chunk = post_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.fetchall(
            f"SELECT k.public_key, p.remote_id FROM posts p JOIN contacts k ON k.id = p.author_id "
            f"WHERE {condition}p.id IN ({marks}) ORDER BY p.id",
            tuple(chunk),
        )
        out.extend((bytes(r[0]), str(r[1])) for r in rows)
    return out


def all_read_states(store: Store) -> list[tuple[bytes, str, bool]]:
    rows = store.fetchall(
        "SELECT k.public_key, p.remote_id, p.unread FROM posts p JOIN contacts k ON k.id = p.author_id "
        "ORDER BY k.public_key, p.remote_id"
    )
    return [(bytes(r[0]), str(r[1]), not r[2]) for r in rows]


# -- my entries ----------------------------------------------------------------------------------------


def my_entry_state(conn: Connection, remote_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, title, body, created, audience, thread_key, expires, edited FROM posts "
        "WHERE author_id IS NULL AND remote_id = ?",
        (remote_id,),
    ).fetchone()
    if row is None:
        return None
    readers = conn.execute(
        "SELECT k.public_key FROM post_readers r JOIN contacts k ON k.id = r.contact_id "
        "WHERE r.post_id = ? ORDER BY k.public_key",
        (row[0],),
    ).fetchall()
    return {
        "post_id": str(row[0]),
        "title": str(row[1]),
        "body": str(row[2]),
        "created": str(row[3]),
        "audience": json.loads(row[4]) if row[4] else {"circles": [], "contacts": []},
        "thread": None if row[5] is None else bytes(row[5]).hex(),
        "expires": None if row[6] is None else str(row[6]),
        "edited": None if row[7] is None else str(row[7]),
        "readers": [bytes(r[0]).hex() for r in readers],
        "sealed": sealed_map(conn, str(row[0])),
    }


def all_my_entry_ids(store: Store) -> list[str]:
    return [
        str(r[0])
        for r in store.fetchall("SELECT remote_id FROM posts WHERE author_id IS NULL ORDER BY remote_id")
    ]


def my_tombstoned(conn: Connection, my_key: bytes, remote_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM tombstones WHERE author_key = ? AND remote_id = ?", (my_key, remote_id)
    ).fetchone()
    return row is not None


def insert_my_entry(conn: Connection, remote_id: str, fields: dict[str, Any], lamport: int) -> None:
    """Store my entry written on another device (local id = its remote id, as on the writing device).
    How each reader got it is unknown here (``SEALED_UNKNOWN``) until the op's ``sealed`` map is merged
    (``store.epochs.merge_sealed``)."""
    thread = fields.get("thread")
    conn.execute(
        "INSERT OR IGNORE INTO posts (id, remote_id, author_id, title, body, created, received, audience, "
        "thread_key, expires, seq, lamport) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, "
        "(SELECT coalesce(max(seq), 0) + 1 FROM posts WHERE author_id IS NULL), ?)",
        (
            remote_id,
            remote_id,
            fields["title"],
            fields["body"],
            fields["created"],
            fields["created"],
            json.dumps(fields["audience"]),
            None if thread is None else bytes.fromhex(thread),
            fields.get("expires"),
            lamport,
        ),
    )
    keys = [bytes.fromhex(k) for k in fields.get("readers", [])]
    audience = fields.get("audience") or {}
    # how the readers were chosen, so an edit, deletion or comment forward sent from this device
    # reaches the entry's current readers (store/posts.current_reader_ids): the audience's circles
    # by name, its contacts named directly; a reader neither names (a circle not here yet) is kept
    for name in audience.get("circles", []):
        conn.execute(
            "INSERT OR IGNORE INTO post_circles (post_id, circle_id) SELECT ?, id FROM circles WHERE name = ?",
            (remote_id, name),
        )
    named = set(audience.get("contacts", []))
    for key in keys:
        conn.execute(
            "INSERT OR IGNORE INTO post_readers (post_id, contact_id, name, sealed_version, direct) "
            f"SELECT ?, k.id, k.name, {SEALED_UNKNOWN}, k.name IN (SELECT value FROM json_each(?)) OR NOT EXISTS ("
            "  SELECT 1 FROM post_circles pc JOIN circle_members m ON m.circle_id = pc.circle_id "
            "  WHERE pc.post_id = ? AND m.contact_id = k.id) FROM contacts k WHERE k.public_key = ?",
            (remote_id, json.dumps(sorted(named)), remote_id, key),
        )


def update_my_entry(conn: Connection, remote_id: str, fields: dict[str, Any], edited: str | None) -> None:
    for column in ("title", "body"):
        if column in fields:
            conn.execute(
                f"UPDATE posts SET {column} = ?, edited = coalesce(?, edited) WHERE author_id IS NULL AND remote_id = ?",
                (fields[column], edited, remote_id),
            )


def delete_my_entry(conn: Connection, my_key: bytes, remote_id: str, when: str) -> None:
    """Delete my entry (comments cascade) and leave a tombstone under my own key: a late ``entry`` op
    cannot bring it back."""
    from tui_sns.store.forget import forget_entries

    conn.execute(
        "INSERT OR IGNORE INTO tombstones (author_key, remote_id, deleted) VALUES (?, ?, ?)",
        (my_key, remote_id, when),
    )
    ids = [
        str(r[0])
        for r in conn.execute("SELECT id FROM posts WHERE author_id IS NULL AND remote_id = ?", (remote_id,))
    ]
    forget_entries(conn, ids)
    conn.execute("DELETE FROM posts WHERE author_id IS NULL AND remote_id = ?", (remote_id,))


def my_remote_id(store: Store, post_id: str) -> str | None:
    row = store.fetchone("SELECT remote_id FROM posts WHERE id = ? AND author_id IS NULL", (post_id,))
    return None if row is None else str(row[0])


# -- what a new device gets at linking that is not an LWW object of mine (design-v2 §9.4) --------------


def all_received_entries(store: Store) -> list[dict[str, Any]]:
    """Every entry I received (its author a contact), oldest first, as a ``received`` op's fields plus
    ``author`` (key bytes) and ``id`` (remote id)."""
    rows = store.fetchall(
        "SELECT k.public_key, p.remote_id, p.title, p.body, p.created, p.received, p.thread_key, p.expires, "
        "p.edited, p.envelope_version FROM posts p JOIN contacts k ON k.id = p.author_id "
        "ORDER BY p.received, p.id"
    )
    return [
        {
            "author": bytes(r[0]),
            "id": str(r[1]),
            "title": str(r[2]),
            "body": str(r[3]),
            "created": str(r[4]),
            "received": str(r[5]),
            "thread": None if r[6] is None else bytes(r[6]).hex(),
            "expires": None if r[7] is None else str(r[7]),
            "edited": None if r[8] is None else str(r[8]),
            "version": 2 if int(r[9]) == 2 else 1,
        }
        for r in rows
    ]


def all_comments(store: Store) -> list[dict[str, Any]]:
    """Every comment held (on my entries and on received ones), as ``comment`` op fields: ``author``
    (the entry's author key; mine for my entries), ``post`` (its remote id), ``id``, ``body``,
    ``created``, ``by`` (the commenter's key, None: me), ``label``, ``digest`` (16 bytes or None),
    ``hidden``. Comments of entries whose author is no longer a contact are left out."""
    rows = store.fetchall(
        "SELECT k.public_key, p.remote_id, c.id, c.body, c.created, c.author_key, c.author_label, "
        "c.entry_digest, c.hidden FROM comments c JOIN posts p ON p.id = c.post_id "
        "LEFT JOIN contacts k ON k.id = p.author_id "
        "WHERE p.author_id IS NULL OR k.public_key IS NOT NULL ORDER BY c.created, c.post_id, c.id"
    )
    return [
        {
            "author": None if r[0] is None else bytes(r[0]),
            "post": str(r[1]),
            "id": str(r[2]),
            "body": str(r[3]),
            "created": str(r[4]),
            "by": None if r[5] is None else bytes(r[5]),
            "label": str(r[6]),
            "digest": None if r[7] is None else bytes(r[7]),
            "hidden": bool(r[8]),
        }
        for r in rows
    ]
