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
from tui_sns.store.errors import (
    IdentityExists,
    StoreDamaged,
    StoreFull,
    StoreMissing,
    StoreReadOnly,
    WrongKey,
    WrongPassphrase,
)

# front ends catch TuiSnsError; these store errors are re-exported because the front ends tell them
# apart (a wrong passphrase is asked again and exits 2; an existing identity is not overwritten; the
# store's failures by cause each have their own exit status: read-only, disk full, damaged, wrong key)
__all__ = [
    "CoreError",
    "IdentityExists",
    "InvalidInput",
    "NameTaken",
    "NetworkError",
    "StoreDamaged",
    "StoreFull",
    "StoreMissing",
    "StoreReadOnly",
    "TuiSnsError",
    "UnknownName",
    "WrongKey",
    "WrongPassphrase",
]


class UnknownName(CoreError):
    pass


class NameTaken(CoreError):
    pass


class InvalidInput(CoreError):
    pass
