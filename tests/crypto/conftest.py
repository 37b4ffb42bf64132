"""Fixtures for the crypto tests: a deterministic pool of identities and an X25519 call counter."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from crypto_helpers import X25519Counter, identity, identity_pool

import tui_sns.crypto.envelope as envelope_module
import tui_sns.crypto.envelope_v2 as envelope_v2_module
import tui_sns.crypto.keys as keys_module
from tui_sns.crypto.keys import Identity


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
    monkeypatch.setattr(envelope_v2_module, "x25519", counting(envelope_v2_module.x25519))
    monkeypatch.setattr(envelope_v2_module, "x25519_base", counting_base)
    yield counter
