"""Device linking, the pure parts (docs/design-v2.md §9): the one-time code, its text and QR forms, and
the keys both devices derive from it.

The code ``c`` is 32 random bytes. Its text form (what ``devices link`` prints, ``devices join`` reads):

    "tsl1-" + Crockford base32 of (c ‖ BLAKE2b(c, person="tuisns2-linkchk", size=2))
    = 272 bits → 55 characters (the last one carries 2 bits, its 3 low bits zero), grouped by 5 with "-"

Reading is case-insensitive, ignores spaces and dashes and maps ``O→0``, ``I/L→1`` (Crockford); any
other character, a wrong length, non-zero padding bits or a bad checksum is :class:`LinkCodeMistyped`
(never "expired": the checksum tells a mistyped code from an old one). The QR form is
``tuisns-link:1:<the 55 characters>?relay=<url>[&cred=<credential>]``.

Derived from ``c`` (labels in §3; the functions are :mod:`tui_sns.crypto.epochs`'):

    Kl   = BLAKE2b(empty, key=c, person="tuisns2-link")                       link-slot key of OFFER/HELLO/REVEAL
    com  = BLAKE2b(A, key=c, person="tuisns2-linkcom")                        A's commitment (in OFFER)
    Ks   = BLAKE2b(X25519(a, B) ‖ A ‖ B, key=c, person="tuisns2-linkkey")     session key of WELCOME/snapshot
    sas  = uint32(BLAKE2b(A ‖ B ‖ devid_B, key=c, person="tuisns2-linksas", size=4)) mod 10⁶   6 digits
    shard = uint16(BLAKE2b(c, person="tuisns2-lshard", size=2)) mod shards

Errors: :class:`~tui_sns.crypto.errors.LinkCodeMistyped` (a CryptoError) for text that is not a well-formed code;
``ValueError`` for arguments of the wrong size (programming errors).
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field

from tui_sns.crypto.epochs import (
    link_checksum,
    link_commitment,
    link_key,
    link_sas,
    link_session_key,
    link_shard,
)
from tui_sns.crypto.errors import LinkCodeMistyped
from tui_sns.crypto.keys import Random
from tui_sns.crypto.primitives import PUBLIC_KEY_BYTES, x25519, x25519_base

PREFIX = "tsl1-"
QR_SCHEME = "tuisns-link:1:"
CODE_BYTES = 32
CHECK_BYTES = 2
CODE_CHARS = 55  # ceil(272 / 5)
GROUP = 5
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)} | {"O": 0, "I": 1, "L": 1}
MAX_INPUT = 400  # characters of pasted text considered at all
MAX_QR_CREDENTIAL = 512  # characters of a relay credential in a link QR (as core/linking's MAX_CREDENTIAL)


def _encode(data: bytes) -> str:
    bits = len(data) * 8
    value = int.from_bytes(data, "big") << (CODE_CHARS * 5 - bits)
    return "".join(ALPHABET[(value >> (5 * (CODE_CHARS - 1 - i))) & 31] for i in range(CODE_CHARS))


def _group(chars: str) -> str:
    return "-".join(chars[i : i + GROUP] for i in range(0, len(chars), GROUP))


@dataclass(frozen=True)
class LinkCode:
    """A one-time link code: ``secret`` is ``c`` (32 bytes). Everything else derives from it."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if type(self.secret) is not bytes or len(self.secret) != CODE_BYTES:
            raise ValueError("a link code is 32 bytes")

    @classmethod
    def generate(cls, rng: Random = os.urandom) -> LinkCode:
        return cls(rng(CODE_BYTES))

    @property
    def characters(self) -> str:
        """The 55 Crockford characters of ``c ‖ checksum`` (no prefix, no dashes)."""
        return _encode(self.secret + link_checksum(self.secret))

    @property
    def text(self) -> str:
        """``tsl1-XXXXX-XXXXX-…`` (5 + 55 + 10 dashes = 70 characters)."""
        return PREFIX + _group(self.characters)

    @property
    def key(self) -> bytes:
        """``Kl``, the link-slot key of OFFER, HELLO and REVEAL."""
        return link_key(self.secret)

    def commitment(self, offer_public: bytes) -> bytes:
        """A's commitment to its link ephemeral ``A`` (32 bytes)."""
        return link_commitment(self.secret, offer_public)

    def session_key(
        self, my_secret: bytes, their_public: bytes, offer_public: bytes, hello_public: bytes
    ) -> bytes:
        """``Ks`` from my link ephemeral secret and the other side's public one (either side: A passes
        ``(a, B, A, B)``, B passes ``(b, A, A, B)``). Raises InvalidPublicKey for a low-order point."""
        for value in (offer_public, hello_public, their_public):
            if type(value) is not bytes or len(value) != PUBLIC_KEY_BYTES:
                raise ValueError("link ephemerals are 32 bytes")
        return link_session_key(self.secret, x25519(my_secret, their_public), offer_public, hello_public)

    def sas(self, offer_public: bytes, hello_public: bytes, hello_devid: bytes) -> str:
        """The 6-digit comparison string (``"048113"``; show it as ``"048 113"``, :func:`show_sas`)."""
        return link_sas(self.secret, offer_public, hello_public, hello_devid)

    def shard(self, shards: int) -> int:
        """The link shard on a relay with ``shards`` shards (1..65536)."""
        return link_shard(self.secret, shards)

    def qr_text(self, relay: str, credential: str | None = None) -> str:
        """``tuisns-link:1:<55 characters>?relay=<url>[&cred=<credential>]`` (percent-encoded)."""
        query = {"relay": relay} | ({"cred": credential} if credential else {})
        return QR_SCHEME + self.characters + "?" + urllib.parse.urlencode(query)


