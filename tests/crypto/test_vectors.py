"""Known-answer vectors (tests/vectors/envelope_v1.json): they pin the v1 wire format."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tui_sns.crypto.envelope import Recipient, open_envelope, seal
from tui_sns.crypto.errors import ForgedEnvelope, MalformedEnvelope, UnsupportedVersion
from tui_sns.crypto.keys import Identity

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors"
_spec = importlib.util.spec_from_file_location("tuisns_kat_generate", VECTOR_DIR / "generate.py")
assert _spec is not None and _spec.loader is not None
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

VECTORS: list[dict[str, Any]] = json.loads((VECTOR_DIR / "envelope_v1.json").read_text())["vectors"]
EXPECTED_ERRORS = {
    "malformed": MalformedEnvelope,
    "unsupported_version": UnsupportedVersion,
    "forged": ForgedEnvelope,
}


def test_every_kind_of_result_is_covered() -> None:
    kinds = {v["expected"] for v in VECTORS}
    assert kinds == {"ok", "not_for_me", "malformed", "unsupported_version", "forged"}
    assert len({v["name"] for v in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_open(vector: dict[str, Any]) -> None:
    me = Identity(secret=bytes.fromhex(vector["opener_secret"]))
    data = bytes.fromhex(vector["envelope"])
    expected = vector["expected"]
    if expected in EXPECTED_ERRORS:
        with pytest.raises(EXPECTED_ERRORS[expected]):
            open_envelope(me, data)
        return
    opened = open_envelope(me, data)
    if expected == "not_for_me":
        assert opened is None
        return
    assert expected == "ok" and opened is not None
    assert opened.payload.hex() == vector["payload"]
    assert opened.sender.hex() == vector["sender"]
    assert (opened.seq, opened.prev.hex(), opened.digest.hex(), opened.from_self) == (
        vector["seq"],
        vector["prev"],
        vector["digest"],
        vector["from_self"],
    )


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if v["expected"] == "ok"],
    ids=[v["name"] for v in VECTORS if v["expected"] == "ok"],
)
def test_seal_reproduces_the_exact_bytes(vector: dict[str, Any]) -> None:
    inputs = vector["seal"]
    sealed = seal(
        Identity(secret=bytes.fromhex(inputs["sender_secret"])),
        [
            Recipient(bytes.fromhex(r["public"]), r["seq"], bytes.fromhex(r["prev"]))
            for r in inputs["recipients"]
        ],
        bytes.fromhex(inputs["payload"]),
        self_seq=inputs["self_seq"],
        rng=generate.CounterRng(inputs["rng_seed"]),
    )
    assert sealed.data.hex() == vector["envelope"]
    assert sealed.id == vector["envelope_id"]
    assert sealed.digest.hex() == vector["digest"]


def test_file_is_what_the_generator_writes() -> None:
    assert (VECTOR_DIR / "envelope_v1.json").read_text() == generate.render()
