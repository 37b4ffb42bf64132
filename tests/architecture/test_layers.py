"""The import contracts in pyproject.toml (docs/architecture.md) hold, and a deliberate violation of each
kind breaks them: run on a copy of the package with one forbidden import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT.exists(), reason="import-linter is not installed (pip install -e '.[test]')"
)


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy, not the installed package
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "tui_sns", tmp_path / "tui_sns", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_the_copy(copy: Path) -> None:
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("crypto/keys.py", "import tui_sns.store.records", "crypto imports nothing of ours"),
        ("store/posts.py", "import tui_sns.core.clock", "store imports only crypto"),
        ("core/diary.py", "import textual.app", "core imports neither screens, cli, textual"),
        ("core/relays.py", "import tui_sns.sync.engine", "core imports neither screens, cli, textual"),
        ("screens/main.py", "import tui_sns.store.posts", "screens and cli reach the store"),
        ("cli/commands.py", "from tui_sns.store import Store", "screens and cli reach the store"),
        ("sync/relay/app.py", "import tui_sns.crypto.envelope", "the relay server imports nothing"),
        ("net/transport.py", "import tui_sns.core.errors", "the relay client (net) imports only crypto"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(
    copy: Path, module: str, line: str, contract: str
) -> None:
    path = copy / "tui_sns" / module
    path.write_text(
        path.read_text(encoding="utf-8") + f"\n{line}  # deliberate violation\n", encoding="utf-8"
    )
    result = lint(copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
