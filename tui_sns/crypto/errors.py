"""Exception hierarchy of the crypto layer.

CryptoError               (a tui_sns.errors.TuiSnsError, the root the front ends catch)
├── InvalidPublicKey      a key that is malformed or of low order
├── EnvelopeError         an envelope that cannot be accepted
│   ├── MalformedEnvelope     truncated, oversized, bad layout, low-order ephemeral key
│   ├── UnsupportedVersion    a version byte this code does not speak
│   └── ForgedEnvelope        a slot opened but its sender authenticator or key commitment failed
├── SealError             the sender asked for something that cannot be sealed
├── LinkCodeMistyped      a device-link code that is not well formed (a typo)
└── CardError             a contact card that cannot be read
    ├── CardChecksumError     the card's checksum does not match (a typo)
    ├── CardTooLong           a card being encoded would be longer than MAX_CARD_CHARS
    └── InvalidRelayUrl       a relay URL (in a card, or given to join) that is not accepted
"""

from tui_sns.errors import TuiSnsError


class CryptoError(TuiSnsError):
    """Base class of every error raised by :mod:`tui_sns.crypto`."""


class InvalidPublicKey(CryptoError):
    """A public key is not 32 bytes or is a low-order / zero-shared-secret point."""


class EnvelopeError(CryptoError):
    """An envelope cannot be accepted."""


class MalformedEnvelope(EnvelopeError):
    """The envelope's bytes do not follow the layout (docs/protocol.md)."""


class UnsupportedVersion(EnvelopeError):
    """The envelope's version byte is not one this code speaks."""


class ForgedEnvelope(EnvelopeError):
    """A slot addressed to me opened, but the sender's authenticator or the key commitment failed."""


class SealError(CryptoError):
    """The requested envelope cannot be sealed (too many recipients, body too large, ...)."""


class LinkCodeMistyped(CryptoError, ValueError):
    """A device-link code that is not well formed: wrong length, a bad character or checksum."""


class CardError(CryptoError):
    """A contact card cannot be read."""


class CardChecksumError(CardError):
    """The card's checksum does not match its contents: most likely a typo."""


class CardTooLong(CardError):
    """A card being encoded would be ``length`` characters, over ``limit`` (``MAX_CARD_CHARS``)."""

    def __init__(self, message: str, length: int, limit: int) -> None:
        super().__init__(message)
        self.length = length
        self.limit = limit


class InvalidRelayUrl(CardError):
    """A relay URL that is not http(s) with a valid host and port, is too long, or a card names too many."""
