"""Sealed envelopes, version 2: forward secrecy by epochs (docs/design-v2.md §4).

Byte layout (all integers big-endian):

    offset        size      field
    0             1         version = 0x02
    1             32        E: ephemeral X25519 public key (fresh per envelope)
    33            32        C = BLAKE2b(E, key=K, person="tuisns2-commit")
    65            2         n: slot count (a power of two, 4..1024)
    67            8·n       hints: one 8-byte hint per slot
    67+8n         4·n       sels: one 4-byte masked key selector per slot
    67+12n        160·n     boxes: XChaCha20-Poly1305(slot key, S‖K‖dev‖seq‖prev‖mac, ad=prefix)
    67+172n       P+16      body: XChaCha20-Poly1305(K, padded payload, ad=prefix), P as in v1

Per slot, with hint key ``h``, content key ``k``, addressee ``R`` and key id ``kid`` (§4.2):

    hm       = BLAKE2b(E ‖ R, key=h, person="tuisns2-hint", size=12)     hint = hm[:8], mask = hm[8:]
    sel      = uint32(kid) XOR mask
    slot key = BLAKE2b(E ‖ R ‖ uint32(kid), key=k, person="tuisns2-slot")
    H        = BLAKE2b(prefix ‖ body, person="tuisns2-header")
    mac      = BLAKE2b(H ‖ S ‖ R ‖ uint32(kid) ‖ dev ‖ uint64(seq) ‖ prev, key=auth, person="tuisns2-mac")

* recipient slot: ``h = X25519(e, R)``, ``k = h ‖ X25519(e, PK_R)`` (64 bytes), ``kid = keyid(PK_R)``,
  ``auth = X25519(s, R)``: the hint stays on the static key (a non-recipient pays one X25519, as in
  v1); opening needs the recipient's prekey of the epoch, which is erased after it (§5).
* self slot: ``h = Khself``, ``k = Kself[g, i]``, ``R = S``, ``kid = keyid(Kself)``, ``auth = Kself``.

* link slot (§9): ``h = k = auth = `` the link key (``Kl`` or ``Ks``), ``R = 0³²``, ``kid = 0``,
  ``dev = 0⁸``, ``seq = 0``, ``prev = 0³²``; the envelope has that one slot and three decoys
  (:func:`seal_link`, :func:`open_link`).

* device slot (resets, §10.1): ``h = k = ds = X25519(e, D)``, ``R = D`` (the addressed device's
  current device key), ``kid = 0``, ``auth = X25519(d_sender, D)`` (the *sending device's* key, not
  ``s``), the slot's ``S`` field is ``D_sender``, ``dev`` the sender's devid, ``seq = 0``,
  ``prev = 0³²``. A reset envelope (:func:`seal_reset`) has device slots and a **reset marker** — a
  self-hint slot whose selector is 0xFFFFFFFF and whose box is random — and no self slot; a device
  that finds the marker tries its device key(s) (one X25519 each, only on reset envelopes).

Opening (:func:`open_v2`) returns :class:`OpenedV2`, ``None`` (not for me), or :class:`Unopenable`
(a slot of mine whose key was deleted on schedule: the forward-secrecy outcome, §5.4), and raises
MalformedEnvelope / ForgedEnvelope as v1 does. :func:`tui_sns.crypto.envelope.open_envelope`
dispatches on the version byte.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from hashlib import blake2b
from typing import Literal

from tui_sns.crypto.envelope import (
    MAX_BODY,
    NO_PREV,
    Opened,
    Sealed,
    _pad,
    _unpad,
    check_layout,
    envelope_id,
    slot_bucket,
)
from tui_sns.crypto.envelope import MAX_ENVELOPE_BYTES as _V1_MAX_ENVELOPE_BYTES
from tui_sns.crypto.epochs import (
    DEVID_BYTES,
    DEVTAG_BYTES,
    LABEL_DEVTAG,
    RESET_MARKER_KID,
    EpochKeys,
    prekey_id,
    self_hint_key,
)
from tui_sns.crypto.errors import (
    EnvelopeError,
    ForgedEnvelope,
    InvalidPublicKey,
    MalformedEnvelope,
    SealError,
)
from tui_sns.crypto.keys import Identity, Random
from tui_sns.crypto.primitives import (
    AEAD_TAG_BYTES,
    AeadFailure,
    aead_decrypt,
    aead_encrypt,
    x25519,
    x25519_base,
)

VERSION = 2
HEADER_BYTES = 67
HINT_BYTES = 8
SEL_BYTES = 4
SLOT_PLAIN_BYTES = 32 + 32 + 8 + 8 + 32 + 32  # S, K, dev, seq, prev, mac
SLOT_BOX_BYTES = SLOT_PLAIN_BYTES + AEAD_TAG_BYTES  # 160
SLOT_BYTES = HINT_BYTES + SEL_BYTES + SLOT_BOX_BYTES  # 172
MIN_SLOTS = 4
MAX_SLOTS = 1024
MAX_RECIPIENTS = MAX_SLOTS - 1  # one slot is the author's own
MAX_ENVELOPE_BYTES = HEADER_BYTES + MAX_SLOTS * SLOT_BYTES + MAX_BODY + AEAD_TAG_BYTES  # 241,747
# The largest envelope of any version (v2's: its slots are larger than v1's 229,459): the one limit
# for code that carries envelopes without opening them (the relay client, bundles).
MAX_ANY_ENVELOPE_BYTES = max(MAX_ENVELOPE_BYTES, _V1_MAX_ENVELOPE_BYTES)

LABEL_HINT = b"tuisns2-hint"
LABEL_SLOT = b"tuisns2-slot"
LABEL_COMMIT = b"tuisns2-commit"
LABEL_HEADER = b"tuisns2-header"
LABEL_MAC = b"tuisns2-mac"

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


@dataclass(frozen=True)
class RecipientV2:
    """One v2 addressee: static key ``R``, its current prekey ``PK_R`` with key id, and our chain position.

    ``kid`` must equal ``keyid(prekey)`` (:func:`tui_sns.crypto.epochs.prekey_id`); ``seq`` is
    0..2⁶⁴−1 and ``prev`` 32 bytes (zeros: first envelope of the chain), as in v1.
    """

    public_key: bytes
    prekey: bytes
    kid: int
    seq: int
    prev: bytes = NO_PREV


@dataclass(frozen=True)
class SelfKey:
    """The current self key ``Kself[g, i]`` (32 bytes) and its key id (uint32)."""

    key: bytes = field(repr=False)
    kid: int

    @classmethod
    def of(cls, keys: EpochKeys) -> SelfKey:
        return cls(key=keys.self_key, kid=keys.self_key_id)


@dataclass(frozen=True)
class OpenedV2(Opened):
    """A v2 envelope opened: v1's fields plus the sending ``dev`` (8 bytes: my ``devid`` in a self
    slot, the sender's per-reader device tag otherwise), the ``kid`` that opened it, and whether the
    self slot names a device of mine that was removed (§10.4; the caller decides what to do)."""

    version: int = VERSION
    dev: bytes = bytes(DEVID_BYTES)
    kid: int = 0
    from_removed_device: bool = False


@dataclass(frozen=True)
class OpenedReset(OpenedV2):
    """A reset envelope opened through a device slot (§10.1): ``sender`` is my identity key (the
    envelope is mine), ``dev`` the sending device's devid, ``device_key`` the sending device's device
    public key ``D_sender`` (the mac proved its holder sealed it: the caller checks that it is a live
    device of mine; ``device_keys`` lists every one whose slot verified — the sender's current and
    previous key, after a reset of its own), ``to_device_key`` which of this device's keys opened it. ``kid`` is the marker's."""

    device_key: bytes = bytes(32)
    to_device_key: bytes = bytes(32)
    device_keys: tuple[bytes, ...] = ()  # every sending device key whose slot to me verified


@dataclass(frozen=True)
class Unopenable:
    """A slot of mine was located, but its key was deleted on schedule (design-v2 §4.4, §5.4).

    ``kind`` is ``"prekey"`` (a recipient slot) or ``"self"`` (my self slot); ``kid`` the key id its
    selector names; ``deleted_at`` the unix time the key was erased (the core passes its scheduled
    deletion time: a device that was off erases it later, at its next unlock). Not evidence: anyone with my
    card can write a slot naming an old key id, so callers count these as "up to".
    """

    kind: Literal["prekey", "self"]
    kid: int
    deleted_at: int


class Keyring:
    """What a device opens v2 envelopes with (§4.4): the identity, ``Khself``, the live self keys and
    prekey secrets by key id, the ids of deleted keys still remembered, and my devices' ``devid``s.

    Two live keys may share a 4-byte id (about 2⁻³² per pair): both are kept and both are tried.
    Dropping a key (:meth:`drop_prekey`, :meth:`drop_self_key`) forgets its secret and remembers only
    its id and deletion time, so envelopes of that epoch give :class:`Unopenable` from then on.
    """

    def __init__(
        self,
        identity: Identity,
        *,
        devices: Iterable[bytes] = (),
        removed_devices: Iterable[bytes] = (),
    ) -> None:
        self.identity = identity
        self.self_hint_key = self_hint_key(identity.secret)
        self.devices: set[bytes] = set(devices)
        self.removed_devices: set[bytes] = set(removed_devices)
        self.prekeys: dict[int, list[bytes]] = {}
        self.self_keys: dict[int, list[bytes]] = {}
        self.deleted_prekeys: dict[int, int] = {}
        self.deleted_self_keys: dict[int, int] = {}
        # this device's device key secrets (current, and the previous one during ``reset_window``):
        # tried only on envelopes that carry a reset marker (§10.1)
        self.device_keys: list[bytes] = []

    def add_prekey(self, secret: bytes) -> int:
        """Make a prekey secret (32 bytes) live; returns its key id."""
        if type(secret) is not bytes or len(secret) != 32:
            raise ValueError("a prekey secret is 32 bytes")
        kid = prekey_id(x25519_base(secret))
        keys = self.prekeys.setdefault(kid, [])
        if secret not in keys:
            keys.append(secret)
        return kid

    def add_self_key(self, key: SelfKey) -> None:
        """Make a self key live."""
        if type(key.key) is not bytes or len(key.key) != 32:
            raise ValueError("a self key is 32 bytes")
        keys = self.self_keys.setdefault(key.kid, [])
        if key.key not in keys:
            keys.append(key.key)

    def add_epoch(self, keys: EpochKeys) -> None:
        """Make an epoch's prekey and self key live (§5.1: CURRENT or GRACE)."""
        self.add_prekey(keys.prekey_secret)
        self.add_self_key(SelfKey.of(keys))

    def drop_prekey(self, kid: int, deleted_at: int, secret: bytes | None = None) -> None:
        """Forget the prekey secret(s) with id ``kid`` (only ``secret`` if given); remember the id."""
        live = self.prekeys.get(kid, [])
        remaining = [] if secret is None else [s for s in live if s != secret]
        if remaining:
            self.prekeys[kid] = remaining
        else:
            self.prekeys.pop(kid, None)
        self.deleted_prekeys[kid] = deleted_at

    def drop_self_key(self, kid: int, deleted_at: int, key: bytes | None = None) -> None:
        """Forget the self key(s) with id ``kid`` (only ``key`` if given); remember the id."""
        live = self.self_keys.get(kid, [])
        remaining = [] if key is None else [k for k in live if k != key]
        if remaining:
            self.self_keys[kid] = remaining
        else:
            self.self_keys.pop(kid, None)
        self.deleted_self_keys[kid] = deleted_at

    def drop_epoch(self, keys: EpochKeys, deleted_at: int) -> None:
        """Erase an epoch's prekey and self key (§5.2 step 3: DELETED)."""
        self.drop_prekey(keys.prekey_id, deleted_at, keys.prekey_secret)
        self.drop_self_key(keys.self_key_id, deleted_at, keys.self_key)


