"""Sealing one payload to some of my contacts and queueing it: the one place that advances chains.

Every chained envelope I write (entries, comments, comment forwards, edits, deletions, hides) goes
through :func:`send`, which reads the chain positions, seals, queues the envelope and advances the
positions in one write transaction (docs/protocol.md, "Chain state"). Contact requests travel outside
the chain (:func:`send_unchained`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput
from tui_sns.crypto.envelope import MAX_PAYLOAD, MAX_RECIPIENTS, NO_PREV, Recipient, Sealed, seal
from tui_sns.store import contacts as contact_store
from tui_sns.store import mailbox
from tui_sns.store import posts as post_store
from tui_sns.store import routes as route_store
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session

# Envelopes derived from an entry (comments, forwards, edits, deletions, hides) never carry the entry's
# expiry: relays would match them to it. They get a coarse retention of their own instead: at least
# DERIVED_RETENTION from queueing, rounded up to a multiple of RETENTION_GRAIN (unix time), so every
# derived envelope queued in the same week carries the same value (docs/threat-model.md).
DERIVED_RETENTION = timedelta(days=60)
RETENTION_GRAIN = timedelta(days=7)


def expires_unix(expires_iso: str | None) -> int | None:
    return None if expires_iso is None else int(datetime.fromisoformat(expires_iso).timestamp())


def readers_of(session: Session, post_id: str, *, without: bytes | None = None) -> list[Contact]:
    """Who gets what is derived from my entry ``post_id`` (edits, deletions, comment forwards, hides):
    its readers as sealed (never widened), minus those no longer my contacts, minus those since removed
    from every audience that named them (a circle they left, a circle deleted), minus ``without`` (the
    public key of a comment's writer, whose comment is being forwarded). Blocked contacts are skipped
    by :func:`send`. The one readers function: diary and comments both call it."""
    ids = set(post_store.current_reader_ids(session.store, post_id))
    return [c for c in contact_store.list_contacts(session.store) if c.id in ids and c.public_key != without]


def derived_expires(now: datetime | None = None) -> int:
    """The relay expiry (unix seconds) of an envelope derived from an entry queued at ``now``."""
    when = (now or datetime.now(UTC)) + DERIVED_RETENTION
    grain = int(RETENTION_GRAIN.total_seconds())
    stamp = int(when.timestamp())
    return -(-stamp // grain) * grain


def send(
    session: Session,
    contacts: Sequence[Contact],
    payload: bytes,
    *,
    expires: int | None = None,
    target: str | None = None,
    min_slots: int = 0,
    on_sealed: Callable[[Sealed], None] | None = None,
) -> Sealed | None:
    """Seal ``payload`` once to ``contacts`` (blocked ones are skipped) at their chain positions,
    queue it and advance the chains — all in one write transaction (joining the caller's, if any).

    ``expires``: unix seconds passed to relays. ``target``: the local id of the entry this envelope
    is derived from (it leaves my outbox with the entry). ``min_slots``: seal at least this many
    slots (an entry's derived envelopes use the entry's own slot count, so the relay learns nothing
    new about the audience size). ``on_sealed`` runs inside the same transaction (e.g. to store the
    entry with the envelope's id). Returns None, sealing nothing, when nobody is left to send to.

    Raises InvalidInput when there are too many readers or the payload is too long.
    """
    readers = [c for c in contacts if not c.blocked]
    if not readers:
        return None
    if len(readers) > MAX_RECIPIENTS:
        raise InvalidInput(f"at most {MAX_RECIPIENTS} people can read one entry")
    if len(payload) > MAX_PAYLOAD:
        raise InvalidInput(f"too long: {len(payload):,} bytes once encoded, at most {MAX_PAYLOAD:,}")
    with session.store.write():
        keys = [c.public_key for c in readers]
        positions = contact_store.send_positions(session.store, keys)
        recipients = [Recipient(k, positions[k][0] + 1, positions[k][1]) for k in keys]
        sealed = seal(session.identity, recipients, payload, min_slots=min_slots)
        mailbox.queue_envelope(session.store, sealed.id, sealed.data, now_iso(), expires, target)
        route_store.set_recipients(session.store, sealed.id, keys)  # its tags are computed at push
        for r in recipients:
            contact_store.advance_send_chain(session.store, r.public_key, r.seq, sealed.digest)
        if on_sealed is not None:
            on_sealed(sealed)
    return sealed


def send_unchained(session: Session, contact: Contact, payload: bytes) -> Sealed:
    """Seal to one person outside our pairwise chain (sequence 0): a contact request, which the
    recipient does not record in any chain (they may not know me yet)."""
    with session.store.write():
        sealed = seal(session.identity, [Recipient(contact.public_key, 0, NO_PREV)], payload)
        mailbox.queue_envelope(session.store, sealed.id, sealed.data, now_iso())
        route_store.set_recipients(session.store, sealed.id, [contact.public_key])
    return sealed
