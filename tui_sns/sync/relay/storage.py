"""The storage contract shared by the SQLite and PostgreSQL backends, plus shared helpers.

Both backends are synchronous (the app calls them from worker threads) and store
only what ``docs/relay.md`` lists: envelope bytes, id, seq, the arrival hour and an
optional expiry hour; hashes of invite codes and credentials with use counts and
coarse times.  Nothing links an envelope to the credential that wrote it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .config import parse_db_url
from .errors import InviteGoneError, InviteUnknownError

HOUR = 3600
SHORT_ID_LEN = 8
PRUNED_THROUGH = "pruned_through"  # relay_state: the highest seq deleted for age


def envelope_id(data: bytes) -> str:
    """Lowercase hex BLAKE2b-256 of the envelope bytes."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def token_hash(token: str) -> str:
    """Hex BLAKE2b-256 of an invite code or credential; only this is stored."""
    return hashlib.blake2b(token.encode("utf-8"), digest_size=32).hexdigest()


def new_token() -> str:
    """A fresh invite code or credential (192 random bits, URL-safe, never starting with ``-``).

    A leading ``-`` (1 token in 64) made command lines such as ``tui-sns relay add --invite CODE``
    and ``tui-sns-relay invite revoke CODE`` read the code as an option.
    """
    while True:
        token = secrets.token_urlsafe(24)
        if not token.startswith("-"):
            return token


def hour_floor(timestamp: float) -> int:
    """Round a unix time down to the hour."""
    return int(timestamp) // HOUR * HOUR


def hour_ceil(timestamp: float) -> int:
    """Round a unix time up to the hour."""
    return -(-int(timestamp) // HOUR) * HOUR


def prune_cutoff(now: float, older_than: int) -> int:
    """The latest stored arrival hour that ``older_than`` s of age may delete (``received_hour <= it``).

    Arrival times are stored rounded down to the hour, so an envelope stored with
    ``received_hour = h`` arrived at some time in ``[h, h + HOUR)``: only when
    ``h + HOUR <= now - older_than`` is it surely older than ``older_than``.
    """
    return int(now) - older_than - HOUR


@dataclass(frozen=True)
class StoredEnvelope:
    """One envelope as listed: arrival ``seq``, hex ``id``, the opaque bytes and its expiry hour (or None)."""

    seq: int
    id: str
    data: bytes
    expires: int | None = None


@dataclass(frozen=True)
class StoreResult:
    """Outcome of storing an envelope; ``created`` is False when the bytes were already stored."""

    seq: int
    id: str
    created: bool


@dataclass(frozen=True)
class InviteInfo:
    """An invite as the admin sees it: the code itself is not recoverable."""

    short_id: str
    uses_left: int
    expires_at: int | None
    created_hour: int
    revoked: bool


@dataclass(frozen=True)
class CredentialInfo:
    """A credential as the admin sees it."""

    short_id: str
    created_hour: int
    revoked: bool


@dataclass(frozen=True)
class RelayStats:
    """Totals for ``tui-sns-relay stats``."""

    envelopes: int
    bytes: int
    credentials: int
    active_credentials: int
    invites: int
    usable_invites: int


#: An upload's shard tags: the shards it is for, or None for all of them (broadcast).
Tags = frozenset[int] | None


@dataclass(frozen=True)
class WriteItem:
    """One envelope to store: bytes, arrival time, expiry hour, tags and ``shard_bits`` (log2 S) at upload."""

    data: bytes
    now: float
    expires: int | None
    tags: Tags = None
    shard_bits: int = 0


@dataclass
class _WriteJob:
    item: WriteItem
    result: StoreResult | None = None
    error: BaseException | None = None
    done: bool = False


BatchWriter = Callable[[list[WriteItem]], list[StoreResult]]


def shard_match_clauses(shard_bits: int, shard: int) -> list[tuple[str, tuple[int, ...]]]:
    """WHERE clauses on ``envelope_shards s`` (with their parameters) matching shard ``shard`` of S = 2^shard_bits.

    Tag rows keep the ``shard_bits`` of their upload, so a relay whose shard count changed still
    serves them (docs/relay.md, *Shards*): a row stored with ``b <= shard_bits`` bits matches when
    its shard is ``shard mod 2^b`` (one index seek per ``b``); one stored with more bits matches when
    its shard is congruent to ``shard`` mod S.  Placeholders are ``?``.
    """
    clauses: list[tuple[str, tuple[int, ...]]] = [
        ("s.shard_bits = ? AND s.shard = ?", (b, shard & ((1 << b) - 1))) for b in range(shard_bits + 1)
    ]
    clauses.append(("s.shard_bits > ? AND (s.shard & ?) = ?", (shard_bits, (1 << shard_bits) - 1, shard)))
    return clauses


class GroupCommit:
    """Combine concurrent envelope writes into one transaction, so one durable commit acknowledges many.

    Each caller queues its envelope (or, for a batch upload, all its envelopes at once, so they
    share one transaction) and then takes the leader lock; whoever holds
    it writes and commits everything queued so far, in queue order, and marks
    those jobs done.  Callers whose job was committed by an earlier leader return
    at once.  No caller returns before its envelope's transaction has committed.
    """

    def __init__(self, write_batch: BatchWriter) -> None:
        self._write_batch = write_batch
        self._leader = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_WriteJob] = []

    def store_many(self, items: list[WriteItem]) -> list[StoreResult]:
        """Store several envelopes (in order) in the same committed transaction; one result each."""
        jobs = [_WriteJob(item) for item in items]
        if not jobs:
            return []
        with self._queue_lock:  # queued together, so one leader takes them all into one transaction
            self._queue.extend(jobs)
        with self._leader:
            if not jobs[0].done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    written = self._write_batch([j.item for j in batch])
                    for queued, result in zip(batch, written, strict=True):
                        queued.result = result
                except BaseException as exc:
                    for queued in batch:
                        queued.error = exc
                    raise
                finally:
                    for queued in batch:
                        queued.done = True
        results: list[StoreResult] = []
        for job in jobs:
            if job.error is not None:
                raise job.error
            assert job.result is not None
            results.append(job.result)
        return results


