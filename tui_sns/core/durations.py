"""Durations such as ``30m``, ``12h``, ``7d``, ``2w`` (for ``post --expires``)."""

from __future__ import annotations

import re
from datetime import timedelta

from tui_sns.core.errors import InvalidInput

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_PATTERN = re.compile(r"^\s*([1-9][0-9]{0,5})\s*([mhdw])\s*$")
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """A positive whole number of minutes (m), hours (h), days (d) or weeks (w), at most a year."""
    match = _PATTERN.match(text.lower())
    if match is None:
        raise InvalidInput(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d or 2w)")
    duration = int(match.group(1)) * _UNITS[match.group(2)]
    if duration > MAX_DURATION:
        raise InvalidInput("an expiry is at most a year away")
    return duration
