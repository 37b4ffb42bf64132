"""The root of every error tui-sns raises on purpose, and the two families defined below core.

This module imports nothing (not even the standard library), so every layer may import it: crypto
(which imports nothing else of ours), the store, the relay client (``tui_sns.net``) and core. The
import contracts in pyproject.toml allow it and nothing else below core.

TuiSnsError                    catch this in a front end: every sentence is fit to show a person as is
├── CryptoError                tui_sns.crypto.errors (keys, envelopes, cards)
├── StoreError                 tui_sns.store.errors (the encrypted store and its key file)
└── CoreError                  the core services (tui_sns.core.errors adds UnknownName, NameTaken, ...)
    └── NetworkError           a relay could not be reached or answered badly (tui_sns.net)

``CoreError`` and ``NetworkError`` are defined here rather than in ``tui_sns.core.errors`` because the
relay client sits below core and raises ``NetworkError``, which callers have always caught as a
``CoreError``; ``tui_sns.core.errors`` re-exports both, so every existing import keeps working.
"""


class TuiSnsError(Exception):
    """Base class of every error raised on purpose by tui-sns (crypto, store, relay client, core)."""


class CoreError(TuiSnsError):
    """An error of the core services; its message is a sentence fit to show a person."""


class NetworkError(CoreError):
    """A relay could not be reached or answered badly."""
