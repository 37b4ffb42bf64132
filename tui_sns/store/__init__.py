"""The encrypted local store (one SQLCipher database per identity) and its data access.

Nothing here imports Textual, the CLI or the network.
"""

from tui_sns.store.database import Store
from tui_sns.store.errors import (
    IdentityExists,
    KeyFileCorrupt,
    NoIdentity,
    StoreError,
    StoreRolledBack,
    WrongPassphrase,
)
from tui_sns.store.keyfile import DEFAULT_KDF, KdfParams

__all__ = [
    "DEFAULT_KDF",
    "IdentityExists",
    "KdfParams",
    "KeyFileCorrupt",
    "NoIdentity",
    "Store",
    "StoreError",
    "StoreRolledBack",
    "WrongPassphrase",
]
