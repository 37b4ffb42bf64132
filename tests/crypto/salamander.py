"""A ciphertext that XChaCha20-Poly1305 accepts under two different keys ("invisible salamanders").

Poly1305 is not key-committing: given keys K1 != K2, a nonce and associated data, one free 16-byte
ciphertext block is enough to make both tags equal (solve one linear equation mod 2^130 - 5). The
test uses it to show that the envelope's key commitment, not the AEAD, is what makes every reader
see the same body. Pure Python ChaCha20 / HChaCha20 (RFC 8439, draft-irtf-cfrg-xchacha), checked
against libsodium by the test before use.
"""

from __future__ import annotations

import os
import struct

P1305 = (1 << 130) - 5
MASK32 = 0xFFFFFFFF
SIGMA = struct.unpack("<4I", b"expand 32-byte k")


def _rotl(v: int, c: int) -> int:
    return ((v << c) & MASK32) | (v >> (32 - c))


def _rounds(state: list[int]) -> list[int]:
    x = list(state)

    def qr(a: int, b: int, c: int, d: int) -> None:
        x[a] = (x[a] + x[b]) & MASK32
        x[d] = _rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & MASK32
        x[b] = _rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & MASK32
        x[d] = _rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & MASK32
        x[b] = _rotl(x[b] ^ x[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return x


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    x = _rounds([*SIGMA, *struct.unpack("<8I", key), *struct.unpack("<4I", nonce16)])
    return struct.pack("<8I", *(x[0:4] + x[12:16]))


def chacha20_block(key: bytes, counter: int, nonce12: bytes) -> bytes:
    state = [*SIGMA, *struct.unpack("<8I", key), counter, *struct.unpack("<3I", nonce12)]
    x = _rounds(state)
    return struct.pack("<16I", *((a + b) & MASK32 for a, b in zip(x, state, strict=True)))


def xchacha20_keystream(key: bytes, nonce24: bytes, blocks: int) -> bytes:
    """Block 0 (the Poly1305 key) followed by the message keystream, as the IETF AEAD uses them."""
    subkey, nonce12 = hchacha20(key, nonce24[:16]), bytes(4) + nonce24[16:]
    return b"".join(chacha20_block(subkey, i, nonce12) for i in range(blocks))


def _poly_blocks(ad: bytes, ct: bytes) -> list[int]:
    data = ad + bytes(-len(ad) % 16) + ct + bytes(-len(ct) % 16) + struct.pack("<QQ", len(ad), len(ct))
    return [int.from_bytes(data[i : i + 16], "little") + (1 << 128) for i in range(0, len(data), 16)]


def _poly_key(key: bytes, nonce: bytes) -> tuple[int, int]:
    block0 = xchacha20_keystream(key, nonce, 1)
    r = int.from_bytes(block0[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    return r, int.from_bytes(block0[16:32], "little")


def _horner(blocks: list[int], r: int) -> int:
    h = 0
    for b in blocks:
        h = (h + b) * r % P1305
    return h


def two_key_ciphertext(
    k1: bytes, k2: bytes, ad: bytes, size: int, nonce: bytes = bytes(24), head: bytes = b""
) -> bytes:
    """``size`` bytes of ciphertext plus a tag that verify under both ``k1`` and ``k2``.

    ``head`` (at most 16 bytes) fixes the start of the ciphertext; the second block is the free one.
    """
    assert size % 16 == 0 and size >= 32 and len(head) <= 16
    (r1, s1), (r2, s2) = _poly_key(k1, nonce), _poly_key(k2, nonce)
    free = len(ad + bytes(-len(ad) % 16)) // 16 + 1  # index of the second ciphertext block
    while True:
        ct = bytearray(os.urandom(size))
        ct[: len(head)] = head
        ct[16:32] = bytes(16)
        blocks = _poly_blocks(ad, bytes(ct))
        q = len(blocks)
        base1, base2 = _horner(blocks, r1), _horner(blocks, r2)
        e1, e2 = pow(r1, q - free, P1305), pow(r2, q - free, P1305)
        # h_j(x) = base_j + x * e_j ; want h1 + s1 == h2 + s2
        x = (s2 - s1 + base2 - base1) * pow(e1 - e2, -1, P1305) % P1305
        if x >= 1 << 128:
            continue
        h1, h2 = (base1 + x * e1) % P1305, (base2 + x * e2) % P1305
        if h1 + s1 != h2 + s2:
            continue
        ct[16:32] = x.to_bytes(16, "little")
        tag = ((h1 + s1) % (1 << 128)).to_bytes(16, "little")
        return bytes(ct) + tag