class RelayStorage(Protocol):
    """What the app and CLI need from a database backend. All methods block."""

    #: True when :meth:`listen` delivers cross-process change notifications.
    notifies_changes: bool
    #: True when envelopes commit in seq order (SQLite): a committed seq N means every smaller seq is
    #: committed or never will be. False on PostgreSQL, where :meth:`max_seq` says how far that holds.
    commits_in_seq_order: bool

    def migrate(self) -> int:
        """Apply pending schema migrations in a transaction; return the schema version."""
        ...

    def schema_version(self) -> int:
        """The applied schema version (0 for an empty database)."""
        ...

    def close(self) -> None:
        """Release every connection."""
        ...

    def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers."""
        ...

    def store_envelope(
        self, data: bytes, now: float, expires: int | None, tags: Tags = None, shard_bits: int = 0
    ) -> StoreResult:
        """Store ``data`` once (idempotent by id: the first seq and first tags stick); commit durably."""
        ...

    def store_envelopes(
        self,
        items: list[tuple[bytes, int | None]],
        now: float,
        tags: list[Tags] | None = None,
        shard_bits: int = 0,
    ) -> list[StoreResult]:
        """Store each ``(data, expires)`` (with ``tags[i]``, default broadcast) once, in one durable commit."""
        ...

    def list_envelopes(self, after: int, limit: int, now: float) -> list[StoredEnvelope]:
        """Unexpired envelopes with ``seq > after`` in seq order, at most ``limit``."""
        ...

    def list_shard(
        self, shard_bits: int, shard: int, after: int, limit: int, now: float
    ) -> list[StoredEnvelope]:
        """Like :meth:`list_envelopes`, for the envelopes of one shard of S = 2^shard_bits.

        Those are the broadcast envelopes and those whose tags match (:func:`shard_match_clauses`).
        One statement, so one snapshot: tag rows commit with their envelope, and a shard reader that
        has seen seq N never misses a smaller seq of its shard (PostgreSQL: seqs below the write gate).
        """
        ...

    def max_seq(self) -> int:
        """The highest committed seq below which nothing is still to come (0 when none): every smaller
        seq is committed or never will be (PostgreSQL: the highest committed below the write gate)."""
        ...

    def create_invite(self, code_hash: str, uses: int, expires_at: int | None, now: float) -> None:
        """Record a new invite by the hash of its code."""
        ...

    def redeem_invite(self, code_hash: str, credential_hash: str, now: float) -> None:
        """Spend one use of an invite and record the credential; raise Invite*Error."""
        ...

    def credential_valid(self, credential_hash: str) -> bool:
        """True when the credential exists and is not revoked."""
        ...

    def list_invites(self) -> list[InviteInfo]:
        """Every invite, newest first."""
        ...

    def revoke_invite(self, hash_or_prefix: str) -> int:
        """Revoke the invites whose hash starts with the given hex; return how many."""
        ...

    def list_credentials(self) -> list[CredentialInfo]:
        """Every credential, newest first."""
        ...

    def revoke_credential(self, hash_or_prefix: str) -> int:
        """Revoke the credentials whose hash starts with the given hex; return how many."""
        ...

    def stats(self, now: float) -> RelayStats:
        """Counts for the admin."""
        ...

    def prune(self, now: float, older_than: int | None) -> int:
        """Delete expired envelopes and, if given, those surely older than ``older_than`` s.

        Records the highest seq deleted for age (see :meth:`first_seq`) in the same transaction.
        Never deletes an envelope that arrived less than ``older_than`` s before ``now``
        (see :func:`prune_cutoff`).
        """
        ...

    def first_seq(self) -> int:
        """1 + the highest seq ever deleted for age (retention), or 0 when none was.

        Every envelope with a smaller seq is gone (deleted for age or expiry, or never existed:
        seqs may have gaps); a reader whose cursor is below ``first_seq - 1`` missed some.
        """
        ...

    def cursor_at(self, hour: int) -> int:
        """A seq ``after`` such that every envelope that arrived at or after ``hour`` (unix s, a whole
        hour) has ``seq > after``, including those not stored yet (``GET /v1/cursor``).

        The smallest seq stored with ``received_hour >= hour``, minus one; when there is none, the
        highest seq committed (later uploads get larger ones); never below ``first_seq() - 1``.
        Arrival hours are compared, not seqs, so an envelope that arrived in that hour but committed
        before one of the previous hour (another process) is still counted.
        """
        ...

    def shard_horizon(self) -> int:
        """A seq up to which nothing is still to come: every envelope (and its tag rows) with a seq at or
        below it is committed or never will be (PostgreSQL: the first seq of the oldest batch still being
        written, minus one; 2^63 - 2 when none is; SQLite: 2^63 - 1, seq order is commit order)."""
        ...

    def finish_writes(self) -> int:
        """Release the seqs of batches whose writer died mid-write, so readers pass them (PostgreSQL;
        SQLite has none): how many batches."""
        ...

    def listen(self, on_change: Callable[[], None], stop: threading.Event) -> None:
        """Block until ``stop`` is set, calling ``on_change`` when another process stores."""
        ...


def check_invite(row: tuple[int, int | None, object] | None, now: float) -> None:
    """Raise the right error unless the invite row (uses_left, expires_at, revoked) can be redeemed."""
    if row is None:
        raise InviteUnknownError("no such invite code")
    uses_left, expires_at, revoked = row
    if revoked:
        raise InviteGoneError("this invite was revoked")
    if uses_left <= 0:
        raise InviteGoneError("this invite is used up")
    if expires_at is not None and expires_at <= now:
        raise InviteGoneError("this invite has expired")


def open_storage(db_url: str, *, pool_size: int = 10, sqlite_readers: int = 4) -> RelayStorage:
    """Open (without migrating) the backend named by a database URL.

    ``pool_size`` bounds PostgreSQL connections, ``sqlite_readers`` SQLite reader connections.
    """
    location = parse_db_url(db_url)
    if location.kind == "sqlite":
        from .storage_sqlite import SqliteStorage

        return SqliteStorage(location.target, readers=sqlite_readers)
    from .storage_postgres import PostgresStorage

    return PostgresStorage(location.target, pool_size=pool_size)


def write_items(
    items: list[tuple[bytes, int | None]], now: float, tags: list[Tags] | None, shard_bits: int
) -> list[WriteItem]:
    """:class:`WriteItem` s for ``store_envelopes`` arguments (tags default to broadcast; S = 1 never tags)."""
    if tags is not None and len(tags) != len(items):
        raise ValueError("one tag set per item")
    return [
        WriteItem(data, now, expires, tags[i] if tags is not None and shard_bits else None, shard_bits)
        for i, (data, expires) in enumerate(items)
    ]


def shard_listing_sql(
    shard_bits: int, shard: int, after: int, limit: int, now: int, gate: str | None = None
) -> tuple[str, list[int]]:
    """The single SELECT behind :meth:`RelayStorage.list_shard` (``?`` placeholders) and its parameters.

    ``gate``: an SQL expression; only seqs below it are returned (PostgreSQL: the first seq whose tag
    rows are still pending). Each branch returns its smallest seqs, so a gate that cuts some leaves
    every smaller one in the answer."""
    branches: list[str] = []
    params: list[int] = []
    seen = "AND s.seq > ? AND (e.expires_hour IS NULL OR e.expires_hour > ?)"
    for where, args in shard_match_clauses(shard_bits, shard):
        branches.append(
            f"SELECT seq FROM (SELECT s.seq FROM envelope_shards s JOIN envelopes e ON e.seq = s.seq"
            f" WHERE {where} {seen} ORDER BY s.seq LIMIT ?) AS b{len(branches)}"
        )
        params += [*args, after, now, limit]
    branches.append(
        "SELECT seq FROM (SELECT e.seq FROM envelopes e WHERE e.broadcast AND e.seq > ?"
        " AND (e.expires_hour IS NULL OR e.expires_hour > ?) ORDER BY e.seq LIMIT ?) AS bb"
    )
    params += [after, now, limit]
    sql = (
        "SELECT seq, id, data, expires_hour FROM envelopes WHERE seq IN ("
        + " UNION ALL ".join(branches)
        + ")"
        + (f" AND seq < {gate}" if gate else "")
        + " ORDER BY seq LIMIT ?"
    )
    return sql, [*params, limit]


#: The two numbers behind :meth:`RelayStorage.cursor_at` (``?`` placeholder: the hour): the smallest
#: seq that arrived at or after the hour, and the highest seq committed (pending rows have seq <= 0).
CURSOR_SQL = (
    "SELECT (SELECT MIN(seq) FROM envelopes WHERE received_hour >= ? AND seq > 0),"
    " (SELECT MAX(seq) FROM envelopes WHERE seq > 0)"
)


def cursor_from(first_after: int | None, highest: int, pruned_through: int) -> int:
    """``cursor_at``'s answer from the smallest seq at or after the hour (None: none), the highest
    seq ever committed and the highest seq deleted for age (0: none)."""
    after = first_after - 1 if first_after is not None else highest
    return max(after, pruned_through, 0)
