"""The only primitives the protocol uses, each a thin wrapper over PyNaCl / libsodium.

* X25519 (``crypto_scalarmult``), with low-order points mapped to :class:`InvalidPublicKey`
  (libsodium refuses an all-zero shared secret; PyNaCl surfaces that as ``RuntimeError``).
* BLAKE2b with a key and a 16-byte personalisation string as the key-derivation function.
  We call CPython's ``hashlib.blake2b``: it is the reference BLAKE2b, byte-for-byte identical to
  libsodium's ``crypto_generichash_blake2b_salt_personal`` (checked by a test), and about five
  times cheaper to call from Python, which matters on the per-envelope hot path.
* XChaCha20-Poly1305 (``crypto_aead_xchacha20poly1305_ietf``) for every symmetric encryption.

XChaCha20-Poly1305 and X25519 are called through the same cffi handle PyNaCl's own bindings use
(``nacl._sodium``), after checking argument types and lengths here: PyNaCl's wrappers spend 2-3 µs
per call in argument checks, which is most of the cost of a 152-byte slot box and 5% of an X25519.
If that handle is not importable the public ``nacl.bindings`` functions are used; the output is the
same (checked against Wycheproof and against ``nacl.bindings`` by tests/crypto).
"""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions

from tui_sns.crypto.errors import CryptoError, InvalidPublicKey

try:  # the cffi handle behind nacl.bindings (see the module docstring)
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib
except ImportError:  # pragma: no cover
    _ffi = _lib = None

KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
AEAD_TAG_BYTES = 16
AEAD_NONCE_BYTES = 24
ZERO_NONCE = bytes(AEAD_NONCE_BYTES)


class AeadFailure(CryptoError):
    """Decryption failed: wrong key or tampered ciphertext (internal to the crypto package)."""


def x25519(secret: bytes, public: bytes) -> bytes:
    """Static or ephemeral Diffie-Hellman. Raises InvalidPublicKey for bad or low-order points."""
    if len(public) != PUBLIC_KEY_BYTES:
        raise InvalidPublicKey(f"public key must be {PUBLIC_KEY_BYTES} bytes, got {len(public)}")
    if _lib is None:  # pragma: no cover
        try:
            return sodium.crypto_scalarmult(secret, public)
        except (RuntimeError, nacl.exceptions.CryptoError) as exc:
            raise InvalidPublicKey("low-order public key (zero shared secret)") from exc
    if len(secret) != KEY_BYTES:
        raise ValueError(f"secret key must be {KEY_BYTES} bytes")
    out = _ffi.new("unsigned char[]", PUBLIC_KEY_BYTES)
    if _lib.crypto_scalarmult(out, bytes(secret), bytes(public)) != 0:  # libsodium: all-zero result
        raise InvalidPublicKey("low-order public key (zero shared secret)")
    return bytes(_ffi.buffer(out, PUBLIC_KEY_BYTES))


def x25519_base(secret: bytes) -> bytes:
    """The public key of ``secret``."""
    return sodium.crypto_scalarmult_base(secret)


def kdf(label: bytes, key: bytes | None, data: bytes, size: int = KEY_BYTES) -> bytes:
    """BLAKE2b(data, key=key, person=label, digest_size=size): our one key-derivation function."""
    if len(label) > 16:
        raise ValueError("labels are at most 16 bytes")
    return hashlib.blake2b(data, digest_size=size, key=key or b"", person=label).digest()


def _check_aead_args(key: bytes, nonce: bytes) -> None:
    if type(key) is not bytes or len(key) != KEY_BYTES:
        raise ValueError(f"AEAD key must be {KEY_BYTES} bytes")
    if type(nonce) is not bytes or len(nonce) != AEAD_NONCE_BYTES:
        raise ValueError(f"AEAD nonce must be {AEAD_NONCE_BYTES} bytes")


if _lib is not None:

    def aead_encrypt(key: bytes, plaintext: bytes, ad: bytes, nonce: bytes = ZERO_NONCE) -> bytes:
        """XChaCha20-Poly1305. The zero nonce is only used with single-use keys."""
        _check_aead_args(key, nonce)
        plaintext, ad = bytes(plaintext), bytes(ad)
        out = _ffi.new("unsigned char[]", len(plaintext) + AEAD_TAG_BYTES)
        out_len = _ffi.new("unsigned long long *")
        _lib.crypto_aead_xchacha20poly1305_ietf_encrypt(
            out, out_len, plaintext, len(plaintext), ad, len(ad), _ffi.NULL, nonce, key
        )
        return bytes(_ffi.buffer(out, out_len[0]))

    def aead_decrypt(key: bytes, ciphertext: bytes, ad: bytes, nonce: bytes = ZERO_NONCE) -> bytes:
        """Inverse of :func:`aead_encrypt`; AeadFailure for a wrong key, bad lengths or tampering."""
        try:
            _check_aead_args(key, nonce)
        except ValueError as exc:
            raise AeadFailure(str(exc)) from exc
        ciphertext, ad = bytes(ciphertext), bytes(ad)
        if len(ciphertext) < AEAD_TAG_BYTES:
            raise AeadFailure("ciphertext shorter than its tag")
        out = _ffi.new("unsigned char[]", len(ciphertext) - AEAD_TAG_BYTES + 1)
        out_len = _ffi.new("unsigned long long *")
        rc = _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, out_len, _ffi.NULL, ciphertext, len(ciphertext), ad, len(ad), nonce, key
        )
        if rc != 0:
            raise AeadFailure("XChaCha20-Poly1305 authentication failed")
        return bytes(_ffi.buffer(out, out_len[0]))

else:  # pragma: no cover - only without PyNaCl's cffi handle

    def aead_encrypt(key: bytes, plaintext: bytes, ad: bytes, nonce: bytes = ZERO_NONCE) -> bytes:
        """XChaCha20-Poly1305. The zero nonce is only used with single-use keys."""
        _check_aead_args(key, nonce)
        return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)

    def aead_decrypt(key: bytes, ciphertext: bytes, ad: bytes, nonce: bytes = ZERO_NONCE) -> bytes:
        """Inverse of :func:`aead_encrypt`; AeadFailure for a wrong key, bad lengths or tampering."""
        try:
            _check_aead_args(key, nonce)
            return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
        except (ValueError, nacl.exceptions.CryptoError) as exc:
            raise AeadFailure from exc