def _shuffle(items: list[tuple[bytes, bytes, bytes]], rng: Random) -> None:
    """Fisher-Yates driven by ``rng``, with all draws read in one call (§4.3 step 5, §11).

    Draw ``t`` (for position ``i = len − 1 − t``) is the ``t``-th big-endian uint32 of
    ``rng(4·(len − 1))``; a draw at or above the largest multiple of ``i + 1`` below 2³² is rejected
    and replaced by ``rng(4)`` (probability below 2⁻²² for 1024 slots), so the index is uniform.
    """
    count = len(items) - 1
    if count < 1:
        return
    draws = struct.unpack(f">{count}I", rng(4 * count))
    for t, i in enumerate(range(count, 0, -1)):
        bound = i + 1
        limit = (1 << 32) - ((1 << 32) % bound)
        r = draws[t]
        while r >= limit:
            r = int.from_bytes(rng(4), "big")
        j = r % bound
        items[i], items[j] = items[j], items[i]


def _check_kid(kid: int) -> None:
    if not 0 <= kid < 2**32:
        raise SealError("a key id is a uint32")


def seal_v2(
    sender: Identity,
    recipients: Sequence[RecipientV2],
    payload: bytes,
    *,
    self_key: SelfKey,
    devid: bytes,
    devtag_key: bytes,
    self_seq: int = 0,
    self_prev: bytes = NO_PREV,
    self_hint: bytes | None = None,
    min_slots: int = 0,
    rng: Random = os.urandom,
) -> Sealed:
    """Seal ``payload`` once for ``recipients`` (each with a usable prekey) plus my self slot (§4.3).

    ``self_key`` is the current epoch's self key; ``devid`` (8 bytes) the sending device's id, written
    in the self slot; ``devtag_key`` (32 bytes) this device's ``Kdevtag``, from which each recipient
    slot's device tag is derived; ``self_seq``/``self_prev`` the position in this device's self chain;
    ``self_hint`` the precomputed ``Khself`` (derived from ``sender`` when omitted); ``min_slots``: seal
    at least the bucket holding this many slots (as v1's ``seal``: an envelope derived from an entry
    keeps the entry's slot count). ``rng`` supplies
    ``e``, ``K``, decoys and the shuffle (tests pass a deterministic one).

    Cost: 2 X25519 per recipient + one base multiplication (static-static secrets cached).
    Returns :class:`~tui_sns.crypto.envelope.Sealed` (bytes, relay id, header hash ``H``). Raises
    SealError for what v1 refuses (too many recipients, a duplicate, the author as a recipient, a bad
    chain position, a payload over 65532 bytes) and for a low-order recipient or prekey, a ``kid``
    that is not the prekey's id, or a bad self key / devid / devtag key.
    """
    if len(recipients) > MAX_RECIPIENTS:
        raise SealError(f"at most {MAX_RECIPIENTS} recipients per envelope, got {len(recipients)}")
    keys = [r.public_key for r in recipients]
    if len(set(keys)) != len(keys):
        raise SealError("a recipient is listed twice")
    if sender.public in keys:
        raise SealError("the author is not a recipient of their own envelope: the self slot covers them")
    for r in recipients:
        if type(r.prev) is not bytes or len(r.prev) != 32 or not 0 <= r.seq < 2**64:
            raise SealError("bad chain position")
        if type(r.prekey) is not bytes or len(r.prekey) != 32:
            raise SealError("a prekey is 32 bytes")
        _check_kid(r.kid)
        if prekey_id(r.prekey) != r.kid:
            raise SealError("the key id does not name this prekey")
    if len(self_prev) != 32 or not 0 <= self_seq < 2**64:
        raise SealError("bad chain position")
    if type(self_key.key) is not bytes or len(self_key.key) != 32:
        raise SealError("a self key is 32 bytes")
    _check_kid(self_key.kid)
    if type(devid) is not bytes or len(devid) != DEVID_BYTES:
        raise SealError("a devid is 8 bytes")
    if type(devtag_key) is not bytes or len(devtag_key) != 32:
        raise SealError("a device tag key is 32 bytes")
    if self_hint is not None and (type(self_hint) is not bytes or len(self_hint) != 32):
        raise SealError("the self-hint key is 32 bytes")
    khself = self_hint_key(sender.secret) if self_hint is None else self_hint
    padded = _pad(payload)
    if min_slots > MAX_SLOTS:
        raise SealError(f"at most {MAX_SLOTS} slots per envelope")
    n = slot_bucket(max(len(recipients) + 1, min_slots))
    eph_secret = rng(32)
    eph = x25519_base(eph_secret)
    payload_key = rng(32)
    commit = blake2b(eph, digest_size=32, key=payload_key, person=LABEL_COMMIT).digest()
    prefix = bytes([VERSION]) + eph + commit + struct.pack(">H", n)
    body = aead_encrypt(payload_key, padded, prefix)
    header_hash = blake2b(prefix + body, digest_size=32, person=LABEL_HEADER).digest()
    sender_public = sender.public
    u32, u64 = _U32.pack, _U64.pack

    def make_slot(
        h: bytes, k: bytes, addressee: bytes, kid: int, auth: bytes, dev: bytes, seq: int, prev: bytes
    ) -> tuple[bytes, bytes, bytes]:
        # Inlined derivations (one call per value): this runs once per recipient.
        context = eph + addressee
        hm = blake2b(context, digest_size=12, key=h, person=LABEL_HINT).digest()
        kid_bytes = u32(kid)
        sel = (int.from_bytes(hm[8:], "big") ^ kid).to_bytes(4, "big")
        slot_key = blake2b(context + kid_bytes, digest_size=32, key=k, person=LABEL_SLOT).digest()
        chain = dev + u64(seq) + prev
        mac = blake2b(
            header_hash + sender_public + addressee + kid_bytes + chain,
            digest_size=32,
            key=auth,
            person=LABEL_MAC,
        ).digest()
        box = aead_encrypt(slot_key, sender_public + payload_key + chain + mac, prefix)
        return hm[:8], sel, box

    slots = [
        make_slot(khself, self_key.key, sender_public, self_key.kid, self_key.key, devid, self_seq, self_prev)
    ]
    shared = sender.shared
    for r in recipients:
        try:
            ds = x25519(eph_secret, r.public_key)
            dp = x25519(eph_secret, r.prekey)
            auth = shared(r.public_key)
        except InvalidPublicKey as exc:
            raise SealError(f"recipient key or prekey unusable: {exc}") from exc
        dev = blake2b(r.public_key, digest_size=DEVTAG_BYTES, key=devtag_key, person=LABEL_DEVTAG).digest()
        slots.append(make_slot(ds, ds + dp, r.public_key, r.kid, auth, dev, r.seq, r.prev))
    return _assemble(prefix, slots, n, body, header_hash, rng)


