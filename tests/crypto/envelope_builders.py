"""A test-only, fully explicit variant of ``seal``: every secret an attacker might choose is a parameter.

It follows the v1 layout of tui_sns/crypto/envelope.py (and docs/protocol.md) but lets a test give each
slot its own payload key, its own DH output and authenticator key, a claimed sender, a commitment
computed over any key, an arbitrary ephemeral public key, and a body encrypted under any key. Slots
are placed in the given order (no shuffle), followed by random decoys.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from tui_sns.crypto.envelope import (
    HEADER_BYTES,
    HINT_BYTES,
    LABEL_COMMIT,
    LABEL_HEADER,
    LABEL_HINT,
    LABEL_MAC,
    LABEL_SLOT,
    NO_PREV,
    SLOT_BOX_BYTES,
    SLOT_BYTES,
    VERSION,
    body_bucket,
    slot_bucket,
)
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.primitives import aead_decrypt, aead_encrypt, kdf, x25519


@dataclass(frozen=True)
class SlotSpec:
    addressee: bytes  # the public key the slot is addressed to (its hint/slot-key context)
    dh: bytes  # the value used as "X25519(e, R)" (or the self key) for hint and slot key
    auth: bytes  # the key of the sender authenticator (static-static secret or self key)
    payload_key: bytes
    sender: bytes  # the sender public key written into the slot
    seq: int = 1
    prev: bytes = NO_PREV
    written_seq: int | None = None  # written into the slot instead of ``seq`` (the mac covers ``seq``)
    written_prev: bytes | None = None


def pad(payload: bytes, padding_byte: int = 0) -> bytes:
    size = body_bucket(len(payload) + 4)
    return struct.pack(">I", len(payload)) + payload + bytes([padding_byte]) * (size - 4 - len(payload))


def build(
    eph: bytes,
    commit_key: bytes,
    body_key: bytes,
    padded: bytes,
    slots: list[SlotSpec],
    *,
    n: int | None = None,
) -> bytes:
    n = n if n is not None else slot_bucket(len(slots))
    commit = kdf(LABEL_COMMIT, commit_key, eph)
    prefix = bytes([VERSION]) + eph + commit + struct.pack(">H", n)
    return build_with_body(eph, commit_key, aead_encrypt(body_key, padded, prefix), slots, n=n)


def build_with_body(eph: bytes, commit_key: bytes, body: bytes, slots: list[SlotSpec], *, n: int) -> bytes:
    """Like :func:`build`, with the body ciphertext given as is."""
    prefix = bytes([VERSION]) + eph + kdf(LABEL_COMMIT, commit_key, eph) + struct.pack(">H", n)
    header_hash = kdf(LABEL_HEADER, None, prefix + body)
    hints, boxes = [], []
    for s in slots:
        context = eph + s.addressee
        hints.append(kdf(LABEL_HINT, s.dh, context, HINT_BYTES))
        slot_key = kdf(LABEL_SLOT, s.dh, context)
        chain = struct.pack(">Q", s.seq) + s.prev
        mac = kdf(LABEL_MAC, s.auth, header_hash + s.sender + s.addressee + chain)
        written = struct.pack(">Q", s.seq if s.written_seq is None else s.written_seq) + (
            s.prev if s.written_prev is None else s.written_prev
        )
        boxes.append(aead_encrypt(slot_key, s.sender + s.payload_key + written + mac, prefix))
    while len(hints) < n:
        hints.append(os.urandom(HINT_BYTES))
        boxes.append(os.urandom(SLOT_BOX_BYTES))
    return prefix + b"".join(hints) + b"".join(boxes) + body


def honest_slot(
    sender: Identity, eph_secret: bytes, recipient: bytes, payload_key: bytes, seq: int = 1
) -> SlotSpec:
    """The slot an honest sender would write for ``recipient``."""
    return SlotSpec(
        addressee=recipient,
        dh=x25519(eph_secret, recipient),
        auth=sender.shared(recipient),
        payload_key=payload_key,
        sender=sender.public,
        seq=seq,
    )


def read_my_slot(me: Identity, data: bytes) -> tuple[bytes, bytes, bytes]:
    """What a recipient can extract by hand from its own slot: (E, payload key K, sender public key)."""
    eph = data[1:33]
    n = struct.unpack_from(">H", data, 65)[0]
    dh = x25519(me.secret, eph)
    context = eph + me.public
    hint = kdf(LABEL_HINT, dh, context, HINT_BYTES)
    slot_key = kdf(LABEL_SLOT, dh, context)
    table = data[HEADER_BYTES : HEADER_BYTES + n * HINT_BYTES]
    index = next(i for i in range(n) if table[i * HINT_BYTES : (i + 1) * HINT_BYTES] == hint)
    start = HEADER_BYTES + n * HINT_BYTES + index * SLOT_BOX_BYTES
    plain = aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], data[:HEADER_BYTES])
    return eph, plain[32:64], plain[:32]


def split(data: bytes) -> tuple[bytes, list[bytes], list[bytes], bytes]:
    """(prefix, hints, boxes, body) of a well-formed envelope."""
    n = struct.unpack_from(">H", data, 65)[0]
    table_end = HEADER_BYTES + n * HINT_BYTES
    hints = [data[HEADER_BYTES + i * HINT_BYTES : HEADER_BYTES + (i + 1) * HINT_BYTES] for i in range(n)]
    boxes = [data[table_end + i * SLOT_BOX_BYTES : table_end + (i + 1) * SLOT_BOX_BYTES] for i in range(n)]
    return data[:HEADER_BYTES], hints, boxes, data[HEADER_BYTES + n * SLOT_BYTES :]
