"""Issue 8 §4: $EDITOR — a bad command, an editor saving non-UTF-8 bytes, the temporary file."""

from __future__ import annotations

import contextlib
import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_helpers import SIZE, notices, wait_for

EDITOR_SCRIPT = """
import json, os, stat, sys
path = sys.argv[-1]
st = os.stat(path)
with open(sys.argv[1], "w") as log:
    json.dump({"path": path, "mode": stat.S_IMODE(st.st_mode), "before": open(path, "rb").read().decode()}, log)
with open(path, "wb") as f:
    f.write(sys.argv[2].encode("latin-1"))
"""


def _editor(tmp_path: Path, saves: str) -> tuple[str, Path]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT)
    record = tmp_path / "editor-saw.json"
    return f"{sys.executable} {script} {record} '{saves}'", record


async def _composer(app: Any, pilot: Any, text: str) -> Any:
    from textual.widgets import TextArea

    from tui_sns.screens.compose import ComposeScreen

    app.suspend = contextlib.nullcontext  # the headless test driver cannot hand over the terminal
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
    area = app.screen.query_one("#body", TextArea)
    area.text = text
    return area


async def test_unbalanced_quote_in_editor_is_a_notice(
    people: Callable[..., Any], make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: EDITOR='vim "' crashed the app with ValueError."""
    from tui_sns.screens.compose import ComposeScreen

    ann = people("ann")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", 'vim "')
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        area = await _composer(app, pilot, "keep me")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: "$EDITOR cannot be read" in notices(app))
        assert isinstance(app.screen, ComposeScreen) and area.text == "keep me"
    assert not list(ann.store.home.glob(".editing-*"))


async def test_latin1_from_editor_is_kept_with_a_warning(
    people: Callable[..., Any], make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Seen: an editor that saved Latin-1 bytes crashed the app with UnicodeDecodeError after the
    temporary file had been deleted: the text written in the editor was lost."""
    ann = people("ann")
    editor, record = _editor(tmp_path, "café crème")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        area = await _composer(app, pilot, "before")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: "caf" in area.text)
        assert area.text == "caf\ufffd cr\ufffdme"
        await wait_for(pilot, lambda: "not UTF-8" in notices(app))
    saw = json.loads(record.read_text())
    assert Path(saw["path"]).parent == ann.store.home  # not /tmp
    assert saw["mode"] == 0o600 and saw["before"] == "before"
    assert not Path(saw["path"]).exists()  # removed once the text was in the draft
    draft = ann.drafts.load()
    assert draft is not None and draft.body == "caf\ufffd cr\ufffdme"


async def test_edit_file_kept_when_the_draft_cannot_be_saved(
    people: Callable[..., Any], make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ann = people("ann")
    editor, record = _editor(tmp_path, "written in the editor")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor)

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        area = await _composer(app, pilot, "before")
        monkeypatch.setattr(ann.drafts, "save", full)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: "still in" in notices(app))
        assert area.text == "written in the editor"
        kept = Path(json.loads(record.read_text())["path"])
        assert kept.read_text() == "written in the editor"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600


async def test_stale_edit_files_removed_at_start(
    people: Callable[..., Any], make_app: Callable[..., Any]
) -> None:
    from tui_sns.screens.main import MainScreen

    ann = people("ann")
    stale = ann.store.home / ".editing-abc123.md"
    stale.write_text("plaintext from a crashed run")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert not stale.exists()
