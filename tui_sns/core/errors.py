"""Errors of the core services. Every one carries a sentence fit to show a person as is.

TuiSnsError (tui_sns.errors: the root every front end catches)
└── CoreError
    ├── UnknownName     a contact or circle name that does not exist
    ├── NameTaken       a name already used by a contact or circle
    ├── InvalidInput    a value that cannot be accepted (empty name, bad card, bad bundle file, ...)
    └── NetworkError    a relay could not be reached or answered badly (defined in tui_sns.errors,
                        since the relay client below core raises it)
"""

from tui_sns.errors import CoreError, NetworkError, TuiSnsError

__all__ = ["CoreError", "InvalidInput", "NameTaken", "NetworkError", "TuiSnsError", "UnknownName"]


class UnknownName(CoreError):
    pass


class NameTaken(CoreError):
    pass


class InvalidInput(CoreError):
    pass
