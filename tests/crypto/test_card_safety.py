"""Contact cards and safety numbers."""

from __future__ import annotations

import pytest
from crypto_helpers import identity
from wycheproof import LOW_ORDER_FLAGS, load

from tui_sns.crypto.card import PREFIX, Card, decode_card
from tui_sns.crypto.errors import CardChecksumError, CardError
from tui_sns.crypto.safety import fingerprint, safety_number

KEY = identity("card-owner").public


def card() -> Card:
    return Card(name="Ana ✿", public_key=KEY, relays=("https://relay.example/", "http://10.0.0.2:8080"))


def test_round_trip() -> None:
    text = card().encode()
    assert text.startswith(PREFIX)
    assert decode_card(text) == card()
    assert decode_card("  " + text[:20] + "\n" + text[20:] + "\n") == card()  # wrapped by a mail client


def test_a_typo_anywhere_is_caught() -> None:
    text = card().encode()
    checksum_at = text.rindex(".") + 1
    for pos in range(len(PREFIX), len(text)):
        if text[pos] == ".":
            continue
        for replacement in ("A", "z", "0", "-"):
            if replacement == text[pos]:
                continue
            typo = text[:pos] + replacement + text[pos + 1 :]
            with pytest.raises(CardError) as info:
                decode_card(typo)
            if pos >= checksum_at:
                assert isinstance(info.value, CardChecksumError)


def test_truncated_or_missing_checksum() -> None:
    text = card().encode()
    with pytest.raises(CardError):
        decode_card(text[: text.rindex(".")])
    with pytest.raises(CardChecksumError):
        decode_card(text[:-2])


@pytest.mark.parametrize("prefix", ["tuisns2:", "tuisns:", "TUISNS1:", "age1", ""])
def test_wrong_prefix(prefix: str) -> None:
    text = card().encode()
    with pytest.raises(CardError):
        decode_card(prefix + text[len(PREFIX) :])


def test_low_order_key_in_a_card_is_rejected() -> None:
    low = sorted({t["public"] for _, t in load("x25519_test.json") if LOW_ORDER_FLAGS & set(t["flags"])})
    for hex_key in low:
        text = Card(name="evil", public_key=bytes.fromhex(hex_key)).encode()  # checksum is valid
        with pytest.raises(CardError, match="key"):
            decode_card(text)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_unusable_name(name: str) -> None:
    with pytest.raises(CardError):
        decode_card(Card(name=name, public_key=KEY).encode())


def test_safety_number() -> None:
    a, b, c = identity("sn-a").public, identity("sn-b").public, identity("sn-c").public
    number = safety_number(a, b)
    assert number == safety_number(b, a)
    digits = number.replace(" ", "")
    assert len(digits) == 60 and digits.isdigit()
    assert [len(g) for g in number.split(" ")] == [5] * 12
    assert number != safety_number(a, c) and number != safety_number(c, b)
    assert len(fingerprint(a)) == 30 and fingerprint(a) != fingerprint(b)
    assert fingerprint(a) in digits and fingerprint(b) in digits
