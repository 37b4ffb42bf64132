"""A passphrase change rekeys the database, crash-safe together with the key file (issue 11, item 6)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from resilience_helpers import fill, tmpfs

from tui_sns.core.session import Session
from tui_sns.store import KdfParams, Store, WrongPassphrase
from tui_sns.store.backup import open_backup, write_backup
from tui_sns.store.errors import StoreFull, WrongKey
from tui_sns.store.keyfile import KeyFile

CHEAP = KdfParams.insecure_for_tests()
CHILD = Path(__file__).with_name("kill_passwd.py")
NEW = "a new passphrase"
CLI = Callable[..., Any]


def _key_of(db: Path, key: bytes) -> bool:
    """Whether ``db`` opens with the raw key ``key``."""
    import sqlcipher3

    conn = sqlcipher3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except sqlcipher3.Error:
        return False
    finally:
        conn.close()


def test_an_old_key_file_or_backup_cannot_open_what_follows_a_change(
    home: Path, passphrase: str, tmp_path: Path
) -> None:
    """Seen: `passwd` re-wrapped the same database key, so an old store.key or an old backup, with the
    old passphrase, still opened today's database."""
    with Session.unlock(home, passphrase) as session:
        session.diary.post("before the change")
        write_backup(session.store, tmp_path / "old.bak", passphrase, CHEAP)
    old_keyfile = (home / "store.key").read_bytes()
    old_key = KeyFile.load(home / "store.key").unwrap(passphrase)
    with Store.open(home, passphrase) as store:
        store.change_passphrase(NEW, CHEAP)
    with Session.unlock(home, NEW) as session:
        session.diary.post("after the change")
    backup_key = open_backup((tmp_path / "old.bak").read_bytes(), passphrase)[:32]
    assert backup_key == old_key
    assert not _key_of(home / "store.db", old_key)
    assert _key_of(home / "store.db", KeyFile.load(home / "store.key").unwrap(NEW))
    shutil.copy2(home / "store.key", tmp_path / "new.key")
    (home / "store.key").write_bytes(old_keyfile)  # the old key file put back
    with pytest.raises(WrongKey):
        Store.open(home, passphrase)
    shutil.copy2(tmp_path / "new.key", home / "store.key")
    with Session.unlock(home, NEW) as session:
        assert {p.body for p in session.diary.timeline()} == {"before the change", "after the change"}


def test_passwd_from_the_command_line_rekeys(home: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    old_key = KeyFile.load(home / "store.key").unwrap(os.environ["TUI_SNS_PASSPHRASE"])
    monkeypatch.setenv("TUI_SNS_NEW_PASSPHRASE", NEW)
    assert cli(home, "passwd").code == 0
    assert not _key_of(home / "store.db", old_key)
    monkeypatch.setenv("TUI_SNS_PASSPHRASE", NEW)
    assert cli(home, "timeline").code == 0


def _kill_at(home: Path, old: str, point: str) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(home), old, NEW, point],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    seen: list[str] = []
    try:
        for _ in range(10):  # bounded: at most a handful of lines come before any point
            line = child.stdout.readline().strip()
            assert line, f"the child ended before {point}: {child.stderr.read() if child.stderr else ''}"
            seen.append(line)
            if line == point:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    return seen


def _opens(home: Path, passphrase: str, bodies: set[str]) -> bool:
    try:
        session = Session.unlock(home, passphrase)
    except WrongPassphrase:
        return False
    with session:
        assert {p.body for p in session.diary.timeline()} == bodies
        assert session.store.fetchone("PRAGMA integrity_check") == ("ok",)
        assert KeyFile.load(home / "store.key").pending is None  # the open settled the change
    return True


@pytest.mark.slow
@pytest.mark.parametrize("point", ["pending-saved", "rekeying", "rekeyed", "finished"])
def test_a_passwd_killed_at_any_point_leaves_the_old_or_the_new_passphrase_working(
    make_identity: Callable[..., Path], passphrase: str, tmp_path: Path, point: str
) -> None:
    home = make_identity("alice")
    bodies = {f"entry {i} " + "r" * 3000 for i in range(300)}  # about 1 MB: the rekey takes a while
    with Session.unlock(home, passphrase) as session:
        for body in bodies:
            session.diary.post(body)
    seen = _kill_at(home, passphrase, point)
    assert seen[-1] == point, seen
    with_new, with_old = tmp_path / "new-first", tmp_path / "old-first"
    shutil.copytree(home, with_new)
    shutil.copytree(home, with_old)
    # the new passphrase works from the moment the pending record is on disk
    assert _opens(with_new, NEW, bodies)
    assert not _opens(with_new, passphrase, bodies)  # and once it opened, it alone
    # the old one works until the database was rekeyed (then the new one does: never neither)
    old_works = _opens(with_old, passphrase, bodies)
    if point == "pending-saved":
        assert old_works
    if point in ("rekeyed", "finished"):
        assert not old_works
    if point == "rekeyed":  # the key file still holds the old record: say what happened
        with pytest.raises(WrongPassphrase, match="use the new passphrase"):
            Store.open(home, passphrase)
    if old_works:  # the interrupted change was abandoned: the new passphrase never took
        assert not _opens(with_old, NEW, bodies)
    else:
        assert _opens(with_old, NEW, bodies)


def test_a_rekey_on_a_full_disk_changes_nothing(tmp_path: Path, passphrase: str) -> None:
    with tmpfs(tmp_path / "mnt", "8m") as where:
        home = where / "alice"
        with Session.create(home, "alice", passphrase, CHEAP) as session:
            for i in range(100):
                session.diary.post(f"entry {i} " + "f" * 3000)  # ~400 KB: a rekey needs as much again
        with Store.open(home, passphrase) as store:
            fill(where, leave=64 * 1024 + 8192)
            with pytest.raises(StoreFull, match="nothing was changed"):
                store.change_passphrase(NEW, CHEAP)
            assert store.fetchone("SELECT count(*) FROM posts") == (100,)  # still reads, old key
        with Session.unlock(home, passphrase) as session:
            assert len(session.diary.timeline()) == 100
        assert KeyFile.load(home / "store.key").pending is None
        with pytest.raises(WrongPassphrase):
            Store.open(home, NEW)
