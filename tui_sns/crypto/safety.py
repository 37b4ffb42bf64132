"""Safety numbers, computed the same way by both people (order-independent, as Signal's).

Each side's 30-digit fingerprint is BLAKE2b iterated 5200 times over its public key; the safety
number is the two fingerprints sorted and concatenated: 60 digits, shown in 12 groups of 5.
"""

from __future__ import annotations

from tui_sns.crypto.primitives import kdf

LABEL_FINGERPRINT = b"tuisns1-fprint"
ITERATIONS = 5200


def fingerprint(public_key: bytes) -> str:
    digest = public_key
    for _ in range(ITERATIONS):
        digest = kdf(LABEL_FINGERPRINT, None, digest + public_key, 32)
    digits = []
    for i in range(6):  # six chunks of 5 bytes -> six groups of 5 digits
        chunk = int.from_bytes(digest[i * 5 : i * 5 + 5], "big") % 100000
        digits.append(f"{chunk:05d}")
    return "".join(digits)


def safety_number(mine: bytes, theirs: bytes) -> str:
    both = "".join(sorted((fingerprint(mine), fingerprint(theirs))))
    return " ".join(both[i : i + 5] for i in range(0, 60, 5))
