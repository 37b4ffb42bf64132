"""Guard the background pruner against a wall clock that jumped.

The pruner deletes by wall-clock time (expiry, ``retention``), so a clock
stepped forward by a day would delete, for good, envelopes that still had a day to
live.  :class:`PruneClock` compares how far the wall clock and a monotonic clock
(``CLOCK_BOOTTIME`` where there is one, so a suspend is no jump) moved since the
last run it trusted: when they disagree by more than ``tolerance`` seconds it
refuses (the caller logs and skips the run).  A jumped clock that then stays
steady for ``settle`` seconds is accepted as the new time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOCK_TOLERANCE = 60.0  # seconds of disagreement allowed between runs
CLOCK_SETTLE = 3600.0  # seconds a jumped clock must run steadily before it is trusted


def _steady() -> float:
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


class PruneClock:
    """``check() -> float | None``: the wall time to prune with, or None when the clock jumped."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        steady: Callable[[], float] = _steady,
        tolerance: float = CLOCK_TOLERANCE,
        settle: float = CLOCK_SETTLE,
    ) -> None:
        self._wall = wall
        self._steady = steady
        self.tolerance = tolerance
        self.settle = settle
        self._trusted = (wall(), steady())
        self._candidate: tuple[float, float] | None = None

    def _drift(self, since: tuple[float, float], wall: float, steady: float) -> float:
        return (wall - since[0]) - (steady - since[1])

    def check(self) -> float | None:
        """The current wall time if it moved in step with the steady clock since the last trusted run."""
        wall, steady = self._wall(), self._steady()
        if abs(self._drift(self._trusted, wall, steady)) <= self.tolerance:
            self._trusted, self._candidate = (wall, steady), None
            return wall
        candidate = self._candidate
        if candidate is None or abs(self._drift(candidate, wall, steady)) > self.tolerance:
            self._candidate = (wall, steady)  # a (new) jump: start watching it
            return None
        if steady - candidate[1] >= self.settle:
            self._trusted, self._candidate = (wall, steady), None
            return wall
        return None
