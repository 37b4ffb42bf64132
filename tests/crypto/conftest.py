"""Fixtures for the crypto tests: a deterministic pool of identities and an X25519 call counter."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import tui_sns.crypto.envelope as envelope_module
import tui_sns.crypto.keys as keys_module
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


@pytest.fixture(scope="session")
def pool() -> list[Identity]:
    return identity_pool()


@pytest.fixture()
def alice() -> Identity:
    return identity("alice")


@pytest.fixture()
def bob() -> Identity:
    return identity("bob")


@pytest.fixture()
def carol() -> Identity:
    return identity("carol")


@pytest.fixture()
def mallory() -> Identity:
    return identity("mallory")


@dataclass
class X25519Counter:
    """Counts variable-base X25519 calls made by the envelope code and by Identity.shared."""

    scalarmult: int = 0
    base: int = 0

    def reset(self) -> None:
        self.scalarmult = 0
        self.base = 0


@pytest.fixture()
def x25519_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[X25519Counter]:
    counter = X25519Counter()

    def counting(original: Callable[[bytes, bytes], bytes]) -> Callable[[bytes, bytes], bytes]:
        def wrapped(secret: bytes, public: bytes) -> bytes:
            counter.scalarmult += 1
            return original(secret, public)

        return wrapped

    original_base = envelope_module.x25519_base

    def counting_base(secret: bytes) -> bytes:
        counter.base += 1
        return original_base(secret)

    monkeypatch.setattr(envelope_module, "x25519", counting(envelope_module.x25519))
    monkeypatch.setattr(keys_module, "x25519", counting(keys_module.x25519))
    monkeypatch.setattr(envelope_module, "x25519_base", counting_base)
    yield counter
