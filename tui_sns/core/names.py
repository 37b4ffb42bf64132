"""Names people give to contacts and circles: one namespace, case-sensitive."""

from __future__ import annotations

import unicodedata

from tui_sns.core.errors import InvalidInput

MAX_NAME = 100
RESERVED = {"me"}


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} name cannot be empty")
    if name != name.strip():
        raise InvalidInput(f"{what} name cannot start or end with spaces: {name!r}")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"{what} name is longer than {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(f"{what} name cannot contain control characters")
    if name in RESERVED:
        raise InvalidInput(f"{name!r} is reserved: choose another {what} name")
    return name
