"""The only primitives the protocol uses, each a thin wrapper over PyNaCl / libsodium.

* X25519 (``crypto_scalarmult``), with low-order points mapped to :class:`InvalidPublicKey`
  (libsodium refuses an all-zero shared secret; PyNaCl surfaces that as ``RuntimeError``).
* BLAKE2b with a key and a 16-byte personalisation string as the key-derivation function.
  We call CPython's ``hashlib.blake2b``: it is the reference BLAKE2b, byte-for-byte identical to
  libsodium's ``crypto_generichash_blake2b_salt_personal`` (checked by a test), and about five
  times cheaper to call from Python, which matters on the per-envelope hot path.
* XChaCha20-Poly1305 (``crypto_aead_xchacha20poly1305_ietf``) for every symmetric encryption.
"""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions

from tui_sns.crypto.errors import InvalidPublicKey

KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
AEAD_TAG_BYTES = 16
AEAD_NONCE_BYTES = 24
ZERO_NONCE = bytes(AEAD_NONCE_BYTES)


class AeadFailure(Exception):
    """Decryption failed: wrong key or tampered ciphertext (internal to the crypto package)."""


def x25519(secret: bytes, public: bytes) -> bytes:
    """Static or ephemeral Diffie-Hellman. Raises InvalidPublicKey for bad or low-order points."""
    if len(public) != PUBLIC_KEY_BYTES:
        raise InvalidPublicKey(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(public)}")
    try:
        return sodium.crypto_scalarmult(secret, public)
    except (RuntimeError, nacl.exceptions.CryptoError) as exc:
        raise InvalidPublicKey("low-order public key (zero shared secret)") from exc


def x25519_base(secret: bytes) -> bytes:
    """The public key of ``secret``."""
    return sodium.crypto_scalarmult_base(secret)


def kdf(label: bytes, key: bytes | None, data: bytes, size: int = KEY_BYTES) -> bytes:
    """BLAKE2b(data, key=key, person=label, digest_size=size): our one key-derivation function."""
    if len(label) > 16:
        raise ValueError("labels are at most 16 bytes")
    return hashlib.blake2b(data, digest_size=size, key=key or b"", person=label).digest()


def aead_encrypt(key: bytes, plaintext: bytes, ad: bytes, nonce: bytes = ZERO_NONCE) -> bytes:
    """XChaCha20-Poly1305. The zero nonce is only used with single-use keys."""
    return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def aead_decrypt(key: bytes, ciphertext: bytes, ad: bytes, nonce: bytes = ZERO_NONCE) -> bytes:
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise AeadFailure from exc
