"""Helpers shared by the crypto tests (a uniquely named module: other test folders have a conftest too)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tui_sns.crypto.keys import Identity

POOL_SIZE = 320


def identity(label: str) -> Identity:
    """A deterministic identity: the secret is BLAKE2b of a label (tests only)."""
    return Identity(secret=hashlib.blake2b(label.encode(), digest_size=32, person=b"tuisns-test-id").digest())


_POOL: list[Identity] | None = None


def identity_pool() -> list[Identity]:
    """POOL_SIZE deterministic identities, built once per test session (X25519 base mults are not free)."""
    global _POOL
    if _POOL is None:
        _POOL = [identity(f"pool-{i}") for i in range(POOL_SIZE)]
    return _POOL


@dataclass
class X25519Counter:
    """Counts variable-base X25519 calls made by the envelope code and by Identity.shared."""

    scalarmult: int = 0
    base: int = 0

    def reset(self) -> None:
        self.scalarmult = 0
        self.base = 0
