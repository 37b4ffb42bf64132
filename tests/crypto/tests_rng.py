"""A deterministic rng for tests: BLAKE2b-512 counter blocks (the construction of tests/vectors' CounterRng)."""

from __future__ import annotations

import hashlib
import struct


class counter_rng:  # noqa: N801 - used like a function: rng = counter_rng("seed"); rng(32)
    def __init__(self, seed: str) -> None:
        self.seed, self.counter, self.buffer = seed.encode(), 0, b""

    def __call__(self, size: int) -> bytes:
        while len(self.buffer) < size:
            block = self.seed + struct.pack(">Q", self.counter)
            self.buffer += hashlib.blake2b(block, digest_size=64, person=b"tuisns-kat-rng").digest()
            self.counter += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out
