"""In-memory limits (per process; nothing is persisted): token-bucket rate limiting, and counted slots
with a global and a per-address cap (connections, streams)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` tokens per second refill up to ``burst``; one request (or batch item) costs one token.

    Keys (credential hashes, client addresses) live only in this process's memory.
    When more than ``MAX_KEYS`` keys are tracked, buckets that have refilled are
    forgotten so memory stays bounded.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, cost: int = 1) -> int:
        """Take ``cost`` tokens: return 0 when allowed, else the whole seconds to wait (``Retry-After``).

        All or nothing: a refused request takes no token. ``cost`` must not exceed ``burst``.
        """
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0
        return max(1, math.ceil((cost - bucket.tokens) / self.rate))

    def _forget_full(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


class AddressSlots:
    """Things held open (connections, streams), counted globally and per client address.

    ``names``: the names of the two limits, (global, per address), returned by :meth:`take` when one
    refuses (they name the setting, e.g. ``max_streams``; logs and answers use them)."""

    def __init__(self, max_total: int, max_per_address: int, names: tuple[str, str]) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.names = names
        self.total = 0
        self.per_address: dict[str, int] = {}

    def take(self, host: str, *, exempt: bool = False) -> str | None:
        """Count one more for ``host``; or the name of the limit that refuses it. ``exempt``: the
        per-address cap does not apply (a trusted proxy carries many clients)."""
        if self.total >= self.max_total:
            return self.names[0]
        held = self.per_address.get(host, 0)
        if held >= self.max_per_address and not exempt:
            return self.names[1]
        self.total += 1
        self.per_address[host] = held + 1
        return None

    def give_back(self, host: str) -> None:
        self.total -= 1
        held = self.per_address.get(host, 0) - 1
        if held > 0:
            self.per_address[host] = held
        else:
            self.per_address.pop(host, None)
