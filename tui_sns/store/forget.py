"""Forgetting an entry completely: every row that names its envelope, besides the entry itself.

Deleting or expiring an entry removes its ``posts`` row (its readers, versions and comments cascade;
envelopes derived from it leave the outbox by ``outbox.target``). What else named it, and is removed
or blanked here in the same transaction:

* ``seen_envelopes``: the id of the envelope that carried it (a replay of that envelope is still
  refused: ``chain_received`` keeps the sender's sequence number);
* ``chain_received``: the envelope's header digest, and the next envelope's "prev" naming it, are
  blanked (32 zero bytes): together with the relay's copy they would tie the envelope to its author.
  ``mailbox.chain_breaks`` skips blanked links. The entry's row says which link: its author's key
  and ``posts.seq`` (the author's chain sequence of a received entry).

Kept on purpose: my own entry's envelope still in the outbox (it holds a place in each reader's
chain: dropping it would show every reader a gap that never fills, and the deletion that follows it
removes the entry again); ``tombstones`` (author key, the entry's id inside the sealed payload: late edits and
comments to a deleted entry are recognised and dropped; they name no envelope) and the sequence numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui_sns.store.database import Connection

FORGOTTEN = bytes(32)  # a blanked chain digest


def forget_entries(conn: Connection, post_ids: Sequence[str]) -> None:
    """Remove or blank every bookkeeping row that names these entries' envelopes. Call inside the
    write transaction that deletes the ``posts`` rows, before deleting them."""
    for start in range(0, len(post_ids), 500):
        chunk = list(post_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT p.envelope_id, k.public_key, p.seq, p.dev FROM posts p LEFT JOIN contacts k ON k.id = p.author_id "
            f"WHERE p.id IN ({marks})",
            chunk,
        ).fetchall()
        for envelope_id, author_key, seq, dev in rows:
            if envelope_id is not None:
                conn.execute("DELETE FROM seen_envelopes WHERE envelope_id = ?", (envelope_id,))
            if author_key is not None and seq:
                conn.execute(
                    "UPDATE chain_received SET digest = ? WHERE public_key = ? AND dev = ? AND seq = ?",
                    (FORGOTTEN, author_key, dev, seq),
                )
                conn.execute(
                    "UPDATE chain_received SET prev = ? WHERE public_key = ? AND dev = ? AND seq = ?",
                    (FORGOTTEN, author_key, dev, seq + 1),
                )


def expired_entry_ids(conn: Connection, now_iso: str) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT id FROM posts WHERE expires IS NOT NULL AND expires <= ?", (now_iso,)
        ).fetchall()
    ]
