"""Sealed envelopes, version 1: one ciphertext for a whole audience.

Byte layout (all integers big-endian; see docs/protocol.md for the derivations):

    offset          size      field
    0               1         version = 0x01
    1               32        E: ephemeral X25519 public key (fresh per envelope)
    33              32        key commitment = BLAKE2b(E, key=K, person="tuisns1-commit")
    65              2         n: slot count (a power of two, 4..1024)
    67              8·n       hint table: one 8-byte hint per slot
    67+8n           152·n     slot boxes: XChaCha20-Poly1305(slot key, S‖K‖seq‖prev‖mac), 136+16 bytes
    67+160n         P+16      body: XChaCha20-Poly1305(K, padded payload), P a power of two 256..65536

Real slots and random decoy slots are shuffled; one slot belongs to the author (self slot), except in
protocol v2's v1 fallback (``seal(..., self_slot=False)``, docs/design-v2.md §7).
Opening costs one X25519 whatever n is: the hint of my slot is derived from X25519(r, E).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import TYPE_CHECKING, overload

from tui_sns.crypto.errors import (
    ForgedEnvelope,
    InvalidPublicKey,
    MalformedEnvelope,
    SealError,
    UnsupportedVersion,
)
from tui_sns.crypto.keys import Identity, Random
from tui_sns.crypto.primitives import (
    AEAD_TAG_BYTES,
    AeadFailure,
    aead_decrypt,
    aead_encrypt,
    kdf,
    x25519,
    x25519_base,
)

if TYPE_CHECKING:
    from tui_sns.crypto.envelope_v2 import Keyring, OpenedV2, Unopenable

VERSION = 1
HEADER_BYTES = 67
HINT_BYTES = 8
SLOT_PLAIN_BYTES = 32 + 32 + 8 + 32 + 32  # sender, payload key, seq, prev digest, mac
SLOT_BOX_BYTES = SLOT_PLAIN_BYTES + AEAD_TAG_BYTES
SLOT_BYTES = HINT_BYTES + SLOT_BOX_BYTES
MIN_SLOTS = 4
MAX_SLOTS = 1024
MAX_RECIPIENTS = MAX_SLOTS - 1  # one slot is the author's own
MIN_BODY = 256
MAX_BODY = 65536
MAX_PAYLOAD = MAX_BODY - 4
MAX_ENVELOPE_BYTES = HEADER_BYTES + MAX_SLOTS * SLOT_BYTES + MAX_BODY + AEAD_TAG_BYTES
NO_PREV = bytes(32)

LABEL_HINT = b"tuisns1-hint"
LABEL_SLOT = b"tuisns1-slot"
LABEL_COMMIT = b"tuisns1-commit"
LABEL_HEADER = b"tuisns1-header"
LABEL_MAC = b"tuisns1-mac"


@dataclass(frozen=True)
class Recipient:
    """One addressee: their public key and the position of this envelope in our pairwise chain."""

    public_key: bytes
    seq: int
    prev: bytes = NO_PREV


@dataclass(frozen=True)
class Sealed:
    data: bytes
    id: str  # hex BLAKE2b-256 of data: the relay's id for it
    digest: bytes  # header hash: what the next envelope of a pairwise chain names as "prev"


@dataclass(frozen=True)
class Opened:
    sender: bytes
    payload: bytes
    seq: int
    prev: bytes
    digest: bytes
    from_self: bool


def envelope_id(data: bytes) -> str:
    """The relay-visible id of an envelope: hex BLAKE2b-256 of its bytes (unkeyed, unpersonalised)."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def slot_bucket(count: int) -> int:
    n = MIN_SLOTS
    while n < count:
        n *= 2
    return n


def body_bucket(size: int) -> int:
    p = MIN_BODY
    while p < size:
        p *= 2
    return p


def envelope_size(slots: int, payload_len: int) -> int:
    """Length of an envelope with that many real slots and that payload length."""
    return HEADER_BYTES + slot_bucket(slots) * SLOT_BYTES + body_bucket(payload_len + 4) + AEAD_TAG_BYTES


