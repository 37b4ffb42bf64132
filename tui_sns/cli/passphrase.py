"""Where a passphrase comes from: --passphrase-file, then TUI_SNS_PASSPHRASE, then a prompt."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from tui_sns.cli.errors import UsageError

PASSPHRASE_ENV = "TUI_SNS_PASSPHRASE"
NEW_PASSPHRASE_ENV = "TUI_SNS_NEW_PASSPHRASE"


def _from_file(path: str) -> str:
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read passphrase file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"passphrase file {path} is not UTF-8 text") from exc
    return text[:-1] if text.endswith("\n") else text


def _prompt(label: str, confirm: bool) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            f"no passphrase given: set {PASSPHRASE_ENV}, use --passphrase-file FILE, or run in a terminal"
        )
    first = getpass.getpass(f"{label}: ")
    if confirm and getpass.getpass(f"{label} (again): ") != first:
        raise UsageError("the two passphrases differ: nothing was changed")
    return first


def read_passphrase(file: str | None, *, confirm: bool = False) -> str:
    if file:
        value = _from_file(file)
    elif PASSPHRASE_ENV in os.environ:
        value = os.environ[PASSPHRASE_ENV]
    else:
        value = _prompt("Passphrase", confirm)
    if not value:
        raise UsageError("the passphrase cannot be empty")
    return value


def read_new_passphrase(file: str | None) -> str:
    if file:
        value = _from_file(file)
    elif NEW_PASSPHRASE_ENV in os.environ:
        value = os.environ[NEW_PASSPHRASE_ENV]
    else:
        value = _prompt("New passphrase", confirm=True)
    if not value:
        raise UsageError("the new passphrase cannot be empty")
    return value
