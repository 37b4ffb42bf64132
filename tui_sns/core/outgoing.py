"""Sealing one payload to some of my contacts and queueing it (the one place that advances chains)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput
from tui_sns.crypto.envelope import MAX_PAYLOAD, MAX_RECIPIENTS, NO_PREV, Recipient, Sealed, seal
from tui_sns.store import contacts as contact_store
from tui_sns.store import mailbox
from tui_sns.store import posts as post_store
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session


def expires_unix(expires_iso: str | None) -> int | None:
    return None if expires_iso is None else int(datetime.fromisoformat(expires_iso).timestamp())


def readers_of(session: Session, post_id: str, *, without: bytes | None = None) -> list[Contact]:
    """The stored readers of entry ``post_id`` (as sealed, never widened) who are still my contacts, at
    their current chain positions; ``without``: leave out the contact with this public key (the sender
    of a comment being forwarded)."""
    ids = set(post_store.reader_ids(session.store, post_id))
    return [c for c in contact_store.list_contacts(session.store) if c.id in ids and c.public_key != without]


def send(
    session: Session, contacts: Sequence[Contact], payload: bytes, *, expires: str | None = None
) -> Sealed | None:
    """Seal ``payload`` once to ``contacts`` (blocked ones are skipped) at their current chain
    positions, queue it in the outbox (with the relay expiry, if any) and advance the chains.

    Call inside the caller's store transaction when the send must be atomic with other writes.
    None when nobody is left to send to.
    """
    readers = [c for c in contacts if not c.blocked]
    if not readers:
        return None
    if len(readers) > MAX_RECIPIENTS:
        raise InvalidInput(f"at most {MAX_RECIPIENTS} people can read one entry")
    if len(payload) > MAX_PAYLOAD:
        raise InvalidInput(f"too long (at most about {MAX_PAYLOAD // 1024} KiB)")
    # Chain positions are read fresh inside the write transaction, so concurrent sends cannot collide.
    with session.store.write():
        fresh = [contact_store.contact_by_key(session.store, c.public_key) or c for c in readers]
        sealed = seal(
            session.identity, [Recipient(c.public_key, c.send_seq + 1, c.send_prev) for c in fresh], payload
        )
        mailbox.queue_envelope(session.store, sealed.id, sealed.data, now_iso(), expires_unix(expires))
        for c in fresh:
            contact_store.advance_send_chain(session.store, c.id, c.send_seq + 1, sealed.digest)
    return sealed


def send_unchained(session: Session, contact: Contact, payload: bytes) -> Sealed:
    """Seal to one person outside our pairwise chain (sequence 0): a contact request, which the
    recipient does not record in any chain (they may not know me yet)."""
    sealed = seal(session.identity, [Recipient(contact.public_key, 0, NO_PREV)], payload)
    mailbox.queue_envelope(session.store, sealed.id, sealed.data, now_iso())
    return sealed
