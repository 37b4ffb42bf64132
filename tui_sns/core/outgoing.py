"""Sealing one payload to some of my contacts and queueing it: the one place that advances chains.

Every chained envelope I write (entries, comments, comment forwards, edits, deletions, hides) goes
through :func:`send`, which reads the chain positions, seals, queues the envelope and advances the
positions in one write transaction (docs/protocol.md, "Chain state"). Contact requests travel outside
the chain (:func:`send_unchained`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tui_sns.core import clock
from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput
from tui_sns.crypto.envelope import MAX_PAYLOAD, MAX_RECIPIENTS, NO_PREV, Recipient, Sealed, seal
from tui_sns.crypto.envelope_v2 import RecipientV2, seal_v2
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
    """The relay expiry (unix seconds) of an envelope derived from an entry queued at ``now`` (default:
    the core's clock, :mod:`tui_sns.core.clock`)."""
    when = (now or clock.now()) + DERIVED_RETENTION
    grain = int(RETENTION_GRAIN.total_seconds())
    stamp = int(when.timestamp())
    return -(-stamp // grain) * grain


@dataclass(frozen=True)
class Sent:
    """What :func:`send` sealed and queued: one v2 envelope (readers with a usable prekey, my self slot
    included) and/or one v1 envelope without a self slot (the others: the v1 fallback, design-v2 §7).

    ``envelopes``: the v2 one first when there is one. ``versions``: reader public key → 1 or 2.
    """

    envelopes: tuple[Sealed, ...]
    versions: dict[bytes, int]
    delegated: tuple[bytes, ...] = ()  # v1 readers handed to my v1 sender device (§7): sealed there

    @property
    def id(self) -> str | None:
        """The relay id of the first envelope (the v2 one when there is one); None when every reader
        was a v1 reader handed to my v1 sender device."""
        return self.envelopes[0].id if self.envelopes else None

    @property
    def data(self) -> bytes:
        """The bytes of the first envelope (the v2 one when there is one)."""
        return self.envelopes[0].data

    @property
    def fallback(self) -> list[bytes]:
        """The readers who got the v1 fallback (not forward-secret)."""
        return [k for k, v in self.versions.items() if v == 1]


def split_readers(session: Session, readers: Sequence[Contact]) -> tuple[list[Contact], list[Contact]]:
    """``(forward-secret, v1 fallback)``: the readers with a usable prekey (§5.3) — when this device
    has a current epoch to seal my self slot with — and the others."""
    if not readers or session.epochs.self_key() is None:
        return [], list(readers)
    usable = session.epochs.usable_prekeys([c.public_key for c in readers])
    return [c for c in readers if c.public_key in usable], [c for c in readers if c.public_key not in usable]


def conflicted(session: Session, readers: Sequence[Contact]) -> set[bytes]:
    """The keys of ``readers`` flagged with a prekey conflict (design-v2 §6.2, §10.4): what is sent to
    them is held (:func:`send`), since either announced key may be a thief's."""
    from tui_sns.store import epochs as epoch_store

    if not readers:
        return set()
    caps = epoch_store.all_peer_caps(session.store)
    return {c.public_key for c in readers if (cap := caps.get(c.public_key)) and cap.prekey_conflict is not None}


def send(
    session: Session,
    contacts: Sequence[Contact],
    payload: bytes,
    *,
    expires: int | None = None,
    target: str | None = None,
    min_slots: int = 0,
    hold: bool = True,
) -> Sent | None:
    """Seal ``payload`` to ``contacts`` (blocked ones are skipped) at their chain positions, queue it
    and advance the chains — all in one write transaction (joining the caller's, if any).

    The one send path chooses per reader (docs/design-v2.md §7): readers with a usable prekey get one
    v2 envelope (with my self slot); the others one v1 envelope **without** a self slot. Each reader is
    in exactly one envelope, at its own chain position: v2 envelopes on this device's chains (the
    reader keys them by my per-reader device tag), v1 envelopes on my one v1 chain per reader, which
    only my **v1 sender device** writes — on any other device the v1 part becomes a ``v1-send``
    device-sync op that the v1 sender seals at its next sync (``Sent.delegated``).

    ``expires``: unix seconds passed to relays. ``target``: the local id of the entry this envelope
    is derived from (it leaves my outbox with the entry). ``min_slots``: seal at least this many
    slots (an entry's derived envelopes use the entry's own slot count, so the relay learns nothing
    new about the audience size). Returns None, sealing nothing, when nobody is left to send to.

    Readers flagged with a prekey conflict (design-v2 §10.4) are left out and the payload is **held**
    for them (``held_sends``) until the person releases it (:meth:`tui_sns.core.resets.Resets.release`);
    ``hold=False`` (my own announcements and shard routes, which are not diary content) seals to them
    as usual. While
    two of my devices' resets conflict (design-v2 §10.2) nothing else is sealed: InvalidInput with the
    question (``Resets.conflict``). On a device a reset left out (``Resets.left_out``) nothing is
    sealed at all: InvalidInput with its sentence, or None when ``hold=False``.

    Raises InvalidInput when there are too many readers or the payload is too long.
    """
    readers = [c for c in contacts if not c.blocked]
    if readers and session.resets.left_out() is not None:
        # design-v2 §10: a reset left this device out (removed): it seals nothing as me to anyone,
        # diary content refused with the sentence, announcements and routes silently not sent
        if hold:
            session.resets.check_can_write()
        return None
    if hold and readers:
        standing = session.resets.conflict()
        if standing is not None:  # design-v2 §10.2: adopt neither generation for sealing
            raise InvalidInput(f"Not sent. {standing.question()}")
    held = conflicted(session, readers) if hold else set()
    if held:  # design-v2 §10.4: kept until the person compares safety numbers and releases them
        from tui_sns.store import resets as reset_store

        with session.store.write():
            for c in readers:
                if c.public_key in held:
                    reset_store.hold_send(session.store, c.public_key, payload, expires, target, min_slots, now_iso())
        readers = [c for c in readers if c.public_key not in held]
    if not readers:
        return None
    if len(readers) > MAX_RECIPIENTS:
        raise InvalidInput(f"at most {MAX_RECIPIENTS} people can read one entry")
    if len(payload) > MAX_PAYLOAD:
        raise InvalidInput(f"too long: {len(payload):,} bytes once encoded, at most {MAX_PAYLOAD:,}")
    store = session.store
    with store.write():
        v2_readers, v1_readers = split_readers(session, readers)
        delegated: tuple[bytes, ...] = ()
        if v1_readers and not session.devices.is_v1_sender():
            delegated = tuple(c.public_key for c in v1_readers)
            session.devices.delegate_v1(payload, list(delegated), expires, target, min_slots)
            v1_readers = []
        positions = contact_store.send_positions(store, [c.public_key for c in v2_readers], 2)
        positions.update(contact_store.send_positions(store, [c.public_key for c in v1_readers], 1))
        envelopes: list[Sealed] = []
        addressed: list[list[bytes]] = []  # each envelope's readers (shard tags, docs/design-sharding.md)
        versions: dict[bytes, int] = {}
        now = now_iso()
        if v2_readers:
            epochs = session.epochs
            own = epochs.self_key()
            assert own is not None
            devid, devtag_key = epochs.device()
            prekeys = epochs.usable_prekeys([c.public_key for c in v2_readers])
            recipients = []
            for c in v2_readers:
                seq, prev = positions[c.public_key]
                pk = prekeys[c.public_key]
                recipients.append(RecipientV2(c.public_key, pk.public_key, pk.kid, seq + 1, prev))
            sealed = seal_v2(
                session.identity,
                recipients,
                payload,
                self_key=own,
                devid=devid,
                devtag_key=devtag_key,
                self_hint=epochs.keyring().self_hint_key,
                min_slots=min_slots,
            )
            envelopes.append(sealed)
            addressed.append([r.public_key for r in recipients])
            for r in recipients:
                contact_store.advance_send_chain(store, r.public_key, r.seq, sealed.digest, 2)
                versions[r.public_key] = 2
        if v1_readers:
            old = [
                Recipient(c.public_key, positions[c.public_key][0] + 1, positions[c.public_key][1])
                for c in v1_readers
            ]
            session.devices.v1_edit_sent(payload)  # (a delegated older edit is not sent after it)
            sealed = seal(session.identity, old, payload, min_slots=min_slots, self_slot=False)
            envelopes.append(sealed)
            addressed.append([o.public_key for o in old])
            for o in old:
                contact_store.advance_send_chain(store, o.public_key, o.seq, sealed.digest, 1)
                versions[o.public_key] = 1
            session.devices.v1_chain_moved([(o.public_key, o.seq, sealed.digest) for o in old])
        for sealed, keys in zip(envelopes, addressed, strict=True):
            mailbox.queue_envelope(store, sealed.id, sealed.data, now, expires, target)
            route_store.set_recipients(store, sealed.id, keys)  # its tags are computed at push
        versions.update(dict.fromkeys(delegated, 1))
        # an entry of mine sealed later than written (held readers released, my v1 sender sealing a
        # sibling's v1 readers): how, for my devices' `show` (an entry being posted is not stored yet)
        session.devices.entry_sealed(payload, versions)
    return Sent(tuple(envelopes), versions, delegated)


def send_unchained(session: Session, contact: Contact, payload: bytes) -> Sealed:
    """Seal to one person outside our pairwise chain (sequence 0): a contact request, which the
    recipient does not record in any chain (they may not know me yet)."""
    with session.store.write():
        sealed = seal(session.identity, [Recipient(contact.public_key, 0, NO_PREV)], payload)
        mailbox.queue_envelope(session.store, sealed.id, sealed.data, now_iso())
        route_store.set_recipients(session.store, sealed.id, [contact.public_key])
    return sealed
