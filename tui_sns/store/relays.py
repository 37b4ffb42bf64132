"""My relays (with their credentials), read cursors, and per-relay delivery of the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from tui_sns.store.database import Store
from tui_sns.store.errors import NotFound


@dataclass(frozen=True)
class RelayRecord:
    url: str
    credential: str
    added: str


@dataclass(frozen=True)
class RelayState:
    url: str
    cursor: int
    last_ok: str | None  # the last time this relay answered a whole sync pass (ISO 8601 UTC)
    last_error: str | None  # why the last pass failed (None: it did not)
    retry_at: str | None = None  # when the watch loop tries it again (ISO 8601 UTC; None: not waiting)
    retention: int | None = None  # seconds the relay keeps envelopes, as /v1/info last said (None: forever)
    first_seq: int = 0  # 1 + the highest seq it deleted for age, as /v1/info last said
    pruned_unread: str | None = None  # the last loss detected (JSON, see core/sync retention), or None
    warned_approaching: str | None = None  # the last_ok whose "approaching" warning was shown


def add_relay(store: Store, url: str, credential: str, added: str) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO relays (url, credential, added) VALUES (?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET credential = excluded.credential",
            (url, credential, added),
        )


def remove_relay(store: Store, url: str) -> None:
    with store.write() as conn:
        if conn.execute("DELETE FROM relays WHERE url = ?", (url,)).rowcount == 0:
            raise NotFound(f"no relay {url!r} (see `tui-sns relay list`)")
        conn.execute("DELETE FROM outbox_delivery WHERE url = ? AND delivered IS NULL", (url,))


def list_relays(store: Store) -> list[RelayRecord]:
    rows = store.fetchall("SELECT url, credential, added FROM relays ORDER BY added, url")
    return [RelayRecord(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def get_state(store: Store, url: str) -> RelayState:
    row = store.fetchone(
        "SELECT url, cursor, last_ok, last_error, retry_at, retention, first_seq, pruned_unread,"
        " warned_approaching FROM relay_state WHERE url = ?",
        (url,),
    )
    if row is None:
        return RelayState(url, 0, None, None)
    return RelayState(str(row[0]), int(row[1]), row[2], row[3], row[4], row[5], int(row[6]), row[7], row[8])


def set_retention(store: Store, url: str, retention: int | None, first_seq: int) -> None:
    """Record what ``url``'s ``/v1/info`` said (checked by the caller)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO relay_state (url, retention, first_seq) VALUES (?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET retention = excluded.retention, first_seq = excluded.first_seq",
            (url, retention, first_seq),
        )


def set_pruned_unread(store: Store, url: str, value: str) -> None:
    """Record a loss detected on ``url`` (JSON text, written by the sync layer)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO relay_state (url, pruned_unread) VALUES (?, ?) "
            "ON CONFLICT(url) DO UPDATE SET pruned_unread = excluded.pruned_unread",
            (url, value),
        )


def set_warned_approaching(store: Store, url: str, last_ok: str) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE relay_state SET warned_approaching = ? WHERE url = ?",
            (last_ok, url),
        )


def set_cursor(store: Store, url: str, cursor: int) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO relay_state (url, cursor) VALUES (?, ?) "
            "ON CONFLICT(url) DO UPDATE SET cursor = max(cursor, excluded.cursor)",
            (url, cursor),
        )


def read_again(store: Store, url: str) -> None:
    """Forget how far ``url`` was read, so the next read starts as a first read (sync/retention.py):
    my shard there changed, and the envelopes of the new shard below the old cursor were never read."""
    with store.write() as conn:
        conn.execute("UPDATE relay_state SET cursor = 0, last_ok = NULL WHERE url = ?", (url,))


def record_result(store: Store, url: str, when: str, error: str | None, retry_at: str | None = None) -> None:
    """A pass with ``url`` ended: ``error`` None moves ``last_ok`` to ``when`` (and clears the error and
    the retry time); an error is kept with ``retry_at`` (when it is tried again) and ``last_ok`` stays."""
    with store.write() as conn:
        if error is None:
            conn.execute(
                "INSERT INTO relay_state (url, last_ok, last_error, retry_at) VALUES (?, ?, NULL, NULL) "
                "ON CONFLICT(url) DO UPDATE SET last_ok = excluded.last_ok, last_error = NULL, retry_at = NULL",
                (url, when),
            )
        else:
            conn.execute(
                "INSERT INTO relay_state (url, last_error, retry_at) VALUES (?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET last_error = excluded.last_error, retry_at = excluded.retry_at",
                (url, error, retry_at),
            )


def next_retry(store: Store, url: str) -> str | None:
    """When the next outbox envelope waiting for ``url`` may be offered to it again (None: none waits)."""
    row = store.fetchone(
        "SELECT min(next_try) FROM outbox_delivery WHERE url = ? AND delivered IS NULL", (url,)
    )
    return None if row is None or row[0] is None else str(row[0])


def reset_backoff(store: Store, url: str) -> None:
    """``url`` answers again: the outbox envelopes waiting for it may be sent now."""
    with store.write() as conn:
        conn.execute(
            "UPDATE outbox_delivery SET next_try = NULL WHERE url = ? AND delivered IS NULL AND next_try IS NOT NULL",
            (url,),
        )


def pending_deliveries(
    store: Store, url: str, now: str | None = None
) -> list[tuple[str, bytes, int, int | None]]:
    """Outbox envelopes not yet acknowledged by ``url``: (id, bytes, attempts so far, expires).

    ``expires`` is unix seconds (or None: kept until the relay's retention ends); envelopes whose
    expiry has passed are left out. With ``now``, envelopes whose back-off has not expired are left out.
    """
    sql = (
        "SELECT o.envelope_id, o.data, coalesce(d.attempts, 0), o.expires FROM outbox o "
        "LEFT JOIN outbox_delivery d ON d.envelope_id = o.envelope_id AND d.url = ? "
        "WHERE d.delivered IS NULL AND (o.expires IS NULL OR o.expires > CAST(strftime('%s', 'now') AS INTEGER))"
    )
    params: tuple[str, ...] = (url,)
    if now is not None:
        sql += " AND (d.next_try IS NULL OR d.next_try <= ?)"
        params = (url, now)
    rows = store.fetchall(sql + " ORDER BY o.rowid", params)
    return [(str(r[0]), bytes(r[1]), int(r[2]), None if r[3] is None else int(r[3])) for r in rows]


def mark_delivered(store: Store, envelope_id: str, url: str, when: str) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO outbox_delivery (envelope_id, url, delivered, attempts) VALUES (?, ?, ?, 1) "
            "ON CONFLICT(envelope_id, url) DO UPDATE SET delivered = excluded.delivered, "
            "attempts = attempts + 1, next_try = NULL",
            (envelope_id, url, when),
        )


def mark_failed(store: Store, envelope_id: str, url: str, next_try: str) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO outbox_delivery (envelope_id, url, attempts, next_try) VALUES (?, ?, 1, ?) "
            "ON CONFLICT(envelope_id, url) DO UPDATE SET attempts = attempts + 1, next_try = excluded.next_try",
            (envelope_id, url, next_try),
        )


def undelivered_count(store: Store) -> int:
    """Outbox envelopes that some relay of mine has not acknowledged yet (all of them, with no relay)."""
    row = store.fetchone(
        "SELECT count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM relays) OR EXISTS ("
        "SELECT 1 FROM relays r LEFT JOIN outbox_delivery d ON d.envelope_id = o.envelope_id AND d.url = r.url "
        "WHERE d.delivered IS NULL)"
    )
    return int(row[0]) if row else 0
