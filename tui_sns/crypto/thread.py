"""Comment sealing under an entry's thread key (docs/protocol.md, "Conversations and defenses").

Every entry carries a random 32-byte thread key ``T``, sent inside the entry's envelope, so exactly
the entry's audience and its author hold it. A comment is encrypted once under ``T``::

    nonce   = 24 random bytes
    key     = BLAKE2b(nonce, key=T, person="tuisns1-comment")       (our kdf, 32 bytes)
    blob    = nonce ‖ XChaCha20-Poly1305(key, comment JSON, ad="tuisns1-comment", nonce=nonce)

The blob travels inside ordinary envelopes (commenter → author, then author → the other readers), so a
forward by the author cannot be read by anyone who does not hold ``T``. The key is fresh per comment
(derived from the random nonce), so nonce reuse across comments is impossible by construction.

This module is pure: no I/O besides the random source, no store, no network.
"""

from __future__ import annotations

import os

from tui_sns.crypto.errors import CryptoError
from tui_sns.crypto.keys import Random
from tui_sns.crypto.primitives import (
    AEAD_NONCE_BYTES,
    AEAD_TAG_BYTES,
    AeadFailure,
    aead_decrypt,
    aead_encrypt,
    kdf,
)

LABEL_COMMENT = b"tuisns1-comment"
THREAD_KEY_BYTES = 32
MAX_COMMENT_PLAIN = 16384  # bytes of comment JSON
MAX_BLOB = AEAD_NONCE_BYTES + MAX_COMMENT_PLAIN + AEAD_TAG_BYTES


class ThreadError(CryptoError):
    """A comment blob that cannot be opened with this thread key (wrong key, tampered, malformed)."""


def new_thread_key(rng: Random = os.urandom) -> bytes:
    """A fresh random thread key for one entry."""
    return rng(THREAD_KEY_BYTES)


def _comment_key(thread_key: bytes, nonce: bytes) -> bytes:
    if len(thread_key) != THREAD_KEY_BYTES:
        raise ThreadError(f"thread keys are {THREAD_KEY_BYTES} bytes")
    return kdf(LABEL_COMMENT, thread_key, nonce)


def seal_comment(thread_key: bytes, plaintext: bytes, rng: Random = os.urandom) -> bytes:
    """nonce ‖ ciphertext of ``plaintext`` under a key derived from ``thread_key`` and the nonce."""
    if len(plaintext) > MAX_COMMENT_PLAIN:
        raise ThreadError(f"a comment is at most {MAX_COMMENT_PLAIN} bytes")
    nonce = rng(AEAD_NONCE_BYTES)
    return nonce + aead_encrypt(_comment_key(thread_key, nonce), plaintext, LABEL_COMMENT, nonce)


def open_comment(thread_key: bytes, blob: bytes) -> bytes:
    """Inverse of :func:`seal_comment`. ThreadError if the blob is malformed or not sealed under this key."""
    if not AEAD_NONCE_BYTES + AEAD_TAG_BYTES <= len(blob) <= MAX_BLOB:
        raise ThreadError("malformed comment blob")
    nonce = bytes(blob[:AEAD_NONCE_BYTES])
    try:
        return aead_decrypt(
            _comment_key(thread_key, nonce), bytes(blob[AEAD_NONCE_BYTES:]), LABEL_COMMENT, nonce
        )
    except AeadFailure as exc:
        raise ThreadError("this comment was not sealed under this entry's thread key") from exc
