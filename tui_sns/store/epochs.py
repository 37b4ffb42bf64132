"""Epoch keys and what I know of my contacts' prekeys (docs/design-v2.md §2, §5, §6, §15.1).

All SQL of protocol v2's forward secrecy lives here; the rules (when to rotate, what to accept) are
the core's (``tui_sns.core.epochs``).

* ``epoch_seed``: one row per generation, holding **only the current seed** ``seed[g, i]``; advancing
  overwrites it in place (the previous seed is gone: forward secrecy, §5.2 step 1).
* ``epoch_keys``: per (kind, gen, epoch) the secret (prekey scalar or self key, 32 bytes), the public
  prekey, the key id and the schedule ``start < end ≤ delete_at`` (unix seconds). Erasing sets
  ``secret = NULL`` and ``deleted_at``; the row stays (the id is remembered for §5.4 reporting).
* ``peer_prekeys``: my contacts' announced prekeys, at most :data:`MAX_PEER_PREKEYS` per contact key.
* ``peer_caps``: per contact key, whether it is v2-capable, a prekey conflict (text shown to me), and
  what I owe it (``announce_owed``; the newest epoch I announced to it).
* ``key_deleted_seen``: envelopes that named a key of mine already erased (§5.4).

Erasure is secure deletion (§15.3): every connection runs ``PRAGMA secure_delete = ON`` (freed cells
are zeroed), and a transaction that erased key material ends with ``PRAGMA wal_checkpoint(TRUNCATE)``
(:meth:`tui_sns.store.database.Store.checkpoint_after_commit`) so the write-ahead log keeps no frame
holding it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from tui_sns.crypto.epochs import EpochKeys, reset_commitment
from tui_sns.store.database import Connection, Store

MAX_PEER_PREKEYS = 6
DEFAULT_EPOCH_LENGTH = 7 * 86400
DEFAULT_EPOCH_GRACE = 7 * 86400


@dataclass(frozen=True)
class EpochKeyRow:
    """One row of ``epoch_keys``. ``secret`` is None once erased (``deleted_at`` then set)."""

    kind: str  # "prekey" or "self"
    kid: int
    gen: int
    epoch: int
    secret: bytes | None = field(repr=False)
    public_key: bytes | None
    start: int
    end: int
    delete_at: int
    deleted_at: int | None
    announce_at: int | None


@dataclass(frozen=True)
class PeerPrekey:
    """A prekey a contact announced (or carried on their card)."""

    peer_key: bytes
    gen: int
    kid: int
    public_key: bytes
    start: int
    end: int
    delete_at: int
    received: str


@dataclass(frozen=True)
class PeerCaps:
    peer_key: bytes
    v2: bool = False
    prekey_conflict: str | None = None
    announce_owed: bool = False
    announced: tuple[int, int] | None = None  # (gen, epoch) of the newest prekey announced to them


def _meta_int(conn: Connection, key: str, default: int) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    try:
        return int(row[0]) if row is not None else default
    except (TypeError, ValueError):
        return default


def schedule_settings(conn: Connection) -> tuple[int, int]:
    """``(epoch_length, epoch_grace)`` in seconds, from ``meta`` (defaults 7 days each)."""
    return (
        _meta_int(conn, "epoch_length", DEFAULT_EPOCH_LENGTH),
        _meta_int(conn, "epoch_grace", DEFAULT_EPOCH_GRACE),
    )


def insert_epoch_keys(conn: Connection, keys: EpochKeys, start: int, end: int, delete_at: int) -> None:
    """Store one epoch's prekey and self key (secrets included) with its schedule."""
    conn.executemany(
        "INSERT OR IGNORE INTO epoch_keys (kind, kid, gen, epoch, secret, public_key, start, end, delete_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                "prekey",
                keys.prekey_id,
                keys.generation,
                keys.epoch,
                keys.prekey_secret,
                keys.prekey_public,
                start,
                end,
                delete_at,
            ),
            (
                "self",
                keys.self_key_id,
                keys.generation,
                keys.epoch,
                keys.self_key,
                None,
                start,
                end,
                delete_at,
            ),
        ],
    )


def add_epoch_keys(store: Store, keys: EpochKeys, start: int, end: int, delete_at: int) -> None:
    """:func:`insert_epoch_keys` in a write transaction of ``store`` (joining the caller's)."""
    with store.write() as conn:
        insert_epoch_keys(conn, keys, start, end, delete_at)


