"""The card's optional ``shards`` field: my shard seed on each relay I am a member of
(docs/protocol.md, "Contact cards"; docs/design-sharding.md §3.1)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from crypto_helpers import identity

from tui_sns.crypto.card import LABEL_CARD, PREFIX, Card, decode_card
from tui_sns.crypto.errors import CardError
from tui_sns.crypto.primitives import kdf

KEY = identity("card-shards").public


def _raw_card(obj: dict[str, Any]) -> str:
    """A card with any JSON inside, with a correct checksum (what a hostile peer can always make)."""
    body = json.dumps(obj, separators=(",", ":")).encode()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return PREFIX + b64(body) + "." + b64(kdf(LABEL_CARD, None, body, 6))


def _obj(**extra: Any) -> dict[str, Any]:
    return {"v": 1, "name": "Ana", "x25519": KEY.hex(), "relays": ["https://relay.example"], **extra}


def test_shards_round_trip() -> None:
    card = Card("Ana", KEY, ("https://relay.example",), shards=(("https://relay.example", 40213),))
    assert decode_card(card.encode()) == card
    assert decode_card(card.encode()).shard_seeds == {"https://relay.example": 40213}


def test_a_card_without_shards_is_unchanged() -> None:
    """Cards of members with no seed yet encode exactly as before (no ``shards`` key at all)."""
    card = Card("Ana", KEY, ("https://relay.example",))
    body = json.loads(base64.urlsafe_b64decode(card.encode()[len(PREFIX) :].split(".")[0] + "=="))
    assert "shards" not in body
    assert decode_card(card.encode()).shards == ()


def test_a_v1_decoder_reading_a_card_with_shards() -> None:
    """The field is optional and additive: the card's other fields decode as they always did."""
    text = _raw_card(_obj(shards={"https://relay.example": 7, "http://10.0.0.2:8080": 65535}))
    card = decode_card(text)
    assert (card.name, card.public_key, card.relays) == ("Ana", KEY, ("https://relay.example",))
    assert dict(card.shards) == {"https://relay.example": 7, "http://10.0.0.2:8080": 65535}


@pytest.mark.parametrize(
    "shards",
    [
        [],  # not an object
        "https://relay.example=1",
        {"https://relay.example": -1},
        {"https://relay.example": 65536},
        {"https://relay.example": True},  # a boolean is not a seed
        {"https://relay.example": 1.0},
        {"https://relay.example": "7"},
        {"https://relay.example": None},
        {"ftp://relay.example": 1},
        {"https://user:pw@relay.example": 1},
        {"https://relay.example/?q=1": 1},
        {"https://relay.exa mple": 1},
        {"https://" + "a" * 300 + ".example": 1},
        {"https://relay.example": 1, "https://relay.example/": 2},  # the same relay twice
        {f"https://r{i}.example": i for i in range(9)},  # more than 8 entries
    ],
)
def test_malformed_shards_are_a_card_error(shards: object) -> None:
    with pytest.raises(CardError):
        decode_card(_raw_card(_obj(shards=shards)))


def test_encode_refuses_bad_shards() -> None:
    with pytest.raises(CardError):
        Card("Ana", KEY, (), shards=(("https://relay.example", 70000),)).encode()
