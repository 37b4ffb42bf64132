"""Text from other people made safe to show on a terminal: the one display-sanitising seam.

Every byte another person, a relay, a card or the disk hands us may try to drive the terminal it is
printed on: ``ESC ] 0 ;`` renames the window, ``ESC [ 2 J`` clears the screen, ``ESC ] 52`` writes the
clipboard, a CSI typed as the single C1 character U+009B does the same in a UTF-8 terminal, and a
right-to-left override (U+202E) makes ``txt.exe`` read as ``exe.txt``. A newline inside a one-line
field forges a whole line of output (a fake timeline row "from Bob").

Every CLI printer and every widget that shows someone else's text passes it through here:

- :func:`safe_line` for one-line fields (names, titles, times, URLs, relay error text): no control
  character at all, line breaks included, is ever returned;
- :func:`safe_text` for bodies: newline and tab are kept, every other control character is replaced;
- :func:`safe_json` for ``--json``: strings stay exact (a parser gets them back unchanged), and the
  characters above are written as ``\\uXXXX`` escapes so that the raw JSON is safe on a terminal too.

What is replaced, and by what (one character each, so widths barely move):

- C0 controls U+0000–U+001F and DEL U+007F: the matching Unicode control picture (ESC shows as ``␛``,
  a newline in a one-line field as ``␤``, DEL as ``␡``);
- C1 controls U+0080–U+009F, bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
  the line and paragraph separators U+2028/U+2029 and lone surrogates (undecodable bytes): U+FFFD ``�``.

Nothing else is touched: letters of every script, wide characters, emoji and their joiners pass.
This module is pure Python (no Textual, no Rich) so the CLI, the app and the tests share it.
"""

from __future__ import annotations

import json
from typing import Any

REPLACEMENT = "\ufffd"
ELLIPSIS = "…"

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_SEPARATORS = (0x2028, 0x2029)

# the characters that never reach a terminal as themselves (see the module docstring)
_LINE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_LINE[0x0A] = "\u2424"  # ␤ (reads as "newline" better than the picture of LF)
_LINE[0x7F] = "\u2421"  # ␡
_LINE.update({code: REPLACEMENT for code in range(0x80, 0xA0)})
_LINE.update({code: REPLACEMENT for code in (*_BIDI, *_SEPARATORS)})
_LINE.update({code: REPLACEMENT for code in range(0xD800, 0xE000)})

_TEXT = dict(_LINE)
del _TEXT[0x0A], _TEXT[0x09]  # a body keeps its line breaks and tabs

# inside JSON: the same characters as \uXXXX escapes (json.dumps already escapes U+0000-U+001F)
_JSON = {code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *_BIDI, *_SEPARATORS)}
_JSON.update({code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)})

UNSAFE = frozenset(_LINE)
"""Code points :func:`safe_line` never returns (the ones :func:`safe_text` never returns, plus newline
and tab)."""


def safe_line(text: object, limit: int | None = None) -> str:
    """``text`` as one line a terminal shows as written: every control character (newline, carriage
    return and tab included) becomes a visible picture, C1, bidi controls and lone surrogates become
    U+FFFD. With ``limit`` (characters, at least 1) a longer result is cut and ends with "…".
    ``None`` gives ""; anything else that is not a str is shown through ``str()``."""
    if text is None:
        return ""
    line = str(text).translate(_LINE)
    if limit is not None and len(line) > limit:
        line = line[: max(0, limit - 1)] + ELLIPSIS
    return line


def safe_text(text: object) -> str:
    """``text`` (a body: several lines) with its newlines and tabs kept and every other control
    character replaced as in :func:`safe_line`; CR LF becomes LF first (a lone CR, which moves the
    cursor back over the line, shows as ``␍``). ``None`` gives ""."""
    if text is None:
        return ""
    return str(text).replace("\r\n", "\n").translate(_TEXT)


def is_safe_line(text: str) -> bool:
    """Does ``text`` hold nothing :func:`safe_line` would replace?"""
    return not any(ord(ch) in UNSAFE for ch in text)


def safe_json(value: Any, *, indent: int | None = 2) -> str:
    """``json.dumps(value)`` (UTF-8 text, not ASCII-escaped) whose strings decode back exactly, with
    DEL, C1, bidi controls, U+2028/U+2029 and lone surrogates written as ``\\uXXXX`` escapes (C0
    controls are escaped by ``json`` itself). Those characters cannot occur in JSON outside strings,
    so escaping them in the text is exact."""
    return json.dumps(value, ensure_ascii=False, indent=indent).translate(_JSON)


__all__ = ["REPLACEMENT", "UNSAFE", "is_safe_line", "safe_json", "safe_line", "safe_text"]
