"""Contacts: add by card, list, remove, verify. My own card."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput, NameTaken, UnknownName
from tui_sns.core.names import check_display_name, check_name, check_note
from tui_sns.crypto.card import MAX_RELAYS, Card, check_relay_url, check_relay_urls, decode_card
from tui_sns.crypto.errors import CardError, CardTooLong
from tui_sns.crypto.safety import safety_number
from tui_sns.store import circles as circle_store
from tui_sns.store import contacts as contact_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store import requests as request_store
from tui_sns.store.errors import NotFound, StoreError
from tui_sns.store.identity import set_meta_once
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactView:
    name: str
    card_name: str
    public_key: str
    verified: bool
    circles: tuple[str, ...]
    relays: tuple[str, ...]
    added: str
    blocked: bool = False
    muted: bool = False
    forward_secret: bool = False  # a usable prekey of theirs is held (design-v2 §7)
    prekey_conflict: bool = False  # two different keys were announced for them (design-v2 §6.2)

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "card_name": self.card_name,
            "public_key": self.public_key,
            "verified": self.verified,
            "circles": list(self.circles),
            "relays": list(self.relays),
            "added": self.added,
            "blocked": self.blocked,
            "muted": self.muted,
            "forward_secret": self.forward_secret,
            "prekey_conflict": self.prekey_conflict,
        }


class ContactBook:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def my_card(self, display_name: str | None = None, relays: tuple[str, ...] | None = None) -> str:
        """My card, naming my relays (unless ``relays`` is given; at most ``MAX_RELAYS``, each checked
        as recipients check it: a stored URL they would refuse is left out of the card). Raises
        InvalidInput when it would be longer than a card may be (``MAX_CARD_CHARS``)."""
        if relays is None:
            relays = tuple(u for u in self.session.relays.urls() if _usable(u))[:MAX_RELAYS]
        try:
            check_relay_urls(relays)
        except CardError as exc:
            raise InvalidInput(str(exc)) from exc
        name = display_name if display_name is not None else self.session.name
        check_display_name(name, "the card's display")  # what every recipient's parse_card checks
        shards = self.session.routes.card_shards(relays)  # my seed on each (docs/design-sharding.md §3.1)
        try:
            card = Card(
                name=name,
                public_key=self.session.identity.public,
                relays=relays,
                shards=shards,
                prekey=self.session.epochs.card_prekey(),  # my current prekey (design-v2 §6.3)
            ).encode()
        except CardTooLong as exc:  # (no card a client makes is: the limit admits the largest)
            raise InvalidInput(
                f"your card would be {exc.length:,} characters, more than the {exc.limit:,} a card "
                "may have: nobody could add it (name fewer relays, or a shorter name)"
            ) from exc
        self._note_card_given()
        return card

    def _note_card_given(self) -> None:
        """Record the first time a card was produced (``meta.first_card_at``): no envelope can be
        addressed to me before it, so a first read of a relay starts near it (tui_sns/sync/retention.py).
        A read-only store records nothing (the identity's creation time stands in)."""
        if self.store.read_only:
            return
        try:
            set_meta_once(self.store, "first_card_at", now_iso())
        except StoreError:  # (a full disk must not stop showing the card)
            log.debug("first_card_at not recorded", exc_info=True)

    def parse_card(self, text: str) -> Card:
        try:
            card = decode_card(text)
        except CardError as exc:
            raise InvalidInput(str(exc)) from exc
        check_display_name(card.name, "the card's display")  # the rules my own contact book applies
        if card.public_key == self.session.identity.public:
            raise InvalidInput("that is your own card")
        return card

    def add(self, card_text: str, local_name: str | None = None) -> Contact:
        card = self.parse_card(card_text)
        name = check_name(local_name if local_name is not None else card.name, "contact")
        existing = contact_store.contact_by_key(self.store, card.public_key)
        if existing is not None:
            if local_name is not None and local_name != existing.name:
                raise NameTaken(f"this card is already your contact {existing.name!r}")
            known = self.session.routes.known(card.public_key)
            same_routes = all(known.get(url) == seed for url, seed in card.shard_seeds.items())
            fresh_prekey = self._take_prekey(card)
            if (
                (card.name, card.relays) == (existing.card_name, existing.relays)
                and same_routes
                and not fresh_prekey
            ):
                raise NameTaken(f"this card is already your contact {existing.name!r}: nothing changed")
            # A newer card of someone I know: take its relays and display name, keep my name for them.
            with self.store.write():
                contact_store.update_card(self.store, existing.id, card.name, card.relays)
                self.session.routes.learn_card(card.public_key, card.shards)
                self._sync(card.public_key, card_name=card.name, relays=list(card.relays))
            return contact_store.get_contact(self.store, existing.name)
        self.ensure_name_free(name)
        shared = self.session.identity.shared(card.public_key)
        with self.store.write():
            request_store.delete_requests_from(self.store, card.public_key)  # a pending request is moot
            self.session.routes.learn_card(card.public_key, card.shards)
            contact = contact_store.add_contact(
                self.store, name, card.name, card.public_key, shared, card.relays, now_iso()
            )
            self._sync(
                card.public_key,
                name=name,
                card_name=card.name,
                relays=list(card.relays),
                verified=False,
                blocked=False,
                muted=False,
                removed=False,
            )
            self._take_prekey(card)
            # they add my card as I add theirs: my current prekey is assumed in their hands; if it is
            # not (an old card of mine), their first v1 envelope makes me announce (design-v2 §6.1)
            self.session.epochs.assume_announced(card.public_key)
            return contact

    def _take_prekey(self, card: Card) -> bool:
        """Store the prekey a card carries (unless expired or conflicting, design-v2 §6.2-6.3); True
        when it was new."""
        if card.prekey is None:
            return False
        held = {p.kid for p in epoch_store.peer_prekeys(self.store, card.public_key)}
        stored = self.session.epochs.accept_prekey(card.public_key, card.prekey)
        return stored and card.prekey.kid not in held

    def _sync(self, key: bytes, **fields: object) -> None:
        """Record a change of the contact ``key`` for my other devices (design-v2 §8.3)."""
        self.session.devices.record("contact", {"key": key.hex()}, fields)

    def ensure_name_free(self, name: str, *, hint: str = ": pick another with --name") -> None:
        """Raise NameTaken if a contact or a circle already has ``name`` (they share one namespace).
        ``hint`` ends the contact case's sentence (the CLI's way to choose another name)."""
        if contact_store.find_contact(self.store, name) is not None:
            raise NameTaken(f"a contact is already named {name!r}{hint}")
        if circle_store.circle_exists(self.store, name):
            raise NameTaken(f"a circle is already named {name!r}: contacts and circles share names")

    def get(self, name: str) -> Contact:
        try:
            return contact_store.get_contact(self.store, name)
        except NotFound as exc:
            raise UnknownName(str(exc)) from exc

    def list(self) -> list[ContactView]:
        return [self.view(c) for c in contact_store.list_contacts(self.store)]

    def view(self, c: Contact) -> ContactView:
        return ContactView(
            name=c.name,
            card_name=c.card_name,
            public_key=c.public_key.hex(),
            verified=c.verified,
            circles=tuple(contact_store.circles_of(self.store, c.id)),
            relays=c.relays,
            added=c.added,
            blocked=c.blocked,
            muted=c.muted,
            forward_secret=self.session.epochs.forward_secret(c.public_key),
            prekey_conflict=self.session.epochs.conflict(c.public_key),
        )

    def remove(self, name: str) -> None:
        contact = self.get(name)
        with self.store.write():
            contact_store.remove_contact(self.store, name)
            self._sync(contact.public_key, removed=True)

    def safety_number(self, name: str) -> str:
        return safety_number(self.session.identity.public, self.get(name).public_key)

    def mark_verified(self, name: str, verified: bool = True) -> None:
        contact = self.get(name)
        with self.store.write():
            contact_store.mark_verified(self.store, name, verified)
            self._sync(contact.public_key, verified=verified)

    # -- defenses ----------------------------------------------------------------------------

    def block(self, name: str) -> None:
        """Their envelopes are dropped unseen, they leave every circle, and they get nothing from me
        afterwards (entries naming them are refused; comment forwards skip them)."""
        self._set_blocked(name, True)

    def unblock(self, name: str) -> None:
        """Stop dropping their envelopes (they do not rejoin the circles they left)."""
        self._set_blocked(name, False)

    def _set_blocked(self, name: str, blocked: bool) -> None:
        contact = self.get(name)
        with self.store.write():
            contact_store.set_blocked(self.store, contact.id, blocked)
            self._sync(contact.public_key, blocked=blocked)

    def _set_muted(self, name: str, muted: bool) -> None:
        contact = self.get(name)
        with self.store.write():
            contact_store.set_muted(self.store, contact.id, muted)
            self._sync(contact.public_key, muted=muted)

    def mute(self, name: str) -> None:
        """Hide their entries from my timeline; they still read what I send them and stay in circles."""
        self._set_muted(name, True)

    def unmute(self, name: str) -> None:
        self._set_muted(name, False)

    def request(self, card_text: str, note: str = "", local_name: str | None = None) -> Contact:
        """Ask someone who does not know me yet to add me: a request carrying my card (and a note)
        sealed to them and queued in the outbox. They are added as my contact too (I want their
        entries). They only receive it from a relay they read (e.g. one we share) or a bundle."""
        from tui_sns.core.messages import MAX_NOTE, RequestMessage
        from tui_sns.core.outgoing import send_unchained

        check_note(note, MAX_NOTE)
        card = self.parse_card(card_text)
        with self.store.write():
            contact = contact_store.contact_by_key(self.store, card.public_key)
            if contact is None:
                contact = self.add(card_text, local_name)
            if contact.blocked:
                raise InvalidInput(f"{contact.name!r} is blocked: unblock them first")
            send_unchained(self.session, contact, RequestMessage(self.my_card(), note).encode())
        return contact


def _usable(url: str) -> bool:
    try:
        check_relay_url(url)
    except CardError:
        return False
    return True
