"""Issue 8 §1, the property: hostile strings in every field of others' text, through every CLI printer
and every screen. No ESC, C1 or other control character reaches the output; nothing raises."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_strings import assert_clean
from hostile_world import build, fields, fresh_session, hostile, screen_fields
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_sns.core.display import is_safe_line, safe_json, safe_line, safe_text

_homes = itertools.count()


# -- the sanitiser itself ------------------------------------------------------------------------------


@given(st.text() | hostile)
def test_safe_line_is_one_clean_line(text: str) -> None:
    line = safe_line(text)
    assert_clean(line, newlines=False)
    assert is_safe_line(line)
    assert len(line) == len(text)  # one character for one: widths barely move


@given(st.text() | hostile, st.integers(min_value=1, max_value=50))
def test_safe_line_limit(text: str, limit: int) -> None:
    assert len(safe_line(text, limit)) <= limit


@given(st.text() | hostile)
def test_safe_text_keeps_lines_and_tabs(text: str) -> None:
    shown = safe_text(text)
    assert_clean(shown)
    assert shown.count("\n") == text.count("\n")
    assert shown.count("\t") == text.count("\t")


@given(st.recursive(st.text() | hostile, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_safe_json_is_exact_and_clean(value: Any) -> None:
    import json

    text = safe_json(value)
    assert_clean(text)
    assert json.loads(text) == value


def test_safe_line_shows_what_it_replaced() -> None:
    assert safe_line("a\x1b[2Jb\nc\u202ed\x9be") == "a␛[2Jb␤c\ufffdd\ufffde"
    assert safe_text("one\r\ntwo\tthree\rX") == "one\ntwo\tthree␍X"
    assert safe_line(None) == "" and safe_line(42) == "42"


# -- every CLI printer -----------------------------------------------------------------------------------

PRINTERS = (
    ("timeline",),
    ("timeline", "--json"),
    ("show", "b0b0b0b0b0b0b0b0"),
    ("show", "a0a0a0a0a0a0a0a0"),
    ("contacts", "list"),
    ("contacts", "list", "--json"),
    ("requests", "list"),
    ("requests", "list", "--json"),
    ("circles", "list"),
    ("circles", "list", "--json"),
    ("whoami",),
    ("status",),
    ("status", "--json"),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=fields)
def test_every_cli_printer_is_safe(f: dict[str, str], cli: Callable[..., Any], tmp_path: Path) -> None:
    session = fresh_session(tmp_path, next(_homes))
    home = session.store.home
    try:
        build(session, f)
    finally:
        session.close()
    for args in PRINTERS:
        r = cli(home, *args)
        assert_clean(r.out)
        assert_clean(r.err, newlines=False) if r.err.count("\n") <= 1 else assert_clean(r.err)
        assert "Traceback" not in r.err
        if args[0] != "status":  # a card's bad relay URL is section 3's (hostile relays): not a crash here
            assert r.code == 0, (args, r.err)


# -- every screen --------------------------------------------------------------------------------------


async def _tour(app: Any, pilot: Any, check: Callable[[], None], text: str) -> None:
    """Visit every screen that shows others' text, checking the output at each stop."""
    from app_helpers import wait_for

    from tui_sns.screens.circles import CirclesScreen
    from tui_sns.screens.compose import ComposeScreen
    from tui_sns.screens.contacts import ContactsScreen
    from tui_sns.screens.main import MainScreen
    from tui_sns.screens.widgets import Timeline

    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    timeline = app.screen.query_one(Timeline)
    await wait_for(pilot, lambda: timeline.total == 2)
    for _ in range(2):  # both entries in the reading pane, with their comments
        await pilot.pause()
        check()
        await pilot.press("j")
    await pilot.press("m", "x")  # the comments; x asks to hide one (a dialog naming its writer)
    await pilot.pause()
    check()
    await pilot.press("escape")
    app.notify("from " + text, title=text)  # a toast quoting someone's text
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
    await pilot.pause()
    check()
    await pilot.press("v")  # the safety-number dialog names the contact
    await pilot.pause()
    check()
    await pilot.press("escape", "i")  # the requests tab
    await pilot.pause()
    check()
    await pilot.press("a")  # accept: asks for a name, offering the card's
    await pilot.pause()
    check()
    await pilot.press("escape", "escape")
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    await pilot.press("o")  # circles
    await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
    await pilot.pause()
    check()
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
    await pilot.pause()
    check()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=screen_fields)
def test_every_screen_is_safe(f: dict[str, str], make_app: Callable[..., Any]) -> None:
    from app_helpers import SIZE, notices, screen_text

    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    session = fresh_session(root, 0)
    build(session, f)
    app = make_app(session.store.home, session)

    def check() -> None:
        assert_clean(screen_text(app) + "\n" + notices(app))
        for node in (app, app.screen):
            assert_clean((node.title or "") + (node.sub_title or ""), newlines=False)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _tour(app, pilot, check, f["label"])

    try:
        asyncio.run(run())
    finally:
        session.close()
        shutil.rmtree(root, ignore_errors=True)


pytestmark = pytest.mark.skipif(os.name != "posix", reason="the terminal tests assume a POSIX terminal")
