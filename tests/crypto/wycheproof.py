"""Loading the Wycheproof vectors from ../shared/vectors (relative to the project root)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
WYCHEPROOF = VECTORS / "wycheproof"


def load(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(group, test) pairs of a Wycheproof file; skips the calling test when the file is absent."""
    path = WYCHEPROOF / name
    if not path.exists():
        pytest.skip(f"Wycheproof vectors not present at {path} (they live outside the repository)")
    data = json.loads(path.read_text())
    return [(group, test) for group in data["testGroups"] for test in group["tests"]]


LOW_ORDER_FLAGS = {"LowOrderPublic", "ZeroSharedSecret"}
