"""Protocol v2 derivations (tui_sns/crypto/epochs.py) against docs/design-v2.md §3, recomputed here
with hashlib directly (not through the module's kdf), plus the ratchet's one-way shape."""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path

import pytest

from tui_sns.crypto import epochs
from tui_sns.crypto.primitives import x25519_base

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SEED = hashlib.blake2b(b"epoch seed", digest_size=32).digest()


def b2(data: bytes, person: bytes, key: bytes = b"", size: int = 32) -> bytes:
    return hashlib.blake2b(data, key=key, person=person, digest_size=size).digest()


def u32(i: int) -> bytes:
    return struct.pack(">I", i)


def design_labels() -> set[str]:
    """The labels of protocol.md's v2 label table (the rows that start with a `tuisns2-...` label)."""
    text = PROTOCOL.read_text(encoding="utf-8")
    section = text[text.index("### Derivations and labels") : text.index("### Envelope version 2")]
    return set(re.findall(r"^\| `(tuisns2-[a-z]+)` \|", section, flags=re.MULTILINE))


def test_labels_are_the_design_table() -> None:
    envelope_labels = {"tuisns2-hint", "tuisns2-slot", "tuisns2-commit", "tuisns2-header", "tuisns2-mac"}
    from_design = design_labels()
    assert len(from_design) == 19
    assert {label.decode() for label in epochs.LABELS} == from_design - envelope_labels
    for label in epochs.LABELS:
        assert label.startswith(b"tuisns2-") and len(label) <= 16
    assert len(set(epochs.LABELS)) == len(epochs.LABELS)


def test_ratchet_prekey_and_self_key_per_epoch() -> None:
    seed = SEED
    seen: set[bytes] = set()
    for i in range(4):
        keys = epochs.EpochKeys.derive(seed, 2, i)
        pk = b2(u32(i), b"tuisns2-prekey", seed)
        kself = b2(u32(i), b"tuisns2-selfkey", seed)
        assert keys.prekey_secret == pk == epochs.prekey_secret(seed, i)
        assert keys.prekey_public == x25519_base(pk)
        assert keys.prekey_id == int.from_bytes(b2(keys.prekey_public, b"tuisns2-keyid", size=4), "big")
        assert keys.self_key == kself
        assert keys.self_key_id == int.from_bytes(b2(u32(i), b"tuisns2-keyid", kself, size=4), "big")
        assert (keys.generation, keys.epoch) == (2, i)
        assert (
            "prekey_secret" not in repr(keys) and pk.hex() not in repr(keys) and kself.hex() not in repr(keys)
        )
        nxt = epochs.next_seed(seed, i)
        assert nxt == b2(u32(i + 1), b"tuisns2-seed", seed)
        seen |= {seed, pk, kself}
        seed = nxt
    assert len(seen) == 12  # every seed, prekey and self key distinct
    assert epochs.walk(SEED, 0, 4) == seed
    assert epochs.walk(SEED, 2, 2) == SEED  # zero steps
    with pytest.raises(ValueError, match="forward"):
        epochs.walk(SEED, 3, 2)


def test_same_seed_same_keys_on_every_device() -> None:
    """Devices of one identity derive identical epoch keys alone (§5.2: no coordination)."""
    one = epochs.EpochKeys.derive(epochs.walk(SEED, 0, 9), 0, 9)
    two = epochs.EpochKeys.derive(epochs.walk(epochs.walk(SEED, 0, 5), 5, 9), 0, 9)
    assert one == two


def test_other_derivations() -> None:
    s = hashlib.blake2b(b"identity", digest_size=32).digest()
    assert epochs.self_hint_key(s) == b2(b"", b"tuisns2-selfhint", s)
    d0 = x25519_base(hashlib.blake2b(b"device", digest_size=32).digest())
    assert epochs.device_id(d0) == b2(d0, b"tuisns2-devid", size=8)
    tag_key, reader = bytes(range(32)), x25519_base(bytes(range(1, 33)))
    assert epochs.device_tag(tag_key, reader) == b2(reader, b"tuisns2-devtag", tag_key, size=8)
    assert epochs.device_tag(tag_key, reader) != epochs.device_tag(tag_key, x25519_base(bytes(range(2, 34))))
    c = bytes(range(100, 132))
    a_pub, b_pub, dh = x25519_base(bytes(range(3, 35))), x25519_base(bytes(range(4, 36))), bytes(range(32))
    assert epochs.link_key(c) == b2(b"", b"tuisns2-link", c)
    assert epochs.link_checksum(c) == b2(c, b"tuisns2-linkchk", size=2)
    assert epochs.link_commitment(c, a_pub) == b2(a_pub, b"tuisns2-linkcom", c)
    assert epochs.link_session_key(c, dh, a_pub, b_pub) == b2(dh + a_pub + b_pub, b"tuisns2-linkkey", c)
    devid = epochs.device_id(d0)
    sas = int.from_bytes(b2(a_pub + b_pub + devid, b"tuisns2-linksas", c, size=4), "big") % 10**6
    assert epochs.link_sas(c, a_pub, b_pub, devid) == f"{sas:06d}"
    assert epochs.link_shard(c, 1000) == int.from_bytes(b2(c, b"tuisns2-lshard", size=2), "big") % 1000
    assert epochs.reset_commitment(SEED) == b2(SEED, b"tuisns2-reset", size=16)


@pytest.mark.parametrize(
    "call",
    [
        lambda: epochs.next_seed(b"short", 0),
        lambda: epochs.next_seed(SEED, -1),
        lambda: epochs.next_seed(SEED, 2**32 - 1),  # uint32(i + 1) would overflow
        lambda: epochs.prekey_secret(SEED, 2**32),
        lambda: epochs.self_key(bytearray(SEED), 0),  # type: ignore[arg-type]
        lambda: epochs.prekey_id(bytes(31)),
        lambda: epochs.self_key_id(SEED, -5),
        lambda: epochs.self_hint_key(bytes(33)),
        lambda: epochs.device_id(b""),
        lambda: epochs.device_tag(SEED, bytes(16)),
        lambda: epochs.link_sas(SEED, SEED, SEED, bytes(7)),
        lambda: epochs.link_shard(SEED, 0),
        lambda: epochs.EpochKeys.derive(SEED, -1, 0),
        lambda: epochs.EpochKeys.derive(SEED, 2**31, 0),
    ],
)
def test_bad_arguments_are_value_errors(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]
