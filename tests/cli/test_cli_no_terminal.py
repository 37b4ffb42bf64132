"""The full-screen app (no command, and ``demo``) needs a terminal on stdin and stdout.

Seen: ``tui-sns demo </dev/null`` started the app into a pipe and never ended; under ``timeout`` it
left a crash log ("RuntimeError: no running event loop" from Textual's SIGCONT handler).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("started without a terminal")


@pytest.mark.parametrize("argv", [[], ["demo"], ["--persona", "work"]])
def test_the_app_refuses_without_a_terminal(
    argv: list[str], tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_sns.demo
    import tui_sns.screens.app

    monkeypatch.setattr(tui_sns.demo, "setup_demo", _never)
    monkeypatch.setattr(tui_sns.screens.app, "run_app", _never)
    home = tmp_path / "fresh-home"
    result = cli(home, *argv)
    assert result.code == 2, result.err
    assert result.out == ""
    assert result.err_lines == [
        "tui-sns: the app needs a terminal (stdin and stdout are not one): "
        "use its commands instead, listed by tui-sns --help"
    ]
    assert not home.exists()


def test_demo_help_names_the_personas(cli: Callable[..., Any]) -> None:
    result = cli(None, "demo", "--help")
    assert result.code == 0
    for name in ("Sam", "Bob", "Kenji"):
        assert name in result.out
