"""Contact cards: one line of text a person pastes elsewhere to be added as a contact.

    tuisns1:<base64url(JSON)>.<checksum>

The checksum is the first 6 bytes of BLAKE2b(JSON, person="tuisns1-card"), base64url: a typo in
either part is caught. The JSON carries: ``v`` (1), ``name`` (the display name chosen for this card,
a pseudonym is fine), ``x25519`` (hex public key) and ``relays`` (URLs where my envelopes are found).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass, field

from tui_sns.crypto.errors import CardChecksumError, CardError, InvalidPublicKey
from tui_sns.crypto.keys import validate_public_key
from tui_sns.crypto.primitives import kdf

PREFIX = "tuisns1:"
LABEL_CARD = b"tuisns1-card"
MAX_CARD_CHARS = 8192
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class Card:
    name: str
    public_key: bytes
    relays: tuple[str, ...] = field(default_factory=tuple)

    def encode(self) -> str:
        body = json.dumps(
            {"v": 1, "name": self.name, "x25519": self.public_key.hex(), "relays": list(self.relays)},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        return PREFIX + _b64(body) + "." + _b64(_checksum(body))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(body: bytes) -> bytes:
    return kdf(LABEL_CARD, None, body, 6)


def decode_card(text: str) -> Card:
    """Parse a pasted card. Every failure is a CardError with a sentence a person can act on."""
    text = "".join(text.split())  # tolerate line breaks and spaces added by mail or chat
    if len(text) > MAX_CARD_CHARS:
        raise CardError("card is too long")
    if not text.startswith(PREFIX):
        raise CardError(f"not a tui-sns contact card (it should start with {PREFIX!r})")
    payload, sep, check = text[len(PREFIX) :].partition(".")
    if not sep:
        raise CardError("card is incomplete: its checksum part is missing")
    try:
        body = _unb64(payload)
        expected = _unb64(check)
    except (binascii.Error, ValueError) as exc:
        raise CardChecksumError("card does not decode: check it was copied completely and exactly") from exc
    if not hmac.compare_digest(_checksum(body), expected):
        raise CardChecksumError("card checksum mismatch: check it was copied completely and exactly")
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise CardError("card contents are not valid") from exc
    if not isinstance(obj, dict) or obj.get("v") != 1:
        raise CardError("card version not supported")
    name, key_hex, relays = obj.get("name"), obj.get("x25519"), obj.get("relays", [])
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise CardError("card has no usable name")
    if not isinstance(relays, list) or not all(isinstance(r, str) for r in relays):
        raise CardError("card relay list is not valid")
    try:
        key = bytes.fromhex(key_hex) if isinstance(key_hex, str) else b""
        validate_public_key(key)
    except (ValueError, InvalidPublicKey) as exc:
        raise CardError(f"card key is not usable: {exc}") from exc
    return Card(name=name, public_key=key, relays=tuple(relays))
