"""Contact cards: one line of text a person pastes elsewhere to be added as a contact.

    tuisns1:<base64url(JSON)>.<checksum>

The checksum is the first 6 bytes of BLAKE2b(JSON, person="tuisns1-card"), base64url: a typo in
either part is caught. The JSON carries: ``v`` (1), ``name`` (the display name chosen for this card,
a pseudonym is fine), ``x25519`` (hex public key) and ``relays`` (URLs where my envelopes are found).

Optional fields (protocol v2; the card stays ``"v":1``, docs/design-v2.md §6.3): ``prekey`` — my
current prekey, ``{"gen", "id", "x25519", "start", "end", "delete"}`` (:class:`CardPrekey`, the
rules of an announcement's prekey, §6.1). A decoder reads the fields it knows and ignores the rest,
so a card with a prekey parses in a v1 client, and a v1 card (without it) parses here; a malformed
``prekey`` is a CardError (optional fields are as hostile as mandatory ones).

Optional ``shards`` (docs/protocol.md, "Shard routes"): an object ``{"<relay url>": u}`` giving my shard seed ``u`` (0..65535) on each
relay I am a member of (docs/design-sharding.md §3.1); decoders that do not know it ignore it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import re
import urllib.parse
from dataclasses import dataclass, field

from tui_sns.crypto.epochs import prekey_id
from tui_sns.crypto.errors import CardChecksumError, CardError, CardTooLong, InvalidPublicKey, InvalidRelayUrl
from tui_sns.crypto.keys import validate_public_key
from tui_sns.crypto.primitives import kdf

PREFIX = "tuisns1:"
LABEL_CARD = b"tuisns1-card"
# The one limit on a card's text, wherever it travels (pasted, in a contact request, stored). The
# largest card a client produces (8 relays of 256 characters, a ``shards`` entry for each, a prekey
# with every number at its most digits, a 100-character name of 4-byte characters) is 6,564
# characters (tests/core/test_card_sizes.py builds it): the limit admits it with room to spare.
MAX_CARD_CHARS = 8192
MAX_NAME_CHARS = 100
MAX_RELAYS = 8  # relay URLs one card may name
MAX_RELAY_URL_CHARS = 256
MAX_SHARD_ENTRIES = 8  # relays a card's "shards" object may name
MAX_SHARD_SEED = 65535  # a shard seed is a 16-bit number

_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PATH = re.compile(r"^[A-Za-z0-9._~/%-]*$")


MAX_PREKEY_SPAN = 90 * 86400  # end − start and delete − end, at most (seconds; design-v2 §6.1)


@dataclass(frozen=True)
class CardPrekey:
    """A prekey as announced (design-v2 §6.1) or carried on a card (§6.3): generation ``gen``
    (0..2³¹−1), key id ``kid`` (uint32, ``keyid(public_key)``), the 32-byte X25519 public key (not
    low-order) and its schedule in unix seconds, ``start < end ≤ delete``, each span ≤ 90 days.
    Whether ``delete`` is still ahead is the receiver's business (this module has no clock)."""

    gen: int
    kid: int
    public_key: bytes
    start: int
    end: int
    delete: int

    def as_json(self) -> dict[str, object]:
        return {
            "gen": self.gen,
            "id": f"{self.kid:08x}",
            "x25519": self.public_key.hex(),
            "start": self.start,
            "end": self.end,
            "delete": self.delete,
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hex(value: object, size: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * size or value != value.lower():
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def parse_prekey(obj: object, *, with_gen: bool = True, gen: int = 0) -> CardPrekey:
    """Check one prekey object (an announcement's ``prekeys`` item, or a card's ``prekey`` which also
    carries ``gen``); ValueError naming the first rule it breaks (design-v2 §6.1's table)."""
    if not isinstance(obj, dict):
        raise ValueError("a prekey is not an object")
    if with_gen:
        gen = obj.get("gen")  # type: ignore[assignment]
    if not _is_int(gen) or not 0 <= gen < 2**31:
        raise ValueError("a prekey's generation is not an integer in 0..2^31-1")
    kid_bytes = _hex(obj.get("id"), 4)
    if kid_bytes is None:
        raise ValueError("a prekey's id is not 8 lowercase hex digits")
    public = _hex(obj.get("x25519"), 32)
    if public is None:
        raise ValueError("a prekey is not 64 lowercase hex digits")
    try:
        validate_public_key(public)
    except InvalidPublicKey as exc:
        raise ValueError(f"a prekey is not usable: {exc}") from exc
    kid = int.from_bytes(kid_bytes, "big")
    if prekey_id(public) != kid:
        raise ValueError("a prekey's id does not match its key")
    start, end, delete = obj.get("start"), obj.get("end"), obj.get("delete")
    if not (_is_int(start) and _is_int(end) and _is_int(delete)):
        raise ValueError("a prekey's start, end and delete are not integers")
    assert isinstance(start, int) and isinstance(end, int) and isinstance(delete, int)
    if not 0 <= start < end <= delete < 2**63:
        raise ValueError("a prekey's times are not start < end <= delete")
    if end - start > MAX_PREKEY_SPAN or delete - end > MAX_PREKEY_SPAN:
        raise ValueError("a prekey's epoch or grace is longer than 90 days")
    return CardPrekey(gen=gen, kid=kid, public_key=public, start=start, end=end, delete=delete)


@dataclass(frozen=True)
class Card:
    name: str
    public_key: bytes
    relays: tuple[str, ...] = field(default_factory=tuple)
    prekey: CardPrekey | None = None  # my current prekey (protocol v2; optional)
    shards: tuple[tuple[str, int], ...] = field(default_factory=tuple)  # (relay URL, my seed there)

    @property
    def shard_seeds(self) -> dict[str, int]:
        """``shards`` keyed by the relay URL as :func:`check_relay_url` returns it (no trailing slash)."""
        return {check_relay_url(url): seed for url, seed in self.shards}

    def encode(self) -> str:
        """The card's text, at most ``MAX_CARD_CHARS`` characters. Raises :class:`CardError` when
        ``shards`` is not valid (see :func:`check_shards`), :class:`CardTooLong` when the text would be
        longer than a card may be (no recipient would take it)."""
        obj: dict[str, object] = {
            "v": 1,
            "name": self.name,
            "x25519": self.public_key.hex(),
            "relays": list(self.relays),
        }
        if self.prekey is not None:
            obj["prekey"] = self.prekey.as_json()
        if self.shards:
            obj["shards"] = dict(check_shards(dict(self.shards)))
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        text = PREFIX + _b64(body) + "." + _b64(_checksum(body))
        if len(text) > MAX_CARD_CHARS:
            raise CardTooLong(
                f"the card would be {len(text):,} characters, at most {MAX_CARD_CHARS:,}",
                len(text),
                MAX_CARD_CHARS,
            )
        return text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(body: bytes) -> bytes:
    return kdf(LABEL_CARD, None, body, 6)


def _shown(url: str) -> str:
    """The URL as it may be shown in an error: ASCII escapes for anything unprintable, cut short."""
    text = ascii(url[:80])
    return text + ("…" if len(url) > 80 else "")


def check_relay_url(url: str) -> str:
    """Check one relay URL from a card or the command line; return it without a trailing slash.

    Accepted: ``http`` or ``https``, a host (a DNS name of letters, digits and hyphens in labels of
    1 to 63 characters, an IPv4 address, or an IPv6 address in brackets), an optional port 1..65535
    and an optional path of URL-safe characters; at most ``MAX_RELAY_URL_CHARS`` printable ASCII
    characters (internationalised names in their ``xn--`` form). No user name or password, query or
    fragment. Raises :class:`InvalidRelayUrl` with a sentence that names the URL (escaped).
    """

    def bad(reason: str) -> InvalidRelayUrl:
        return InvalidRelayUrl(f"not a valid relay URL {_shown(url)}: {reason}")

    if not isinstance(url, str):
        raise InvalidRelayUrl("not a valid relay URL: it is not text")
    url = url.strip(" \t\r\n")  # (typed or pasted; other white space, e.g. U+0085 or U+2028, is refused)
    if len(url) > MAX_RELAY_URL_CHARS:
        raise bad(f"longer than {MAX_RELAY_URL_CHARS} characters")
    if not url or any(not ("!" <= ch <= "~") for ch in url):
        raise bad("it holds spaces, control characters or non-ASCII characters")
    try:  # (in our words, not the library's: "Invalid IPv6 URL", "Port could not be cast ...")
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # unbalanced brackets, or brackets around something else than an address
        raise bad(
            "its IPv6 address is not valid (it goes in brackets, e.g. http://[2001:db8::1]:8787)"
        ) from None
    try:
        port = parts.port
    except ValueError:  # not digits, or above 65535
        raise bad("its port must be 1 to 65535") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise bad("it must start with http:// or https://")
    if "@" in parts.netloc:
        raise bad("it must not carry a user name or password")
    host = parts.hostname or ""
    if not host:
        raise bad("it names no host")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise bad("its IPv6 address is not valid") from exc
    elif len(host) > 253 or not all(_DNS_LABEL.match(label) for label in host.split(".")):
        raise bad("its host is not a valid name or address")
    if port is not None and not 1 <= port <= 65535:
        raise bad("its port must be 1 to 65535")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise bad("it must not have a query or fragment")
    if not _PATH.match(parts.path):
        raise bad("its path holds characters a URL path cannot")
    return url.rstrip("/")


def check_relay_urls(relays: object) -> tuple[str, ...]:
    """Check a card's relay list (at most ``MAX_RELAYS``, each as :func:`check_relay_url`)."""
    if not isinstance(relays, list | tuple):
        raise InvalidRelayUrl("the card's relay list is not a list")
    if len(relays) > MAX_RELAYS:
        raise InvalidRelayUrl(f"the card names {len(relays)} relays; at most {MAX_RELAYS} are accepted")
    for r in relays:  # a card's relays are kept as written: no white space around them either
        if isinstance(r, str) and r != r.strip():
            raise InvalidRelayUrl(f"not a valid relay URL {_shown(r)}: it begins or ends with white space")
    return tuple(check_relay_url(r) for r in relays)


def decode_card(text: str) -> Card:
    """Parse a pasted card. Every failure is a CardError with a sentence a person can act on."""
    text = "".join(text.split())  # tolerate line breaks and spaces added by mail or chat
    if len(text) > MAX_CARD_CHARS:
        raise CardError(f"card is too long: {len(text):,} characters, at most {MAX_CARD_CHARS:,}")
    if not text.startswith(PREFIX):
        raise CardError(f"not a tui-sns contact card (it should start with {PREFIX!r})")
    payload, sep, check = text[len(PREFIX) :].partition(".")
    if not sep:
        raise CardError("card is incomplete: its checksum part is missing")
    try:
        body = _unb64(payload)
        expected = _unb64(check)
    except (binascii.Error, ValueError) as exc:
        raise CardChecksumError("card does not decode: check it was copied completely and exactly") from exc
    if not hmac.compare_digest(_checksum(body), expected):
        raise CardChecksumError("card checksum mismatch: check it was copied completely and exactly")
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:  # (deeply nested JSON: RecursionError)
        raise CardError("card contents are not valid") from exc
    if not isinstance(obj, dict) or obj.get("v") != 1:
        raise CardError("card version not supported")
    name, key_hex, relays = obj.get("name"), obj.get("x25519"), obj.get("relays", [])
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise CardError("card has no usable name")
    if not isinstance(relays, list) or not all(isinstance(r, str) for r in relays):
        raise CardError("card relay list is not valid")
    try:
        check_relay_urls(relays)  # (kept as written: the card round-trips exactly)
    except InvalidRelayUrl as exc:
        raise InvalidRelayUrl(f"the card names a bad relay: {exc}") from exc
    try:
        key = bytes.fromhex(key_hex) if isinstance(key_hex, str) else b""
        validate_public_key(key)
    except (ValueError, InvalidPublicKey) as exc:
        raise CardError(f"card key is not usable: {exc}") from exc
    prekey = None
    if obj.get("prekey") is not None:
        try:
            prekey = parse_prekey(obj["prekey"])
        except ValueError as exc:
            raise CardError(f"card prekey is not usable: {exc}") from exc
    shards = check_shards(obj["shards"]) if "shards" in obj else ()
    return Card(name=name, public_key=key, relays=tuple(relays), prekey=prekey, shards=shards)


def check_shards(shards: object) -> tuple[tuple[str, int], ...]:
    """Check a card's ``shards`` object: at most ``MAX_SHARD_ENTRIES`` entries, each a relay URL (as
    :func:`check_relay_url`; no relay twice, trailing slashes aside) and a JSON integer seed in
    0..``MAX_SHARD_SEED``. Returns the entries as written, in order. Raises :class:`CardError`."""
    if not isinstance(shards, dict):
        raise CardError("the card's shard list is not valid")
    if len(shards) > MAX_SHARD_ENTRIES:
        raise CardError(
            f"the card names shards on {len(shards)} relays; at most {MAX_SHARD_ENTRIES} are accepted"
        )
    seen: set[str] = set()
    for url, seed in shards.items():
        try:
            relay = check_relay_urls([url])[0]
        except InvalidRelayUrl as exc:
            raise CardError(f"the card's shard list names a bad relay: {exc}") from exc
        if relay in seen:
            raise CardError(f"the card's shard list names the relay {_shown(relay)} twice")
        seen.add(relay)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SHARD_SEED:
            raise CardError(
                f"the card's shard seed for {_shown(relay)} is not a number from 0 to {MAX_SHARD_SEED}"
            )
    return tuple(shards.items())
