"""CLI-level errors and exit statuses.

Exit statuses: 0 success; 1 an error (one line on stderr); 2 wrong passphrase or bad invocation.
"""

from tui_sns.errors import TuiSnsError


class CliError(TuiSnsError):
    """A one-line message for stderr."""

    exit_code = 1


EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_WRONG_PASSPHRASE = 2