def seal_reset(
    sender: Identity,
    device_secrets: Sequence[bytes],
    devid: bytes,
    devices: Sequence[bytes],
    payload: bytes,
    *,
    self_hint: bytes | None = None,
    rng: Random = os.urandom,
) -> Sealed:
    """Seal a ``reset`` payload (§10.1) to my remaining devices' current device keys ``devices``
    (32-byte X25519 public keys, the sending device's own excluded; none when no other device
    remains: then the envelope is the marker and decoys, which opens nowhere and tells a removed
    device that it was left out), from this device
    (``device_secrets`` its device key secret(s): the current one and, while ``reset_window`` runs,
    the previous one — a sibling may not have learnt the new one yet —, one slot per device and
    secret; ``devid`` its 8-byte id), with a reset marker in place of
    a self slot: a device that still holds only the old self key (a removed one) learns that a reset
    happened and nothing of it. ``n = bucket(devices + 1)`` (at least 4). ``rng`` is read as in
    :func:`seal_v2`: ``e``, ``K``, the marker's box (160 bytes), the decoys, the shuffle.

    Cost: per device 1 + (number of sending keys) X25519 (``ds``, and the mac key per sending key),
    plus 1 + (number of sending keys) base multiplications. SealError for more
    than 1023 slots, a duplicate, a low-order device key, a bad devid or device secret.
    """
    if not 1 <= len(device_secrets) <= 2:
        raise SealError("a reset is sealed from one or two device keys")
    if len(devices) * len(device_secrets) > MAX_RECIPIENTS:
        raise SealError(f"at most {MAX_RECIPIENTS} devices per reset")
    if len(set(devices)) != len(devices) or any(type(d) is not bytes or len(d) != 32 for d in devices):
        raise SealError("device keys are distinct 32-byte keys")
    if any(type(d) is not bytes or len(d) != 32 for d in device_secrets):
        raise SealError("a device key secret is 32 bytes")
    if type(devid) is not bytes or len(devid) != DEVID_BYTES:
        raise SealError("a devid is 8 bytes")
    khself = self_hint_key(sender.secret) if self_hint is None else self_hint
    padded = _pad(payload)
    n = slot_bucket(len(devices) * len(device_secrets) + 1)
    eph_secret = rng(32)
    eph = x25519_base(eph_secret)
    payload_key = rng(32)
    commit = blake2b(eph, digest_size=32, key=payload_key, person=LABEL_COMMIT).digest()
    prefix = bytes([VERSION]) + eph + commit + struct.pack(">H", n)
    body = aead_encrypt(payload_key, padded, prefix)
    header_hash = blake2b(prefix + body, digest_size=32, person=LABEL_HEADER).digest()
    # the reset marker: the self hint with selector 0xFFFFFFFF, a random box
    hm = blake2b(eph + sender.public, digest_size=12, key=khself, person=LABEL_HINT).digest()
    sel = (int.from_bytes(hm[8:], "big") ^ RESET_MARKER_KID).to_bytes(4, "big")
    slots = [(hm[:8], sel, rng(SLOT_BOX_BYTES))]
    chain = devid + _U64.pack(0) + NO_PREV
    senders = [(secret, x25519_base(secret)) for secret in device_secrets]
    for device in devices:
        try:
            ds = x25519(eph_secret, device)
        except InvalidPublicKey as exc:
            raise SealError(f"device key unusable: {exc}") from exc
        context = eph + device
        dhm = blake2b(context, digest_size=12, key=ds, person=LABEL_HINT).digest()
        slot_key = blake2b(context + _U32.pack(0), digest_size=32, key=ds, person=LABEL_SLOT).digest()
        for device_secret, my_device in senders:
            try:
                auth = x25519(device_secret, device)
            except InvalidPublicKey as exc:
                raise SealError(f"device key unusable: {exc}") from exc
            mac = blake2b(
                header_hash + my_device + device + _U32.pack(0) + chain,
                digest_size=32,
                key=auth,
                person=LABEL_MAC,
            ).digest()
            box = aead_encrypt(slot_key, my_device + payload_key + chain + mac, prefix)
            slots.append((dhm[:8], dhm[8:], box))  # sel = uint32(0) XOR mask
    return _assemble(prefix, slots, n, body, header_hash, rng)


