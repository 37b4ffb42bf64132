"""Crash reports that never carry a secret.

A traceback printed with the local variables of every frame (what Textual and rich print by
default) shows the passphrase, the database key and the entry being saved: whatever a user pastes
into a bug report then carries them. Here a failure becomes

- one line for the person (:func:`cause`): what failed, in words, never a value from a frame;
- a report file (:func:`write_crash_log`) in the identity's home directory, created with mode 0600,
  holding the standard Python traceback: file names, line numbers, source lines and exception
  messages, and no local variables.

Both front ends use it: the app for workers' failures and unexpected crashes, the CLI for errors it
did not expect (``--debug`` / ``TUI_SNS_DEBUG=1`` print the same traceback, also without locals).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from tui_sns.core.display import safe_line

PREFIX = "crash-"
SUFFIX = ".log"
MAX_KEPT = 20  # older reports are removed when a new one is written


def format_without_locals(exc: BaseException) -> str:
    """The standard traceback of ``exc`` (its chain included): frames, source lines and messages,
    never the values of local variables."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def cause(exc: BaseException) -> str:
    """One line saying what failed, without any value taken from a frame: an OS error's text, the
    message of our own errors and of the database's, else only the kind of error."""
    from tui_sns.errors import TuiSnsError

    worker_error = getattr(exc, "error", None)  # textual.worker.WorkerFailed wraps the real one
    if isinstance(worker_error, BaseException):
        exc = worker_error
    if isinstance(exc, OSError) and exc.strerror:
        return safe_line(exc.strerror, 200)
    if isinstance(exc, TuiSnsError) or _is_database_error(exc):
        return safe_line(str(exc) or type(exc).__name__, 200)
    return f"unexpected {type(exc).__name__}"


def _is_database_error(exc: BaseException) -> bool:
    try:
        import sqlcipher3
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, sqlcipher3.Error)


def write_crash_log(home: Path, exc: BaseException, *, what: str = "") -> Path | None:
    """Write ``exc``'s traceback (without locals) to ``home/crash-<UTC time>-<pid>.log``, mode 0600,
    creating ``home`` (0700) if needed. Returns the path, or None if nothing could be written (a
    full or read-only disk: the caller still shows its one line)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = home / f"{PREFIX}{stamp}-{os.getpid()}{SUFFIX}"
    report = (
        f"tui-sns crash report ({what or 'unexpected error'}), {stamp}\n"
        f"Python {sys.version.split()[0]} on {sys.platform}\n"
        "It holds no local variables: no passphrase, key or entry text. Check it before sharing.\n\n"
        + format_without_locals(exc)
    )
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(report)
    except OSError:
        return None
    _prune(home)
    return path


def _prune(home: Path) -> None:
    with contextlib.suppress(OSError):
        logs = sorted(home.glob(f"{PREFIX}*{SUFFIX}"))
        for old in logs[:-MAX_KEPT]:
            old.unlink(missing_ok=True)


def notice(home: Path, exc: BaseException, doing: str) -> str:
    """Write the crash log and return the one line to show: what failed, why, where the details are.
    ``doing`` names the action ("Could not unlock")."""
    path = write_crash_log(home, exc, what=doing)
    where = f" Details (no secrets) in {path}" if path is not None else ""
    return f"{doing}: {cause(exc)}.{where}"


__all__ = ["cause", "format_without_locals", "notice", "write_crash_log"]
