"""Linked devices (docs/design-v2.md §8, §15.1): this device's keys and Lamport counter, the list of my
devices, per-field LWW clocks of synced objects, and device-sync ops not yet sealed.

* ``device``: one row, this device — ``devid`` (8 bytes), name, device key pair (32 + 32 bytes),
  ``Kdevtag`` (32 bytes), the Lamport counter ``lc``.
* ``devices``: every device of the identity, this one included (``removed`` set once removed).
* ``sync_clock``: per (object, field), the Lamport time ``(lamport, devid)`` of the value held.
* ``sync_outbox``: ops (JSON text) waiting to be sealed into a device-sync envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_sns.store.database import Connection, Store


@dataclass(frozen=True)
class DeviceRecord:
    """This device: ``devid`` 8 bytes, ``secret_key``/``public_key`` its X25519 device key pair,
    ``devtag_key`` 32 bytes, ``lamport`` its Lamport counter, ``created`` ISO 8601 UTC."""

    devid: bytes
    name: str
    secret_key: bytes = field(repr=False)
    public_key: bytes
    devtag_key: bytes = field(repr=False)
    lamport: int
    created: str


@dataclass(frozen=True)
class DeviceEntry:
    """One device of my identity as listed in ``devices`` (``removed``: ISO time, or None)."""

    devid: bytes
    public_key: bytes
    name: str
    added: str
    last_seen: str | None
    removed: str | None


def load_device(store: Store) -> DeviceRecord | None:
    """This device, or None when the store has none yet (made on first use by the core)."""
    row = store.fetchone(
        "SELECT devid, name, secret_key, public_key, devtag_key, lamport, created FROM device WHERE id = 1"
    )
    if row is None:
        return None
    return DeviceRecord(
        bytes(row[0]), str(row[1]), bytes(row[2]), bytes(row[3]), bytes(row[4]), int(row[5]), str(row[6])
    )


def stand_in_ids(store: Store) -> tuple[bytes, bytes] | None:
    """The device id (8 bytes) and device-tag key (32 bytes) the v2-keys migration wrote to ``meta``
    before this device had a row (docs/design-v2.md §15.1), or None. The device row takes them over,
    so v2 chains and self slots sealed before it keep their ids."""
    rows = dict(store.fetchall("SELECT key, value FROM meta WHERE key IN ('devid', 'devtag_key')"))
    try:
        devid, devtag = bytes.fromhex(str(rows["devid"])), bytes.fromhex(str(rows["devtag_key"]))
    except (KeyError, ValueError):
        return None
    return (devid, devtag) if len(devid) == 8 and len(devtag) == 32 else None


def create_device(store: Store, record: DeviceRecord) -> bool:
    """Store this device's row and list it in ``devices``; False (nothing changed) if one exists."""
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM device WHERE id = 1").fetchone() is not None:
            return False
        conn.execute(
            "INSERT INTO device (id, devid, name, secret_key, public_key, devtag_key, lamport, created) "
            "VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.devid,
                record.name,
                record.secret_key,
                record.public_key,
                record.devtag_key,
                record.lamport,
                record.created,
            ),
        )
        conn.execute(
            "INSERT INTO devices (devid, public_key, name, added) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (devid) DO UPDATE SET public_key = excluded.public_key, name = excluded.name",
            (record.devid, record.public_key, record.name, record.created),
        )
    return True


# -- Lamport time (§8.4) -----------------------------------------------------------------------------