def create_generation(conn: Connection, gen: int, seed: bytes, start: int) -> EpochKeys:
    """Generation ``gen`` from a fresh 32-byte ``seed``: its seed row and epoch 0 starting at ``start``
    (unix seconds), with the epoch length and grace in force (meta settings). Runs on ``conn`` (inside
    the caller's transaction: a migration's data step, or a reset). Returns epoch 0's keys."""
    length, grace = schedule_settings(conn)
    conn.execute(
        "INSERT INTO epoch_seed (gen, epoch, seed, commitment) VALUES (?, 0, ?, ?)",
        (gen, seed, reset_commitment(seed)),
    )
    keys = EpochKeys.derive(seed, gen, 0)
    insert_epoch_keys(conn, keys, start, start + length, start + length + grace)
    return keys


def start_generation(store: Store, gen: int, seed: bytes, start: int) -> EpochKeys:
    """:func:`create_generation` in a write transaction of ``store`` (joining the caller's)."""
    with store.write() as conn:
        return create_generation(conn, gen, seed, start)


def current_seed(store: Store) -> tuple[int, int, bytes] | None:
    """``(gen, epoch, seed)`` of the highest generation whose seed is held, or None (no v2 state, e.g.
    a store restored from a backup without epoch secrets)."""
    row = store.fetchone(
        "SELECT gen, epoch, seed FROM epoch_seed WHERE seed IS NOT NULL ORDER BY gen DESC LIMIT 1"
    )
    return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))


def advance_seed(store: Store, gen: int, epoch: int, seed: bytes) -> None:
    """Overwrite generation ``gen``'s seed with ``seed[gen, epoch]`` (the previous one is erased)."""
    with store.write() as conn:
        conn.execute("UPDATE epoch_seed SET epoch = ?, seed = ? WHERE gen = ?", (epoch, seed, gen))
        store.checkpoint_after_commit()


def _key_row(r: tuple[Any, ...]) -> EpochKeyRow:
    return EpochKeyRow(
        kind=str(r[0]),
        kid=int(r[1]),
        gen=int(r[2]),
        epoch=int(r[3]),
        secret=None if r[4] is None else bytes(r[4]),
        public_key=None if r[5] is None else bytes(r[5]),
        start=int(r[6]),
        end=int(r[7]),
        delete_at=int(r[8]),
        deleted_at=None if r[9] is None else int(r[9]),
        announce_at=None if r[10] is None else int(r[10]),
    )


_KEY_COLUMNS = "kind, kid, gen, epoch, secret, public_key, start, end, delete_at, deleted_at, announce_at"


def epoch_key_rows(store: Store) -> list[EpochKeyRow]:
    """Every ``epoch_keys`` row (live and erased), oldest epoch first."""
    rows = store.fetchall(f"SELECT {_KEY_COLUMNS} FROM epoch_keys ORDER BY gen, epoch, kind")
    return [_key_row(r) for r in rows]


def set_epoch_end(store: Store, gen: int, epoch: int, end: int, delete_at: int) -> None:
    """Change an epoch's end and deletion time (both kinds); used when the schedule is cut short."""
    with store.write() as conn:
        conn.execute(
            "UPDATE epoch_keys SET end = ?, delete_at = ? WHERE gen = ? AND epoch = ?",
            (end, delete_at, gen, epoch),
        )


def set_announce_at(store: Store, gen: int, epoch: int, when: int | None) -> None:
    """Record the moment (unix seconds) chosen to pre-announce the epoch after ``epoch`` (§5.2 step 2)."""
    with store.write() as conn:
        conn.execute(
            "UPDATE epoch_keys SET announce_at = ? WHERE kind = 'prekey' AND gen = ? AND epoch = ?",
            (when, gen, epoch),
        )


def erase_epoch(store: Store, gen: int, epoch: int, deleted_at: int) -> None:
    """Erase an epoch's prekey secret and self key (``secret = NULL``, ``deleted_at`` set), then — after
    the commit — checkpoint the write-ahead log so no frame keeps the old page (§15.3)."""
    with store.write() as conn:
        conn.execute(
            "UPDATE epoch_keys SET secret = NULL, deleted_at = ? WHERE gen = ? AND epoch = ? AND secret IS NOT NULL",
            (deleted_at, gen, epoch),
        )
        store.checkpoint_after_commit()


