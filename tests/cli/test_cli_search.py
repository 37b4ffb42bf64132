"""`tui-sns search QUERY [--json]`: the timeline's lines and JSON fields, for the entries that match."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

CLI = Callable[..., Any]


def test_search_json_has_the_timeline_fields(make_identity: Callable[..., Path], cli: CLI) -> None:
    home = make_identity("alice")
    assert cli(home, "post", "--title", "Tea notes", "--body", "A floral oolong").code == 0
    assert cli(home, "post", "--title", "Quarry", "--body", "slab climbing").code == 0
    found = cli(home, "search", "oolong", "--json")
    assert found.code == 0, found.err
    entries = found.json()
    timeline = {e["id"]: e for e in cli(home, "timeline", "--json").json()}
    assert [e["title"] for e in entries] == ["Tea notes"]
    assert entries[0] == timeline[entries[0]["id"]]  # the same fields, the same values
    plain = cli(home, "search", "quarry")
    assert plain.code == 0 and "Quarry" in plain.out and "Tea notes" not in plain.out
    nothing = cli(home, "search", '"NEAR(')
    assert nothing.code == 0 and nothing.out == "" and "No entry" in nothing.err
    assert cli(home, "search", "x", "--circle", "nope").code != 0


def test_search_lines_are_safe_lines(make_identity: Callable[..., Path], cli: CLI) -> None:
    home = make_identity("alice")
    assert cli(home, "post", "--title", "oolong\x1b[31m\nforged  row", "--body", "tea").code == 0
    found = cli(home, "search", "oolong")
    assert found.code == 0, found.err
    assert len(found.out.splitlines()) == 1 and "\x1b" not in found.out, repr(found.out)