def _verified_payload(
    header_hash: bytes,
    mac_fields: bytes,
    mac_key: bytes,
    mac: bytes,
    what: str,
    payload_key: bytes,
    body: bytes,
    prefix: bytes,
) -> bytes:
    """The last two steps of every v2 open (§4.4): the slot's authenticator ``mac`` (32 bytes) must equal
    ``BLAKE2b(header_hash ‖ mac_fields, key=mac_key, person="tuisns2-mac")``, then ``body`` must decrypt
    (XChaCha20-Poly1305 under ``payload_key``, ``prefix`` as associated data); returns the unpadded
    payload. ForgedEnvelope ("<what> authenticator does not verify", or the body's) otherwise."""
    expected = blake2b(header_hash + mac_fields, digest_size=32, key=mac_key, person=LABEL_MAC).digest()
    if not hmac.compare_digest(expected, mac):
        raise ForgedEnvelope(f"{what} authenticator does not verify")
    try:
        padded = aead_decrypt(payload_key, body, prefix)
    except AeadFailure as exc:
        raise ForgedEnvelope("body does not decrypt under the committed key") from exc
    return _unpad(padded)


def _open_device_slot(
    keyring: Keyring, data: bytes, eph: bytes, commit: bytes, prefix: bytes, n: int
) -> OpenedReset | None:
    """Look for a device slot addressed to one of ``keyring.device_keys`` (a reset marker was found)."""
    hints_end = HEADER_BYTES + n * HINT_BYTES
    sels_end = hints_end + n * SEL_BYTES
    table = data[HEADER_BYTES:hints_end]
    found: OpenedReset | None = None
    senders: list[bytes] = []
    for secret in keyring.device_keys:
        mine = x25519_base(secret)
        try:
            ds = x25519(secret, eph)
        except InvalidPublicKey as exc:
            raise MalformedEnvelope("low-order ephemeral key") from exc
        context = eph + mine
        hm = blake2b(context, digest_size=12, key=ds, person=LABEL_HINT).digest()
        slot_key = blake2b(context + _U32.pack(0), digest_size=32, key=ds, person=LABEL_SLOT).digest()
        pos = table.find(hm[:8])
        while pos != -1:
            index = pos // HINT_BYTES
            sel = data[hints_end + index * SEL_BYTES : hints_end + (index + 1) * SEL_BYTES]
            if pos % HINT_BYTES == 0 and sel == hm[8:]:
                start = sels_end + index * SLOT_BOX_BYTES
                try:
                    plain = aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], prefix)
                except AeadFailure:
                    plain = None
                if plain is not None:
                    opened = _finish_device_slot(keyring, data, plain, secret, mine, eph, commit, prefix, n)
                    found = found or opened
                    senders.append(opened.device_key)
            pos = table.find(hm[:8], pos + 1)
        if found is not None:
            break
    if found is None:
        return None
    return replace(found, device_keys=tuple(senders))