def forget_erased(store: Store, before: int) -> None:
    """Drop rows of keys erased before ``before`` (unix seconds; kept a year for §5.4 reports)."""
    with store.write() as conn:
        conn.execute("DELETE FROM epoch_keys WHERE secret IS NULL AND deleted_at < ?", (before,))
        conn.execute("DELETE FROM key_deleted_seen WHERE deleted_at < ?", (before,))


# -- contacts' prekeys and capabilities ------------------------------------------------------------


def _peer_row(r: tuple[Any, ...]) -> PeerPrekey:
    return PeerPrekey(
        peer_key=bytes(r[0]),
        gen=int(r[1]),
        kid=int(r[2]),
        public_key=bytes(r[3]),
        start=int(r[4]),
        end=int(r[5]),
        delete_at=int(r[6]),
        received=str(r[7]),
    )


def peer_prekeys(store: Store, peer_key: bytes) -> list[PeerPrekey]:
    """A contact's stored prekeys, newest generation first, then latest start first."""
    rows = store.fetchall(
        "SELECT peer_key, gen, kid, public_key, start, end, delete_at, received FROM peer_prekeys "
        "WHERE peer_key = ? ORDER BY gen DESC, start DESC",
        (peer_key,),
    )
    return [_peer_row(r) for r in rows]


def all_peer_prekeys(store: Store) -> dict[bytes, list[PeerPrekey]]:
    """Every contact's stored prekeys by contact key (as :func:`peer_prekeys`, all at once)."""
    out: dict[bytes, list[PeerPrekey]] = {}
    for r in store.fetchall(
        "SELECT peer_key, gen, kid, public_key, start, end, delete_at, received FROM peer_prekeys "
        "ORDER BY peer_key, gen DESC, start DESC"
    ):
        row = _peer_row(r)
        out.setdefault(row.peer_key, []).append(row)
    return out


def add_peer_prekey(store: Store, prekey: PeerPrekey) -> bool:
    """Store a contact's prekey (idempotent); keep at most :data:`MAX_PEER_PREKEYS` per contact key,
    dropping the oldest by ``start``. Returns False when it was already stored."""
    with store.write() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO peer_prekeys (peer_key, gen, kid, public_key, start, end, delete_at, received) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                prekey.peer_key,
                prekey.gen,
                prekey.kid,
                prekey.public_key,
                prekey.start,
                prekey.end,
                prekey.delete_at,
                prekey.received,
            ),
        )
        conn.execute(
            "DELETE FROM peer_prekeys WHERE peer_key = ? AND (gen, kid) NOT IN ("
            "SELECT gen, kid FROM peer_prekeys WHERE peer_key = ? ORDER BY start DESC, gen DESC LIMIT ?)",
            (prekey.peer_key, prekey.peer_key, MAX_PEER_PREKEYS),
        )
        return bool(cur.rowcount)


def drop_peer_prekeys(store: Store, peer_key: bytes, kids: list[int]) -> None:
    """Forget a contact's prekeys with these key ids (an announcement said they were superseded)."""
    with store.write() as conn:
        conn.executemany(
            "DELETE FROM peer_prekeys WHERE peer_key = ? AND kid = ?", [(peer_key, k) for k in kids]
        )


def drop_expired_peer_prekeys(store: Store, now: int) -> None:
    """Forget contacts' prekeys whose deletion time has passed (they cannot be used any more)."""
    with store.write() as conn:
        conn.execute("DELETE FROM peer_prekeys WHERE delete_at <= ?", (now,))


def has_expired_peer_prekeys(store: Store, now: int) -> bool:
    return store.fetchone("SELECT 1 FROM peer_prekeys WHERE delete_at <= ? LIMIT 1", (now,)) is not None


def peer_caps(store: Store, peer_key: bytes) -> PeerCaps:
    row = store.fetchone(
        "SELECT peer_key, v2, prekey_conflict, announce_owed, announced_gen, announced_epoch FROM peer_caps "
        "WHERE peer_key = ?",
        (peer_key,),
    )
    return PeerCaps(peer_key) if row is None else _caps_row(row)


def _caps_row(r: tuple[Any, ...]) -> PeerCaps:
    announced = None if r[4] is None or r[5] is None else (int(r[4]), int(r[5]))
    return PeerCaps(bytes(r[0]), bool(r[1]), None if r[2] is None else str(r[2]), bool(r[3]), announced)


