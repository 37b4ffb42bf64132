"""The hostile strings of issue 8 and the check that none of their dangerous characters got through."""

from __future__ import annotations

# each "Seen" case of issue 8 section 1, and more of the same kinds
RETITLE = "\x1b]0;pwned\x07"  # renames the terminal window
CLEAR = "\x1b[2J"  # clears the screen
CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes the clipboard (OSC 52)
FAKE_LINE = "\x1b[1A\x1b[2K"  # erases the line above (then a fake one is printed)
FORGED_ROW = "\n0123456789ab  2026-01-01T00:00:00+00:00    bob: I never wrote this"
C1_CSI = "\x9b2J"  # a CSI as the single C1 character (UTF-8 terminals act on it)
BIDI = "\u202egnp.exe\u202c"  # a right-to-left override
ISOLATE = "\u2067x\u2069"

ALL = (RETITLE, CLEAR, CLIPBOARD, FAKE_LINE, FORGED_ROW, C1_CSI, BIDI, ISOLATE)
TITLE = "hi" + RETITLE + CLEAR + CLIPBOARD + FAKE_LINE + C1_CSI + BIDI + FORGED_ROW
BODY = "body" + RETITLE + CLEAR + "\nsecond line\t" + CLIPBOARD + FAKE_LINE + C1_CSI + BIDI + ISOLATE + "\rX"

BIDI_CODES = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def bad_chars(text: str, *, newlines: bool = True) -> list[str]:
    """The characters of ``text`` that must never reach a terminal (newline and tab allowed when
    ``newlines``)."""
    allowed = "\n\t" if newlines else ""
    return [
        ch
        for ch in text
        if (ord(ch) < 0x20 and ch not in allowed)
        or 0x7F <= ord(ch) < 0xA0
        or ord(ch) in BIDI_CODES
        or 0xD800 <= ord(ch) < 0xE000
    ]


def assert_clean(text: str, *, newlines: bool = True) -> None:
    found = bad_chars(text, newlines=newlines)
    assert not found, f"unsafe characters reached the output: {found[:10]!r} in {text[:300]!r}"
