"""Envelopes in flight: my outbox, the ids I have already processed, and per-contact chains."""

from __future__ import annotations

from tui_sns.store.database import Connection, Store


def queue_envelope(
    store: Store, envelope_id: str, data: bytes, created: str, expires: int | None = None
) -> None:
    """Queue an envelope to send; ``expires`` (unix seconds) is passed to relays, which drop it then."""
    with store.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO outbox (envelope_id, data, created, expires) VALUES (?, ?, ?, ?)",
            (envelope_id, data, created, expires),
        )


def unexported(store: Store) -> list[tuple[str, bytes]]:
    rows = store.fetchall("SELECT envelope_id, data FROM outbox WHERE exported = 0 ORDER BY rowid")
    return [(str(r[0]), bytes(r[1])) for r in rows]


def mark_exported(store: Store, ids: list[str]) -> None:
    with store.write() as conn:
        conn.executemany("UPDATE outbox SET exported = 1 WHERE envelope_id = ?", [(i,) for i in ids])


def seen_among(store: Store, envelope_ids: list[str]) -> set[str]:
    """Which of these envelope ids were processed before (one query per 500 ids)."""
    seen: set[str] = set()
    for start in range(0, len(envelope_ids), 500):
        chunk = envelope_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.fetchall(
            f"SELECT envelope_id FROM seen_envelopes WHERE envelope_id IN ({marks})", tuple(chunk)
        )
        seen.update(str(r[0]) for r in rows)
    return seen


def mark_seen_many(conn: Connection, envelope_ids: list[str]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO seen_envelopes (envelope_id) VALUES (?)", [(i,) for i in envelope_ids]
    )


def record_received_seq(conn: Connection, contact_id: int, seq: int, digest: bytes, prev: bytes) -> bool:
    """False when this (contact, seq) was already received: a replay."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO received_seq (contact_id, seq, digest, prev) VALUES (?, ?, ?, ?)",
        (contact_id, seq, digest, prev),
    )
    return bool(cur.rowcount)


def missing_counts(store: Store) -> list[tuple[str, int]]:
    """Per contact, how many envelopes below the highest sequence number received never arrived."""
    rows = store.fetchall(
        "SELECT k.name, max(r.seq) - count(*) FROM received_seq r JOIN contacts k ON k.id = r.contact_id "
        "GROUP BY r.contact_id HAVING max(r.seq) - count(*) > 0 ORDER BY k.name"
    )
    return [(str(r[0]), int(r[1])) for r in rows]


def chain_breaks(store: Store) -> list[tuple[str, int]]:
    """(contact name, seq) where the envelope's "prev" does not name the envelope received at seq-1.

    Two different envelopes claiming the same place in a pairwise chain: the sender's client forked
    (e.g. one identity used on two devices without sync) or someone is equivocating.
    """
    rows = store.fetchall(
        "SELECT k.name, a.seq FROM received_seq a JOIN received_seq b "
        "ON b.contact_id = a.contact_id AND b.seq = a.seq - 1 JOIN contacts k ON k.id = a.contact_id "
        "WHERE a.prev != b.digest ORDER BY k.name, a.seq"
    )
    return [(str(r[0]), int(r[1])) for r in rows]
