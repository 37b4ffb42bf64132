"""Receiving envelopes (from a bundle file or a relay): open, check, store — idempotently."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.messages import (
    CommentMessage,
    DeleteMessage,
    EditMessage,
    HideMessage,
    PostMessage,
    RequestMessage,
    ThreadMessage,
    UncommentMessage,
    decode_message,
)
from tui_sns.crypto.card import decode_card
from tui_sns.crypto.envelope import Opened, envelope_id, open_envelope
from tui_sns.crypto.errors import CardError, EnvelopeError
from tui_sns.store import contacts as contact_store
from tui_sns.store import mailbox
from tui_sns.store import posts as post_store
from tui_sns.store import requests as request_store
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


MAX_PENDING_REQUESTS = 50


@dataclass
class ReceiveReport:
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    new_post_ids: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.outcomes[Outcome.STORED]

    def merge(self, other: ReceiveReport) -> None:
        self.outcomes.update(other.outcomes)
        self.new_post_ids.extend(other.new_post_ids)


def local_post_id(author_key: bytes, remote_id: str) -> str:
    """A received entry's id on this device: unique per (author, author's id)."""
    return hashlib.blake2b(author_key + remote_id.encode(), digest_size=8).hexdigest()


class Inbox:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def receive(self, envelopes: list[bytes]) -> ReceiveReport:
        """Open every envelope (outside any transaction), then record the results in one transaction."""
        report = ReceiveReport()
        opened: list[tuple[str, Opened | None, Outcome | None]] = []
        ids = [envelope_id(data) for data in envelopes]
        batch_ids = mailbox.seen_among(self.store, ids)
        for eid, data in zip(ids, envelopes, strict=True):
            if eid in batch_ids:
                report.outcomes[Outcome.DUPLICATE] += 1
                continue
            batch_ids.add(eid)
            try:
                result = open_envelope(self.session.identity, data)
            except EnvelopeError:
                opened.append((eid, None, Outcome.REJECTED))
                continue
            opened.append((eid, result, None if result else Outcome.NOT_FOR_ME))
        with self.store.write() as conn:
            mailbox.mark_seen_many(conn, [eid for eid, _, _ in opened])
            for eid, result, outcome in opened:
                if result is not None:
                    outcome = self._apply(conn, eid, result, report)
                assert outcome is not None
                report.outcomes[outcome] += 1
        self.session.diary.purge_expired()  # cheap when nothing expired; covers sync and imports
        return report

    def _apply(self, conn: object, eid: str, opened: Opened, report: ReceiveReport) -> Outcome:
        if opened.from_self:
            return Outcome.MINE
        contact = contact_store.contact_by_key(self.store, opened.sender)
        if contact is None:
            return self._stranger(opened)
        if contact.blocked:
            return Outcome.BLOCKED
        message = decode_message(opened.payload)
        if isinstance(message, RequestMessage):
            return Outcome.IGNORED  # already my contact; requests travel outside the chain (seq 0)
        if not mailbox.record_received_seq(conn, contact.id, opened.seq, opened.digest, opened.prev):
            return Outcome.REPLAY
        if message is None:
            return Outcome.UNREADABLE
        if not isinstance(message, PostMessage):
            return Outcome.APPLIED if self._apply_other(contact, message) else Outcome.IGNORED
        if message.expires is not None and message.expires <= now_iso():
            return Outcome.IGNORED
        post_id = local_post_id(contact.public_key, message.remote_id)
        fresh = post_store.insert_post(
            self.store,
            post_id=post_id,
            remote_id=message.remote_id,
            author_id=contact.id,
            title=message.title,
            body=message.body,
            created=message.created,
            received=now_iso(),
            envelope_id=eid,
            thread_key=message.thread_key,
            expires=message.expires,
            unread=True,
        )
        if not fresh:
            return Outcome.REPLAY
        report.new_post_ids.append(post_id)
        return Outcome.STORED

    def _apply_other(self, contact: Contact, message: object) -> bool:
        """Edits, deletions and conversation messages; False when the sender may not do this."""
        comments = self.session.comments
        if isinstance(message, EditMessage):
            found = post_store.find_post_by(self.store, contact.id, message.remote_id)
            return found is not None and post_store.update_post(
                self.store, found[0], message.title, message.body, message.edited
            )
        if isinstance(message, DeleteMessage):
            found = post_store.find_post_by(self.store, contact.id, message.remote_id)
            return found is not None and post_store.delete_post(self.store, found[0])
        if isinstance(message, CommentMessage):
            return comments.on_comment(contact, message)
        if isinstance(message, ThreadMessage):
            return comments.on_thread(contact, message)
        if isinstance(message, HideMessage):
            return comments.on_hide(contact, message)
        if isinstance(message, UncommentMessage):
            return comments.on_uncomment(contact, message)
        return False

    def _stranger(self, opened: Opened) -> Outcome:
        """From someone who is not my contact: only a well-formed request whose card carries the
        sender's authenticated key is kept (bounded); anything else is dropped unseen."""
        message = decode_message(opened.payload)
        if not isinstance(message, RequestMessage):
            return Outcome.STRANGER
        try:
            card = decode_card(message.card)
        except CardError:
            return Outcome.STRANGER
        if card.public_key != opened.sender:
            return Outcome.STRANGER
        saved = request_store.save_request(
            self.store, opened.sender, message.card, message.note, now_iso(), MAX_PENDING_REQUESTS
        )
        return Outcome.REQUEST if saved else Outcome.STRANGER
