"""The reset payload's validation and the warning sentences (design-v2 §10; the protocol itself is
tested through a relay in tests/sync/test_device_removal.py)."""

from __future__ import annotations

import json

import pytest

from tui_sns.core.resets import device_warnings, hold_sentence, parse_reset
from tui_sns.crypto.epochs import reset_commitment

SEED = bytes(range(32))


def _payload(**changes: object) -> bytes:
    obj: dict[str, object] = {
        "type": "reset",
        "gen": 3,
        "seed": SEED.hex(),
        "start": 1_800_000_000,
        "end": 1_800_604_800,
        "delete": 1_801_209_600,
        "removed": ["00" * 8],
        "commit": reset_commitment(SEED).hex(),
        "lc": 7,
    }
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


def test_a_valid_reset_parses() -> None:
    p = parse_reset(_payload())
    assert (p.gen, p.seed, p.removed, p.lc) == (3, SEED, (bytes(8),), 7)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "sync"},
        {"gen": -1},
        {"gen": 2**31},
        {"gen": True},
        {"seed": "AB" * 32},
        {"seed": "ab" * 31},
        {"commit": reset_commitment(bytes(32)).hex()},  # not this seed's
        {"commit": ...},
        {"start": 1_800_604_800},  # start == end
        {"end": 1_801_209_601},  # end > delete
        {"end": 1_800_000_000 + 91 * 86400, "delete": 1_800_000_000 + 92 * 86400},  # epoch over 90 days
        {"removed": ["zz" * 8]},
        {"removed": ["00" * 8] * 65},
        {"removed": "00" * 8},
        {"lc": -1},
    ],
)
def test_every_rule_refuses_a_hostile_reset(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        parse_reset(_payload(**changes))


def test_not_json_is_refused() -> None:
    for raw in (b"", b"\xff", b"[]", b"[" * 100_000):
        with pytest.raises(ValueError):
            parse_reset(raw)


def test_the_sentences() -> None:
    assert device_warnings({}) == []
    one, two = device_warnings({"from_removed_device": 1, "stale_generation": 2})
    assert one.startswith("1 envelope from a device you removed was ignored")
    assert two.startswith("2 device-sync envelopes sealed under your keys from before the last reset were")
    assert "tui-sns contacts release Ana" in hold_sentence("Ana")
