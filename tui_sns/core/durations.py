"""Durations such as ``30m``, ``12h``, ``7d``, ``2w`` (for ``post --expires``)."""

from __future__ import annotations

import re
from datetime import timedelta

from tui_sns.core.errors import InvalidInput

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_PATTERN = re.compile(r"^\s*([+-]?[0-9]+)\s*([mhdw])\s*$")
MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=366)
RANGE = "1 minute to 1 year"


class DurationOutOfRange(InvalidInput):
    """A duration written correctly whose value is below 1 minute or above a year."""


def parse_duration(text: str) -> timedelta:
    """A positive whole number of minutes (m), hours (h), days (d) or weeks (w), at most a year.

    Raises :class:`InvalidInput` for text that is not a duration, :class:`DurationOutOfRange` (a kind of
    it) for one that is zero, negative or longer than a year.
    """
    match = _PATTERN.match(text.lower())
    if match is None:
        raise InvalidInput(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d or 2w)")
    digits = match.group(1)
    # (read as a number only once it is known to be short: never a huge int from a typo)
    if (
        len(digits.lstrip("+-")) > 7
        or not MIN_DURATION <= int(digits) * _UNITS[match.group(2)] <= MAX_DURATION
    ):
        raise DurationOutOfRange(f"out of range: {text!r} ({RANGE}, e.g. 30m, 12h, 7d or 2w)")
    return int(digits) * _UNITS[match.group(2)]