def all_peer_caps(store: Store) -> dict[bytes, PeerCaps]:
    rows = store.fetchall(
        "SELECT peer_key, v2, prekey_conflict, announce_owed, announced_gen, announced_epoch FROM peer_caps"
    )
    return {bytes(r[0]): _caps_row(r) for r in rows}


def _ensure_caps(conn: Connection, peer_key: bytes) -> None:
    conn.execute("INSERT OR IGNORE INTO peer_caps (peer_key) VALUES (?)", (peer_key,))


def mark_v2(store: Store, peer_key: bytes) -> None:
    """``peer_key`` is v2-capable (its card carried a prekey, or it sent me v2 or an announcement)."""
    with store.write() as conn:
        _ensure_caps(conn, peer_key)
        conn.execute("UPDATE peer_caps SET v2 = 1 WHERE peer_key = ?", (peer_key,))


def set_conflict(store: Store, peer_key: bytes, text: str | None) -> None:
    with store.write() as conn:
        _ensure_caps(conn, peer_key)
        conn.execute("UPDATE peer_caps SET prekey_conflict = ? WHERE peer_key = ?", (text, peer_key))


def owe_announcement(store: Store, peer_key: bytes) -> None:
    """An announcement is owed to ``peer_key`` (a new contact; the v2 migration)."""
    with store.write() as conn:
        _ensure_caps(conn, peer_key)
        conn.execute("UPDATE peer_caps SET announce_owed = 1 WHERE peer_key = ?", (peer_key,))


def record_announced(store: Store, peer_key: bytes, gen: int, epoch: int) -> None:
    """An announcement naming epochs up to ``(gen, epoch)`` was queued to ``peer_key``."""
    with store.write() as conn:
        _ensure_caps(conn, peer_key)
        conn.execute(
            "UPDATE peer_caps SET announce_owed = 0, announced_gen = ?, announced_epoch = ? WHERE peer_key = ?",
            (gen, epoch, peer_key),
        )


def forget_peer(store: Store, peer_key: bytes) -> None:
    """Drop what I know of a contact's prekeys and capabilities (the contact was removed)."""
    with store.write() as conn:
        conn.execute("DELETE FROM peer_prekeys WHERE peer_key = ?", (peer_key,))
        conn.execute("DELETE FROM peer_caps WHERE peer_key = ?", (peer_key,))
        conn.execute("DELETE FROM held_sends WHERE peer_key = ?", (peer_key,))  # §10.4


# -- envelopes located under erased keys (§5.4) -------------------------------------------------------


def record_key_deleted(
    store: Store, envelope_id: str, kind: str, kid: int, deleted_at: int, seen: str
) -> bool:
    """Remember an envelope that named a key of mine already erased; False if it was already known."""
    with store.write() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO key_deleted_seen (envelope_id, kind, kid, deleted_at, seen) VALUES (?, ?, ?, ?, ?)",
            (envelope_id, kind, kid, deleted_at, seen),
        )
        return bool(cur.rowcount)


def key_deleted_ids(store: Store) -> set[str]:
    return {str(r[0]) for r in store.fetchall("SELECT envelope_id FROM key_deleted_seen")}


# -- how my entries were sealed (§7) -----------------------------------------------------------------

# ``post_readers.sealed_version`` of my entries: 0 held (§10.4), 1 v1 fallback (or handed to my v1
# sender), 2 v2; SEALED_UNKNOWN for a reader of an entry another device of mine sealed, until an
# ``entry`` op's ``sealed`` map says how (an entry synced before that map existed stays unknown).
SEALED_UNKNOWN = -1


def set_sealed_versions(store: Store, post_id: str, versions: dict[int, int], fallback_readers: int) -> None:
    """Record, for my entry ``post_id``, the envelope version each reader (contact id) got and how many
    got the v1 fallback; ``posts.envelope_version`` becomes 2 when any reader got v2."""
    with store.write() as conn:
        conn.executemany(
            "UPDATE post_readers SET sealed_version = ? WHERE post_id = ? AND contact_id = ?",
            [(v, post_id, cid) for cid, v in versions.items()],
        )
        conn.execute(
            "UPDATE posts SET fallback_readers = ?, envelope_version = ? WHERE id = ?",
            (fallback_readers, 2 if any(v == 2 for v in versions.values()) else 1, post_id),
        )