def _finish_device_slot(
    keyring: Keyring,
    data: bytes,
    plain: bytes,
    secret: bytes,
    mine: bytes,
    eph: bytes,
    commit: bytes,
    prefix: bytes,
    n: int,
) -> OpenedReset:
    sender_device, payload_key, chain, mac = plain[:32], plain[32:64], plain[64:112], plain[112:144]
    dev = chain[:DEVID_BYTES]
    (seq,) = _U64.unpack_from(chain, DEVID_BYTES)
    prev = chain[16:48]
    if not hmac.compare_digest(
        blake2b(eph, digest_size=32, key=payload_key, person=LABEL_COMMIT).digest(), commit
    ):
        raise ForgedEnvelope("payload key does not match the envelope's key commitment")
    body = data[HEADER_BYTES + n * SLOT_BYTES :]
    header_hash = blake2b(prefix + body, digest_size=32, person=LABEL_HEADER).digest()
    try:
        auth = x25519(secret, sender_device)
    except InvalidPublicKey as exc:
        raise ForgedEnvelope("sending device key is low-order") from exc
    payload = _verified_payload(
        header_hash,
        sender_device + mine + _U32.pack(0) + chain,
        auth,
        mac,
        "device",
        payload_key,
        body,
        prefix,
    )
    return OpenedReset(
        sender=keyring.identity.public,
        payload=payload,
        seq=seq,
        prev=prev,
        digest=header_hash,
        from_self=True,
        dev=dev,
        kid=RESET_MARKER_KID,
        from_removed_device=dev in keyring.removed_devices,
        device_key=sender_device,
        to_device_key=mine,
    )


