"""Generate tests/vectors/envelope_v1.json: known-answer vectors for sealed envelopes, version 1.

    /work/venv/bin/python tests/vectors/generate.py          # rewrites envelope_v1.json

Like age's CCTV test kit, each vector is one envelope and one opener with one expected result:

* ``ok``                  opens; ``payload``, ``sender``, ``seq``, ``prev``, ``digest``, ``from_self`` given.
                          ``seal`` holds the inputs (sender secret, recipients, payload, self_seq, rng
                          seed): sealing them with :class:`CounterRng` must give exactly ``envelope``.
* ``not_for_me``          open_envelope returns None.
* ``malformed``           MalformedEnvelope.
* ``unsupported_version`` UnsupportedVersion.
* ``forged``              ForgedEnvelope.

Everything is deterministic: keys are BLAKE2b of a label, randomness is :class:`CounterRng`, and the
failure vectors change exactly one thing in an "ok" envelope (re-encrypting a slot box under its own
slot key when the change is inside a slot, which the generator can do because it knows every secret).
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

from tui_sns.crypto.envelope import (
    HEADER_BYTES,
    HINT_BYTES,
    LABEL_HINT,
    LABEL_SLOT,
    SLOT_BOX_BYTES,
    Recipient,
    open_envelope,
    seal,
)
from tui_sns.crypto.errors import ForgedEnvelope, MalformedEnvelope, UnsupportedVersion
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.primitives import aead_decrypt, aead_encrypt, kdf, x25519

POST = (
    b'{"type":"post","id":"0011223344556677","title":"hello","body":"first light. '
    + b"the sea was calm and the morning long; " * 6
    + b'","created":"2024-05-01T08:00:00Z"}'
)
OUT = Path(__file__).with_name("envelope_v1.json")
LOW_ORDER_POINT = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")  # order 8


class CounterRng:
    """Deterministic randomness: BLAKE2b-512(seed ‖ counter, person="tuisns-kat-rng") blocks, in order."""

    def __init__(self, seed: str) -> None:
        self.seed = seed.encode()
        self.counter = 0
        self.buffer = b""

    def __call__(self, size: int) -> bytes:
        while len(self.buffer) < size:
            block = self.seed + struct.pack(">Q", self.counter)
            self.buffer += hashlib.blake2b(block, digest_size=64, person=b"tuisns-kat-rng").digest()
            self.counter += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def kat_identity(label: str) -> Identity:
    return Identity(secret=hashlib.blake2b(label.encode(), digest_size=32, person=b"tuisns-kat-key").digest())


def _rewrite_slot(data: bytes, me: Identity, change: Any) -> bytes:
    """Decrypt ``me``'s slot, apply ``change`` to its plaintext, re-encrypt it in place."""
    eph, n = data[1:33], struct.unpack_from(">H", data, 65)[0]
    dh = x25519(me.secret, eph)
    hint, slot_key = kdf(LABEL_HINT, dh, eph + me.public, HINT_BYTES), kdf(LABEL_SLOT, dh, eph + me.public)
    table = data[HEADER_BYTES : HEADER_BYTES + n * HINT_BYTES]
    index = [table[i * 8 : i * 8 + 8] for i in range(n)].index(hint)
    start = HEADER_BYTES + n * HINT_BYTES + index * SLOT_BOX_BYTES
    prefix = data[:HEADER_BYTES]
    plain = bytearray(aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], prefix))
    change(plain)
    box = aead_encrypt(slot_key, bytes(plain), prefix)
    return data[:start] + box + data[start + SLOT_BOX_BYTES :]


def _hint_position(data: bytes, me: Identity) -> int:
    eph, n = data[1:33], struct.unpack_from(">H", data, 65)[0]
    hint = kdf(LABEL_HINT, x25519(me.secret, eph), eph + me.public, HINT_BYTES)
    table = data[HEADER_BYTES : HEADER_BYTES + n * HINT_BYTES]
    return HEADER_BYTES + [table[i * 8 : i * 8 + 8] for i in range(n)].index(hint) * HINT_BYTES


