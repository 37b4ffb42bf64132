"""Device-link code and link envelopes (docs/design-v2.md §9.2, §9.3, vectors §16.5).

The known-answer values in tests/vectors/envelope_v2.json ("link") are recomputed here with hashlib,
X25519 and a separate base32 reading (not through the modules); the link envelopes are sealed again
byte for byte; the code's text form is checked against typing errors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from tui_sns.crypto.envelope import open_envelope
from tui_sns.crypto.envelope_v2 import Keyring, open_link, seal_link
from tui_sns.crypto.errors import ForgedEnvelope, LinkCodeMistyped
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.linking import ALPHABET, LinkCode, parse_code, parse_qr, show_sas
from tui_sns.crypto.primitives import aead_decrypt, aead_encrypt, x25519, x25519_base

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors"
_spec = importlib.util.spec_from_file_location("tuisns_kat_generate_link", VECTOR_DIR / "generate.py")
assert _spec is not None and _spec.loader is not None
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

LINK: dict[str, Any] = json.loads((VECTOR_DIR / "envelope_v2.json").read_text())["link"]
CODE = LinkCode(bytes.fromhex(LINK["code_secret"]))


def b2(data: bytes, person: bytes, key: bytes = b"", size: int = 32) -> bytes:
    return hashlib.blake2b(data, key=key, person=person, digest_size=size).digest()


def test_derived_values_recomputed_independently() -> None:
    c = bytes.fromhex(LINK["code_secret"])
    a, b = bytes.fromhex(LINK["a"]), bytes.fromhex(LINK["b"])
    big_a, big_b = bytes.fromhex(LINK["A"]), bytes.fromhex(LINK["B"])
    assert (x25519_base(a), x25519_base(b)) == (big_a, big_b)
    assert LINK["checksum"] == b2(c, b"tuisns2-linkchk", size=2).hex()
    assert LINK["Kl"] == b2(b"", b"tuisns2-link", c).hex()
    assert LINK["commitment"] == b2(big_a, b"tuisns2-linkcom", c).hex()
    assert LINK["Ks"] == b2(x25519(a, big_b) + big_a + big_b, b"tuisns2-linkkey", c).hex()
    assert LINK["Ks"] == b2(x25519(b, big_a) + big_a + big_b, b"tuisns2-linkkey", c).hex()
    sas = int.from_bytes(b2(big_a + big_b + bytes.fromhex(LINK["devid_B"]), b"tuisns2-linksas", c, 4), "big")
    assert LINK["sas"] == f"{sas % 1_000_000:06d}"
    for shards, shard in LINK["shards"].items():
        assert shard == int.from_bytes(b2(c, b"tuisns2-lshard", size=2), "big") % int(shards)
    # Crockford base32, read back by hand: 55 characters, 272 bits, the 3 spare bits zero
    value = 0
    for ch in LINK["characters"]:
        value = value * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(ch)
    assert value & 7 == 0
    assert (value >> 3).to_bytes(34, "big") == c + bytes.fromhex(LINK["checksum"])
    groups = LINK["text"].split("-")
    assert groups[0] == "tsl1" and [len(g) for g in groups[1:]] == [5] * 11
    assert "".join(groups[1:]) == LINK["characters"]


def test_the_modules_give_the_vector_values() -> None:
    a, big_a, big_b = bytes.fromhex(LINK["a"]), bytes.fromhex(LINK["A"]), bytes.fromhex(LINK["B"])
    assert (CODE.text, CODE.characters, CODE.key.hex()) == (LINK["text"], LINK["characters"], LINK["Kl"])
    assert CODE.commitment(big_a).hex() == LINK["commitment"]
    assert CODE.session_key(a, big_b, big_a, big_b).hex() == LINK["Ks"]
    assert CODE.sas(big_a, big_b, bytes.fromhex(LINK["devid_B"])) == LINK["sas"]
    assert show_sas("048113") == "048 113"


@pytest.mark.parametrize("vector", LINK["envelopes"], ids=[v["name"] for v in LINK["envelopes"]])
def test_link_envelopes_reseal_and_open(vector: dict[str, Any]) -> None:
    inputs, mid = vector["seal"], vector["intermediates"]
    key, sender = bytes.fromhex(inputs["key"]), bytes.fromhex(inputs["sender"])
    sealed = seal_link(
        key, bytes.fromhex(inputs["payload"]), sender=sender, rng=generate.CounterRng(inputs["rng_seed"])
    )
    assert sealed.data.hex() == vector["envelope"] and sealed.id == vector["envelope_id"]
    data = sealed.data
    n = struct.unpack_from(">H", data, 65)[0]
    assert data[0] == 2 and n == 4 and len(data) == 67 + 172 * 4 + 256 + 16
    eph = data[1:33]
    hm = b2(eph + bytes(32), b"tuisns2-hint", key, 12)
    assert (mid["hint"], mid["mask"], mid["sel"]) == (hm[:8].hex(), hm[8:].hex(), hm[8:].hex())
    assert mid["slot_key"] == b2(eph + bytes(32) + bytes(4), b"tuisns2-slot", key).hex()
    index = [data[67 + 8 * i : 75 + 8 * i] for i in range(n)].index(hm[:8])
    assert data[67 + 32 + 4 * index : 67 + 32 + 4 * index + 4] == hm[8:]
    opened = open_link(key, data)
    assert opened is not None
    assert (opened.sender, opened.payload.hex(), opened.digest.hex()) == (sender, inputs["payload"], mid["H"])
    assert open_link(bytes(32), data) is None
    # to anyone else it is an ordinary v2 envelope that is not for them
    assert open_envelope(Keyring(Identity.generate()), data) is None


def test_a_changed_link_envelope_is_forged() -> None:
    vector = LINK["envelopes"][0]
    key, data = bytes.fromhex(vector["seal"]["key"]), bytes.fromhex(vector["envelope"])
    with pytest.raises(ForgedEnvelope):
        open_link(key, data[:-1] + bytes([data[-1] ^ 1]))  # the body's tag
    # a changed header fails every slot box (its associated data): nothing opens
    assert open_link(key, data[:40] + bytes([data[40] ^ 1]) + data[41:]) is None
    # the slot re-encrypted (the link key's holder can) with a bad mac, or a chain position: forged
    slot_key = bytes.fromhex(vector["intermediates"]["slot_key"])
    index = [data[67 + 8 * i : 75 + 8 * i] for i in range(4)].index(
        bytes.fromhex(vector["intermediates"]["hint"])
    )
    start = 67 + 12 * 4 + 160 * index
    plain = aead_decrypt(slot_key, data[start : start + 160], data[:67])
    for pos in (143, 72 + 7):  # the mac's last byte; the low byte of seq
        changed = bytearray(plain)
        changed[pos] ^= 1
        box = aead_encrypt(slot_key, bytes(changed), data[:67])
        with pytest.raises(ForgedEnvelope):
            open_link(key, data[:start] + box + data[start + 160 :])


def test_code_text_round_trip_and_accepted_forms() -> None:
    assert parse_code(CODE.text) == CODE
    for case in LINK["accepted"]:
        assert parse_code(case["text"]) == CODE, case["why"]
    for _ in range(50):
        code = LinkCode.generate()
        assert parse_code(code.text) == code and len(code.text) == 70


@pytest.mark.parametrize("case", LINK["mistyped"], ids=[c["why"] for c in LINK["mistyped"]])
def test_mistyped_codes_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(LinkCodeMistyped, match="mistyped"):
        parse_code(case["text"])


def test_every_single_typo_of_the_vector_code_is_caught() -> None:
    chars = LINK["characters"]
    for i in range(len(chars)):
        for ch in ALPHABET:
            if ch != chars[i]:
                with pytest.raises(LinkCodeMistyped):
                    parse_code(chars[:i] + ch + chars[i + 1 :])
        if i + 1 < len(chars) and chars[i] != chars[i + 1]:
            with pytest.raises(LinkCodeMistyped):
                parse_code(chars[:i] + chars[i + 1] + chars[i] + chars[i + 2 :])


@pytest.mark.parametrize("text", ["", "tsl1-", "x" * 10_000, "tsl1-" + "0" * 55, "\x00" * 55])
def test_garbage_is_mistyped_not_a_crash(text: str) -> None:
    with pytest.raises(LinkCodeMistyped):
        parse_code(text)


def test_qr_form() -> None:
    uri = parse_qr(CODE.qr_text("https://relay.example:8443/a", "s3cr&t"))
    assert (uri.code, uri.relay, uri.credential) == (CODE, "https://relay.example:8443/a", "s3cr&t")
    assert parse_qr(CODE.qr_text("http://127.0.0.1:9")).credential is None
    for bad in ("tuisns-link:2:" + CODE.characters, CODE.text, "tuisns-link:1:" + CODE.characters):
        with pytest.raises(LinkCodeMistyped):
            parse_qr(bad)
