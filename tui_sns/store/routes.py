"""Shard routes (docs/design-sharding.md §3): my seed per relay, contacts' seeds, outbox recipients.

A seed is a 16-bit number; the shard it names on a relay with ``S`` shards is ``seed mod S``. URLs
are stored as :func:`tui_sns.crypto.card.check_relay_url` returns them (the callers normalise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from tui_sns.store.database import Store

MAX_PEER_ROUTES = 16  # routes kept per contact key: beyond, the least recently updated go


def my_seeds(store: Store) -> dict[str, int]:
    """My seed on every relay I drew one for: {url: seed}."""
    return {str(r[0]): int(r[1]) for r in store.fetchall("SELECT url, seed FROM relay_routes ORDER BY url")}


def ensure_seed(store: Store, url: str, draw: Callable[[], int], when: str) -> tuple[int, bool]:
    """My seed on ``url``: the stored one, or ``draw()`` (0..65535) stored now. Returns (seed, drawn now).

    A seed is never replaced here: it is fixed for the life of this (identity, relay) pair (the one
    exception: my devices agreeing on one after both joined the relay, :func:`set_seed`)."""
    row = store.fetchone("SELECT seed FROM relay_routes WHERE url = ?", (url,))
    if row is not None:  # (the common case: no write transaction)
        return int(row[0]), False
    with store.write() as conn:
        row = conn.execute("SELECT seed FROM relay_routes WHERE url = ?", (url,)).fetchone()
        if row is not None:
            return int(row[0]), False
        seed = draw()
        if not 0 <= seed <= 0xFFFF:
            raise ValueError("a shard seed is 0..65535")
        conn.execute("INSERT INTO relay_routes (url, seed, drawn) VALUES (?, ?, ?)", (url, seed, when))
        return seed, True


def set_seed(store: Store, url: str, seed: int, when: str) -> bool:
    """Make ``seed`` (0..65535) my seed on ``url``, replacing another: a ``relay`` op from my other
    device (core/devices.py), so every device of mine reads the shard my card names. Contacts told
    another seed are told this one at the next sync (``routes_sent`` is keyed by seed). Returns whether
    it changed. Joins the caller's write transaction."""
    if not 0 <= seed <= 0xFFFF:
        raise ValueError("a shard seed is 0..65535")
    with store.write() as conn:
        row = conn.execute("SELECT seed FROM relay_routes WHERE url = ?", (url,)).fetchone()
        if row is not None and int(row[0]) == seed:
            return False
        conn.execute(
            "INSERT INTO relay_routes (url, seed, drawn) VALUES (?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET seed = excluded.seed, drawn = excluded.drawn",
            (url, seed, when),
        )
        return True


def set_peer_routes(store: Store, peer_key: bytes, routes: Mapping[str, int | None], when: str) -> None:
    """Store a contact's seeds ({url: seed}, None: forget that relay's), keeping at most
    ``MAX_PEER_ROUTES`` per key (the least recently updated are dropped)."""
    with store.write() as conn:
        for url, seed in routes.items():
            if seed is None:
                conn.execute("DELETE FROM peer_routes WHERE peer_key = ? AND url = ?", (peer_key, url))
            else:
                conn.execute(
                    "INSERT INTO peer_routes (peer_key, url, seed, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(peer_key, url) DO UPDATE SET seed = excluded.seed, updated = excluded.updated",
                    (peer_key, url, seed, when),
                )
        conn.execute(
            "DELETE FROM peer_routes WHERE peer_key = ? AND url NOT IN (SELECT url FROM peer_routes "
            "WHERE peer_key = ? ORDER BY updated DESC, url LIMIT ?)",
            (peer_key, peer_key, MAX_PEER_ROUTES),
        )


def peer_routes(store: Store, peer_key: bytes) -> dict[str, int]:
    rows = store.fetchall("SELECT url, seed FROM peer_routes WHERE peer_key = ? ORDER BY url", (peer_key,))
    return {str(r[0]): int(r[1]) for r in rows}


def routes_unsent(store: Store, url: str, seed: int, peer_keys: Iterable[bytes]) -> list[bytes]:
    """Which of ``peer_keys`` have not been told ``seed`` as my seed on ``url``."""
    keys = list(dict.fromkeys(peer_keys))
    told: set[bytes] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.fetchall(
            f"SELECT peer_key FROM routes_sent WHERE url = ? AND seed = ? AND peer_key IN ({marks})",
            (url, seed, *chunk),
        )
        told.update(bytes(r[0]) for r in rows)
    return [k for k in keys if k not in told]


def mark_routes_sent(store: Store, url: str, seed: int, peer_keys: Iterable[bytes]) -> None:
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO routes_sent (peer_key, url, seed) VALUES (?, ?, ?) "
            "ON CONFLICT(peer_key, url) DO UPDATE SET seed = excluded.seed",
            [(k, url, seed) for k in peer_keys],
        )


def set_recipients(store: Store, envelope_id: str, peer_keys: Sequence[bytes]) -> None:
    """The recipients' keys of an outbox envelope (call in the transaction that queues it)."""
    with store.write() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO outbox_recipients (envelope_id, peer_key) VALUES (?, ?)",
            [(envelope_id, k) for k in peer_keys],
        )


def recipient_seeds(
    store: Store, url: str, envelope_ids: Sequence[str], me: bytes | None = None
) -> dict[str, list[int | None]]:
    """Per outbox envelope, its recipients' seeds on ``url`` (None: unknown). An envelope without
    recorded recipients (queued before they were recorded) is absent: it goes out broadcast. A
    recipient ``me`` (my own public key: a device-sync envelope) has my own seed on ``url``."""
    out: dict[str, list[int | None]] = {}
    for start in range(0, len(envelope_ids), 500):
        chunk = list(envelope_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        rows = store.fetchall(
            "SELECT r.envelope_id, coalesce(p.seed, m.seed) FROM outbox_recipients r LEFT JOIN peer_routes p "
            "ON p.peer_key = r.peer_key AND p.url = ? LEFT JOIN relay_routes m ON r.peer_key = ? AND m.url = ? "
            f"WHERE r.envelope_id IN ({marks})",
            (url, me, url, *chunk),
        )
        for eid, seed in rows:
            out.setdefault(str(eid), []).append(None if seed is None else int(seed))
    return out
