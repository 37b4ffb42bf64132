"""What a newcomer's trial found confusing or risky in the CLI (end of the issue 8–13 round)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLI = Callable[..., Any]


def test_backup_never_overwrites_an_existing_file(home: Path, cli: CLI, tmp_path: Path) -> None:
    target = tmp_path / "alice.bak"
    assert cli(home, "backup", str(target)).code == 0
    first = target.read_bytes()
    r = cli(home, "backup", str(target))
    assert r.code == 1 and "already exists" in r.err and len(r.err_lines) == 1
    assert target.read_bytes() == first  # the earlier backup is untouched
    r = cli(home, "backup", str(tmp_path / "no-such-dir" / "x.bak"))
    assert r.code == 1 and "no-such-dir is not a directory" in r.err and ".tui-sns-backup" not in r.err


def test_a_too_short_id_prefix_says_how_long_it_must_be(home: Path, cli: CLI) -> None:
    entry = cli(home, "post", "--body", "hello").out.strip()
    r = cli(home, "show", entry[:3])
    assert r.code == 1 and "at least its first 4 characters" in r.err
    assert cli(home, "show", entry[:4]).code == 0


def test_a_circle_named_like_a_contact_names_no_option_it_does_not_have(
    home: Path, cli: CLI, make_identity: Callable[..., Path], card_of: Callable[..., str]
) -> None:
    assert cli(home, "contacts", "add", card_of(make_identity("bob")), "--name", "Bob").code == 0
    r = cli(home, "circles", "create", "Bob")
    assert r.code == 1 and "share names" in r.err and "--name" not in r.err


def test_a_damaged_key_file_is_not_only_a_wrong_passphrase(home: Path, cli: CLI) -> None:
    """A damaged store.key fails its AEAD exactly as a wrong passphrase does: the message says both."""
    key = home / "store.key"
    data = json.loads(key.read_text())
    wrapped = data["wrapped"]
    data["wrapped"] = ("0" if wrapped[0] != "0" else "1") + wrapped[1:]
    key.write_text(json.dumps(data))
    r = cli(home, "timeline")
    assert r.code == 2 and "wrong passphrase" in r.err and "store.key may be damaged" in r.err


@pytest.mark.parametrize("args", [["whoami"], ["timeline"]])
def test_a_wrong_passphrase_is_still_one_line_and_status_2(
    home: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("TUI_SNS_PASSPHRASE", "wrong")
    r = cli(home, *args)
    assert r.code == 2 and len(r.err_lines) == 1


def test_show_json_gives_the_entry_and_its_comments_exactly(home: Path, cli: CLI) -> None:
    """Comments could only be read through `show`, which had no --json: scripts got no exact text."""
    entry = cli(home, "post", "--title", "T\x1b]0;x\x07", "--body", "line 1\nline 2").out.strip()
    comment = cli(home, "comment", entry, "--body", "a [b]remark[/b]\ttabbed").out.strip()
    r = cli(home, "show", entry, "--json")
    assert r.code == 0, r.err
    shown = json.loads(r.out)
    assert shown["id"] == entry and shown["title"] == "T\x1b]0;x\x07" and shown["body"] == "line 1\nline 2"
    assert shown["author"] == "me" and shown["readers"] == [] and shown["unread"] is False
    assert [(c["id"], c["body"], c["mine"]) for c in shown["comments"]] == [
        (comment, "a [b]remark[/b]\ttabbed", True)
    ]
    assert "\x1b" not in r.out  # exact after decoding, never raw on the terminal
