"""Identity key pair and the cache of static-static shared secrets."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from tui_sns.crypto.errors import InvalidPublicKey
from tui_sns.crypto.primitives import KEY_BYTES, kdf, x25519, x25519_base

LABEL_SELF = b"tuisns1-self"

Random = Callable[[int], bytes]


def validate_public_key(public: bytes) -> bytes:
    """Reject keys that are not 32 bytes or that are low-order (by trying a DH with a throwaway key)."""
    if len(public) != 32:
        raise InvalidPublicKey(f"public key must be 32 bytes, got {len(public)}")
    x25519(os.urandom(32), public)
    return public


@dataclass
class Identity:
    """One persona's long-term X25519 key pair.

    ``shared(peer)`` returns the static-static secret X25519(my secret, peer) and caches it, so
    sealing to a circle and opening envelopes from a contact cost no static DH after the first.
    """

    secret: bytes
    public: bytes = b""
    _shared: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    self_key: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError("secret key must be 32 bytes")
        derived = x25519_base(self.secret)
        if self.public and self.public != derived:
            raise ValueError("public key does not match secret key")
        self.public = derived
        # A symmetric key only my own devices hold: it addresses the author's own slot in every
        # envelope without any X25519 operation.
        self.self_key = kdf(LABEL_SELF, self.secret, b"")

    @classmethod
    def generate(cls, rng: Random = os.urandom) -> Identity:
        return cls(secret=rng(KEY_BYTES))

    def shared(self, peer: bytes) -> bytes:
        """Static-static X25519 with ``peer``; cached. Raises InvalidPublicKey for bad keys."""
        cached = self._shared.get(peer)
        if cached is None:
            cached = x25519(self.secret, peer)
            self._shared[peer] = cached
        return cached

    def preload_shared(self, peer: bytes, secret: bytes) -> None:
        """Seed the cache with a shared secret computed earlier (kept in the encrypted store)."""
        self._shared[peer] = secret
