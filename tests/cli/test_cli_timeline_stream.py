"""`tui-sns timeline` streams (issue 15 §5): entries are read in keyset pages and written as they are
read, `--limit N` and `--before ID` page through the timeline, and the JSON stays the same contract.

Seen: `timeline --json` loaded every entry before writing anything (4.6 s and 463 MiB at 100k entries).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.diary import post_json
from tui_sns.core.session import Session
from tui_sns.store import Store
from tui_sns.store import posts as post_store

PASS = "correct horse battery staple"
COUNT = 1234  # more than two pages


@pytest.fixture
def big(make_identity: Callable[..., Path]) -> Path:
    home = make_identity("alice")
    with Session.unlock(home, PASS) as s, s.store.write():
        for i in range(COUNT):
            post_store.insert_post(
                s.store,
                post_id=f"{(i * 7919) % 10000:016x}",  # ids not in insertion order
                remote_id=f"r{i}",
                author_id=None,
                title=f"t{i}" if i % 3 else "",
                body=f"body {i}\nsecond line",
                created=f"2026-01-01T00:{i % 11:02d}:00+00:00",  # many entries share a timestamp
                received="2026-01-01T00:00:00+00:00",
                seq=i % 5,
            )
    return home


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of rows each store query returned, while the test runs."""
    counts: list[int] = []
    real = Store.fetchall

    def counting(self: Store, *args: Any, **kwargs: Any) -> Any:
        rows = real(self, *args, **kwargs)
        counts.append(len(rows))
        return rows

    monkeypatch.setattr(Store, "fetchall", counting)
    yield counts


def whole(home: Path) -> list[dict[str, object]]:
    with Session.unlock(home, PASS) as s:
        return [post_json(p) for p in s.diary.timeline()]


def test_timeline_json_is_read_in_pages_and_is_the_same_document(
    big: Path, cli: Callable[..., Any], rows_read: list[int]
) -> None:
    expected = whole(big)
    rows_read.clear()
    result = cli(big, "timeline", "--json")
    assert result.code == 0, result.err
    assert result.out == json.dumps(expected, ensure_ascii=False, indent=2) + "\n"  # byte for byte
    assert len(expected) == COUNT
    assert max(rows_read) <= 500  # a page (post_store.PAGE_SIZE), never the whole timeline in memory


def test_limit_and_before_page_through_the_whole_timeline(big: Path, cli: Callable[..., Any]) -> None:
    expected = whole(big)
    seen: list[dict[str, object]] = []
    args: list[str] = []
    for _ in range(COUNT):  # bounded: each page moves on by at least one entry
        page = cli(big, "timeline", "--json", "--limit", "100", *args)
        assert page.code == 0, page.err
        entries = page.json()
        if not entries:
            break
        assert len(entries) <= 100
        seen.extend(entries)
        args = ["--before", str(entries[-1]["id"])]
    assert seen == expected
    # the text form takes the same options, with its line format unchanged
    text = cli(big, "timeline", "--limit", "3", "--before", str(expected[0]["id"]))
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert [line.split()[0] for line in lines] == [e["id"] for e in expected[1:4]]
    first = expected[1]
    label = first["title"] or str(first["body"]).splitlines()[0][:60]
    assert lines[0] == f"{first['id']}  {first['created']}    me: {label}"


def test_bad_limit_or_before_is_a_clear_error_and_writes_nothing(big: Path, cli: Callable[..., Any]) -> None:
    for args, message in (
        (["--before", "ffffffffffffffff"], "no entry with id"),
        (["--before", "0"], "no entry with id"),
        (["--limit", "0"], "from 1 to"),  # a usage error (exit 2), like every numeric option's
        (["--limit", "-5"], "from 1 to"),
        (["--circle", "nosuch"], "no circle named"),
    ):
        result = cli(big, "timeline", "--json", *args)
        status = 2 if args[0] == "--limit" else 1
        assert result.code == status and message in result.err, (args, result)
        assert result.out == "", args  # not even the opening bracket
        assert "Traceback" not in result.err
    assert cli(big, "timeline", "--json", "--limit", "many").code == 2  # a usage error
    assert len(whole(big)) == COUNT  # nothing lost


def test_an_empty_timeline_is_an_empty_array(
    make_identity: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    home = make_identity("bob")
    result = cli(home, "timeline", "--json")
    assert result.code == 0 and result.out == "[]\n"
    assert cli(home, "timeline", "--json", "--limit", "5").out == "[]\n"


def test_store_pages_are_slices_of_the_whole_timeline_under_any_filter(big: Path) -> None:
    with Session.unlock(big, PASS) as s:
        for only_me in (False, True):
            full = [p.id for p in post_store.timeline(s.store, only_mine_private=only_me)]
            pages = list(post_store.timeline_pages(s.store, only_mine_private=only_me, page_size=97))
            assert all(len(page) <= 97 for page in pages)
            assert [p.id for page in pages for p in page] == full
            for at in (0, 1, 96, 97, 600, len(full) - 1):
                key = post_store.timeline_key(s.store, full[at])
                after = [p.id for page in post_store.timeline_pages(s.store, before=key) for p in page]
                assert after == full[at + 1 :], at
