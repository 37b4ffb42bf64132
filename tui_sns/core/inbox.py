"""Receiving envelopes (from a bundle file or a relay): open, check, store — idempotently."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, cast

from tui_sns.core.clock import now_iso
from tui_sns.core.epochs import payload_type
from tui_sns.core.messages import (
    CommentMessage,
    DeleteMessage,
    EditMessage,
    HideMessage,
    PostMessage,
    RequestMessage,
    RoutesMessage,
    ThreadMessage,
    UncommentMessage,
    decode_message,
    entry_digest,
    message_type,
    normalize_time,
)
from tui_sns.crypto.card import decode_card
from tui_sns.crypto.envelope import Opened, envelope_id, open_envelope
from tui_sns.crypto.envelope_v2 import OpenedReset, OpenedV2, Unopenable, has_reset_marker
from tui_sns.crypto.errors import CardError, EnvelopeError
from tui_sns.store import contacts as contact_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store import mailbox
from tui_sns.store import posts as post_store
from tui_sns.store import requests as request_store
from tui_sns.store.database import Connection
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session


class Outcome(Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # this exact envelope was processed before
    NOT_FOR_ME = "not_for_me"
    MINE = "mine"  # my own envelope coming back
    STRANGER = "stranger"  # addressed to me by someone who is not my contact: dropped unseen
    REPLAY = "replay"  # same sender and sequence number as one already received
    REJECTED = "rejected"  # malformed or failing authentication
    UNREADABLE = "unreadable"  # authentic, but a payload this version does not understand
    APPLIED = "applied"  # an edit, deletion, comment or hide from someone allowed to send it
    IGNORED = "ignored"  # authentic, but not allowed (e.g. an edit by someone other than the author)
    BLOCKED = "blocked"  # from a contact I blocked: dropped unseen
    REQUEST = "request"  # a contact request from a stranger, kept for me to accept or reject
    PENDING = "pending"  # an operation on an entry that has not arrived yet: kept, applied when it does
    DELETED = "deleted"  # an entry its author deleted before it arrived (a tombstone): never shown
    EXPIRED = "expired"  # an entry that arrived already expired (beyond the tolerance): reported
    KEY_DELETED = (
        "key_deleted"  # a slot of mine whose key was erased on schedule (design-v2 §5.4): unopenable
    )


# Devices.receive's outcome names for a sibling's envelope, as inbox outcomes (design-v2 §8.2).
_SELF_OUTCOMES = {
    "mine": Outcome.MINE,
    "replay": Outcome.REPLAY,
    "from_removed_device": Outcome.IGNORED,
    "synced": Outcome.APPLIED,
    "rejected": Outcome.REJECTED,
}

# Resets.receive's outcome names for a reset envelope (design-v2 §10), as inbox outcomes.
_RESET_OUTCOMES = {
    "mine": Outcome.MINE,
    "reset": Outcome.APPLIED,
    "reset_merged": Outcome.APPLIED,
    "reset_conflict": Outcome.IGNORED,
    "from_removed_device": Outcome.IGNORED,
    "stale_generation": Outcome.IGNORED,
    "rejected": Outcome.REJECTED,
}

MAX_PENDING_REQUESTS = 50
# Operations (edits, hides, comment forwards) waiting for an entry that has not arrived, per author.
# Beyond this, further ones from that author are dropped (and counted as IGNORED) until some apply.
MAX_PENDING_PER_AUTHOR = 500
# ... and each waits at most this long (longer than relays keep derived envelopes: its entry is not
# coming, e.g. it expired on the relays before I synced).
PENDING_LIFETIME = timedelta(days=90)
# A received entry whose expiry passed less than this before it arrived is kept (expiring this much
# later); one that expired earlier is not stored, and the report names its author.
EXPIRY_TOLERANCE = timedelta(hours=1)

# What arrived, by kind (ReceiveReport.kinds keys; the CLI's `sync` prints them).
KINDS = ("entries", "comments", "edits", "deletions", "hides", "requests")


@dataclass
class ReceiveReport:
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    new_post_ids: list[str] = field(default_factory=list)
    # authentic arrivals by kind (KINDS), and "refused_requests": strangers' requests dropped as refused
    kinds: Counter[str] = field(default_factory=Counter)
    expired: list[str] = field(default_factory=list)  # contact names, one per entry that arrived expired
    key_deleted: list[int] = field(default_factory=list)  # deletion times (unix) of erased prekeys that located slots for me
    # my own devices' envelopes refused (design-v2 §10): "stale_generation", "from_removed_device",
    # "refused_reset", "reset_conflict" — each is warned about
    device_warnings: Counter[str] = field(default_factory=Counter)

    @property
    def stored(self) -> int:
        return self.outcomes[Outcome.STORED]

    def merge(self, other: ReceiveReport) -> None:
        self.outcomes.update(other.outcomes)
        self.new_post_ids.extend(other.new_post_ids)
        self.kinds.update(other.kinds)
        self.expired.extend(other.expired)
        self.key_deleted.extend(other.key_deleted)
        self.device_warnings.update(other.device_warnings)


_SINGULAR = {
    "entries": "entry",
    "comments": "comment",
    "edits": "edit",
    "deletions": "deletion",
    "hides": "hide",
    "requests": "request",
}


def describe_kinds(kinds: Counter[str]) -> str:
    """What arrived, by kind: "1 entry, 2 comments, 0 edits, 0 deletions, 0 requests" (hides only
    when some arrived)."""
    shown = [k for k in KINDS if k != "hides" or kinds[k]]
    return ", ".join(f"{kinds[k]} {_SINGULAR[k] if kinds[k] == 1 else k}" for k in shown)


def refused_requests_line(kinds: Counter[str]) -> str | None:
    """ "2 contact requests refused (...)" when strangers' requests were dropped (a card naming another
    key, a name or note not allowed, too many waiting), else None."""
    count = kinds["refused_requests"]
    if not count:
        return None
    return f"{count} contact request{'' if count == 1 else 's'} refused (malformed, or too many waiting)"


def expired_warnings(names: list[str]) -> list[str]:
    """One line per author whose entries arrived already expired (and were not stored)."""
    counts = Counter(names)
    return [
        f"{n} entr{'y' if n == 1 else 'ies'} from {name} arrived already expired and {'was' if n == 1 else 'were'} "
        "not stored (their clock or mine may be wrong)"
        for name, n in sorted(counts.items())
    ]


@dataclass(frozen=True)
class OpenedBatch:
    """Envelopes opened (outside any transaction), waiting to be recorded by :meth:`Inbox.record`."""

    items: list[tuple[str, Opened | Unopenable | None, Outcome | None]]
    duplicates: int
    # the bytes of the items that opened as "not for me", by envelope id: a reset adopted earlier in
    # the batch (design-v2 §10.1) brings the keys that open them, so they are tried again after it
    unopened: dict[str, bytes] = field(default_factory=dict)
    # of those, the ones that carry a reset marker of my identity: a reset that left this device out
    excluded: set[str] = field(default_factory=set)


def local_post_id(author_key: bytes, remote_id: str) -> str:
    """A received entry's id on this device: unique per (author, author's id)."""
    return hashlib.blake2b(author_key + remote_id.encode(), digest_size=8).hexdigest()


def _kind(message: object) -> str | None:
    if isinstance(message, PostMessage):
        return "entries"
    if isinstance(message, (CommentMessage, ThreadMessage)):
        return "comments"
    if isinstance(message, EditMessage):
        return "edits"
    if isinstance(message, (DeleteMessage, UncommentMessage)):
        return "deletions"
    if isinstance(message, HideMessage):
        return "hides"
    if isinstance(message, RequestMessage):
        return "requests"
    return None


def _target(message: object) -> str | None:
    """The author's id of the entry an author-only operation names (None for other messages)."""
    if isinstance(message, (EditMessage, DeleteMessage)):
        return message.remote_id
    if isinstance(message, (ThreadMessage, HideMessage)):
        return message.post
    return None


