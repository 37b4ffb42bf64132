"""Names people give to contacts and circles (one namespace, case-sensitive), and the display names
cards carry. Everyone applies the same rules: a name I could not give a contact is refused when it
arrives on someone's card, in a contact request or in a forwarded comment, and ``init --name`` and
``card --name`` refuse it before anyone else has to."""

from __future__ import annotations

import unicodedata

from tui_sns.core.errors import InvalidInput

MAX_NAME = 100
RESERVED = {"me"}

# control (Cc), format (Cf: bidi overrides and isolates among them), surrogate, private-use and
# unassigned characters, and the line and paragraph separators
_REFUSED_CATEGORIES = ("C", "Zl", "Zp")


# the zero-width (non-)joiner are format characters that names need: emoji sequences (👨‍👩‍👧) and
# Persian or Indic spellings; they move no cursor and reorder nothing
_JOINERS = "\u200c\u200d"


def _has_controls(text: str, allowed: str = "") -> bool:
    allowed += _JOINERS
    return any(unicodedata.category(ch).startswith(_REFUSED_CATEGORIES) and ch not in allowed for ch in text)


def check_display_name(name: str, what: str) -> str:
    """A name as a card shows it: 1 to ``MAX_NAME`` characters, no spaces at either end, no control,
    format (bidi) or line-separator characters. Returns ``name``; raises InvalidInput."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} name cannot be empty")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"{what} name is longer than {MAX_NAME} characters")
    if _has_controls(name):
        raise InvalidInput(f"{what} name cannot contain control characters")
    if name != name.strip():
        raise InvalidInput(f"{what} name cannot start or end with spaces: {name!r}")
    return name


def check_name(name: str, what: str) -> str:
    """A local name for a contact or circle: :func:`check_display_name`'s rules, and not reserved."""
    check_display_name(name, what)
    if name in RESERVED:
        raise InvalidInput(f"{name!r} is reserved: choose another {what} name")
    return name


def check_note(note: str, limit: int) -> str:
    """A contact request's note: at most ``limit`` characters; line breaks and tabs allowed, no other
    control, format (bidi) or separator character. Returns ``note``; raises InvalidInput."""
    if not isinstance(note, str):
        raise InvalidInput("the note is not text")
    if len(note) > limit:
        raise InvalidInput(f"the note is at most {limit} characters")
    if _has_controls(note, allowed="\n\t"):
        raise InvalidInput("the note cannot contain control characters")
    return note
