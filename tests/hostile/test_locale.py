"""Issue 8 §4: under a terminal encoding that cannot show everything, output never fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PASSPHRASE = "correct horse battery staple"


def _run(home: Path, *args: str, encoding: str = "latin-1") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}
    env.update(PYTHONIOENCODING=encoding, LC_ALL="C", TUI_SNS_PASSPHRASE=PASSPHRASE, TUI_SNS_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "tui_sns", "--home", str(home), *args],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_timeline_and_show_under_a_non_utf8_locale(
    people: Callable[..., Any], tmp_path: Path, encoding: str
) -> None:
    """Seen: under LC_ALL=en_US.ISO-8859-1, `timeline` and `show` crashed with UnicodeEncodeError on
    an entry holding an emoji."""
    ann = people("ann")
    entry = ann.diary.post("climbing today 🧗 with Zoë — 北京", title="Crag 🧗").id
    ann.close()
    home = tmp_path / "home-ann"
    for args in (("timeline",), ("show", entry), ("timeline", "--json")):
        r = _run(home, *args, encoding=encoding)
        assert r.returncode == 0, r.stderr.decode(encoding, "replace")
        assert b"Traceback" not in r.stderr
        out = r.stdout.decode(encoding)  # everything written is in the terminal's encoding
        assert "Crag ?" in out or '"Crag' in out


def test_post_with_undecodable_stdin_is_one_line(people: Callable[..., Any], tmp_path: Path) -> None:
    """Latin-1 bytes piped into `post` under a UTF-8 locale: one line, no traceback, nothing stored."""
    ann = people("ann")
    ann.close()
    home = tmp_path / "home-ann"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}
    env.update(PYTHONIOENCODING="utf-8", TUI_SNS_PASSPHRASE=PASSPHRASE, TUI_SNS_HOME=str(home))
    r = subprocess.run(
        [sys.executable, "-m", "tui_sns", "--home", str(home), "post"],
        input="café".encode("latin-1"),
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and "not valid utf-8" in err, err
    assert not list(home.glob("crash-*.log"))  # expected: no crash report
