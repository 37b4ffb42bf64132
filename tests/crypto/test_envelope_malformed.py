"""Malformed input: every bad envelope raises a defined EnvelopeError subclass or returns None."""

from __future__ import annotations

import os
import struct

import pytest
from envelope_builders import SlotSpec, build, honest_slot, pad
from wycheproof import LOW_ORDER_FLAGS, load

from tui_sns.crypto.envelope import (
    HEADER_BYTES,
    MAX_ENVELOPE_BYTES,
    SLOT_BYTES,
    Recipient,
    open_envelope,
    seal,
)
from tui_sns.crypto.errors import EnvelopeError, ForgedEnvelope, MalformedEnvelope, UnsupportedVersion
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.primitives import x25519_base

PAYLOAD = b"a small post"


@pytest.fixture()
def sealed(alice: Identity, bob: Identity, carol: Identity) -> bytes:
    return seal(alice, [Recipient(bob.public, 1), Recipient(carol.public, 1)], PAYLOAD).data


def outcome(me: Identity, data: object) -> str:
    """'none', 'ok', or the EnvelopeError class name; any other exception propagates (fails the test)."""
    try:
        result = open_envelope(me, data)  # type: ignore[arg-type]
    except EnvelopeError as exc:
        return type(exc).__name__
    if result is None:
        return "none"
    assert result.payload == PAYLOAD, "a mutated envelope opened to another payload"
    return "ok"


@pytest.mark.parametrize("cut", [0, 1, 32, 66, 67, 100, 500])
def test_truncated(sealed: bytes, bob: Identity, cut: int) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, sealed[:cut])


def test_truncated_everywhere(sealed: bytes, bob: Identity) -> None:
    for cut in range(len(sealed)):
        assert outcome(bob, sealed[:cut]) == "MalformedEnvelope"


def test_truncated_to_a_valid_looking_length_is_caught(alice: Identity, bob: Identity) -> None:
    """Cutting a 512-byte body down to 256 bytes keeps a legal length: authentication catches it."""
    data = seal(alice, [Recipient(bob.public, 1)], os.urandom(300)).data
    assert outcome(bob, data[:-256]) == "ForgedEnvelope"


def test_oversized(bob: Identity) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, b"\x01" + bytes(MAX_ENVELOPE_BYTES))


@pytest.mark.parametrize("version", [0, 2, 0x7F, 0xFF])
def test_wrong_version(sealed: bytes, bob: Identity, version: int) -> None:
    with pytest.raises(UnsupportedVersion):
        open_envelope(bob, bytes([version]) + sealed[1:])


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 6, 7, 12, 1023, 1025, 2048, 0xFFFF])
def test_bad_slot_count(sealed: bytes, bob: Identity, count: int) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, sealed[:65] + struct.pack(">H", count) + sealed[67:])


def test_other_power_of_two_slot_count_is_a_bad_length(sealed: bytes, bob: Identity) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, sealed[:65] + struct.pack(">H", 8) + sealed[67:])


@pytest.mark.parametrize("extra", [1, 15, 16, SLOT_BYTES, 255, 257])
def test_bad_length(sealed: bytes, bob: Identity, extra: int) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, sealed + bytes(extra))


def test_extended_to_a_valid_looking_length_is_caught(sealed: bytes, bob: Identity) -> None:
    assert outcome(bob, sealed + bytes(256)) == "ForgedEnvelope"  # body 256 -> 512: the mac fails


@pytest.mark.parametrize("value", ["text", 5, None, [1, 2], 3.0])
def test_not_bytes(bob: Identity, value: object) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, value)  # type: ignore[arg-type]


def test_buffer_types_accepted(sealed: bytes, bob: Identity) -> None:
    assert outcome(bob, bytearray(sealed)) == "ok"
    assert outcome(bob, memoryview(sealed)) == "ok"


