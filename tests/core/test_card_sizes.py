"""Every size limit on a card admits the largest card a client can produce (docs/protocol.md, "Cards"):
8 relay URLs of 256 characters, a ``shards`` field for each, a prekey and a 100-character name.

Seen: a contact request carrying such a card was dropped by its recipient (the request's card was
limited to 4096 characters, cards to 8192): the sender was told nothing, the recipient "1 contact
request refused".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey

from tui_sns.core.errors import InvalidInput
from tui_sns.core.messages import RequestMessage, decode_message
from tui_sns.crypto.card import (
    MAX_CARD_CHARS,
    MAX_NAME_CHARS,
    MAX_PREKEY_SPAN,
    MAX_RELAY_URL_CHARS,
    MAX_RELAYS,
    MAX_SHARD_SEED,
    Card,
    CardPrekey,
    decode_card,
)
from tui_sns.crypto.epochs import prekey_id
from tui_sns.crypto.errors import CardError
from tui_sns.store import relays as relay_store
from tui_sns.store import routes as route_store

# A name character takes at most 4 bytes in a card's JSON (control characters, the only ones JSON
# would escape to 6, are refused in names): an emoji is the heaviest.
HEAVIEST_NAME = "\U0001f600" * MAX_NAME_CHARS


def longest_url(i: int) -> str:
    prefix = f"https://relay-{i}.example.org/"
    return prefix + "a" * (MAX_RELAY_URL_CHARS - len(prefix))


def largest_card() -> Card:
    public = bytes(PrivateKey.generate().public_key)
    top = 2**63 - 1  # every number at its most digits
    prekey = CardPrekey(
        gen=2**31 - 1,
        kid=prekey_id(public),
        public_key=public,
        start=top - 2 * MAX_PREKEY_SPAN,
        end=top - MAX_PREKEY_SPAN,
        delete=top,
    )
    relays = tuple(longest_url(i) for i in range(MAX_RELAYS))
    return Card(
        name=HEAVIEST_NAME,
        public_key=public,
        relays=relays,
        prekey=prekey,
        shards=tuple((url, MAX_SHARD_SEED) for url in relays),
    )


def test_the_largest_card_encodes_within_the_limit_and_round_trips() -> None:
    card = largest_card()
    text = card.encode()
    assert len(text) <= MAX_CARD_CHARS
    assert decode_card(text) == card
    # and a request carrying it is a well-formed message
    message = decode_message(RequestMessage(text, "n" * 500).encode())
    assert isinstance(message, RequestMessage) and message.card == text


def test_an_oversized_card_is_refused_when_encoded_never_produced() -> None:
    card = largest_card()
    too_long = Card(name="x" * (MAX_CARD_CHARS + 1), public_key=card.public_key)
    with pytest.raises(CardError, match=f"at most {MAX_CARD_CHARS:,}"):
        too_long.encode()


def test_a_request_with_the_largest_card_arrives_end_to_end(
    people: Callable[..., Any], deliver: Callable[..., list[Any]], tmp_path: Path, passphrase: str
) -> None:
    from tui_sns.core.session import Session
    from tui_sns.store import KdfParams

    bob = people("bob")
    ann = Session.create(tmp_path / "ann", HEAVIEST_NAME, passphrase, kdf=KdfParams.insecure_for_tests())
    for i in range(MAX_RELAYS):
        url = longest_url(i)
        relay_store.add_relay(ann.store, url, f"credential-{i}", "2026-01-01T00:00:00+00:00")
        route_store.ensure_seed(ann.store, url, lambda: MAX_SHARD_SEED, "2026-01-01T00:00:00+00:00")
    card = ann.contacts.my_card()
    parsed = decode_card(card)
    assert len(parsed.relays) == MAX_RELAYS and len(parsed.shards) == MAX_RELAYS
    assert parsed.prekey is not None and parsed.name == HEAVIEST_NAME
    assert len(card) > 4096  # (what used to be dropped)

    ann.contacts.request(bob.contacts.my_card(), note="from the choir")
    (report,) = deliver(ann, bob)
    assert report.kinds["refused_requests"] == 0
    (request,) = bob.requests.list()
    assert request.card_name == HEAVIEST_NAME
    assert request.relays == parsed.relays
    contact = bob.requests.accept(request.id, "ann")
    assert contact.relays == parsed.relays
    assert bob.routes.known(ann.identity.public) == {url: MAX_SHARD_SEED for url in parsed.relays}
    ann.close()


def test_a_card_too_large_to_send_is_a_clear_error(
    people: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card over the limit (forced here by lowering it) is refused before anything is queued, with a
    sentence; never sent to be dropped."""
    ann, bob = people("ann", "bob")
    bob_card = bob.contacts.my_card()
    for i in range(4):
        relay_store.add_relay(ann.store, longest_url(i), "c", "2026-01-01T00:00:00+00:00")
    monkeypatch.setattr("tui_sns.crypto.card.MAX_CARD_CHARS", 1000)
    before = ann.store.fetchall("SELECT count(*) FROM outbox")
    with pytest.raises(InvalidInput, match="your card would be .* characters"):
        ann.contacts.request(bob_card, note="x")
    assert ann.store.fetchall("SELECT count(*) FROM outbox") == before
