"""Envelopes in flight: my outbox, the ids of envelopes that opened for me, and per-contact chains.

Received chain positions are keyed by (sender key, ``dev``): chains are per (author device, reader)
(docs/design-v2.md §8.1). ``dev`` is the 8-byte device tag of a v2 slot (my real ``devid`` in a
self slot); v1 envelopes have none and use :data:`V1_DEV` (8 zero bytes).
"""

from __future__ import annotations

from tui_sns.store.database import Connection, Store

V1_DEV = bytes(8)  # the device tag of every v1 chain (and of chain rows from before linked devices)


def queue_envelope(
    store: Store,
    envelope_id: str,
    data: bytes,
    created: str,
    expires: int | None = None,
    target: str | None = None,
) -> None:
    """Queue an envelope to send; ``expires`` (unix seconds) is passed to relays, which drop it then.

    ``target``: the local id of my entry this envelope is derived from (a comment, forward, edit,
    deletion or hide): it leaves the outbox with that entry. Never sent anywhere."""
    with store.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO outbox (envelope_id, data, created, expires, target) VALUES (?, ?, ?, ?, ?)",
            (envelope_id, data, created, expires, target),
        )


def last_queued(store: Store) -> int:
    """A number that grows whenever an envelope is queued (the outbox's highest rowid; 0 when empty)."""
    row = store.fetchone("SELECT coalesce(max(rowid), 0) FROM outbox")
    return int(row[0]) if row else 0


def unexported(store: Store) -> list[tuple[str, bytes]]:
    rows = store.fetchall("SELECT envelope_id, data FROM outbox WHERE exported = 0 ORDER BY rowid")
    return [(str(r[0]), bytes(r[1])) for r in rows]


def mark_exported(store: Store, ids: list[str]) -> None:
    with store.write() as conn:
        conn.executemany("UPDATE outbox SET exported = 1 WHERE envelope_id = ?", [(i,) for i in ids])


def seen_among(store: Store, envelope_ids: list[str]) -> set[str]:
    """Which of these envelope ids were recorded before (one query per 500 ids). The table holds the
    ids of envelopes that opened for me or were mine, not every id a relay served."""
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
    """Record envelope ids that opened (for me, or mine): a byte-identical copy is then a duplicate."""
    conn.executemany(
        "INSERT OR IGNORE INTO seen_envelopes (envelope_id) VALUES (?)", [(i,) for i in envelope_ids]
    )


def record_received_seq(
    conn: Connection, public_key: bytes, seq: int, digest: bytes, prev: bytes, dev: bytes = V1_DEV
) -> bool:
    """False when this (sender key, device tag, seq) was already received: a replay. Kept per public
    key, so it survives removing and re-adding the contact; per ``dev`` (8 bytes), so two devices of
    one sender have two chains."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO chain_received (public_key, dev, seq, digest, prev) VALUES (?, ?, ?, ?, ?)",
        (public_key, dev, seq, digest, prev),
    )
    return bool(cur.rowcount)


def missing_counts(store: Store) -> list[tuple[str, int]]:
    """Per contact, how many envelopes below the highest sequence number received never arrived
    (summed over the contact's device chains: each chain starts at 1)."""
    rows = store.fetchall(
        "SELECT k.name, sum(g.missing) FROM (SELECT public_key, max(seq) - count(*) AS missing "
        "FROM chain_received GROUP BY public_key, dev) g JOIN contacts k ON k.public_key = g.public_key "
        "GROUP BY g.public_key HAVING sum(g.missing) > 0 ORDER BY k.name"
    )
    return [(str(r[0]), int(r[1])) for r in rows]


def chain_breaks(store: Store) -> list[tuple[str, int]]:
    """(contact name, seq) where the envelope's "prev" does not name the envelope received at seq-1.

    Two different envelopes claiming the same place in a pairwise chain: the sender's client forked
    (e.g. one identity used on two devices without sync) or someone is equivocating.
    """
    rows = store.fetchall(
        "SELECT k.name, a.seq FROM chain_received a JOIN chain_received b "
        "ON b.public_key = a.public_key AND b.dev = a.dev AND b.seq = a.seq - 1 JOIN contacts k ON k.public_key = a.public_key "
        "WHERE a.prev != b.digest AND b.digest != zeroblob(32) ORDER BY k.name, a.seq"  # zero: forgotten
    )
    return [(str(r[0]), int(r[1])) for r in rows]
