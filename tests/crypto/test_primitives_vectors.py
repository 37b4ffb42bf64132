"""The primitives against public vectors (Wycheproof) and against libsodium itself."""

from __future__ import annotations

import os

import nacl.bindings as sodium
import pytest
from wycheproof import LOW_ORDER_FLAGS, load

from tui_sns.crypto.errors import InvalidPublicKey
from tui_sns.crypto.keys import validate_public_key
from tui_sns.crypto.primitives import AeadFailure, aead_decrypt, aead_encrypt, kdf, x25519


def test_x25519_matches_wycheproof() -> None:
    cases = load("x25519_test.json")
    checked = zero = 0
    for _, t in cases:
        secret, public, shared = (bytes.fromhex(t[k]) for k in ("private", "public", "shared"))
        if shared == bytes(32):
            with pytest.raises(InvalidPublicKey):
                x25519(secret, public)
            zero += 1
            continue
        if t["result"] == "valid" or t["result"] == "acceptable":
            assert x25519(secret, public) == shared, t["tcId"]
            checked += 1
    assert checked > 400 and zero > 20


def test_low_order_flags_are_zero_shared_secrets() -> None:
    """Every LowOrderPublic / ZeroSharedSecret case yields the zero secret (so libsodium refuses it)."""
    for _, t in load("x25519_test.json"):
        if LOW_ORDER_FLAGS & set(t["flags"]):
            assert t["shared"] == "00" * 32, t["tcId"]


def test_validate_public_key_rejects_low_order_points() -> None:
    low = {t["public"] for _, t in load("x25519_test.json") if LOW_ORDER_FLAGS & set(t["flags"])}
    for hex_key in low:
        with pytest.raises(InvalidPublicKey):
            validate_public_key(bytes.fromhex(hex_key))
    for _, t in load("x25519_test.json"):
        if t["result"] == "valid":
            assert validate_public_key(bytes.fromhex(t["public"])) == bytes.fromhex(t["public"])


def test_x25519_matches_pynacl() -> None:
    for _ in range(50):
        secret, public = os.urandom(32), sodium.crypto_scalarmult_base(os.urandom(32))
        assert x25519(secret, public) == sodium.crypto_scalarmult(secret, public)
        assert x25519(bytearray(secret), memoryview(public)) == sodium.crypto_scalarmult(secret, public)
    with pytest.raises(ValueError):
        x25519(os.urandom(31), public)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_x25519_wrong_length(size: int) -> None:
    with pytest.raises(InvalidPublicKey):
        x25519(os.urandom(32), os.urandom(size))
    with pytest.raises(InvalidPublicKey):
        validate_public_key(os.urandom(size))


def test_xchacha20_poly1305_matches_wycheproof() -> None:
    valid = invalid = 0
    for group, t in load("xchacha20_poly1305_test.json"):
        key, iv, aad, msg, ct, tag = (bytes.fromhex(t[k]) for k in ("key", "iv", "aad", "msg", "ct", "tag"))
        if group["ivSize"] != 192:
            with pytest.raises(ValueError):
                aead_encrypt(key, msg, aad, iv)
            with pytest.raises(AeadFailure):
                aead_decrypt(key, ct + tag, aad, iv)
            invalid += 1
            continue
        if t["result"] == "valid":
            assert aead_encrypt(key, msg, aad, iv) == ct + tag, t["tcId"]
            assert aead_decrypt(key, ct + tag, aad, iv) == msg, t["tcId"]
            valid += 1
        else:
            with pytest.raises(AeadFailure):
                aead_decrypt(key, ct + tag, aad, iv)
            invalid += 1
    assert valid > 200 and invalid > 60


def test_aead_matches_pynacl_and_rejects_bad_input() -> None:
    for size in (0, 1, 136, 256, 4096):
        key, nonce, ad, msg = os.urandom(32), os.urandom(24), os.urandom(size % 70), os.urandom(size)
        ct = aead_encrypt(key, msg, ad, nonce)
        assert ct == sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, ad, nonce, key)
        assert aead_decrypt(key, ct, ad, nonce) == msg
        assert aead_decrypt(key, ct, bytearray(ad), nonce) == msg
        with pytest.raises(AeadFailure):
            aead_decrypt(key, ct, ad + b"x", nonce)
        with pytest.raises(AeadFailure):
            aead_decrypt(os.urandom(32), ct, ad, nonce)
    with pytest.raises(AeadFailure):
        aead_decrypt(os.urandom(32), b"short", b"")
    with pytest.raises(AeadFailure):
        aead_decrypt(os.urandom(31), bytes(32), b"")
    with pytest.raises(ValueError):
        aead_encrypt(os.urandom(33), b"m", b"")
    with pytest.raises(ValueError):
        aead_encrypt(bytearray(32), b"m", b"")  # type: ignore[arg-type]


LABELS = [
    b"tuisns1-hint",
    b"tuisns1-slot",
    b"tuisns1-commit",
    b"tuisns1-header",
    b"tuisns1-mac",
    b"",
    b"x" * 16,
]


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("size", [6, 8, 16, 32, 64])
def test_kdf_is_libsodium_blake2b(label: bytes, size: int) -> None:
    for key in (None, b"k", os.urandom(32), os.urandom(64)):
        for data in (b"", b"abc", os.urandom(1000)):
            expected = sodium.crypto_generichash_blake2b_salt_personal(
                data, digest_size=size, key=key or b"", person=label.ljust(16, b"\0")
            )
            assert kdf(label, key, data, size) == expected


def test_kdf_refuses_long_labels() -> None:
    with pytest.raises(ValueError):
        kdf(b"x" * 17, None, b"")