def merge_sealed(conn: Connection, remote_id: str, versions: dict[bytes, int]) -> bool:
    """Merge, for my entry ``remote_id``, what another device (or a later seal here) knows of how each
    reader (public key) got it: each reader keeps the greater of the held and the given version
    (unknown < held 0 < v1 1 < v2 2: a held or handed-over reader is sealed later, never unsealed, so
    the merge is the same in any order). ``posts.fallback_readers`` and ``envelope_version`` follow.
    Readers that are not readers of the entry here are ignored. Returns whether anything changed."""
    row = conn.execute(
        "SELECT id FROM posts WHERE author_id IS NULL AND remote_id = ?", (remote_id,)
    ).fetchone()
    if row is None:
        return False
    post_id = str(row[0])
    changed = 0
    for key, version in versions.items():
        changed += conn.execute(
            "UPDATE post_readers SET sealed_version = ? WHERE post_id = ? AND sealed_version < ? "
            "AND contact_id = (SELECT id FROM contacts WHERE public_key = ?)",
            (version, post_id, version, key),
        ).rowcount
    if changed:
        conn.execute(
            "UPDATE posts SET fallback_readers = (SELECT count(*) FROM post_readers WHERE post_id = ? "
            "AND sealed_version = 1), envelope_version = CASE WHEN EXISTS (SELECT 1 FROM post_readers "
            "WHERE post_id = ? AND sealed_version = 2) THEN 2 ELSE 1 END WHERE id = ?",
            (post_id, post_id, post_id),
        )
    return bool(changed)


def sealed_map(conn: Connection, post_id: str) -> dict[str, int]:
    """``{reader public key hex: sealed_version}`` of my entry ``post_id``, known versions only (0-2):
    the ``sealed`` field of its ``entry`` op (docs/protocol.md, "The v1 fallback")."""
    rows = conn.execute(
        "SELECT k.public_key, r.sealed_version FROM post_readers r JOIN contacts k ON k.id = r.contact_id "
        "WHERE r.post_id = ? AND r.sealed_version >= 0 ORDER BY k.public_key",
        (post_id,),
    ).fetchall()
    return {bytes(r[0]).hex(): int(r[1]) for r in rows}


def set_received_version(store: Store, post_id: str, version: int) -> None:
    """A received entry arrived in an envelope of ``version`` (1 or 2)."""
    with store.write() as conn:
        conn.execute("UPDATE posts SET envelope_version = ? WHERE id = ?", (version, post_id))


def sealed_versions(store: Store, post_id: str) -> tuple[int, int, list[tuple[str, int]]]:
    """``(envelope_version, fallback_readers, [(reader name, sealed_version)])`` of an entry."""
    row = store.fetchone("SELECT envelope_version, fallback_readers FROM posts WHERE id = ?", (post_id,))
    readers = store.fetchall(
        "SELECT name, sealed_version FROM post_readers WHERE post_id = ? ORDER BY name", (post_id,)
    )
    if row is None:
        return (1, 0, [])
    return int(row[0]), int(row[1]), [(str(r[0]), int(r[1])) for r in readers]


def fallback_total(store: Store) -> int:
    """Sum of ``posts.fallback_readers`` over my entries (the FS test's counted v1 fallbacks)."""
    row = store.fetchone("SELECT coalesce(sum(fallback_readers), 0) FROM posts WHERE author_id IS NULL")
    return int(cast(tuple[Any, ...], row)[0])


# -- backups (§15.4) ----------------------------------------------------------------------------------


def scrub_epoch_secrets(conn: Connection, now: int) -> None:
    """Erase every epoch secret from a **copy** of a store (a backup being written): the seeds and the
    prekey and self key secrets become NULL (erased keys keep their ids, ``deleted_at`` = ``now`` when
    not set), with ``secure_delete`` on, then ``VACUUM`` so no free page keeps them (design-v2 §15.4: a
    backup must not carry epoch secrets, or forward secrecy would end at the oldest backup). ``conn``
    is an autocommit connection to the copy; a copy older than migration 9 is left as it is."""
    tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "epoch_keys" not in tables:
        return
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("BEGIN")
    conn.execute(
        "UPDATE epoch_keys SET secret = NULL, deleted_at = coalesce(deleted_at, ?) WHERE secret IS NOT NULL",
        (now,),
    )
    conn.execute("UPDATE epoch_seed SET seed = NULL")
    conn.execute("COMMIT")
    conn.execute("VACUUM")
