"""Unread state through the CLI: listing never changes it, `show` marks the entry read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

CLI = Callable[..., Any]


def _ok(r: Any) -> Any:
    assert r.code == 0, r.err
    return r


def test_timeline_lists_unread_without_marking_and_show_marks_read(
    make_identity: Callable[..., Path], befriend: Callable[..., None], cli: CLI, tmp_path: Path
) -> None:
    alice, bob = make_identity("alice"), make_identity("bob")
    befriend(alice, bob)
    received = _ok(cli(bob, "post", "--to", "alice", "--title", "Hi", "--body", "from bob")).out.strip()
    _ok(cli(bob, "outbox", "export", str(tmp_path / "b.bundle")))
    _ok(cli(alice, "inbox", "import", str(tmp_path / "b.bundle")))
    mine = _ok(cli(alice, "post", "--title", "Mine", "--body", "to myself")).out.strip()

    for _ in range(2):  # listing twice: still unread (reading a list changes nothing)
        listed = {e["title"]: e for e in _ok(cli(alice, "timeline", "--json")).json()}
        assert listed["Hi"]["unread"] is True and listed["Mine"]["unread"] is False
        lines = {line.split()[0]: line for line in _ok(cli(alice, "timeline")).out.splitlines()}
        assert lines[listed["Hi"]["id"]].split()[2] == "*"
        assert lines[mine].split()[2] == "me:"
    assert received  # bob's local id for it; alice's differs

    shown = _ok(cli(alice, "show", listed["Hi"]["id"][:8]))
    assert "from bob" in shown.out
    listed = {e["title"]: e for e in _ok(cli(alice, "timeline", "--json")).json()}
    assert listed["Hi"]["unread"] is False
    assert "*" not in _ok(cli(alice, "timeline")).out
    _ok(cli(alice, "show", listed["Hi"]["id"]))  # again: nothing to mark, still fine