def ephemeral(rng: Random = os.urandom) -> tuple[bytes, bytes]:
    """A link ephemeral key pair ``(a, A)`` (32 bytes each)."""
    secret = rng(32)
    return secret, x25519_base(secret)


def show_sas(sas: str) -> str:
    """``"481062"`` → ``"481 062"``."""
    return f"{sas[:3]} {sas[3:]}"


def parse_code(text: str) -> LinkCode:
    """Read a typed or pasted link code (with or without ``tsl1-``, any case, spaces and dashes
    anywhere, Crockford's O/I/L). Raises :class:`LinkCodeMistyped` when it is not a valid code."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        raise LinkCodeMistyped("link code mistyped: it is 55 characters after tsl1-")
    compact = "".join(ch for ch in text if ch not in " \t\r\n-").upper()
    if len(compact) == CODE_CHARS + 4 and compact.startswith("TSL1"):
        compact = compact[4:]  # only then: a bare code may itself begin with T S 1 1 typed as "TSL1"
    if len(compact) != CODE_CHARS:
        raise LinkCodeMistyped(
            f"link code mistyped: it is {CODE_CHARS} characters after tsl1-, got {len(compact)}"
        )
    value = 0
    for ch in compact:
        digit = _VALUE.get(ch)
        if digit is None:
            raise LinkCodeMistyped(f"link code mistyped: {ch!r} is not a code character")
        value = (value << 5) | digit
    spare = CODE_CHARS * 5 - (CODE_BYTES + CHECK_BYTES) * 8
    if value & ((1 << spare) - 1):
        raise LinkCodeMistyped("link code mistyped: check the last character")
    raw = (value >> spare).to_bytes(CODE_BYTES + CHECK_BYTES, "big")
    secret, check = raw[:CODE_BYTES], raw[CODE_BYTES:]
    if link_checksum(secret) != check:
        raise LinkCodeMistyped("link code mistyped: the checksum does not match; check each character")
    return LinkCode(secret)


@dataclass(frozen=True)
class LinkUri:
    """What a link QR holds: the code, the relay URL and an optional relay credential."""

    code: LinkCode
    relay: str
    credential: str | None


def parse_qr(text: str) -> LinkUri:
    """Read ``tuisns-link:1:<code>?relay=<url>[&cred=…]`` (at most 4 fields; one relay; at most one
    credential, 1..512 printable ASCII characters). LinkCodeMistyped if it is not one."""
    if not isinstance(text, str) or len(text) > 4096 or not text.startswith(QR_SCHEME):
        raise LinkCodeMistyped("not a tui-sns link QR code")
    chars, _, query = text[len(QR_SCHEME) :].partition("?")
    code = parse_code(chars)
    try:
        params = urllib.parse.parse_qs(query, max_num_fields=4)
    except ValueError as exc:  # (more than 4 fields)
        raise LinkCodeMistyped("not a tui-sns link QR code: too many fields") from exc
    relays = params.get("relay", [])
    if len(relays) != 1:
        raise LinkCodeMistyped("a link QR code names exactly one relay")
    creds = params.get("cred", [])
    if len(creds) > 1 or any(
        not 0 < len(c) <= MAX_QR_CREDENTIAL or any(not "!" <= ch <= "~" for ch in c) for c in creds
    ):  # a relay credential is printable ASCII (what a relay's redeem gives)
        raise LinkCodeMistyped("a link QR code's relay credential is not valid")
    return LinkUri(code, relays[0], creds[0] if creds else None)


__all__ = [
    "CODE_CHARS",
    "LinkCode",
    "LinkCodeMistyped",
    "LinkUri",
    "ephemeral",
    "parse_code",
    "parse_qr",
    "show_sas",
]
