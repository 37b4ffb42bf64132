"""SQL for the identity-level state a new device takes over at linking (docs/protocol.md, *Device
linking*, "WELCOME and the snapshot"): received chain positions, which contacts were told my shard
seeds, and the operations waiting for their target. Everything else a link carries goes through the
stores that own it (epochs, routes, relays, requests, meta)."""

from __future__ import annotations

from tui_sns.store.database import Connection, Store

ChainRow = tuple[bytes, bytes, int, bytes, bytes]  # (sender key, dev, seq, digest, prev)


def chain_rows(store: Store) -> list[ChainRow]:
    """Every received chain position (``chain_received``), by sender key, device tag and seq."""
    rows = store.fetchall(
        "SELECT public_key, dev, seq, digest, prev FROM chain_received ORDER BY public_key, dev, seq"
    )
    return [(bytes(r[0]), bytes(r[1]), int(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]


def put_chain_rows(conn: Connection, rows: list[ChainRow]) -> None:
    """Add received chain positions (ones already held stay as they are)."""
    conn.executemany(
        "INSERT OR IGNORE INTO chain_received (public_key, dev, seq, digest, prev) VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def routes_sent(store: Store) -> list[tuple[bytes, str, int]]:
    """(contact key, relay URL, seed): which contacts were told my seed on which relay."""
    rows = store.fetchall("SELECT peer_key, url, seed FROM routes_sent ORDER BY peer_key, url")
    return [(bytes(r[0]), str(r[1]), int(r[2])) for r in rows]


def put_routes_sent(conn: Connection, rows: list[tuple[bytes, str, int]]) -> None:
    conn.executemany(
        "INSERT INTO routes_sent (peer_key, url, seed) VALUES (?, ?, ?) "
        "ON CONFLICT(peer_key, url) DO UPDATE SET seed = excluded.seed",
        rows,
    )


PendingRow = tuple[bytes, bytes, int, str, bytes, str]  # (author key, dev, seq, target, payload, received)


def pending_rows(store: Store) -> list[PendingRow]:
    """Every operation waiting for its target (issue 10's ``pending_ops``, mine included)."""
    rows = store.fetchall(
        "SELECT author_key, dev, seq, remote_id, payload, received FROM pending_ops ORDER BY author_key, dev, seq"
    )
    return [(bytes(r[0]), bytes(r[1]), int(r[2]), str(r[3]), bytes(r[4]), str(r[5])) for r in rows]


def put_pending_rows(conn: Connection, rows: list[PendingRow], cap: int) -> int:
    """Add waiting operations (ones already held stay), while fewer than ``cap`` wait in all. Returns
    how many were left out for the cap."""
    (held,) = conn.execute("SELECT count(*) FROM pending_ops").fetchone()
    room = max(0, cap - int(held))
    conn.executemany(
        "INSERT OR IGNORE INTO pending_ops (author_key, dev, seq, remote_id, payload, received) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows[:room],
    )
    return max(0, len(rows) - room)


__all__ = [
    "ChainRow",
    "PendingRow",
    "chain_rows",
    "pending_rows",
    "put_chain_rows",
    "put_pending_rows",
    "put_routes_sent",
    "routes_sent",
]
