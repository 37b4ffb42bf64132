"""Issue 8 §2: a crash never prints a secret (passphrase, database key, entry text)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from app_helpers import SIZE, notices, screen_text, wait_for

PASSPHRASE = "correct horse battery staple"
ENTRY = "my secret diary text: the safe code is 4711"


def _secrets(key: bytes) -> list[str]:
    return [PASSPHRASE, key.hex(), key.hex().upper(), repr(key)[2:-1], ENTRY, ENTRY[:20]]


def _logs(home: Path) -> list[Path]:
    return sorted(home.glob("crash-*.log"))


def _assert_no_secret(text: str, key: bytes) -> None:
    for secret in _secrets(key):
        assert secret not in text, f"a secret reached the output: {secret[:12]}…"


async def test_crash_during_unlock_prints_no_secret(
    people: Callable[..., Any],
    make_app: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Seen: a damaged store made the app exit during unlock and print the passphrase (three times)
    and the raw database key."""
    from tui_sns.screens.onboarding import UnlockScreen
    from tui_sns.store.database import Store

    ann = people("ann")
    home, key = ann.store.home, ann.store._db_key
    ann.close()

    def damaged(self: Store) -> None:
        raise sqlcipher3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Store, "_check_counter", damaged)
    app = make_app(home)
    shown = ""
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen))
            await pilot.press(*PASSPHRASE, "enter")
            await wait_for(pilot, lambda: "malformed" in screen_text(app) or not app.is_running)
            shown = screen_text(app) + notices(app) if app.is_running else ""
            # the app keeps running: the unlock screen says what happened and lets me try again
            assert isinstance(app.screen, UnlockScreen)
            assert "crash-" in str(app.screen.query_one("#unlock-error").render())
    finally:
        out, err = capfd.readouterr()
        logs = _logs(home)
        _assert_no_secret(out + err + shown + "".join(p.read_text() for p in logs), key)
    (log,) = logs
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "Traceback" in text and "DatabaseError" in text and "_check_counter" in text


async def test_crash_while_saving_prints_no_entry_text(
    people: Callable[..., Any],
    make_app: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Seen: a full disk made the app exit while saving and print the entry's text."""
    from textual.widgets import TextArea

    from tui_sns.screens.compose import ComposeScreen
    from tui_sns.store import posts as post_store

    ann = people("ann")
    home, key = ann.store.home, ann.store._db_key

    def full(*args: Any, **kwargs: Any) -> None:
        raise sqlcipher3.OperationalError("database or disk is full")

    monkeypatch.setattr(post_store, "insert_post", full)
    app = make_app(home, ann)
    shown = ""
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
            app.screen.query_one("#body", TextArea).text = ENTRY
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "disk is full" in screen_text(app) or not app.is_running)
            shown = screen_text(app) + notices(app) if app.is_running else ""
            # still writing: the text is in the composer, and sealing can be tried again
            assert isinstance(app.screen, ComposeScreen)
            assert app.screen.query_one("#body", TextArea).text == ENTRY
            assert not app.screen._sealing
    finally:
        out, err = capfd.readouterr()
        logs = _logs(home)
        _assert_no_secret(out + err + shown.replace(ENTRY, "") + "".join(p.read_text() for p in logs), key)
    (log,) = logs
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


async def test_unexpected_crash_exits_with_log_path_and_no_locals(
    people: Callable[..., Any],
    make_app: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A crash outside any worker: the app stops, prints one line naming the log, and the log holds a
    traceback without local variables."""
    from tui_sns.screens.main import MainScreen

    ann = people("ann")
    home, key = ann.store.home, ann.store._db_key

    def broken(self: Any) -> None:
        secrets = [PASSPHRASE, ENTRY]  # locals a locals-printing traceback would show
        raise RuntimeError("boom" if secrets else "")

    monkeypatch.setattr(MainScreen, "action_compose", broken)
    app = make_app(home, ann)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("c")
            await wait_for(pilot, lambda: not app.is_running)
    out, err = capfd.readouterr()
    (log,) = _logs(home)
    _assert_no_secret(out + err + log.read_text(), key)
    assert str(log) in err
    assert "RuntimeError: boom" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_cli_expected_failure_prints_no_traceback(
    people: Callable[..., Any], cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged store under the CLI: one line and a crash log, no traceback; --debug and
    TUI_SNS_DEBUG=1 add a traceback, never with local variables."""
    from tui_sns.store.database import Store

    ann = people("ann")
    ann.diary.post(ENTRY)
    home, key = ann.store.home, ann.store._db_key
    ann.close()

    def damaged(self: Store) -> None:
        raise sqlcipher3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Store, "_check_counter", damaged)
    r = cli(home, "timeline")
    assert r.code == 1
    assert "Traceback" not in r.err
    assert len(r.err_lines) == 1 and "malformed" in r.err and "crash-" in r.err, r.err
    (log,) = _logs(home)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    _assert_no_secret(r.out + r.err + log.read_text(), key)
    for args, env in ((("--debug", "timeline"), None), (("timeline",), "1")):
        if env:
            monkeypatch.setenv("TUI_SNS_DEBUG", env)
        r = cli(home, *args)
        assert r.code == 1 and "Traceback" in r.err and "_check_counter" in r.err
        _assert_no_secret(r.out + r.err, key)


async def test_failing_worker_is_one_notice_and_the_app_keeps_running(
    people: Callable[..., Any],
    make_app: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A background worker (the sidebar's counts) failing on a damaged store: one notice naming the log,
    the app keeps running, nothing is printed."""
    from tui_sns.screens.main import MainScreen

    ann = people("ann")
    home, key = ann.store.home, ann.store._db_key
    app = make_app(home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

        def damaged(*args: Any, **kwargs: Any) -> int:
            passphrase = PASSPHRASE  # a local a locals-printing traceback would show
            raise sqlcipher3.DatabaseError("database disk image is malformed" if passphrase else "")

        monkeypatch.setattr(ann.diary, "count", damaged)
        app.screen.refresh_counts()
        await wait_for(pilot, lambda: "malformed" in notices(app))
        app.screen.refresh_counts()  # the same failure again: not a second notice
        await pilot.pause(0.3)
        assert notices(app).count("malformed") == 1
        assert app.is_running and isinstance(app.screen, MainScreen)
        shown = notices(app)
    out, err = capfd.readouterr()
    (log,) = _logs(home)
    _assert_no_secret(out + err + shown + log.read_text(), key)
    assert "crash-" in shown
