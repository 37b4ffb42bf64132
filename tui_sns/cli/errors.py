"""CLI-level errors and exit statuses (the README's table).

0  success
1  an error (one line on stderr) not listed below
2  wrong passphrase, or a bad invocation (UsageError: passphrase source, persona name, a relay URL or a
   missing --relay on the command line; argparse, numbers and durations out of range included; --proxy;
   the app or demo without a terminal; a name on the command line the name rules refuse)
3  the store is read-only (read-only media, no write permission): nothing was changed
4  the disk is full: nothing was changed
5  the store is damaged, or its database is missing or empty (salvage, or restore a backup)
6  store.db does not open with the key in store.key (another store's database: wrong key)
"""

from __future__ import annotations

import errno

from tui_sns.errors import TuiSnsError


class CliError(TuiSnsError):
    """A one-line message for stderr; the command exits with ``exit_code``."""

    exit_code = 1


class UsageError(CliError):
    """A bad invocation (exit 2): a passphrase file that cannot be read or is empty, no passphrase
    and no terminal to ask on, two typed passphrases that differ, a persona name that is not one."""

    exit_code = 2


EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_WRONG_PASSPHRASE = 2
EXIT_READ_ONLY = 3
EXIT_DISK_FULL = 4
EXIT_DAMAGED = 5
EXIT_WRONG_KEY = 6


def exit_status(exc: BaseException) -> int:
    """The documented exit status of an error that reached the command line."""
    from tui_sns.core.errors import StoreDamaged, StoreFull, StoreReadOnly, WrongKey, WrongPassphrase

    for kind, status in (
        (WrongPassphrase, EXIT_WRONG_PASSPHRASE),
        (StoreReadOnly, EXIT_READ_ONLY),
        (StoreFull, EXIT_DISK_FULL),
        (StoreDamaged, EXIT_DAMAGED),
        (WrongKey, EXIT_WRONG_KEY),
    ):
        if isinstance(exc, kind):
            return status
    if isinstance(exc, CliError):
        return exc.exit_code
    if isinstance(exc, OSError):  # a file named on the command line (a backup, a bundle)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return EXIT_DISK_FULL
        if exc.errno == errno.EROFS:
            return EXIT_READ_ONLY
    return EXIT_ERROR