def _flip(data: bytes, pos: int, mask: int = 0x01) -> bytes:
    return data[:pos] + bytes([data[pos] ^ mask]) + data[pos + 1 :]


def _set_byte(plain: bytearray, pos: int) -> None:
    plain[pos] ^= 0x01


def build_vectors() -> dict[str, Any]:
    author, bob, carol, dave = (kat_identity(n) for n in ("alice", "bob", "carol", "dave"))
    stranger = kat_identity("stranger")
    vectors: list[dict[str, Any]] = []

    def add(name: str, opener: Identity, data: bytes, expected: str, comment: str, **extra: Any) -> None:
        vectors.append(
            {
                "name": name,
                "comment": comment,
                "opener_secret": opener.secret.hex(),
                "envelope": data.hex(),
                "expected": expected,
                **extra,
            }
        )

    def ok_cases(
        name: str,
        seed: str,
        recipients: list[tuple[Identity, int, bytes]],
        payload: bytes,
        self_seq: int,
        openers: list[Identity],
    ) -> bytes:
        rs = [Recipient(r.public, seq, prev) for r, seq, prev in recipients]
        sealed = seal(author, rs, payload, self_seq=self_seq, rng=CounterRng(seed))
        inputs = {
            "sender_secret": author.secret.hex(),
            "recipients": [{"public": r.public_key.hex(), "seq": r.seq, "prev": r.prev.hex()} for r in rs],
            "payload": payload.hex(),
            "self_seq": self_seq,
            "rng_seed": seed,
        }
        for opener in openers:
            opened = open_envelope(opener, sealed.data)
            assert opened is not None
            add(
                f"{name}: opened by {'the author' if opener is author else 'recipient ' + opener.public.hex()[:8]}",
                opener,
                sealed.data,
                "ok",
                "a well-formed envelope; sealing `seal` with CounterRng(rng_seed) gives exactly these bytes",
                seal=inputs,
                payload=opened.payload.hex(),
                sender=opened.sender.hex(),
                seq=opened.seq,
                prev=opened.prev.hex(),
                digest=opened.digest.hex(),
                from_self=opened.from_self,
                envelope_id=sealed.id,
            )
        return sealed.data

    prev = hashlib.blake2b(b"previous envelope", digest_size=32).digest()
    base = ok_cases(
        "two recipients",
        "kat-1",
        [(bob, 1, bytes(32)), (carol, 17, prev)],
        POST,
        3,
        [bob, carol, author],
    )
    ok_cases("only me", "kat-2", [], b"a private note, sealed to myself only", 0, [author])
    ok_cases("empty payload", "kat-3", [(dave, 2**64 - 1, prev)], b"", 9, [dave])
    ok_cases(
        "five recipients, larger body",
        "kat-4",
        [(kat_identity(f"reader-{i}"), i + 1, bytes(32)) for i in range(5)],
        bytes(range(256)) * 3,
        1,
        [kat_identity("reader-4")],
    )

    add("stranger", stranger, base, "not_for_me", "well-formed, but not addressed to the opener")
    add(
        "flipped hint",
        bob,
        _flip(base, _hint_position(base, bob)),
        "not_for_me",
        "bob's own 8-byte hint changed: his slot is not found",
    )
    add("flipped ephemeral key", bob, _flip(base, 5), "not_for_me", "E changed: bob's hint is not found")
    add(
        "flipped commitment byte",
        bob,
        _flip(base, 40),
        "not_for_me",
        "the prefix is every slot box's associated data: bob's slot no longer decrypts",
    )
    add(
        "flipped body byte",
        bob,
        _flip(base, len(base) - 100),
        "forged",
        "body ciphertext changed: the mac fails",
    )
    add("flipped body tag", bob, _flip(base, len(base) - 1), "forged", "body tag changed: the mac fails")
    add(
        "flipped mac byte",
        bob,
        _rewrite_slot(base, bob, lambda p: _set_byte(p, 110)),
        "forged",
        "bob's slot re-encrypted with one mac byte flipped",
    )
    add(
        "payload key not committed",
        bob,
        _rewrite_slot(base, bob, lambda p: _set_byte(p, 40)),
        "forged",
        "bob's slot re-encrypted with another payload key: the key commitment fails",
    )
    add(
        "sender replaced",
        carol,
        _rewrite_slot(base, carol, lambda p: p.__setitem__(slice(0, 32), dave.public)),
        "forged",
        "carol's slot names dave as sender: the mac (keyed with X25519(carol, dave)) fails",
    )
    add(
        "seq changed",
        carol,
        _rewrite_slot(base, carol, lambda p: _set_byte(p, 71)),
        "forged",
        "carol's slot says seq 16 instead of 17: the mac fails",
    )
    add(
        "low-order sender",
        carol,
        _rewrite_slot(base, carol, lambda p: p.__setitem__(slice(0, 32), LOW_ORDER_POINT)),
        "forged",
        "carol's slot names a low-order point as sender",
    )
    add(
        "low-order ephemeral key",
        bob,
        base[:1] + LOW_ORDER_POINT + base[33:],
        "malformed",
        "E is a point of order 8: X25519 gives the zero secret",
    )
    add("zero ephemeral key", stranger, base[:1] + bytes(32) + base[33:], "malformed", "E = 0")
    add("truncated header", bob, base[:50], "malformed", "shorter than the 67-byte header")
    add("truncated by one", bob, base[:-1], "malformed", "length does not match the layout")
    add("one byte appended", bob, base + b"\x00", "malformed", "length does not match the layout")
    add(
        "body cut to a smaller bucket",
        bob,
        base[:-256],
        "forged",
        "a 512-byte body cut to 256 bytes: a legal length, but the mac fails",
    )
    add("version 2", bob, b"\x02" + base[1:], "unsupported_version", "version byte 2")
    add("version 0", bob, b"\x00" + base[1:], "unsupported_version", "version byte 0")
    add("slot count 3", bob, base[:65] + struct.pack(">H", 3) + base[67:], "malformed", "not a power of two")
    add("slot count 2048", bob, base[:65] + struct.pack(">H", 2048) + base[67:], "malformed", "above 1024")
    add(
        "slot count 8",
        bob,
        base[:65] + struct.pack(">H", 8) + base[67:],
        "malformed",
        "a legal count that does not match the length",
    )
    add("empty", bob, b"", "malformed", "no bytes at all")
    return {
        "format": "tui-sns envelope v1 known-answer vectors",
        "generator": "tests/vectors/generate.py",
        "rng": "CounterRng(seed): concatenated BLAKE2b-512(seed || uint64_be(counter), person='tuisns-kat-rng')",
        "keys": "secret = BLAKE2b-256(label, person='tuisns-kat-key')",
        "vectors": vectors,
    }


def _outcome(me: Identity, data: bytes) -> str:
    try:
        return "ok" if open_envelope(me, data) is not None else "not_for_me"
    except MalformedEnvelope:
        return "malformed"
    except UnsupportedVersion:
        return "unsupported_version"
    except ForgedEnvelope:
        return "forged"


def render() -> str:
    return json.dumps(build_vectors(), indent=1) + "\n"


def main() -> int:
    text = render()
    for vector in json.loads(text)["vectors"]:  # the generator checks its own claims
        me = Identity(secret=bytes.fromhex(vector["opener_secret"]))
        got = _outcome(me, bytes.fromhex(vector["envelope"]))
        if got != vector["expected"]:
            print(f"{vector['name']}: expected {vector['expected']}, got {got}", file=sys.stderr)
            return 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
