"""Helpers for the envelope v2 tests: a person with an identity, epoch keys, a device and a keyring."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from crypto_helpers import identity

from tui_sns.crypto.envelope import NO_PREV, Sealed, body_bucket, slot_bucket
from tui_sns.crypto.envelope_v2 import (
    HEADER_BYTES,
    HINT_BYTES,
    LABEL_COMMIT,
    LABEL_HEADER,
    LABEL_HINT,
    LABEL_MAC,
    LABEL_SLOT,
    SEL_BYTES,
    SLOT_BOX_BYTES,
    VERSION,
    Keyring,
    RecipientV2,
    SelfKey,
    seal_v2,
)
from tui_sns.crypto.epochs import EpochKeys, device_id, walk
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.primitives import aead_encrypt, kdf, x25519, x25519_base


def _b2(label: str) -> bytes:
    return hashlib.blake2b(label.encode(), digest_size=32, person=b"tuisns-test-v2").digest()


@dataclass
class Person:
    """One identity with one device; epoch ``epoch`` of generation 0 current, earlier ones in grace."""

    name: str
    identity: Identity
    seed0: bytes
    epoch: int
    devid: bytes
    devtag_key: bytes
    keyring: Keyring

    def keys(self, epoch: int | None = None) -> EpochKeys:
        i = self.epoch if epoch is None else epoch
        return EpochKeys.derive(walk(self.seed0, 0, i), 0, i)

    def recipient(self, seq: int = 1, prev: bytes = NO_PREV, epoch: int | None = None) -> RecipientV2:
        k = self.keys(epoch)
        return RecipientV2(self.identity.public, k.prekey_public, k.prekey_id, seq, prev)

    def seal(
        self,
        to: Sequence[RecipientV2],
        payload: bytes,
        *,
        self_seq: int = 0,
        self_prev: bytes = NO_PREV,
        rng: object = None,
    ) -> Sealed:
        extra = {} if rng is None else {"rng": rng}
        return seal_v2(
            self.identity,
            to,
            payload,
            self_key=SelfKey.of(self.keys()),
            devid=self.devid,
            devtag_key=self.devtag_key,
            self_seq=self_seq,
            self_prev=self_prev,
            **extra,  # type: ignore[arg-type]
        )


def person(name: str, epoch: int = 0, live_from: int | None = None, who: Identity | None = None) -> Person:
    """A deterministic person; epochs ``live_from``..``epoch`` are live in the keyring (default: ``epoch``)."""
    me = who or identity(name)
    devid = device_id(x25519_base(_b2(name + "/device")))
    keyring = Keyring(me, devices=[devid])
    p = Person(name, me, _b2(name + "/seed"), epoch, devid, _b2(name + "/devtag"), keyring)
    for i in range(epoch if live_from is None else live_from, epoch + 1):
        keyring.add_epoch(p.keys(i))
    return p


# -- an explicit v2 builder: every secret an attacker might choose is a parameter ----------------


@dataclass(frozen=True)
class SlotV2:
    h: bytes  # hint key
    k: bytes  # content key (32 or 64 bytes)
    addressee: bytes
    kid: int
    auth: bytes
    payload_key: bytes
    sender: bytes
    dev: bytes = bytes(8)
    seq: int = 1
    prev: bytes = NO_PREV
    written_kid: int | None = None  # the selector names this id instead (the slot key and mac use ``kid``)
    written_dev: bytes | None = None


def pad(payload: bytes, padding_byte: int = 0) -> bytes:
    size = body_bucket(len(payload) + 4)
    return struct.pack(">I", len(payload)) + payload + bytes([padding_byte]) * (size - 4 - len(payload))


def prefix_of(eph: bytes, commit_key: bytes, n: int) -> bytes:
    return bytes([VERSION]) + eph + kdf(LABEL_COMMIT, commit_key, eph) + struct.pack(">H", n)


def build_v2(
    eph: bytes,
    commit_key: bytes,
    body_key: bytes,
    padded: bytes,
    slots: list[SlotV2],
    *,
    n: int | None = None,
) -> bytes:
    n = n if n is not None else slot_bucket(len(slots))
    prefix = prefix_of(eph, commit_key, n)
    return build_v2_with_body(eph, commit_key, aead_encrypt(body_key, padded, prefix), slots, n=n)


def build_v2_with_body(eph: bytes, commit_key: bytes, body: bytes, slots: list[SlotV2], *, n: int) -> bytes:
    prefix = prefix_of(eph, commit_key, n)
    header_hash = kdf(LABEL_HEADER, None, prefix + body)
    hints, sels, boxes = [], [], []
    for s in slots:
        context = eph + s.addressee
        hm = kdf(LABEL_HINT, s.h, context, 12)
        hints.append(hm[:8])
        kid = s.kid if s.written_kid is None else s.written_kid
        sels.append((int.from_bytes(hm[8:], "big") ^ kid).to_bytes(4, "big"))
        slot_key = kdf(LABEL_SLOT, s.k, context + struct.pack(">I", s.kid))
        chain = s.dev + struct.pack(">Q", s.seq) + s.prev
        mac = kdf(LABEL_MAC, s.auth, header_hash + s.sender + s.addressee + struct.pack(">I", s.kid) + chain)
        written = (s.dev if s.written_dev is None else s.written_dev) + chain[8:]
        boxes.append(aead_encrypt(slot_key, s.sender + s.payload_key + written + mac, prefix))
    while len(hints) < n:
        hints.append(os.urandom(HINT_BYTES))
        sels.append(os.urandom(SEL_BYTES))
        boxes.append(os.urandom(SLOT_BOX_BYTES))
    return prefix + b"".join(hints) + b"".join(sels) + b"".join(boxes) + body


def honest_slot_v2(
    author: Person, eph_secret: bytes, reader: Person, payload_key: bytes, seq: int = 1
) -> SlotV2:
    """The recipient slot an honest ``author`` writes for ``reader`` (reader's current prekey)."""
    keys = reader.keys()
    ds = x25519(eph_secret, reader.identity.public)
    return SlotV2(
        h=ds,
        k=ds + x25519(eph_secret, keys.prekey_public),
        addressee=reader.identity.public,
        kid=keys.prekey_id,
        auth=author.identity.shared(reader.identity.public),
        payload_key=payload_key,
        sender=author.identity.public,
        seq=seq,
    )


def self_slot_v2(
    author: Person, payload_key: bytes, dev: bytes | None = None, sender: bytes | None = None
) -> SlotV2:
    keys = author.keys()
    return SlotV2(
        h=author.keyring.self_hint_key,
        k=keys.self_key,
        addressee=author.identity.public,
        kid=keys.self_key_id,
        auth=keys.self_key,
        payload_key=payload_key,
        sender=author.identity.public if sender is None else sender,
        dev=author.devid if dev is None else dev,
        seq=0,
    )


def split_v2(data: bytes) -> tuple[bytes, list[bytes], list[bytes], list[bytes], bytes]:
    """(prefix, hints, sels, boxes, body) of a well-formed v2 envelope."""
    n = struct.unpack_from(">H", data, 65)[0]
    h_end = HEADER_BYTES + n * HINT_BYTES
    s_end = h_end + n * SEL_BYTES
    b_end = s_end + n * SLOT_BOX_BYTES
    hints = [data[HEADER_BYTES + i * 8 : HEADER_BYTES + i * 8 + 8] for i in range(n)]
    sels = [data[h_end + i * 4 : h_end + i * 4 + 4] for i in range(n)]
    boxes = [data[s_end + i * SLOT_BOX_BYTES : s_end + (i + 1) * SLOT_BOX_BYTES] for i in range(n)]
    return data[:HEADER_BYTES], hints, sels, boxes, data[b_end:]
