"""The clock seam (docs/design-v2.md §17 step 1): a fake source drives every reading of "now"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tui_sns.core import clock


@pytest.fixture
def fake() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(datetime(2031, 3, 4, 5, 6, 7, 890, tzinfo=UTC))
    with clock.use_source(fake):
        yield fake


def test_a_fake_clock_drives_now_iso(fake: clock.FakeClock) -> None:
    assert clock.now_iso() == "2031-03-04T05:06:07+00:00"  # microseconds dropped, UTC offset written
    fake.advance(3600 * 24 * 9)
    assert clock.now_iso() == "2031-03-13T05:06:07+00:00"
    assert clock.now_unix() == int(datetime(2031, 3, 13, 5, 6, 7, tzinfo=UTC).timestamp())


def test_callers_that_imported_now_iso_by_name_follow_the_source(fake: clock.FakeClock) -> None:
    from tui_sns.core.diary import now_iso as diary_now_iso

    assert diary_now_iso() == "2031-03-04T05:06:07+00:00"


def test_other_zones_are_converted_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    with clock.use_source(lambda: datetime(2030, 1, 1, 9, 0, 0, tzinfo=tokyo)):
        assert clock.now_iso() == "2030-01-01T00:00:00+00:00"


def test_a_naive_source_is_refused() -> None:
    with clock.use_source(lambda: datetime(2030, 1, 1)), pytest.raises(ValueError, match="naive"):  # noqa: DTZ001
        clock.now()


def test_the_system_clock_is_restored() -> None:
    with clock.use_source(clock.FakeClock(0)):
        assert clock.now_unix() == 0
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(days=1)  # the real clock again
    previous = clock.set_source(clock.FakeClock(86400))
    try:
        assert clock.now_iso() == "1970-01-02T00:00:00+00:00"
    finally:
        clock.set_source(previous)
    assert clock.now().year >= 2026


def test_fake_clock_set_and_back() -> None:
    fake = clock.FakeClock(1_000_000)
    fake.set(datetime(2040, 1, 1, tzinfo=UTC))
    assert fake() == datetime(2040, 1, 1, tzinfo=UTC)
    fake.advance(-60)
    assert fake() == datetime(2039, 12, 31, 23, 59, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.FakeClock(datetime(2030, 1, 1))  # noqa: DTZ001