def tick(conn: Connection) -> int:
    """``lc = lc + 1`` for an op or outgoing payload; returns the new value. Call inside a write."""
    conn.execute("UPDATE device SET lamport = lamport + 1 WHERE id = 1")
    row = conn.execute("SELECT lamport FROM device WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


MAX_OBSERVED = 2**52  # a received time moves my clock at most this far: 2^52 ticks stay below 2^53


def observe(conn: Connection, lamport: int) -> None:
    """``lc = max(lc, min(lamport, MAX_OBSERVED))`` on receiving a payload of mine. Call inside a
    write. (The cap: a sibling may send times up to 2^53; were my clock taken there, my next op would
    be past what every sibling accepts, and nothing I change would reach them again.)"""
    conn.execute("UPDATE device SET lamport = max(lamport, ?) WHERE id = 1", (min(lamport, MAX_OBSERVED),))


def lamport(store: Store) -> int:
    row = store.fetchone("SELECT lamport FROM device WHERE id = 1")
    return int(row[0]) if row else 0


# -- the device list ---------------------------------------------------------------------------------


def list_devices(store: Store) -> list[DeviceEntry]:
    """Every device of the identity (removed ones included), oldest first."""
    rows = store.fetchall(
        "SELECT devid, public_key, name, added, last_seen, removed FROM devices ORDER BY added, devid"
    )
    return [
        DeviceEntry(bytes(r[0]), bytes(r[1]), str(r[2]), str(r[3]), r[4] and str(r[4]), r[5] and str(r[5]))
        for r in rows
    ]


def put_device(
    conn: Connection, devid: bytes, *, public_key: bytes, name: str, added: str, removed: str | None
) -> None:
    """Insert or replace what is known of one device (the caller decided by LWW which fields win)."""
    conn.execute(
        "INSERT INTO devices (devid, public_key, name, added, removed) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (devid) DO UPDATE SET public_key = excluded.public_key, name = excluded.name, "
        "added = excluded.added, removed = excluded.removed",
        (devid, public_key, name, added, removed),
    )


def get_device(conn: Connection, devid: bytes) -> DeviceEntry | None:
    r = conn.execute(
        "SELECT devid, public_key, name, added, last_seen, removed FROM devices WHERE devid = ?", (devid,)
    ).fetchone()
    if r is None:
        return None
    return DeviceEntry(bytes(r[0]), bytes(r[1]), str(r[2]), str(r[3]), r[4] and str(r[4]), r[5] and str(r[5]))


def last_sync(store: Store) -> str | None:
    """When a sync pass last reached one of my relays (the newest ``relay_state.last_ok``), or None."""
    row = store.fetchone("SELECT max(last_ok) FROM relay_state")
    return None if row is None or row[0] is None else str(row[0])


def touch_device(conn: Connection, devid: bytes, seen: str) -> None:
    """Record that a device-sync envelope from ``devid`` arrived at ``seen`` (never moves back)."""
    conn.execute(
        "UPDATE devices SET last_seen = ? WHERE devid = ? AND (last_seen IS NULL OR last_seen < ?)",
        (seen, devid, seen),
    )


# -- LWW clocks (§8.3) -------------------------------------------------------------------------------


def clock_of(conn: Connection, obj: str, name: str) -> tuple[int, bytes] | None:
    """The ``(lamport, devid)`` of the value held for ``obj``'s field ``name``, or None (never set)."""
    row = conn.execute(
        "SELECT lamport, devid FROM sync_clock WHERE object = ? AND field = ?", (obj, name)
    ).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def clocks_of(conn: Connection, obj: str) -> dict[str, tuple[int, bytes]]:
    """Every field clock of ``obj``."""
    rows = conn.execute("SELECT field, lamport, devid FROM sync_clock WHERE object = ?", (obj,)).fetchall()
    return {str(r[0]): (int(r[1]), bytes(r[2])) for r in rows}


def set_clock(conn: Connection, obj: str, name: str, lamport: int, devid: bytes) -> None:
    conn.execute(
        "INSERT INTO sync_clock (object, field, lamport, devid) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (object, field) DO UPDATE SET lamport = excluded.lamport, devid = excluded.devid",
        (obj, name, lamport, devid),
    )


def all_clocks(store: Store) -> dict[str, dict[str, tuple[int, bytes]]]:
    """Every object's field clocks (for a snapshot)."""
    out: dict[str, dict[str, tuple[int, bytes]]] = {}
    for r in store.fetchall("SELECT object, field, lamport, devid FROM sync_clock ORDER BY object, field"):
        out.setdefault(str(r[0]), {})[str(r[1])] = (int(r[2]), bytes(r[3]))
    return out


# -- ops waiting to be sealed ------------------------------------------------------------------------


def next_pending_seq(conn: Connection, author_key: bytes, dev: bytes, target: str, payload: bytes) -> int | None:
    """A ``seq`` not used yet by ``(author_key, dev)`` in ``pending_ops``: a device-sync op waiting for
    its target is kept under its own number (several ops of one sender may share a Lamport time).
    None when this very op waits already (ops are idempotent: a copy would only fill the table)."""
    same = conn.execute(
        "SELECT 1 FROM pending_ops WHERE author_key = ? AND remote_id = ? AND dev = ? AND payload = ?",
        (author_key, target, dev, payload),
    ).fetchone()
    if same is not None:
        return None
    row = conn.execute(
        "SELECT max(seq) FROM pending_ops WHERE author_key = ? AND dev = ?", (author_key, dev)
    ).fetchone()
    return 1 if row is None or row[0] is None else int(row[0]) + 1


def has_siblings(conn: Connection, me: bytes) -> bool:
    """Whether another device of mine is listed and not removed (ops are queued only then)."""
    row = conn.execute("SELECT 1 FROM devices WHERE devid != ? AND removed IS NULL LIMIT 1", (me,)).fetchone()
    return row is not None


def queue_op(conn: Connection, op: str) -> None:
    conn.execute("INSERT INTO sync_outbox (op) VALUES (?)", (op,))


def drop_queued(conn: Connection, kind: str, id_field: str, ident: str) -> None:
    """Drop queued ops of ``kind`` whose ``id_field`` is ``ident`` (a whole-object LWW op replaces them)."""
    conn.execute(
        "DELETE FROM sync_outbox WHERE json_extract(op, '$.o') = ? AND json_extract(op, '$.' || ?) = ?",
        (kind, id_field, ident),
    )


def queued_ops(store: Store, limit: int = 4096) -> list[tuple[int, str]]:
    """The oldest ``limit`` ops not yet sealed, as (op id, JSON text)."""
    rows = store.fetchall("SELECT op_id, op FROM sync_outbox ORDER BY op_id LIMIT ?", (limit,))
    return [(int(r[0]), str(r[1])) for r in rows]


def drop_ops(conn: Connection, op_ids: list[int]) -> None:
    conn.executemany("DELETE FROM sync_outbox WHERE op_id = ?", [(i,) for i in op_ids])


# -- the epoch state a new device receives when linked (§9.4) ----------------------------------------


@dataclass(frozen=True)
class SeedRow:
    """One live generation's current seed: ``seed[gen, epoch]`` (32 bytes) and its commitment (16)."""

    gen: int
    epoch: int
    seed: bytes = field(repr=False)
    commitment: bytes


@dataclass(frozen=True)
class LiveKey:
    """One held epoch key (secret not erased): kind "prekey" or "self", with its schedule."""

    kind: str
    kid: int
    gen: int
    epoch: int
    secret: bytes = field(repr=False)
    public_key: bytes | None
    start: int
    end: int
    delete_at: int


def epoch_state(store: Store) -> tuple[list[SeedRow], list[LiveKey]]:
    """The seeds still held and every epoch key whose secret is held (what a new device needs)."""
    seeds = [
        SeedRow(int(r[0]), int(r[1]), bytes(r[2]), bytes(r[3]))
        for r in store.fetchall(
            "SELECT gen, epoch, seed, commitment FROM epoch_seed WHERE seed IS NOT NULL ORDER BY gen"
        )
    ]
    keys = [
        LiveKey(
            str(r[0]),
            int(r[1]),
            int(r[2]),
            int(r[3]),
            bytes(r[4]),
            None if r[5] is None else bytes(r[5]),
            int(r[6]),
            int(r[7]),
            int(r[8]),
        )
        for r in store.fetchall(
            "SELECT kind, kid, gen, epoch, secret, public_key, start, end, delete_at FROM epoch_keys "
            "WHERE secret IS NOT NULL ORDER BY gen, epoch, kind"
        )
    ]
    return seeds, keys


def replace_epoch_state(conn: Connection, seeds: list[SeedRow], keys: list[LiveKey]) -> None:
    """Make ``seeds`` and ``keys`` this store's whole epoch state (a new device's own generation 0,
    made by its migration, is dropped: it joins the identity's generations)."""
    conn.execute("DELETE FROM epoch_seed")
    conn.execute("DELETE FROM epoch_keys")
    conn.executemany(
        "INSERT INTO epoch_seed (gen, epoch, seed, commitment) VALUES (?, ?, ?, ?)",
        [(s.gen, s.epoch, s.seed, s.commitment) for s in seeds],
    )
    conn.executemany(
        "INSERT INTO epoch_keys (kind, kid, gen, epoch, secret, public_key, start, end, delete_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(k.kind, k.kid, k.gen, k.epoch, k.secret, k.public_key, k.start, k.end, k.delete_at) for k in keys],
    )


def set_meta_values(conn: Connection, values: dict[str, str]) -> None:
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )


def meta_values(store: Store, keys: tuple[str, ...]) -> dict[str, str]:
    marks = ",".join("?" * len(keys))
    return {
        str(r[0]): str(r[1])
        for r in store.fetchall(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys)
    }


def due_forwards(store: Store, me: bytes, before: str) -> list[tuple[str, bytes]]:
    """Deferred comment forwards and hides (design-v2 §8.3) kept before ``before`` (ISO time), as
    (target, payload), oldest first; at most 500."""
    rows = store.fetchall(
        "SELECT remote_id, payload FROM pending_ops WHERE author_key = ? AND dev = ? AND received <= ? "
        "ORDER BY received, seq LIMIT 500",
        (me, b"forward\x00", before),
    )
    return [(str(r[0]), bytes(r[1])) for r in rows]


def last_op(store: Store) -> int:
    """The highest id of a queued device-sync op (0: none waits): changes when an op is recorded."""
    row = store.fetchone("SELECT coalesce(max(op_id), 0) FROM sync_outbox")
    return int(row[0]) if row else 0
