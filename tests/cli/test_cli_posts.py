"""post, timeline and show through the command line."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

CLI = Callable[..., Any]


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each new entry is one minute younger than the one before: "newest first" is then unambiguous."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    ticks = itertools.count()
    monkeypatch.setattr(
        "tui_sns.core.diary.now_iso", lambda: (start + timedelta(minutes=next(ticks))).isoformat()
    )


@pytest.fixture
def alice(make_identity: Callable[..., Path], befriend: Callable[..., None], cli: CLI) -> Path:
    home = make_identity("alice")
    for name in ("bob", "carol"):
        befriend(home, make_identity(name))
    assert cli(home, "circles", "create", "close").code == 0
    assert cli(home, "circles", "add", "close", "bob").code == 0
    return home


def _post(cli: CLI, home: Path, *args: str, stdin: str | None = None) -> str:
    r = cli(home, "post", *args, stdin=stdin)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 1 and lines[0].strip() == lines[0] and lines[0]  # only the id on stdout
    return str(lines[0])


def _timeline(cli: CLI, home: Path, *args: str) -> list[dict[str, Any]]:
    r = cli(home, "timeline", "--json", *args)
    assert r.code == 0, r.err
    return list(r.json())


def _export_count(cli: CLI, home: Path, tmp_path: Path) -> int:
    bundle = tmp_path / "out.bundle"
    r = cli(home, "outbox", "export", str(bundle))
    assert r.code == 0, r.err
    from tui_sns.core.exchange import unpack_bundle

    return len(unpack_bundle(bundle.read_bytes()))


def test_post_prints_its_id_and_no_to_means_me_alone(alice: Path, cli: CLI, tmp_path: Path) -> None:
    r = cli(alice, "post", "--title", "Note", "--body", "to myself")
    assert r.code == 0
    post_id = r.out.strip()
    assert "alone" in r.err
    [entry] = _timeline(cli, alice)
    assert entry["id"] == post_id
    assert entry["audience"] == {"circles": [], "contacts": []}
    show = cli(alice, "show", post_id)
    assert show.code == 0
    assert "Readable by: you alone" in show.out.splitlines()
    assert "to myself" in show.out
    assert _export_count(cli, alice, tmp_path) == 0  # nothing sealed for anybody


def test_body_from_stdin(alice: Path, cli: CLI) -> None:
    post_id = _post(cli, alice, "--title", "piped", stdin="line one\nline two\n")
    [entry] = _timeline(cli, alice)
    assert entry["id"] == post_id
    assert entry["body"] == "line one\nline two\n"
    assert entry["title"] == "piped"


def test_empty_entry_is_refused(alice: Path, cli: CLI) -> None:
    r = cli(alice, "post", stdin="  \n")
    assert r.code == 1 and len(r.err_lines) == 1
    assert _timeline(cli, alice) == []


def test_unknown_audience_stores_nothing(alice: Path, cli: CLI, tmp_path: Path) -> None:
    for to in (["nobody"], ["close", "nobody"], ["Bob"], ["me"]):
        args = [a for name in to for a in ("--to", name)]
        r = cli(alice, "post", "--body", "secret", *args)
        assert r.code == 1, to
        assert len(r.err_lines) == 1 and to[-1] in r.err
        assert r.out == ""
        assert _timeline(cli, alice) == []
        assert _export_count(cli, alice, tmp_path) == 0


@pytest.mark.usefixtures("ticking_clock")
def test_timeline_json_fields_order_and_circle_filter(alice: Path, cli: CLI, tmp_path: Path) -> None:
    first = _post(cli, alice, "--to", "close", "--title", "t1", "--body", "b1")
    second = _post(cli, alice, "--to", "carol", "--body", "b2")
    third = _post(cli, alice, "--body", "b3")
    fourth = _post(cli, alice, "--to", "close", "--to", "carol", "--body", "b4")
    timeline = _timeline(cli, alice)
    assert [e["id"] for e in timeline] == [fourth, third, second, first]
    for entry in timeline:
        assert set(entry) == {"id", "author", "title", "body", "created", "audience", "unread"}
        assert entry["author"] == "me" and entry["unread"] is False  # mine are never unread
        assert datetime.fromisoformat(entry["created"]).tzinfo is not None
        assert set(entry["audience"]) == {"circles", "contacts"}
    created = [datetime.fromisoformat(e["created"]) for e in timeline]
    assert created == sorted(created, reverse=True)
    by_id = {e["id"]: e for e in timeline}
    assert by_id[first] == {
        "id": first,
        "author": "me",
        "title": "t1",
        "body": "b1",
        "created": by_id[first]["created"],
        "audience": {"circles": ["close"], "contacts": []},
        "unread": False,
    }
    assert by_id[second]["audience"] == {"circles": [], "contacts": ["carol"]}
    assert by_id[fourth]["audience"] == {"circles": ["close"], "contacts": ["carol"]}
    assert [e["id"] for e in _timeline(cli, alice, "--circle", "close")] == [fourth, first]
    r = cli(alice, "timeline", "--circle", "nosuch")
    assert r.code == 1 and len(r.err_lines) == 1 and "nosuch" in r.err
    text = cli(alice, "timeline")
    assert text.code == 0 and [line.split()[0] for line in text.out.splitlines()] == [
        fourth,
        third,
        second,
        first,
    ]
    assert _export_count(cli, alice, tmp_path) == 3  # one envelope per entry with readers


def test_show_lists_the_people_who_can_read(alice: Path, cli: CLI) -> None:
    post_id = _post(cli, alice, "--to", "close", "--to", "carol", "--title", "Hello", "--body", "text")
    r = cli(alice, "show", post_id)
    assert r.code == 0, r.err
    assert "Readable by: you, bob, carol" in r.out.splitlines()
    assert "Hello" in r.out and "text" in r.out
    assert cli(alice, "show", post_id[:6]).code == 0  # a unique prefix is enough
    # membership changes later do not rewrite who could read an entry already sealed
    assert cli(alice, "circles", "remove", "close", "bob").code == 0
    assert "Readable by: you, bob, carol" in cli(alice, "show", post_id).out.splitlines()
    missing = cli(alice, "show", "0000000000000000")
    assert missing.code == 1 and len(missing.err_lines) == 1


def test_a_too_long_title_is_refused(alice: Path, cli: CLI) -> None:
    r = cli(alice, "post", "--title", "t" * 501, "--body", "x")
    assert r.code == 1 and len(r.err_lines) == 1
    assert _timeline(cli, alice) == []


def test_posting_to_an_empty_circle_says_nobody_will_read_it(alice: Path, cli: CLI, tmp_path: Path) -> None:
    assert cli(alice, "circles", "create", "empty").code == 0
    r = cli(alice, "post", "--to", "empty", "--body", "into the void")
    assert r.code == 0, r.err
    assert "Nobody is in empty: readable by you alone." in r.err
    assert _export_count(cli, alice, tmp_path) == 0
