"""Shard routing on the client (docs/design-sharding.md §3): my seeds, contacts' seeds, tags.

* **My seed** per relay I read: a uniform random 16-bit number drawn the first time it is needed
  (joining that relay, the first read of it, my card naming it, a contact's card naming it) and fixed
  for the life of this (identity, relay) pair; my devices share it (the ``relay`` op carries it,
  core/devices.py). My shard on a relay with ``S`` shards is ``seed mod S``.
* **Contacts' seeds** come from their cards (``shards``) and from ``routes`` messages, which are
  accepted only from contacts (:meth:`Routes.on_routes`).
* **Telling contacts**: the people who write to relay X are the contacts whose cards name X; once a
  sync has asked every relay its shard count, my seeds on the relays with more than one shard are
  sent to every such contact not told yet, all of them in **one** ``routes`` envelope per set of
  seeds owed, sealed once (:meth:`Routes.announce`). A relay with one shard needs no seeds, so
  nothing is sent for it.
* **Tags** of an upload (:func:`shard_tags`) are computed per relay at push time from the latest
  known seeds of the envelope's recipients.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from random import Random
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.messages import MAX_ROUTES, RoutesMessage
from tui_sns.crypto.card import check_relay_url
from tui_sns.crypto.envelope import MAX_RECIPIENTS
from tui_sns.crypto.errors import CardError
from tui_sns.store import contacts as contact_store
from tui_sns.store import routes as route_store
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session

SLOT_COUNT_AT = 65  # offset of the big-endian uint16 slot count in v1 and v2 envelopes (docs/protocol.md)
_system_random = secrets.SystemRandom()


def draw_seed() -> int:
    """A fresh shard seed: uniform in 0..65535 from the operating system's CSPRNG."""
    return secrets.randbelow(0x10000)


def slot_count(data: bytes) -> int | None:
    """The slot count ``n`` of an envelope (v1 or v2: bytes 65..66, big-endian); None if too short."""
    if len(data) < SLOT_COUNT_AT + 2:
        return None
    return int.from_bytes(data[SLOT_COUNT_AT : SLOT_COUNT_AT + 2], "big")


def shard_tags(
    seeds: Sequence[int | None] | None,
    slots: int | None,
    shards: int,
    *,
    extra: int = 0,
    rng: Random | None = None,
) -> frozenset[int] | None:
    """The tag set of one upload to a relay with ``shards`` shards (docs/design-sharding.md §3.2).

    ``seeds``: the recipients' seeds on that relay (None in the list: unknown; ``seeds`` None: the
    recipients are not known). ``slots``: the envelope's slot count ``n``. ``extra``: cover doublings
    (``|tags| = n · 2^extra``). Returns None for **broadcast** (``shards == 1``, a recipient's seed
    unknown, no recipients known, or ``|tags| ≥ shards``), else ``real ∪ covers`` with exactly
    ``n · 2^extra`` shards: the recipients' shards plus covers drawn uniformly without replacement
    from the other shards, fresh per call (``rng``, default the system CSPRNG).
    """
    if shards <= 1 or not seeds or slots is None or slots < 1 or any(s is None for s in seeds):
        return None
    size = slots << max(extra, 0)
    if size >= shards:
        return None
    real = {int(s) % shards for s in seeds if s is not None}
    if len(real) > size:  # (cannot happen for a well-formed envelope: n > recipients)
        return None
    rng = rng or _system_random
    covers: set[int] = set()
    while len(real) + len(covers) < size:  # rejection sampling: size < shards, so this ends
        pick = rng.randrange(shards)
        if pick not in real:
            covers.add(pick)
    return frozenset(real | covers)


class Routes:
    """My seeds and my contacts' seeds (session.routes)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def seed(self, url: str) -> int:
        """My seed on ``url`` (a normalised relay URL), drawn now if I have none yet."""
        seed, _drawn = route_store.ensure_seed(self.store, url, draw_seed, now_iso())
        return seed

    def card_shards(self, relays: Sequence[str]) -> tuple[tuple[str, int], ...]:
        """My seeds on ``relays`` (drawn where missing), for my card's ``shards`` field."""
        return tuple((url, self.seed(check_relay_url(url))) for url in relays)

    def learn_card(self, public_key: bytes, shards: Sequence[tuple[str, int]]) -> None:
        """Store the seeds a contact's card gives (its ``shards`` field, already checked)."""
        if shards:
            routes: dict[str, int | None] = {check_relay_url(url): seed for url, seed in shards}
            route_store.set_peer_routes(self.store, public_key, routes, now_iso())

    def known(self, public_key: bytes) -> dict[str, int]:
        """A contact's seeds as stored: {relay url: seed}."""
        return route_store.peer_routes(self.store, public_key)

    def on_routes(self, contact: Contact, message: RoutesMessage) -> bool:
        """A contact's routes message (authenticated by the envelope): store its seeds."""
        route_store.set_peer_routes(self.store, contact.public_key, dict(message.routes), now_iso())
        return True

    def announce(self, urls: Sequence[str]) -> int:
        """Tell every contact whose card names one of ``urls`` (relays with more than one shard) my seed
        on each of those it was not told yet: **one** routes envelope per set of seeds owed, sealed
        once to every contact owed that set (in chunks of ``MAX_RECIPIENTS`` contacts and
        ``MAX_ROUTES`` seeds) — a contact sharing two sharded relays with me gets one envelope with
        both seeds, not one per relay, and a seed goes only to contacts who write to its relay.
        Returns how many contacts were told. Blocked contacts are skipped (and told once unblocked)."""
        from tui_sns.core.outgoing import send

        contacts = [c for c in contact_store.list_contacts(self.store) if not c.blocked]
        owed: dict[bytes, list[tuple[str, int]]] = {}
        for url in dict.fromkeys(urls):
            seed = self.seed(url)
            naming = [c.public_key for c in contacts if _names(c, url)]
            for key in route_store.routes_unsent(self.store, url, seed, naming):
                owed.setdefault(key, []).append((url, seed))
        groups: dict[tuple[tuple[str, int], ...], list[Contact]] = {}
        for contact in contacts:
            if contact.public_key in owed:
                groups.setdefault(tuple(owed[contact.public_key]), []).append(contact)
        for routes, told in groups.items():
            for at in range(0, len(routes), MAX_ROUTES):
                part = routes[at : at + MAX_ROUTES]
                payload = RoutesMessage(part).encode()
                for start in range(0, len(told), MAX_RECIPIENTS):
                    chunk = told[start : start + MAX_RECIPIENTS]
                    keys = [c.public_key for c in chunk]
                    with self.store.write():
                        send(self.session, chunk, payload, hold=False)  # routes: not diary content
                        for url, seed in part:
                            route_store.mark_routes_sent(self.store, url, seed, keys)
        return sum(len(told) for told in groups.values())


def _names(contact: Contact, url: str) -> bool:
    for relay in contact.relays:
        with contextlib.suppress(CardError):
            if check_relay_url(relay) == url:
                return True
    return False
