"""Handing a draft to ``$EDITOR``: the command, the temporary file, reading back what it saved.

The text exists in plain form for as long as the editor runs, so the file is created in the
identity's home directory (mode 0600, never a shared /tmp), named ``.editing-<random>.md``, and
removed once its text is safely in the draft. One left behind by a crash holds plaintext: the app
removes such stale files when it starts.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from pathlib import Path

from tui_sns.core.errors import InvalidInput

PREFIX = ".editing-"
SUFFIX = ".md"


def editor_command(editor: str) -> list[str]:
    """``$VISUAL``/``$EDITOR`` split as a shell would (``code --wait``, ``vim -u NONE``). Raises
    InvalidInput with a one-line reason for an empty value or one a shell could not split (an
    unbalanced quote)."""
    try:
        argv = shlex.split(editor)
    except ValueError as exc:
        raise InvalidInput(f"$EDITOR cannot be read ({exc}): fix it, or keep writing here") from exc
    if not argv:
        raise InvalidInput("$EDITOR is empty: keep writing here")
    return argv


def new_edit_file(home: Path, text: str) -> Path:
    """A new file holding ``text`` (UTF-8) in ``home``, mode 0600."""
    fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=home)  # 0600, O_EXCL
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(name)


def read_edit_file(path: Path) -> tuple[str, bool]:
    """The text the editor saved and whether it was valid UTF-8. Bytes that are not (an editor
    saving Latin-1) are decoded with U+FFFD replacements rather than failing: nothing is lost
    that the file does not still hold (the caller keeps it until the text is in the draft)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False


def remove_stale(home: Path) -> int:
    """Remove edit files left in ``home`` by an earlier run (they hold plaintext). Returns how many."""
    removed = 0
    for path in home.glob(f"{PREFIX}*{SUFFIX}"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


__all__ = ["editor_command", "new_edit_file", "read_edit_file", "remove_stale"]
