"""The card's optional ``prekey`` field (docs/design-v2.md §6.3): v1 cards still parse, a card with a
prekey parses in a v1 client (the card stays ``"v":1``), a malformed prekey is a CardError."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import pytest

from tui_sns.crypto.card import PREFIX, Card, CardPrekey, decode_card
from tui_sns.crypto.epochs import prekey_id
from tui_sns.crypto.errors import CardError
from tui_sns.crypto.primitives import x25519_base

KEY = x25519_base(hashlib.blake2b(b"kenji", digest_size=32).digest())
PRE = x25519_base(hashlib.blake2b(b"kenji prekey", digest_size=32).digest())
PREKEY = CardPrekey(
    gen=3, kid=prekey_id(PRE), public_key=PRE, start=1_764_547_200, end=1_765_152_000, delete=1_765_756_800
)


def v1_decode(text: str) -> tuple[str, bytes, list[str]]:
    """The v1 decoder's reading of a card, as shipped before protocol v2 (prefix, checksum, ``v == 1``,
    then only ``name``, ``x25519`` and ``relays``): what an older client sees."""
    payload, _, check = text[len(PREFIX) :].partition(".")
    body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    expected = base64.urlsafe_b64decode(check + "=" * (-len(check) % 4))
    assert hashlib.blake2b(body, digest_size=6, person=b"tuisns1-card").digest() == expected
    obj = json.loads(body)
    assert obj.get("v") == 1
    return obj["name"], bytes.fromhex(obj["x25519"]), obj.get("relays", [])


def _card(obj: dict[str, Any]) -> str:
    body = json.dumps(obj, separators=(",", ":")).encode()
    check = hashlib.blake2b(body, digest_size=6, person=b"tuisns1-card").digest()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return PREFIX + b64(body) + "." + b64(check)


def test_a_v1_card_parses_without_a_prekey() -> None:
    card = decode_card(Card("Kenji", KEY, ("https://relay.example",)).encode())
    assert card.prekey is None and card.name == "Kenji"


def test_a_card_with_a_prekey_round_trips_and_stays_version_1() -> None:
    text = Card("Kenji", KEY, ("https://relay.example",), prekey=PREKEY).encode()
    assert decode_card(text) == Card("Kenji", KEY, ("https://relay.example",), prekey=PREKEY)
    assert v1_decode(text) == ("Kenji", KEY, ["https://relay.example"])  # an older client reads it


def _with_prekey(**change: Any) -> str:
    prekey = PREKEY.as_json() | change
    return _card({"v": 1, "name": "Kenji", "x25519": KEY.hex(), "relays": [], "prekey": prekey})


MALFORMED = {
    "not an object": lambda: _card({"v": 1, "name": "K", "x25519": KEY.hex(), "relays": [], "prekey": "x"}),
    "gen missing": lambda: _with_prekey(gen=None),
    "gen negative": lambda: _with_prekey(gen=-1),
    "gen a boolean": lambda: _with_prekey(gen=True),
    "id of another key": lambda: _with_prekey(id=f"{(PREKEY.kid + 1) % 2**32:08x}"),
    "id uppercase": lambda: _with_prekey(
        id=f"{PREKEY.kid:08X}" if f"{PREKEY.kid:08X}" != f"{PREKEY.kid:08x}" else "ABCDEF01"
    ),
    "key low-order": lambda: _with_prekey(x25519="00" * 32, id=f"{prekey_id(bytes(32)):08x}"),
    "key short": lambda: _with_prekey(x25519=PRE.hex()[:62]),
    "start after end": lambda: _with_prekey(start=PREKEY.end + 1),
    "end after delete": lambda: _with_prekey(end=PREKEY.delete + 1),
    "epoch over 90 days": lambda: _with_prekey(start=PREKEY.end - 91 * 86400),
    "times as text": lambda: _with_prekey(start=str(PREKEY.start)),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_prekey_is_a_card_error(case: str) -> None:
    with pytest.raises(CardError, match="prekey"):
        decode_card(MALFORMED[case]())


def test_a_random_prekey_is_accepted() -> None:
    public = x25519_base(os.urandom(32))
    text = _with_prekey(x25519=public.hex(), id=f"{prekey_id(public):08x}")
    assert decode_card(text).prekey is not None
