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


@dataclass
class _WriteJob:
    data: bytes
    now: float
    expires: int | None
    result: StoreResult | None = None
    error: BaseException | None = None
    done: bool = False


BatchWriter = Callable[[list[tuple[bytes, float, int | None]]], list[StoreResult]]


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

    def store(self, data: bytes, now: float, expires: int | None) -> StoreResult:
        """Store one envelope as part of the next committed batch."""
        return self.store_many([(data, expires)], now)[0]

    def store_many(self, items: list[tuple[bytes, int | None]], now: float) -> list[StoreResult]:
        """Store several envelopes (in order) in the same committed transaction; one result each."""
        jobs = [_WriteJob(data, now, expires) for data, expires in items]
        if not jobs:
            return []
        with self._queue_lock:  # queued together, so one leader takes them all into one transaction
            self._queue.extend(jobs)
        with self._leader:
            if not jobs[0].done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    written = self._write_batch([(j.data, j.now, j.expires) for j in batch])
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

    def store_envelope(self, data: bytes, now: float, expires: int | None) -> StoreResult:
        """Store ``data`` once (idempotent by id) and commit durably before returning."""
        ...

    def store_envelopes(self, items: list[tuple[bytes, int | None]], now: float) -> list[StoreResult]:
        """Store each ``(data, expires)`` once, all in one durable commit, before returning; in order."""
        ...

    def list_envelopes(self, after: int, limit: int, now: float) -> list[StoredEnvelope]:
        """Unexpired envelopes with ``seq > after`` in seq order, at most ``limit``."""
        ...

    def max_seq(self) -> int:
        """The highest seq ever committed (0 when none)."""
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
