"""Malformed v2 input: every bad envelope raises a defined EnvelopeError subclass, returns None, or
(for a located slot whose key was deleted) Unopenable — never another payload, never another error."""

from __future__ import annotations

import os
import struct

import pytest
from v2_helpers import Person, build_v2, honest_slot_v2, pad, person
from wycheproof import LOW_ORDER_FLAGS, load

from tui_sns.crypto.envelope import open_envelope
from tui_sns.crypto.envelope_v2 import (
    HEADER_BYTES,
    MAX_ENVELOPE_BYTES,
    SLOT_BYTES,
    OpenedV2,
    Unopenable,
    open_v2,
)
from tui_sns.crypto.errors import EnvelopeError, ForgedEnvelope, MalformedEnvelope, UnsupportedVersion
from tui_sns.crypto.primitives import x25519_base

PAYLOAD = b"a small post"
ALICE, BOB, CAROL, MALLORY = person("m-alice"), person("m-bob"), person("m-carol"), person("m-mallory")
SEALED = ALICE.seal([BOB.recipient(), CAROL.recipient()], PAYLOAD).data


def outcome(me: Person, data: object) -> str:
    """'none', 'ok', 'unopenable', or the EnvelopeError class name; anything else fails the test."""
    try:
        result = open_envelope(me.keyring, data)  # type: ignore[arg-type]
    except EnvelopeError as exc:
        return type(exc).__name__
    if result is None:
        return "none"
    if isinstance(result, Unopenable):
        return "unopenable"
    assert isinstance(result, OpenedV2)
    assert result.payload == PAYLOAD, "a mutated envelope opened to another payload"
    return "ok"


def test_the_fixture_opens() -> None:
    assert [outcome(p, SEALED) for p in (ALICE, BOB, CAROL, MALLORY)] == ["ok", "ok", "ok", "none"]


def test_truncated_everywhere() -> None:
    for cut in range(len(SEALED)):
        assert outcome(BOB, SEALED[:cut]) == "MalformedEnvelope", cut


def test_truncated_to_a_valid_looking_length_is_caught() -> None:
    data = ALICE.seal([BOB.recipient()], os.urandom(300)).data
    assert outcome(BOB, data[:-256]) == "ForgedEnvelope"  # body 512 -> 256: a legal length, the mac fails


def test_oversized() -> None:
    assert MAX_ENVELOPE_BYTES == 67 + 172 * 1024 + 65536 + 16 == 241_747  # design-v2 §15.2
    with pytest.raises(MalformedEnvelope, match="oversized"):
        open_v2(BOB.keyring, b"\x02" + bytes(MAX_ENVELOPE_BYTES))


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 6, 7, 12, 1023, 1025, 2048, 0xFFFF])
def test_bad_slot_count(count: int) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(BOB.keyring, SEALED[:65] + struct.pack(">H", count) + SEALED[67:])


def test_other_power_of_two_slot_count_is_a_bad_length() -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(BOB.keyring, SEALED[:65] + struct.pack(">H", 8) + SEALED[67:])


@pytest.mark.parametrize("extra", [1, 12, 16, 160, SLOT_BYTES, 255, 257])
def test_bad_length(extra: int) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(BOB.keyring, SEALED + bytes(extra))


def test_a_v1_length_is_malformed_as_v2() -> None:
    """A v2 version byte on a v1-shaped envelope (160-byte slots) does not fit the v2 layout."""
    v1_shaped = b"\x02" + bytes(66 - 2) + struct.pack(">H", 4) + bytes(4 * 160 + 256 + 16)
    with pytest.raises(MalformedEnvelope, match="length"):
        open_envelope(BOB.keyring, v1_shaped)


@pytest.mark.parametrize("value", ["text", 5, None, [1, 2], 3.0])
def test_not_bytes(value: object) -> None:
    with pytest.raises(MalformedEnvelope):
        open_envelope(BOB.keyring, value)  # type: ignore[arg-type]
    with pytest.raises(MalformedEnvelope):
        open_v2(BOB.keyring, value)  # type: ignore[arg-type]


def test_buffer_types_accepted() -> None:
    assert outcome(BOB, bytearray(SEALED)) == "ok"
    assert outcome(BOB, memoryview(SEALED)) == "ok"


@pytest.mark.parametrize("version", [0, 1, 3, 0xFF])
def test_wrong_version_for_open_v2(version: int) -> None:
    with pytest.raises(UnsupportedVersion):
        open_v2(BOB.keyring, bytes([version]) + SEALED[1:])


def test_every_single_bit_flip() -> None:
    """A flip inside another slot (or a decoy) is invisible to me; anywhere else it is noticed."""
    n = 4
    slots_end = HEADER_BYTES + n * SLOT_BYTES
    for pos in range(len(SEALED)):
        mutated = bytearray(SEALED)
        mutated[pos] ^= 1 << (pos % 8)
        for me in (BOB, ALICE, MALLORY):
            result = outcome(me, bytes(mutated))
            if me is MALLORY:
                assert result != "ok"
            elif result == "ok":
                assert HEADER_BYTES <= pos < slots_end, f"flip at {pos} went unnoticed"
            assert result != "unopenable"  # no key was deleted: a flip cannot produce it


def test_low_order_ephemeral_keys_are_malformed() -> None:
    points = sorted(
        {bytes.fromhex(t["public"]) for _, t in load("x25519_test.json") if LOW_ORDER_FLAGS & set(t["flags"])}
    )
    assert len(points) >= 12  # distinct low-order and zero-shared-secret encodings in the file (14 today)
    for point in points:
        data = SEALED[:1] + point + SEALED[33:]
        for me in (BOB, MALLORY):
            with pytest.raises(MalformedEnvelope):
                open_v2(me.keyring, data)


def test_low_order_sender_in_a_slot_is_forged() -> None:
    point = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = honest_slot_v2(ALICE, eph_secret, BOB, k)
    from dataclasses import replace

    with pytest.raises(ForgedEnvelope):
        open_v2(
            BOB.keyring, build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [replace(slot, sender=point)])
        )


def test_bad_padding_after_authentication() -> None:
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = honest_slot_v2(ALICE, eph_secret, BOB, k)
    for padded in (pad(b"hi", padding_byte=1), struct.pack(">I", 10_000) + bytes(252)):
        with pytest.raises(MalformedEnvelope, match="padding"):
            open_v2(BOB.keyring, build_v2(x25519_base(eph_secret), k, k, padded, [slot], n=4))


KNOWN_LOW_ORDER = [  # the classic list (libsodium's blacklist): 0, 1, order-8 points, p-1, p, p+1
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("point", KNOWN_LOW_ORDER, ids=lambda p: p.hex()[:8])
def test_known_low_order_ephemeral_keys_are_malformed(point: bytes) -> None:
    """The same check without the external Wycheproof files (which a worktree may not have)."""
    for me in (BOB, MALLORY):
        with pytest.raises(MalformedEnvelope, match="low-order"):
            open_v2(me.keyring, SEALED[:1] + point + SEALED[33:])