def has_reset_marker(keyring: Keyring, data: bytes) -> bool:
    """Whether a v2 envelope carries a reset marker of my identity (a self-hint slot whose selector is
    0xFFFFFFFF): a reset by one of my devices, or by a holder of ``s``. No X25519 (one BLAKE2b and a
    scan). For a device that could not open it: a reset that did not include this device (§10.1).
    False for anything that is not a well-formed v2 envelope."""
    try:
        eph, _, _, n = parse_v2(bytes(data))
    except EnvelopeError:
        return False
    hints_end = HEADER_BYTES + n * HINT_BYTES
    table = data[HEADER_BYTES:hints_end]
    hm = blake2b(
        eph + keyring.identity.public, digest_size=12, key=keyring.self_hint_key, person=LABEL_HINT
    ).digest()
    marker = (int.from_bytes(hm[8:], "big") ^ RESET_MARKER_KID).to_bytes(4, "big")
    pos = table.find(hm[:8])
    while pos != -1:
        if pos % HINT_BYTES == 0:
            index = pos // HINT_BYTES
            if data[hints_end + index * SEL_BYTES : hints_end + (index + 1) * SEL_BYTES] == marker:
                return True
        pos = table.find(hm[:8], pos + 1)
    return False


def _assemble(
    prefix: bytes,
    slots: list[tuple[bytes, bytes, bytes]],
    n: int,
    body: bytes,
    header_hash: bytes,
    rng: Random,
) -> Sealed:
    """Fill ``slots`` up to ``n`` with random decoys (one rng call for all of them, §11), shuffle, and
    lay the envelope out: prefix, the n hints, the n selectors, the n slot ciphertexts, the body."""
    decoys = n - len(slots)
    if decoys:
        block = rng(decoys * SLOT_BYTES)
        for i in range(decoys):
            d = block[i * SLOT_BYTES : (i + 1) * SLOT_BYTES]
            slots.append(
                (d[:HINT_BYTES], d[HINT_BYTES : HINT_BYTES + SEL_BYTES], d[HINT_BYTES + SEL_BYTES :])
            )
    _shuffle(slots, rng)
    data = (
        prefix
        + b"".join(s[0] for s in slots)
        + b"".join(s[1] for s in slots)
        + b"".join(s[2] for s in slots)
        + body
    )
    return Sealed(data=data, id=envelope_id(data), digest=header_hash)


def parse_v2(data: bytes) -> tuple[bytes, bytes, bytes, int]:
    """Check the layout of a v2 envelope; returns ``(E, C, prefix, n)``.

    MalformedEnvelope for a truncated or oversized envelope, a slot count that is not a power of two
    in 4..1024, or a total length that is not ``67 + 172·n + P + 16`` with ``P`` a power of two in
    256..65536; UnsupportedVersion if byte 0 is not 2.
    """
    return check_layout(data, version=VERSION, slot_bytes=SLOT_BYTES)


