"""Known-answer vectors for protocol v2 (tests/vectors/envelope_v2.json, docs/design-v2.md §16).

The file is re-derived by tests/vectors/generate.py (checked byte for byte), the envelopes are sealed
again from their inputs, every expected outcome is re-checked, and the intermediates of the first
vector and the ratchet are recomputed here with hashlib and X25519 only (not through the modules)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from tui_sns.crypto.envelope import open_envelope
from tui_sns.crypto.envelope_v2 import OpenedV2, Unopenable
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.primitives import x25519, x25519_base

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors"
_spec = importlib.util.spec_from_file_location("tuisns_kat_generate_v2", VECTOR_DIR / "generate.py")
assert _spec is not None and _spec.loader is not None
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

FILE: dict[str, Any] = json.loads((VECTOR_DIR / "envelope_v2.json").read_text())
ENVELOPES: list[dict[str, Any]] = FILE["envelopes"]
OK = [v for v in ENVELOPES if v["expected"] == "ok"]


def b2(data: bytes, person: bytes, key: bytes = b"", size: int = 32) -> bytes:
    return hashlib.blake2b(data, key=key, person=person, digest_size=size).digest()


def test_file_is_what_the_generator_writes() -> None:
    assert (VECTOR_DIR / "envelope_v2.json").read_text() == generate.render_v2()


def test_every_kind_of_result_is_covered() -> None:
    kinds = {v["expected"] for v in ENVELOPES}
    assert kinds == {"ok", "not_for_me", "unopenable", "malformed", "unsupported_version", "forged"}
    assert len({v["name"] for v in ENVELOPES}) == len(ENVELOPES)
    assert {v["unopenable"]["kind"] for v in ENVELOPES if v["expected"] == "unopenable"} == {"prekey", "self"}


@pytest.mark.parametrize("vector", ENVELOPES, ids=[v["name"] for v in ENVELOPES])
def test_open(vector: dict[str, Any]) -> None:
    keyring = generate.keyring_from_json(vector["opener"])
    data = bytes.fromhex(vector["envelope"])
    assert generate.outcome_v2(keyring, data) == vector["expected"]
    result = open_envelope(keyring, data) if vector["expected"] in ("ok", "unopenable") else None
    if vector["expected"] == "unopenable":
        assert result == Unopenable(**vector["unopenable"])
    elif vector["expected"] == "ok":
        assert isinstance(result, OpenedV2)
        got = (result.payload.hex(), result.sender.hex(), result.seq, result.prev.hex(), result.digest.hex())
        assert got == (vector["payload"], vector["sender"], vector["seq"], vector["prev"], vector["digest"])
        assert (result.from_self, result.dev.hex(), result.kid) == (
            vector["from_self"],
            vector["dev"],
            vector["kid"],
        )


@pytest.mark.parametrize("vector", OK, ids=[v["name"] for v in OK])
def test_seal_reproduces_the_exact_bytes(vector: dict[str, Any]) -> None:
    sealed = generate.seal_v2_from_json(vector["seal"])
    assert sealed.data.hex() == vector["envelope"]
    assert sealed.id == vector["envelope_id"] == hashlib.blake2b(sealed.data, digest_size=32).hexdigest()
    assert sealed.digest.hex() == vector["digest"]


def test_intermediates_recomputed_independently() -> None:
    vector = ENVELOPES[0]
    inputs, mid = vector["seal"], vector["intermediates"]
    data = bytes.fromhex(vector["envelope"])
    rng = generate.CounterRng(inputs["rng_seed"])
    e, k = rng(32), rng(32)
    big_e = x25519_base(e)
    assert (e.hex(), big_e.hex(), k.hex()) == (mid["e"], mid["E"], mid["K"])
    assert data[1:33] == big_e and data[33:65].hex() == mid["C"] == b2(big_e, b"tuisns2-commit", k).hex()
    n = struct.unpack_from(">H", data, 65)[0]
    assert data[0] == 2 and len(data) == 67 + 172 * n + 256 + 16
    assert mid["H"] == b2(data[:67] + data[67 + 172 * n :], b"tuisns2-header").hex()
    sender = Identity(secret=bytes.fromhex(inputs["sender_secret"]))
    (reader,) = inputs["recipients"]
    r_pub, pk_pub, kid = bytes.fromhex(reader["public"]), bytes.fromhex(reader["prekey"]), reader["kid"]
    ds, dp = x25519(e, r_pub), x25519(e, pk_pub)
    rs = mid["recipient_slot"]
    assert (ds.hex(), dp.hex()) == (rs["ds"], rs["dp"])
    assert kid == int.from_bytes(b2(pk_pub, b"tuisns2-keyid", size=4), "big")
    hm = b2(big_e + r_pub, b"tuisns2-hint", ds, 12)
    assert (hm[:8].hex(), hm[8:].hex()) == (rs["hint"], rs["mask"])
    assert rs["sel"] == (int.from_bytes(hm[8:], "big") ^ kid).to_bytes(4, "big").hex()
    assert rs["slot_key"] == b2(big_e + r_pub + struct.pack(">I", kid), b"tuisns2-slot", ds + dp).hex()
    assert rs["dev"] == b2(r_pub, b"tuisns2-devtag", bytes.fromhex(inputs["devtag_key"]), 8).hex()
    mac_input = (
        bytes.fromhex(mid["H"])
        + sender.public
        + r_pub
        + struct.pack(">I", kid)
        + bytes.fromhex(rs["dev"])
        + struct.pack(">Q", reader["seq"])
        + bytes.fromhex(reader["prev"])
    )
    assert rs["mac"] == b2(mac_input, b"tuisns2-mac", x25519(sender.secret, r_pub)).hex()
    # the recipient slot is in the envelope: its hint in the table, its selector beside it
    hints = [data[67 + 8 * i : 75 + 8 * i] for i in range(n)]
    index = hints.index(hm[:8])
    assert data[67 + 8 * n + 4 * index : 67 + 8 * n + 4 * index + 4].hex() == rs["sel"]
    ss = mid["self_slot"]
    khself = b2(b"", b"tuisns2-selfhint", sender.secret)
    assert ss["h"] == khself.hex()
    hm_self = b2(big_e + sender.public, b"tuisns2-hint", khself, 12)
    assert ss["hint"] == hm_self[:8].hex() and hm_self[:8] in hints
    self_kid, kself = inputs["self_kid"], bytes.fromhex(inputs["self_key"])
    assert (
        ss["slot_key"]
        == b2(big_e + sender.public + struct.pack(">I", self_kid), b"tuisns2-slot", kself).hex()
    )


def test_ratchet_and_derived_values_recomputed_independently() -> None:
    ratchet = FILE["ratchet"]
    seed = bytes.fromhex(ratchet[0]["seed"])
    for row in ratchet:
        i = row["epoch"]
        assert row["seed"] == seed.hex()
        pk = b2(struct.pack(">I", i), b"tuisns2-prekey", seed)
        kself = b2(struct.pack(">I", i), b"tuisns2-selfkey", seed)
        public = x25519_base(pk)
        assert (row["prekey_secret"], row["prekey_public"], row["self_key"]) == (
            pk.hex(),
            public.hex(),
            kself.hex(),
        )
        assert row["prekey_id"] == int.from_bytes(b2(public, b"tuisns2-keyid", size=4), "big")
        assert row["self_key_id"] == int.from_bytes(
            b2(struct.pack(">I", i), b"tuisns2-keyid", kself, 4), "big"
        )
        seed = b2(struct.pack(">I", i + 1), b"tuisns2-seed", seed)
    d = FILE["derived"]
    secret = bytes.fromhex(d["identity_secret"])
    assert d["self_hint_key"] == b2(b"", b"tuisns2-selfhint", secret).hex()
    assert d["devid"] == b2(bytes.fromhex(d["first_device_public"]), b"tuisns2-devid", size=8).hex()
    devtag = b2(bytes.fromhex(d["reader_public"]), b"tuisns2-devtag", bytes.fromhex(d["devtag_key"]), 8)
    assert d["devtag"] == devtag.hex()


RESET: dict[str, Any] = FILE["reset"]


def test_reset_seal_reproduces_the_exact_bytes() -> None:
    """A reset envelope (docs/protocol.md, "Device removal and resets") sealed again from its inputs."""
    from tui_sns.crypto.envelope_v2 import seal_reset

    inputs = RESET["seal"]
    sealed = seal_reset(
        Identity(secret=bytes.fromhex(RESET["identity_secret"])),
        [bytes.fromhex(d) for d in inputs["device_secrets"]],
        bytes.fromhex(inputs["devid"]),
        [bytes.fromhex(d) for d in inputs["devices"]],
        bytes.fromhex(inputs["payload"]),
        rng=generate.CounterRng(inputs["rng_seed"]),
    )
    assert sealed.data.hex() == RESET["envelope"] and sealed.id == RESET["envelope_id"]


def test_reset_opens_on_each_remaining_device_and_not_on_the_removed_one() -> None:
    from tui_sns.crypto.envelope_v2 import Keyring, OpenedReset, open_v2

    me = Identity(secret=bytes.fromhex(RESET["identity_secret"]))
    data = bytes.fromhex(RESET["envelope"])
    for want in RESET["opened"]:
        ring = Keyring(me)
        ring.device_keys = [bytes.fromhex(want["device_secret"])]
        got = open_v2(ring, data)
        assert isinstance(got, OpenedReset)
        assert got.payload.hex() == RESET["seal"]["payload"] and got.sender == me.public
        assert (got.device_key.hex(), [k.hex() for k in got.device_keys], got.to_device_key.hex()) == (
            want["device_key"],
            want["device_keys"],
            want["to_device_key"],
        )
        assert got.dev.hex() == want["dev"] == RESET["seal"]["devid"]
    gone = Keyring(me)
    gone.device_keys = [bytes.fromhex(RESET["removed_device_secret"])]
    assert open_v2(gone, data) is None and RESET["removed_device_result"] == "not_for_me"


def test_reset_marker_and_device_slot_recomputed_independently() -> None:
    """The marker is the self hint with selector 0xFFFFFFFF; a device slot's hint is keyed with
    X25519(d, E) over E ‖ D and its selector is 0 XOR mask — recomputed with hashlib and X25519."""
    me = Identity(secret=bytes.fromhex(RESET["identity_secret"]))
    data = bytes.fromhex(RESET["envelope"])
    mid = RESET["intermediates"]
    eph = data[1:33]
    assert eph.hex() == mid["E"]
    n = struct.unpack(">H", data[65:67])[0]
    hints = [data[67 + 8 * i : 75 + 8 * i] for i in range(n)]
    sels = [data[67 + 8 * n + 4 * i : 71 + 8 * n + 4 * i] for i in range(n)]
    khself = b2(b"", b"tuisns2-selfhint", key=me.secret)
    hm = b2(eph + me.public, b"tuisns2-hint", key=khself, size=12)
    assert hm[:8].hex() == mid["marker"]["hint"]
    i = hints.index(hm[:8])
    assert int.from_bytes(sels[i], "big") ^ int.from_bytes(hm[8:], "big") == 0xFFFFFFFF
    device = bytes.fromhex(RESET["opened"][0]["device_secret"])
    ds = x25519(device, eph)
    assert ds.hex() == mid["device_1_slot"]["ds"]
    dhm = b2(eph + x25519_base(device), b"tuisns2-hint", key=ds, size=12)
    assert dhm[:8].hex() == mid["device_1_slot"]["hint"]
    matches = [j for j, h in enumerate(hints) if h == dhm[:8]]
    assert len(matches) == 2  # one slot per sending key (current and previous)
    assert all(sels[j] == dhm[8:] for j in matches)  # selector 0 XOR mask
