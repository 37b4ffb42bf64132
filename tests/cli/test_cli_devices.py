"""``tui-sns devices list [--json]`` (docs/design-v2.md §9.5): the contract's fields, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_devices_list_json_fields(home: Path, cli: Any) -> None:
    result = cli(home, "devices", "list", "--json")
    assert result.code == 0
    (me,) = result.json()
    assert set(me) == {"name", "devid", "added", "last_seen", "this", "removed"}
    assert me["this"] is True and me["removed"] is False and me["last_seen"] is None
    assert len(me["devid"]) == 16 and int(me["devid"], 16) >= 0
    again = cli(home, "devices", "list", "--json").json()
    assert again == [me]  # the device is made once


def test_devices_list_text(home: Path, cli: Any) -> None:
    result = cli(home, "devices", "list")
    assert result.code == 0
    (line,) = result.out.strip().splitlines()
    assert "(this device)" in line and "added " in line


def test_join_with_a_mistyped_code_creates_nothing(tmp_path: Path, cli: Any) -> None:
    from tui_sns.crypto.linking import LinkCode

    text = LinkCode.generate().text
    typo = text[:-1] + ("0" if text[-1] != "0" else "1")
    new = tmp_path / "new"
    result = cli(new, "devices", "join", typo, "--relay", "http://127.0.0.1:9")
    assert result.code != 0 and "link code mistyped" in result.err
    assert not (new / "store.key").exists()


def test_join_into_a_home_with_an_identity_is_refused(home: Path, cli: Any) -> None:
    from tui_sns.crypto.linking import LinkCode

    result = cli(home, "devices", "join", LinkCode.generate().text, "--relay", "http://127.0.0.1:9")
    assert result.code != 0 and "already exists" in result.err


def test_link_needs_a_relay(home: Path, cli: Any) -> None:
    result = cli(home, "devices", "link")
    assert result.code != 0 and "join a relay first" in result.err
    bad = cli(home, "devices", "link", "--relay", "http://127.0.0.1:9", "--timeout", "2d")
    assert bad.code != 0 and "at most one day" in bad.err