def open_v2(keyring: Keyring, data: bytes) -> OpenedV2 | Unopenable | None:
    """Open a v2 envelope with ``keyring`` (§4.4).

    Returns :class:`OpenedV2`; ``None`` when no slot is mine; :class:`Unopenable` when the only slots
    of mine that were located name keys already deleted. Raises MalformedEnvelope (bad layout,
    low-order ``E``, bad padding), UnsupportedVersion, and ForgedEnvelope when a slot of mine opens but
    the key commitment, the sender authenticator or the body fails, when my self slot names another
    sender, or names a device that is not mine.

    Cost: no X25519 for my own envelopes (self slot); one for a non-recipient; two for a recipient
    (plus one the first time a sender is seen, as in v1) — counted by tests/crypto.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedEnvelope("envelope must be bytes")
    data = bytes(data)
    eph, commit, prefix, n = parse_v2(data)
    hints_end = HEADER_BYTES + n * HINT_BYTES
    sels_end = hints_end + n * SEL_BYTES
    table = data[HEADER_BYTES:hints_end]
    me = keyring.identity
    my_public = me.public
    context = eph + my_public
    unopenable: Unopenable | None = None

    def matches(hint: bytes) -> Iterator[int]:
        pos = table.find(hint)
        while pos != -1:
            if pos % HINT_BYTES == 0:
                yield pos // HINT_BYTES
            pos = table.find(hint, pos + 1)

    def try_box(index: int, k: bytes, kid: int) -> bytes | None:
        slot_key = blake2b(context + _U32.pack(kid), digest_size=32, key=k, person=LABEL_SLOT).digest()
        start = sels_end + index * SLOT_BOX_BYTES
        try:
            return aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], prefix)
        except AeadFailure:
            return None  # a hint collision with a decoy or someone else's slot

    def selector(index: int, mask: int) -> int:
        return (
            int.from_bytes(data[hints_end + index * SEL_BYTES : hints_end + (index + 1) * SEL_BYTES], "big")
            ^ mask
        )

    plain: bytes | None = None
    auth = b""
    kid = 0
    from_self = True
    # 1. the self slot: no X25519
    hm = blake2b(context, digest_size=12, key=keyring.self_hint_key, person=LABEL_HINT).digest()
    mask = int.from_bytes(hm[8:], "big")
    for index in matches(hm[:8]):
        kid = selector(index, mask)
        for key in keyring.self_keys.get(kid, ()):
            plain = try_box(index, key, kid)
            if plain is not None:
                auth = key
                break
        if plain is not None:
            break
        if kid in keyring.deleted_self_keys and unopenable is None:
            unopenable = Unopenable("self", kid, keyring.deleted_self_keys[kid])
        if kid == RESET_MARKER_KID and keyring.device_keys:  # a reset (§10.1): try my device key(s)
            reset = _open_device_slot(keyring, data, eph, commit, prefix, n)
            if reset is not None:
                return reset
    if plain is None:
        # 2. recipient slots: one X25519 to locate, one more (with the prekey) to open
        from_self = False
        try:
            ds = x25519(me.secret, eph)
        except InvalidPublicKey as exc:
            raise MalformedEnvelope("low-order ephemeral key") from exc
        hm = blake2b(context, digest_size=12, key=ds, person=LABEL_HINT).digest()
        mask = int.from_bytes(hm[8:], "big")
        for index in matches(hm[:8]):
            kid = selector(index, mask)
            for secret in keyring.prekeys.get(kid, ()):
                plain = try_box(index, ds + x25519(secret, eph), kid)
                if plain is not None:
                    break
            if plain is not None:
                break
            if kid in keyring.deleted_prekeys and unopenable is None:
                unopenable = Unopenable("prekey", kid, keyring.deleted_prekeys[kid])
        if plain is None:
            return unopenable
    sender = plain[:32]
    payload_key = plain[32:64]
    dev = plain[64:72]
    (seq,) = _U64.unpack_from(plain, 72)
    prev = plain[80:112]
    mac = plain[112:144]
    from_removed = False
    if from_self:
        if sender != my_public:
            raise ForgedEnvelope("self slot names another sender")
        if dev in keyring.removed_devices:
            from_removed = True
        elif dev not in keyring.devices:
            raise ForgedEnvelope("self slot names a device that is not mine")
    if not hmac.compare_digest(
        blake2b(eph, digest_size=32, key=payload_key, person=LABEL_COMMIT).digest(), commit
    ):
        raise ForgedEnvelope("payload key does not match the envelope's key commitment")
    body = data[HEADER_BYTES + n * SLOT_BYTES :]
    header_hash = blake2b(prefix + body, digest_size=32, person=LABEL_HEADER).digest()
    if not from_self:
        try:
            auth = me.shared(sender)
        except InvalidPublicKey as exc:
            raise ForgedEnvelope("sender key is low-order") from exc
    payload = _verified_payload(
        header_hash,
        sender + my_public + _U32.pack(kid) + dev + _U64.pack(seq) + prev,
        auth,
        mac,
        "sender",
        payload_key,
        body,
        prefix,
    )
    return OpenedV2(
        sender=sender,
        payload=payload,
        seq=seq,
        prev=prev,
        digest=header_hash,
        from_self=from_self,
        dev=dev,
        kid=kid,
        from_removed_device=from_removed,
    )


LINK_SLOTS = 4  # one link slot and three decoys (§9.3)
_ZERO32 = bytes(32)


@dataclass(frozen=True)
class LinkOpened:
    """A link envelope opened (§9.3): ``sender`` is the 32-byte ``S`` field (the identity key in A's
    messages, 32 zero bytes in B's: not authenticated beyond the link key), ``payload`` the bytes."""

    sender: bytes
    payload: bytes
    digest: bytes


def _link_key(key: bytes) -> bytes:
    if type(key) is not bytes or len(key) != 32:
        raise ValueError("a link key is 32 bytes")
    return key


def seal_link(key: bytes, payload: bytes, *, sender: bytes = _ZERO32, rng: Random = os.urandom) -> Sealed:
    """Seal ``payload`` in a v2 envelope whose only real slot is keyed by the link key ``key``
    (``Kl`` or ``Ks``, 32 bytes), with three decoys (n = 4): indistinguishable from an entry to the
    relay (§9.3, G6). ``sender`` (32 bytes) goes in the slot's ``S`` field. ``rng`` is read as in
    :func:`seal_v2`: ``e``, ``K``, one call for the decoys, the shuffle. Raises SealError for a payload
    over 65532 bytes, ValueError for a key or sender of the wrong size."""
    key = _link_key(key)
    if type(sender) is not bytes or len(sender) != 32:
        raise ValueError("the sender field is 32 bytes")
    padded = _pad(payload)
    eph = x25519_base(rng(32))
    payload_key = rng(32)
    commit = blake2b(eph, digest_size=32, key=payload_key, person=LABEL_COMMIT).digest()
    prefix = bytes([VERSION]) + eph + commit + struct.pack(">H", LINK_SLOTS)
    body = aead_encrypt(payload_key, padded, prefix)
    header_hash = blake2b(prefix + body, digest_size=32, person=LABEL_HEADER).digest()
    context = eph + _ZERO32
    hm = blake2b(context, digest_size=12, key=key, person=LABEL_HINT).digest()
    sel = hm[8:]  # uint32(0) XOR mask
    slot_key = blake2b(context + _U32.pack(0), digest_size=32, key=key, person=LABEL_SLOT).digest()
    chain = bytes(DEVID_BYTES) + _U64.pack(0) + _ZERO32
    mac = blake2b(
        header_hash + sender + _ZERO32 + _U32.pack(0) + chain, digest_size=32, key=key, person=LABEL_MAC
    ).digest()
    slots = [(hm[:8], sel, aead_encrypt(slot_key, sender + payload_key + chain + mac, prefix))]
    return _assemble(prefix, slots, LINK_SLOTS, body, header_hash, rng)


def open_link(key: bytes, data: bytes) -> LinkOpened | None:
    """Open a link envelope with the link key ``key`` (32 bytes); None when no slot is keyed by it.

    No X25519: one hint, one scan (so a device waiting for a link message can try every envelope a
    relay serves). Raises MalformedEnvelope / UnsupportedVersion for a bad layout, ForgedEnvelope when
    the slot opens but its fields are not a link slot's, or the commitment, mac or body fail."""
    key = _link_key(key)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedEnvelope("envelope must be bytes")
    data = bytes(data)
    eph, commit, prefix, n = parse_v2(data)
    hints_end = HEADER_BYTES + n * HINT_BYTES
    sels_end = hints_end + n * SEL_BYTES
    table = data[HEADER_BYTES:hints_end]
    context = eph + _ZERO32
    hm = blake2b(context, digest_size=12, key=key, person=LABEL_HINT).digest()
    slot_key = blake2b(context + _U32.pack(0), digest_size=32, key=key, person=LABEL_SLOT).digest()
    plain: bytes | None = None
    pos = table.find(hm[:8])
    while pos != -1 and plain is None:
        if pos % HINT_BYTES == 0:
            index = pos // HINT_BYTES
            sel = data[hints_end + index * SEL_BYTES : hints_end + (index + 1) * SEL_BYTES]
            if sel == hm[8:]:
                start = sels_end + index * SLOT_BOX_BYTES
                try:
                    plain = aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], prefix)
                except AeadFailure:
                    plain = None
        pos = table.find(hm[:8], pos + 1)
    if plain is None:
        return None
    sender, payload_key, chain, mac = plain[:32], plain[32:64], plain[64:112], plain[112:144]
    if chain != bytes(DEVID_BYTES) + _U64.pack(0) + _ZERO32:
        raise ForgedEnvelope("a link slot carries no device tag or chain position")
    if not hmac.compare_digest(
        blake2b(eph, digest_size=32, key=payload_key, person=LABEL_COMMIT).digest(), commit
    ):
        raise ForgedEnvelope("payload key does not match the envelope's key commitment")
    body = data[HEADER_BYTES + n * SLOT_BYTES :]
    header_hash = blake2b(prefix + body, digest_size=32, person=LABEL_HEADER).digest()
    payload = _verified_payload(
        header_hash, sender + _ZERO32 + _U32.pack(0) + chain, key, mac, "link", payload_key, body, prefix
    )
    return LinkOpened(sender=sender, payload=payload, digest=header_hash)


__all__ = [
    "LINK_SLOTS",
    "LinkOpened",
    "MAX_ANY_ENVELOPE_BYTES",
    "MAX_ENVELOPE_BYTES",
    "MAX_RECIPIENTS",
    "RESET_MARKER_KID",
    "Keyring",
    "OpenedReset",
    "OpenedV2",
    "RecipientV2",
    "SelfKey",
    "Unopenable",
    "has_reset_marker",
    "open_link",
    "open_v2",
    "parse_v2",
    "seal_link",
    "seal_reset",
    "seal_v2",
]