class Inbox:
    """Receiving is two steps: :meth:`open` (no transaction, no store lock held while opening) and
    :meth:`record` (one write transaction). :meth:`receive` does both."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def receive(self, envelopes: list[bytes]) -> ReceiveReport:
        """Open every envelope outside any transaction, then record the results in one transaction."""
        report = ReceiveReport()
        batch = self.open(envelopes)
        with self.store.write():
            self.record(batch, report)
        self.session.diary.purge_expired()  # cheap when nothing expired; covers sync and imports
        return report

    def open(self, envelopes: list[bytes]) -> OpenedBatch:
        """Open envelopes (the costly part: one X25519 each) without holding any transaction. Ids
        recorded before (envelopes that opened, see :meth:`record`) and repeats within the batch are
        skipped here; :meth:`record` checks the opened ones again."""
        items: list[tuple[str, Opened | Unopenable | None, Outcome | None]] = []
        unopened: dict[str, bytes] = {}
        excluded: set[str] = set()
        ids = [envelope_id(data) for data in envelopes]
        keyring = self.session.epochs.keyring()  # v1 and v2 (design-v2 §4.4: dispatch by version)
        batch_ids = mailbox.seen_among(self.store, ids)
        duplicates = 0
        for eid, data in zip(ids, envelopes, strict=True):
            if eid in batch_ids:
                duplicates += 1
                continue
            batch_ids.add(eid)
            try:
                result = open_envelope(keyring, data)
            except EnvelopeError:
                items.append((eid, None, Outcome.REJECTED))
                continue
            items.append((eid, result, None if result else Outcome.NOT_FOR_ME))
            if result is None:
                unopened[eid] = data
                if has_reset_marker(keyring, data):
                    excluded.add(eid)
        return OpenedBatch(items, duplicates, unopened, excluded)

    def record(self, batch: OpenedBatch, report: ReceiveReport) -> None:
        """Record opened envelopes in one write transaction (joining the caller's, e.g. with a relay
        cursor). Envelopes recorded meanwhile by someone else count as duplicates.

        Only the ids of envelopes that opened (for me, or mine) are recorded: they are what dedupe
        needs, and a byte-identical copy of one (another relay, a bundle imported twice) is then a
        DUPLICATE; a modified copy is caught as a REPLAY by the chain state. An envelope that did not
        open (someone else's, malformed, forged) leaves no row: fetched again it costs one more open
        and stores nothing, and a relay's cursor keeps it from being fetched twice from that relay
        (issue 15 §2: the store work of a first sync no longer grows with the relay's log)."""
        report.outcomes[Outcome.DUPLICATE] += batch.duplicates
        with self.store.write() as conn:
            opened = [eid for eid, result, _ in batch.items if isinstance(result, Opened)]
            seen = mailbox.seen_among(self.store, opened)
            mailbox.mark_seen_many(conn, [eid for eid in opened if eid not in seen])
            reopen = False
            lost = False
            for eid, result, outcome in batch.items:
                if reopen and result is None and eid in batch.unopened:
                    # a reset adopted above: envelopes sealed under its generation open now
                    try:
                        result = open_envelope(self.session.epochs.keyring(), batch.unopened[eid])
                    except EnvelopeError:
                        result, outcome = None, Outcome.REJECTED
                    if isinstance(result, Opened):
                        if mailbox.seen_among(self.store, [eid]):
                            seen.add(eid)
                        else:
                            mailbox.mark_seen_many(conn, [eid])
                if isinstance(result, Unopenable):
                    outcome = self._key_deleted(eid, result, report)
                    lost = lost or outcome is Outcome.KEY_DELETED
                elif result is not None:
                    outcome = Outcome.DUPLICATE if eid in seen else self._apply(conn, eid, result, report)
                assert outcome is not None
                report.outcomes[outcome] += 1
                if isinstance(result, OpenedReset) and outcome is Outcome.APPLIED:
                    reopen = True
                if result is None and eid in batch.excluded and not mailbox.seen_among(self.store, [eid]):
                    # design-v2 §10: a reset by a holder of my identity key that left this device out
                    mailbox.mark_seen_many(conn, [eid])  # a copy from another relay is a duplicate
                    self.session.resets.count("excluded_reset")
                    self.session.resets.mark_left_out()  # from now on it writes nothing as me
                    report.device_warnings["excluded_reset"] += 1
            if lost:  # design-v2 §5.4: my other devices may hold what these envelopes carried
                self.session.devices.ask_catchup()

    def _apply(self, conn: object, eid: str, opened: Opened, report: ReceiveReport) -> Outcome:
        if opened.from_self:
            if isinstance(opened, OpenedReset):  # design-v2 §10: a reset from a device of mine
                name = self.session.resets.receive(cast(Connection, conn), opened)
                if name in ("from_removed_device", "stale_generation", "reset_conflict"):
                    report.device_warnings[name] += 1
                elif name == "rejected":
                    report.device_warnings["refused_reset"] += 1
                return _RESET_OUTCOMES[name]
            if isinstance(opened, OpenedV2):
                resets = self.session.resets
                if (
                    opened.dev != self.session.devices.devid
                    and payload_type(opened.payload) == "sync"
                    and (opened.from_removed_device or resets.stale(opened))
                ):
                    # design-v2 §10.1 step 6 / §10.4: ops from a removed device, or sealed under an
                    # older generation's self key (which a removed device still holds): ignored, warned
                    name = "from_removed_device" if opened.from_removed_device else "stale_generation"
                    resets.count(name)
                    report.device_warnings[name] += 1
                    return Outcome.IGNORED
                # design-v2 §8.2: a sibling's device-sync ops are merged; entries (any device's) stay MINE
                return _SELF_OUTCOMES[self.session.devices.receive(cast(Connection, conn), opened)]
            return Outcome.MINE
        contact = contact_store.contact_by_key(self.store, opened.sender)
        if contact is None:
            return self._stranger(opened, report)
        if contact.blocked:
            return Outcome.BLOCKED
        if isinstance(opened, OpenedV2):
            epoch_store.mark_v2(self.store, contact.public_key)  # it sends v2: it reads announcements
        else:
            self.session.epochs.on_v1_from(contact.public_key)  # no usable prekey of mine over there
        message = decode_message(opened.payload)
        if isinstance(message, RequestMessage):
            return Outcome.IGNORED  # already my contact; requests travel outside the chain (seq 0)
        dev = opened.dev if isinstance(opened, OpenedV2) else mailbox.V1_DEV  # chains per author device
        if not mailbox.record_received_seq(
            conn, contact.public_key, opened.seq, opened.digest, opened.prev, dev
        ):
            return Outcome.REPLAY
        if message is None:
            if payload_type(opened.payload) == "announce":  # design-v2 §6.2
                accepted = self.session.epochs.receive_announce(contact, opened.payload)
                return Outcome.APPLIED if accepted else Outcome.IGNORED
            return Outcome.UNREADABLE
        kind = _kind(message)
        if kind is not None:
            report.kinds[kind] += 1
        if isinstance(message, PostMessage):
            outcome = self._entry(contact, message, eid, opened.seq, report, dev)
            if outcome is Outcome.STORED and isinstance(opened, OpenedV2):
                epoch_store.set_received_version(self.store, report.new_post_ids[-1], 2)
            return outcome
        if isinstance(message, RoutesMessage):  # a contact's shard seeds (docs/design-sharding.md §3.1)
            return Outcome.APPLIED if self.session.routes.on_routes(contact, message) else Outcome.IGNORED
        return self._operation(contact, message, opened.seq, opened.payload, dev)

    def _key_deleted(self, eid: str, result: Unopenable, report: ReceiveReport) -> Outcome:
        """A slot of mine located under a key erased on schedule (design-v2 §5.4): remembered once per
        envelope (a repeat is a duplicate) and counted; the figure is an upper bound ("up to")."""
        fresh = epoch_store.record_key_deleted(
            self.store, eid, result.kind, result.kid, result.deleted_at, now_iso()
        )
        if fresh:
            if result.kind == "prekey":  # addressed to me; a self slot is one of my own envelopes
                report.key_deleted.append(result.deleted_at)
            return Outcome.KEY_DELETED
        return Outcome.DUPLICATE

    def _entry(
        self,
        contact: Contact,
        message: PostMessage,
        eid: str,
        seq: int,
        report: ReceiveReport,
        dev: bytes = mailbox.V1_DEV,
    ) -> Outcome:
        if post_store.is_tombstoned(self.store, contact.public_key, message.remote_id):
            return Outcome.DELETED
        arrival = now_iso()
        # Placement: the author's claimed time, never later than the arrival (a clock set to the future
        # cannot keep an entry on top); the claimed time is kept to be shown where it differs.
        claimed = normalize_time(message.created) or arrival
        placed = min(claimed, arrival)
        expires = message.expires
        if expires is not None and expires <= arrival:
            late = datetime.fromisoformat(arrival) - datetime.fromisoformat(expires)
            if late >= EXPIRY_TOLERANCE:
                post_store.add_tombstone(self.store, contact.public_key, message.remote_id, arrival)
                report.expired.append(contact.name)
                return Outcome.EXPIRED
            expires = (datetime.fromisoformat(expires) + EXPIRY_TOLERANCE).isoformat()
        post_id = local_post_id(contact.public_key, message.remote_id)
        fresh = post_store.insert_post(
            self.store,
            post_id=post_id,
            remote_id=message.remote_id,
            author_id=contact.id,
            title=message.title,
            body=message.body,
            created=placed,
            received=arrival,
            envelope_id=eid,
            thread_key=message.thread_key,
            expires=expires,
            unread=True,
            seq=seq,
            claimed=None if claimed == placed else claimed,
            digest=entry_digest(message.remote_id, message.title, message.body),
            dev=dev,
        )
        if not fresh:
            return Outcome.REPLAY
        report.new_post_ids.append(post_id)
        self.session.devices.received_entry(contact.public_key, message.remote_id)  # its read state
        # Operations that arrived before the entry, in the author's order.
        for op_seq, payload in post_store.take_pending(self.store, contact.public_key, message.remote_id):
            op = decode_message(payload)
            if op is not None:
                self._operation(contact, op, op_seq, payload)
        return Outcome.STORED

    def _operation(
        self, contact: Contact, message: object, seq: int, payload: bytes, dev: bytes = mailbox.V1_DEV
    ) -> Outcome:
        """Edits, deletions and conversation messages. An author's operation on an entry that has not
        arrived is kept (bounded) and applied when it does; a deletion leaves a tombstone."""
        target = _target(message)
        if target is not None and post_store.find_post_by(self.store, contact.id, target) is None:
            if post_store.is_tombstoned(self.store, contact.public_key, target):
                return Outcome.IGNORED
            if isinstance(message, DeleteMessage):
                post_store.add_tombstone(self.store, contact.public_key, target, now_iso())
                return Outcome.APPLIED
            now = now_iso()
            forget = (datetime.fromisoformat(now) - PENDING_LIFETIME).isoformat()
            kept = post_store.add_pending(
                self.store, contact.public_key, seq, target, payload, now, MAX_PENDING_PER_AUTHOR, forget, dev
            )
            return Outcome.PENDING if kept else Outcome.IGNORED
        return Outcome.APPLIED if self._apply_other(contact, message, seq) else Outcome.IGNORED

    def _apply_other(self, contact: Contact, message: object, seq: int) -> bool:
        """Edits, deletions and conversation messages; False when the sender may not do this."""
        comments = self.session.comments
        if isinstance(message, EditMessage):
            found = post_store.find_post_by(self.store, contact.id, message.remote_id)
            if found is None:
                return False
            post_store.add_version(
                self.store, found[0], entry_digest(message.remote_id, message.title, message.body)
            )
            return post_store.update_post(
                self.store, found[0], message.title, message.body, message.edited, seq=message.order(seq)
            )
        if isinstance(message, DeleteMessage):
            found = post_store.find_post_by(self.store, contact.id, message.remote_id)
            post_store.add_tombstone(self.store, contact.public_key, message.remote_id, now_iso())
            return found is not None and post_store.delete_post(self.store, found[0])
        if isinstance(message, CommentMessage):
            return comments.on_comment(contact, message)
        if isinstance(message, ThreadMessage):
            return comments.on_thread(contact, message, seq)
        if isinstance(message, HideMessage):
            return comments.on_hide(contact, message)
        if isinstance(message, UncommentMessage):
            return comments.on_uncomment(contact, message)
        return False

    def _stranger(self, opened: Opened, report: ReceiveReport) -> Outcome:
        """From someone who is not my contact: only a well-formed request whose card carries the
        sender's authenticated key is kept (bounded, counted in ``report.kinds["requests"]``); a request
        refused is counted in ``report.kinds["refused_requests"]``; anything else is dropped unseen."""
        message = decode_message(opened.payload)
        if not isinstance(message, RequestMessage):
            if message is None and message_type(opened.payload) == "request":  # e.g. a note too long
                report.kinds["refused_requests"] += 1
            return Outcome.STRANGER
        outcome = self._request(opened, message)
        report.kinds["requests" if outcome is Outcome.REQUEST else "refused_requests"] += 1
        return outcome

    def _request(self, opened: Opened, message: RequestMessage) -> Outcome:
        try:
            card = decode_card(message.card)
        except CardError:
            return Outcome.STRANGER
        if card.public_key != opened.sender:
            return Outcome.STRANGER
        from tui_sns.core.errors import InvalidInput
        from tui_sns.core.messages import MAX_NOTE
        from tui_sns.core.names import check_display_name, check_note

        try:  # the rules my own contact book applies (issue 8): refused where it enters
            check_display_name(card.name, "card")
            check_note(message.note, MAX_NOTE)
        except InvalidInput:
            return Outcome.STRANGER
        saved = request_store.save_request(
            self.store, opened.sender, message.card, message.note, now_iso(), MAX_PENDING_REQUESTS
        )
        return Outcome.REQUEST if saved else Outcome.STRANGER