def test_every_single_bit_flip(sealed: bytes, alice: Identity, bob: Identity, mallory: Identity) -> None:
    """Flip one bit at every position: nothing but None / EnvelopeError, never another payload.

    A flip inside someone else's slot (or a decoy) is invisible to me: slots are independent and
    the slot table is not covered by the authenticator (docs/protocol.md, "Malleability"). A flip in
    the prefix, my own slot or the body is always noticed.
    """
    n = 4
    slots_end = HEADER_BYTES + n * SLOT_BYTES
    for pos in range(len(sealed)):
        mutated = bytearray(sealed)
        mutated[pos] ^= 1 << (pos % 8)
        for me in (bob, alice, mallory):
            result = outcome(me, bytes(mutated))
            if me is mallory:
                assert result != "ok"
            elif result == "ok":
                assert HEADER_BYTES <= pos < slots_end, f"flip at {pos} went unnoticed"


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ((33, 65), {"none"}),  # key commitment: part of every slot box's AD, so my slot no longer opens
        ("body", {"ForgedEnvelope"}),  # body ciphertext and tag
        ((1, 33), {"none", "MalformedEnvelope"}),  # ephemeral key: my hint is not found
    ],
)
def test_flips_by_region(sealed: bytes, bob: Identity, region: object, expected: set[str]) -> None:
    start, end = (len(sealed) - 272, len(sealed)) if region == "body" else region  # type: ignore[misc]
    for pos in range(start, end, 3):
        mutated = bytearray(sealed)
        mutated[pos] ^= 0x80
        assert outcome(bob, bytes(mutated)) in expected


def test_bad_padding_after_authentication(alice: Identity, bob: Identity) -> None:
    eph_secret, k = os.urandom(32), os.urandom(32)
    data = build(
        x25519_base(eph_secret),
        k,
        k,
        pad(b"hi", padding_byte=1),
        [honest_slot(alice, eph_secret, bob.public, k)],
        n=4,
    )
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, data)
    too_long = struct.pack(">I", 10_000) + bytes(252)
    data = build(
        x25519_base(eph_secret), k, k, too_long, [honest_slot(alice, eph_secret, bob.public, k)], n=4
    )
    with pytest.raises(MalformedEnvelope):
        open_envelope(bob, data)


def test_self_slot_naming_someone_else_is_forged(alice: Identity, bob: Identity) -> None:
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = SlotSpec(alice.public, alice.self_key, alice.self_key, k, sender=bob.public)
    with pytest.raises(ForgedEnvelope):
        open_envelope(alice, build(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4))


# -- low-order points (Wycheproof) ------------------------------------------------------------


def low_order_points() -> list[bytes]:
    points = [
        bytes.fromhex(t["public"]) for _, t in load("x25519_test.json") if LOW_ORDER_FLAGS & set(t["flags"])
    ]
    assert len(points) > 20
    return sorted(set(points))


def test_low_order_ephemeral_keys_are_malformed(sealed: bytes, bob: Identity, mallory: Identity) -> None:
    for point in low_order_points():
        data = sealed[:1] + point + sealed[33:]
        for me in (bob, mallory):
            with pytest.raises(MalformedEnvelope):
                open_envelope(me, data)


def test_low_order_sender_key_in_a_slot_is_forged(bob: Identity) -> None:
    """A slot naming a low-order 'sender': the static DH fails cleanly (ForgedEnvelope, not RuntimeError)."""
    for point in low_order_points()[:6]:
        eph_secret, k = os.urandom(32), os.urandom(32)
        dh = x25519_base(eph_secret)
        from tui_sns.crypto.primitives import x25519

        slot = SlotSpec(bob.public, x25519(eph_secret, bob.public), os.urandom(32), k, sender=point)
        with pytest.raises(ForgedEnvelope):
            open_envelope(bob, build(dh, k, k, pad(PAYLOAD), [slot], n=4))


def test_header_constants_match_layout(sealed: bytes) -> None:
    assert sealed[0] == 1 and HEADER_BYTES == 1 + 32 + 32 + 2
