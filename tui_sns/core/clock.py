"""Wall-clock time for the core, through one injectable source (docs/design-v2.md §17 step 1).

Every reading of "now" in the core goes through :func:`now` (or :func:`now_iso` /
:func:`now_unix`, which are built on it), so a test can move time: epoch rotation and key
deletion (design-v2 §5), expiry and link-code timeouts are then tested without sleeping.

* :func:`now` — an aware ``datetime`` in UTC, to the second.
* :func:`now_iso` — ISO 8601 text, UTC, to the second (``2026-11-30T21:09:07+00:00``).
* :func:`now_unix` — integer unix seconds.
* :func:`set_source` / :func:`use_source` — replace the source (tests only), e.g. with a
  :class:`FakeClock`; ``set_source(None)`` restores the system clock.

The store layer does not import this module (layer contract): the core passes it the time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

Source = Callable[[], datetime]
"""A time source: returns an aware ``datetime`` (any time zone; converted to UTC)."""


def _system() -> datetime:
    return datetime.now(UTC)


_source: Source = _system


def now() -> datetime:
    """The current time from the installed source: an aware UTC ``datetime``, microseconds dropped.

    Raises ValueError if a test's source returns a naive ``datetime`` (a time without a zone is
    ambiguous, and every timestamp tui-sns writes is UTC).
    """
    value = _source()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("the clock source returned a naive datetime; give it a time zone (UTC)")
    return value.astimezone(UTC).replace(microsecond=0)


def now_iso() -> str:
    """The current time as ISO 8601 text, UTC, to the second (``YYYY-MM-DDTHH:MM:SS+00:00``)."""
    return now().isoformat()


def now_unix() -> int:
    """The current time in integer unix seconds."""
    return int(now().timestamp())


def set_source(source: Source | None) -> Source:
    """Install ``source`` as the clock (``None``: the system clock again); returns the previous one.

    For tests: production code never calls this. Not thread-local — the whole process sees it.
    """
    global _source
    previous = _source
    _source = _system if source is None else source
    return previous


@contextmanager
def use_source(source: Source) -> Iterator[Source]:
    """Context manager: ``source`` is the clock inside the block, the previous one after it."""
    previous = set_source(source)
    try:
        yield source
    finally:
        set_source(previous)


class FakeClock:
    """A settable clock for tests: ``clock = FakeClock(start); set_source(clock); clock.advance(3600)``.

    ``start`` is an aware ``datetime`` or unix seconds (default 2026-01-01T00:00:00Z). It only moves
    when told to.
    """

    def __init__(self, start: datetime | float = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.value = start if isinstance(start, datetime) else datetime.fromtimestamp(start, UTC)
        if self.value.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> datetime:
        """Move forward (or back, with a negative value) by ``seconds``; returns the new time."""
        self.value += timedelta(seconds=seconds)
        return self.value

    def set(self, when: datetime | float) -> None:
        """Jump to ``when`` (an aware ``datetime`` or unix seconds)."""
        self.value = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
