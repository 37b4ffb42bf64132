"""Token-bucket rate limiter."""

from __future__ import annotations

from tui_sns.sync.relay import limits
from tui_sns.sync.relay.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("a") == 1
    assert limiter.acquire("b") == 0
    clock.now = 0.5
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") >= 1


def test_retry_after_is_whole_seconds() -> None:
    limiter = RateLimiter(rate=0.1, burst=1, clock=Clock())
    assert limiter.acquire("k") == 0
    assert limiter.acquire("k") == 10


def test_memory_is_bounded(monkeypatch: object) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    for i in range(limits.MAX_KEYS):
        limiter.acquire(str(i))
    clock.now = 10.0
    limiter.acquire("new")
    assert len(limiter._buckets) == 1


def test_cost_is_all_or_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=5, clock=clock)
    assert limiter.acquire("a", 3) == 0
    assert limiter.acquire("a", 3) == 1  # 2 tokens left: one more second for the third
    assert limiter.acquire("a", 2) == 0  # the refused request took nothing
    assert limiter.acquire("a") == 1
    clock.now = 4.0
    assert limiter.acquire("a", 4) == 0