def _pad(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise SealError(f"post too large: {len(payload)} bytes, at most {MAX_PAYLOAD}")
    size = body_bucket(len(payload) + 4)
    return struct.pack(">I", len(payload)) + payload + bytes(size - 4 - len(payload))


def _unpad(padded: bytes) -> bytes:
    (length,) = struct.unpack_from(">I", padded)
    if length > len(padded) - 4 or any(padded[4 + length :]):
        raise MalformedEnvelope("bad body padding")
    return padded[4 : 4 + length]


def _shuffle(items: list[bytes], rng: Random) -> None:
    """Fisher-Yates driven by ``rng`` (so known-answer vectors can fix the order)."""
    for i in range(len(items) - 1, 0, -1):
        bound = i + 1
        limit = (1 << 32) - ((1 << 32) % bound)
        while True:
            r = int.from_bytes(rng(4), "big")
            if r < limit:
                break
        j = r % bound
        items[i], items[j] = items[j], items[i]


def _slot_secrets(dh: bytes, eph: bytes, addressee: bytes) -> tuple[bytes, bytes]:
    context = eph + addressee
    return kdf(LABEL_HINT, dh, context, HINT_BYTES), kdf(LABEL_SLOT, dh, context)


def _mac(auth: bytes, header_hash: bytes, sender: bytes, addressee: bytes, seq: int, prev: bytes) -> bytes:
    return kdf(LABEL_MAC, auth, header_hash + sender + addressee + struct.pack(">Q", seq) + prev)


def seal(
    sender: Identity,
    recipients: Sequence[Recipient],
    payload: bytes,
    *,
    self_seq: int = 0,
    min_slots: int = 0,
    self_slot: bool = True,
    rng: Random = os.urandom,
) -> Sealed:
    """Seal ``payload`` once for ``recipients`` plus the author's own slot.

    The slot count is the power of two (4..1024) that holds them all, or that holds ``min_slots``
    if larger (an envelope derived from an entry asks for the entry's own count, so it reveals no
    more about the audience than the entry did). Raises SealError for a bad recipient list.

    ``self_slot=False`` (protocol v2's v1 fallback, docs/design-v2.md §7): no slot for the author —
    one more random decoy fills the same slot count, so the author's static secret does not open
    the envelope later (a stolen store learns nothing from it that the reader's key would not give)."""
    if len(recipients) > MAX_RECIPIENTS:
        raise SealError(f"at most {MAX_RECIPIENTS} recipients per envelope, got {len(recipients)}")
    keys = [r.public_key for r in recipients]
    if len(set(keys)) != len(keys):
        raise SealError("a recipient is listed twice")
    if sender.public in keys:
        raise SealError("the author is not a recipient of their own envelope: the self slot covers them")
    for r in recipients:
        if len(r.prev) != 32 or not 0 <= r.seq < 2**64:
            raise SealError("bad chain position")
    if min_slots > MAX_SLOTS:
        raise SealError(f"at most {MAX_SLOTS} slots per envelope")
    padded = _pad(payload)
    n = slot_bucket(max(len(recipients) + 1, min_slots))
    eph_secret = rng(32)
    eph = x25519_base(eph_secret)
    payload_key = rng(32)
    commit = kdf(LABEL_COMMIT, payload_key, eph)
    prefix = bytes([VERSION]) + eph + commit + struct.pack(">H", n)
    body = aead_encrypt(payload_key, padded, prefix)
    header_hash = kdf(LABEL_HEADER, None, prefix + body)

    sender_public = sender.public
    seq_format = struct.Struct(">Q")

    def make_slot(dh: bytes, auth: bytes, addressee: bytes, seq: int, prev: bytes) -> bytes:
        # _slot_secrets and _mac, inlined: this runs once per recipient.
        context = eph + addressee
        hint = blake2b(context, digest_size=HINT_BYTES, key=dh, person=LABEL_HINT).digest()
        slot_key = blake2b(context, digest_size=32, key=dh, person=LABEL_SLOT).digest()
        chain = seq_format.pack(seq) + prev
        mac = blake2b(
            header_hash + sender_public + addressee + chain, digest_size=32, key=auth, person=LABEL_MAC
        ).digest()
        return hint + aead_encrypt(slot_key, sender_public + payload_key + chain + mac, prefix)

    slots = [make_slot(sender.self_key, sender.self_key, sender_public, self_seq, NO_PREV)] if self_slot else []
    shared = sender.shared
    for r in recipients:
        try:
            dh = x25519(eph_secret, r.public_key)
            auth = shared(r.public_key)
        except InvalidPublicKey as exc:
            raise SealError(f"recipient key unusable: {exc}") from exc
        slots.append(make_slot(dh, auth, r.public_key, r.seq, r.prev))
    while len(slots) < n:
        slots.append(rng(SLOT_BYTES))
    _shuffle(slots, rng)
    data = prefix + b"".join(s[:HINT_BYTES] for s in slots) + b"".join(s[HINT_BYTES:] for s in slots) + body
    return Sealed(data=data, id=envelope_id(data), digest=header_hash)


def _parse(data: bytes) -> tuple[bytes, bytes, bytes, int]:
    return check_layout(data, version=VERSION, slot_bytes=SLOT_BYTES)


def check_layout(data: bytes, *, version: int, slot_bytes: int) -> tuple[bytes, bytes, bytes, int]:
    """The layout check every envelope version shares: ``version ‖ E(32) ‖ C(32) ‖ uint16 n``, then ``n``
    slots of ``slot_bytes`` and a body of ``P + 16`` bytes, ``P`` a power of two in 256..65536. Returns
    ``(E, C, prefix, n)``. MalformedEnvelope for a truncated or oversized envelope, a slot count that is
    not a power of two in 4..1024, or any other total length; UnsupportedVersion if byte 0 differs."""
    size = len(data)
    if size < HEADER_BYTES:
        raise MalformedEnvelope("truncated envelope")
    if size > HEADER_BYTES + MAX_SLOTS * slot_bytes + MAX_BODY + AEAD_TAG_BYTES:
        raise MalformedEnvelope("oversized envelope")
    if data[0] != version:
        raise UnsupportedVersion(f"unsupported envelope version {data[0]}")
    n = (data[65] << 8) | data[66]
    if n < MIN_SLOTS or n > MAX_SLOTS or n & (n - 1):
        raise MalformedEnvelope(f"bad slot count {n}")
    body_len = size - HEADER_BYTES - n * slot_bytes - AEAD_TAG_BYTES
    if body_len < MIN_BODY or body_len > MAX_BODY or body_len & (body_len - 1):
        raise MalformedEnvelope("bad envelope length")
    return data[1:33], data[33:65], data[:HEADER_BYTES], n


@overload
def open_envelope(me: Identity, data: bytes) -> Opened | None: ...


@overload
def open_envelope(me: Keyring, data: bytes) -> Opened | OpenedV2 | Unopenable | None: ...


def open_envelope(me: Identity | Keyring, data: bytes) -> Opened | OpenedV2 | Unopenable | None:
    """Open ``data`` as ``me``. Returns None when it is not addressed to me.

    Raises MalformedEnvelope / UnsupportedVersion for bad bytes and ForgedEnvelope when a slot
    addressed to me fails authentication. One X25519 per envelope (plus one per unknown sender,
    whose static secret is not cached yet); none for my own envelopes (self slot).

    Version dispatch (docs/design-v2.md §4.4) on byte 0: ``0x01`` opens as v1 (with ``me`` or the
    keyring's identity); ``0x02`` opens as v2 when ``me`` is a
    :class:`~tui_sns.crypto.envelope_v2.Keyring` (:func:`~tui_sns.crypto.envelope_v2.open_v2`, which
    may also return ``Unopenable``), and raises UnsupportedVersion for a bare Identity, which holds
    no prekeys; any other byte is UnsupportedVersion.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedEnvelope("envelope must be bytes")
    data = bytes(data)  # no copy when it already is bytes
    if not isinstance(me, Identity):
        if data[:1] == b"\x02":
            from tui_sns.crypto.envelope_v2 import open_v2  # v2 builds on this module

            return open_v2(me, data)
        me = me.identity
    eph, commit, prefix, n = _parse(data)
    table_end = HEADER_BYTES + n * HINT_BYTES
    table = data[HEADER_BYTES:table_end]
    context = eph + me.public

    def try_slots(dh: bytes) -> bytes | None:
        # Only the 8-byte hint is needed to know whether a slot may be mine: the slot key is derived
        # on a hint match only, so a non-recipient pays one X25519, two hints and two table scans.
        hint = blake2b(context, digest_size=HINT_BYTES, key=dh, person=LABEL_HINT).digest()
        pos = table.find(hint)
        if pos == -1:
            return None
        slot_key = blake2b(context, digest_size=32, key=dh, person=LABEL_SLOT).digest()
        while pos != -1:
            if pos % HINT_BYTES == 0:
                start = table_end + (pos // HINT_BYTES) * SLOT_BOX_BYTES
                try:
                    return aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], prefix)
                except AeadFailure:
                    pass  # a hint collision with a decoy or someone else's slot
            pos = table.find(hint, pos + 1)
        return None

    from_self = True
    plain = try_slots(me.self_key)
    if plain is None:
        from_self = False
        try:
            dh = x25519(me.secret, eph)
        except InvalidPublicKey as exc:
            raise MalformedEnvelope("low-order ephemeral key") from exc
        plain = try_slots(dh)
        if plain is None:
            return None
    sender = plain[:32]
    payload_key = plain[32:64]
    (seq,) = struct.unpack_from(">Q", plain, 64)
    prev = plain[72:104]
    mac = plain[104:136]
    if from_self and sender != me.public:
        raise ForgedEnvelope("self slot names another sender")
    if not hmac.compare_digest(kdf(LABEL_COMMIT, payload_key, eph), commit):
        raise ForgedEnvelope("payload key does not match the envelope's key commitment")
    body = data[HEADER_BYTES + n * SLOT_BYTES :]
    header_hash = kdf(LABEL_HEADER, None, prefix + body)
    try:
        auth = me.self_key if from_self else me.shared(sender)
    except InvalidPublicKey as exc:
        raise ForgedEnvelope("sender key is low-order") from exc
    if not hmac.compare_digest(_mac(auth, header_hash, sender, me.public, seq, prev), mac):
        raise ForgedEnvelope("sender authenticator does not verify")
    try:
        padded = aead_decrypt(payload_key, body, prefix)
    except AeadFailure as exc:
        raise ForgedEnvelope("body does not decrypt under the committed key") from exc
    return Opened(
        sender=sender, payload=_unpad(padded), seq=seq, prev=prev, digest=header_hash, from_self=from_self
    )
