"""Exception hierarchy of the store.

StoreError            (a tui_sns.errors.TuiSnsError, the root the front ends catch)
├── NoIdentity        no identity in this home yet (run `tui-sns init`)
├── IdentityExists    `init` over an existing identity
├── WrongPassphrase   the passphrase does not unwrap the store key
├── KeyFileCorrupt    the wrapped-key file is unreadable or its counter authenticator fails
├── StoreRolledBack   the database is older than the key file's write counter says
├── StoreReadOnly     a write on a store opened read-only (read-only media, no write permission)
├── StoreFull         the disk is full: the write was not made, nothing changed
├── StoreDamaged      store.db has damaged pages (salvage with `tui-sns backup --salvage FILE`)
│   └── StoreMissing  store.key exists but store.db is missing or empty (restore a backup)
├── WrongKey          store.db does not open with the key in store.key (another store's database)
└── NotFound          a named contact, circle or entry does not exist
"""

from tui_sns.errors import TuiSnsError


class StoreError(TuiSnsError):
    """Base class of every error raised by :mod:`tui_sns.store`."""


class NoIdentity(StoreError):
    pass


class IdentityExists(StoreError):
    pass


class WrongPassphrase(StoreError):
    pass


class KeyFileCorrupt(StoreError):
    pass


class StoreRolledBack(StoreError):
    pass


class StoreReadOnly(StoreError):
    pass


class StoreFull(StoreError):
    pass


class StoreDamaged(StoreError):
    pass


class StoreMissing(StoreDamaged):
    pass


class WrongKey(StoreError):
    pass


class NotFound(StoreError):
    pass
