"""Errors of the core services. Every one carries a sentence fit to show a person as is.

CoreError
├── UnknownName     a contact or circle name that does not exist
├── NameTaken       a name already used by a contact or circle
├── InvalidInput    a value that cannot be accepted (empty name, bad card, bad bundle file, ...)
└── NetworkError    a relay could not be reached or answered badly (sync)
"""


class CoreError(Exception):
    pass


class UnknownName(CoreError):
    pass


class NameTaken(CoreError):
    pass


class InvalidInput(CoreError):
    pass


class NetworkError(CoreError):
    pass
