"""Store-level refusals as the command line reports them: one clear line, a non-zero status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_sns.store import Store
from tui_sns.store.schema import LATEST

CLI = Callable[..., Any]


def _one_line_error(r: Any, *words: str) -> None:
    assert r.code == 1, (r.out, r.err)
    assert len(r.err_lines) == 1, r.err
    assert r.out == ""
    for word in words:
        assert word in r.err


def test_rolled_back_store_is_refused(
    home: Path, cli: CLI, tmp_path: Path, file_snapshot: Callable[[Path], Any]
) -> None:
    assert cli(home, "post", "--body", "one").code == 0
    shutil.copy2(home / "store.db", tmp_path / "old.db")
    assert cli(home, "post", "--body", "two").code == 0
    shutil.copy2(tmp_path / "old.db", home / "store.db")
    before = file_snapshot(home)
    for args in (["timeline"], ["post", "--body", "three"]):
        _one_line_error(cli(home, *args), "old copy of the database")
    assert file_snapshot(home) == before


def test_tampered_key_file_counter_is_refused(home: Path, cli: CLI) -> None:
    path = home / "store.key"
    obj = json.loads(path.read_text())
    obj["counter"] -= 1
    path.write_text(json.dumps(obj))
    _one_line_error(cli(home, "whoami"), "counter")


def test_missing_key_file_is_refused(home: Path, cli: CLI) -> None:
    (home / "store.key").unlink()
    _one_line_error(cli(home, "whoami"), "store.key")


def test_store_newer_than_the_program_is_refused(home: Path, cli: CLI, passphrase: str) -> None:
    with Store.open(home, passphrase) as store, store.write() as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 7}")
    _one_line_error(cli(home, "whoami"), "newer than this program")
