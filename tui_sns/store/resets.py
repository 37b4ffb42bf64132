"""SQL of device removal and key resets (docs/design-v2.md §10); the rules are the core's
(``tui_sns.core.resets``).

* a reset's generation goes into ``epoch_seed`` (:func:`put_generation`), the seeds of older
  generations are erased (:func:`erase_seeds_below`: ``seed = NULL``, secure deletion on);
* a superseded concurrent reset's epochs are kept open-only at negative epoch numbers of the same
  generation (:func:`demote_generation`): never current, erased at their deletion time;
* payloads held for a contact flagged with a prekey conflict (§10.4, ``held_sends``):
  :func:`hold_send`, :func:`held_counts`, :func:`take_held`;
* this device's device key pair is replaced, the old secret kept in ``device.previous_secret_key``
  until ``previous_erase_at`` (:func:`set_device_key`, :func:`erase_previous_device_key`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_sns.store.database import Connection, Store


def erase_seeds_below(conn: Connection, gen: int) -> None:
    """Erase the seeds of every generation below ``gen`` (no further epoch of them is derived)."""
    conn.execute("UPDATE epoch_seed SET seed = NULL WHERE gen < ? AND seed IS NOT NULL", (gen,))


def put_generation(
    conn: Connection, gen: int, seed: bytes, commitment: bytes, *, replace: bool = False
) -> None:
    """Store generation ``gen``'s seed at epoch 0 (``replace``: over the one held for that generation)."""
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    conn.execute(
        f"{verb} INTO epoch_seed (gen, epoch, seed, commitment) VALUES (?, 0, ?, ?)", (gen, seed, commitment)
    )


def commitment(store: Store, gen: int) -> bytes | None:
    """The stored commitment of generation ``gen`` (16 bytes), or None."""
    row = store.fetchone("SELECT commitment FROM epoch_seed WHERE gen = ?", (gen,))
    return None if row is None else bytes(row[0])


def lowest_epoch(conn: Connection, gen: int) -> int:
    """The lowest epoch number stored for ``gen`` (0 when none)."""
    row = conn.execute("SELECT min(epoch) FROM epoch_keys WHERE gen = ?", (gen,)).fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def demote_generation(conn: Connection, gen: int) -> None:
    """Move the epochs ``≥ 0`` of ``gen`` below every epoch stored for it (open-only keys)."""
    top = conn.execute("SELECT max(epoch) FROM epoch_keys WHERE gen = ? AND epoch >= 0", (gen,)).fetchone()
    if top is None or top[0] is None:
        return
    shift = int(top[0]) + 1 - min(lowest_epoch(conn, gen), 0)
    conn.execute("UPDATE epoch_keys SET epoch = epoch - ? WHERE gen = ? AND epoch >= 0", (shift, gen))


def set_device_key(conn: Connection, devid: bytes, secret: bytes, public: bytes, erase_at: int) -> None:
    """Replace this device's key pair; the old secret is kept until ``erase_at`` (unix seconds)."""
    conn.execute(
        "UPDATE device SET previous_secret_key = secret_key, previous_erase_at = ?, secret_key = ?, "
        "public_key = ? WHERE id = 1",
        (erase_at, secret, public),
    )
    conn.execute("UPDATE devices SET public_key = ? WHERE devid = ?", (public, devid))


def previous_device_key(store: Store) -> tuple[bytes, int] | None:
    """``(secret, erase_at)`` of this device's previous device key while it is kept, or None."""
    row = store.fetchone(
        "SELECT previous_secret_key, previous_erase_at FROM device WHERE id = 1 AND previous_secret_key IS NOT NULL"
    )
    return None if row is None else (bytes(row[0]), int(row[1] or 0))


def erase_previous_device_key(store: Store) -> None:
    """Erase the previous device key secret, then checkpoint the write-ahead log (§15.3)."""
    with store.write() as conn:
        conn.execute("UPDATE device SET previous_secret_key = NULL, previous_erase_at = NULL WHERE id = 1")
        store.checkpoint_after_commit()


# -- sends held while a contact's prekey conflict stands (§10.4) --------------------------------------


@dataclass(frozen=True)
class HeldSend:
    peer_key: bytes
    payload: bytes = field(repr=False)
    expires: int | None
    target: str | None
    min_slots: int


def hold_send(
    store: Store,
    peer_key: bytes,
    payload: bytes,
    expires: int | None,
    target: str | None,
    min_slots: int,
    created: str,
) -> None:
    """Keep ``payload`` for ``peer_key`` until the person releases it."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO held_sends (peer_key, payload, expires, target, min_slots, created) VALUES (?, ?, ?, ?, ?, ?)",
            (peer_key, payload, expires, target, min_slots, created),
        )


def held_counts(store: Store) -> dict[bytes, int]:
    """How many payloads are held, per contact key."""
    return {
        bytes(r[0]): int(r[1])
        for r in store.fetchall("SELECT peer_key, count(*) FROM held_sends GROUP BY peer_key")
    }


def take_held(store: Store, peer_key: bytes) -> list[HeldSend]:
    """Remove and return the payloads held for ``peer_key``, oldest first (inside the caller's write)."""
    with store.write() as conn:
        rows = conn.execute(
            "SELECT peer_key, payload, expires, target, min_slots FROM held_sends WHERE peer_key = ? ORDER BY id",
            (peer_key,),
        ).fetchall()
        conn.execute("DELETE FROM held_sends WHERE peer_key = ?", (peer_key,))
    return [
        HeldSend(bytes(r[0]), bytes(r[1]), None if r[2] is None else int(r[2]), r[3] and str(r[3]), int(r[4]))
        for r in rows
    ]


def mark_held(store: Store, post_id: str, contact_ids: list[int]) -> None:
    """My entry ``post_id`` was held for these readers: ``sealed_version = 0`` (neither v1 nor v2 yet)."""
    with store.write() as conn:
        conn.executemany(
            "UPDATE post_readers SET sealed_version = 0 WHERE post_id = ? AND contact_id = ?",
            [(post_id, cid) for cid in contact_ids],
        )
