"""A full disk, read-only media and a missing database (issue 11, items 1, 2, 4 and 5).

Disk full: SQLite's ``max_page_count`` everywhere, and a small tmpfs when the tests run as root.
Read-only: ``Store.open(read_only=True)`` (SQLite ``immutable=1``) everywhere; a tmpfs remounted
read-only as root; file modes 0400/0500 (root ignores file modes, so as root the store is handed to
"nobody" and the CLI runs as "nobody" through setpriv; as another user, directly).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from resilience_helpers import fill, remount_read_only, tmpfs

from tui_sns.core.session import Session
from tui_sns.store import KdfParams, Store, StoreRolledBack
from tui_sns.store.errors import IdentityExists, StoreFull, StoreMissing, StoreReadOnly
from tui_sns.store.keyfile import KeyFile

CHEAP = KdfParams.insecure_for_tests()
CLI = Callable[..., Any]


def _counter(store: Store) -> int:
    row = store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'")
    assert row is not None
    return int(row[0])


def _store_files(home: Path) -> dict[str, bytes]:
    return {name: (home / name).read_bytes() for name in ("store.db", "store.key")}


def _one_line(r: Any, status: int, *words: str) -> None:
    assert r.code == status, (r.code, r.out, r.err)
    assert len(r.err_lines) == 1, r.err
    assert "Traceback" not in r.err
    for word in words:
        assert word in r.err, r.err


# -- disk full -------------------------------------------------------------------------------------


def test_a_write_on_a_full_disk_says_so_and_changes_nothing(home: Path, passphrase: str) -> None:
    """Seen: "database or disk is full", then "cannot rollback - no transaction is active"."""
    with Session.unlock(home, passphrase) as session:
        session.diary.post("before the disk filled")
        with session.store.read() as conn:  # no page may be added from now on: the disk is "full"
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        written = ["before the disk filled"]
        with pytest.raises(StoreFull, match="full: nothing was changed"):
            for i in range(500):  # bounded: the free pages run out long before
                session.diary.post(f"entry {i} " + "x" * 3000)
                written.append(f"entry {i} " + "x" * 3000)
        counter = _counter(session.store)
        assert counter == KeyFile.load(home / "store.key").counter
        assert {p.body for p in session.diary.timeline()} == set(written)  # reading still works
        with pytest.raises(StoreFull):  # and a second try fails the same clean way
            session.diary.post("y" * 5000)
        assert _counter(session.store) == counter
        with session.store.read() as conn:  # space again: the same session writes again
            conn.execute("PRAGMA max_page_count = 1000000")
        session.diary.post("after space was freed")
    with Session.unlock(home, passphrase) as session:
        assert len(session.diary.timeline()) == len(written) + 1


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "mnt", "2m") as where:
        yield where


def test_full_tmpfs_reading_works_writing_says_full(
    small_disk: Path, cli: CLI, passphrase: str, tmp_path: Path
) -> None:
    """Seen: with nothing free, even `timeline` said "cannot be opened with this key file"."""
    home = small_disk / "alice"
    with Session.create(home, "alice", passphrase, CHEAP) as session:
        for i in range(3):
            session.diary.post(f"entry {i}")
    filler = fill(small_disk)
    before = _store_files(home)
    r = cli(home, "timeline")
    assert r.code == 0, r.err
    assert "entry 2" in r.out and "entry 0" in r.out
    _one_line(cli(home, "post", "--body", "no room"), 4, "full", "nothing was changed")
    _one_line(cli(home, "circles", "create", "friends"), 4, "full")
    assert cli(home, "backup", str(tmp_path / "elsewhere.bak")).code == 0  # a backup to another disk
    assert _store_files(home) == before
    filler.unlink()
    assert cli(home, "post", "--body", "room again").code == 0


def test_nearly_full_tmpfs_post_fails_cleanly_and_loses_nothing(
    small_disk: Path, cli: CLI, passphrase: str
) -> None:
    """Seen: with about 40 KB free, `post` ended in a traceback."""
    home = small_disk / "alice"
    Session.create(home, "alice", passphrase, CHEAP).close()
    fill(small_disk, leave=40 * 1024)
    posted: list[str] = []
    for i in range(200):  # bounded: 40 KB hold far fewer 3 KB entries
        body = f"entry {i} " + "z" * 3000
        r = cli(home, "post", "--body", body)
        if r.code != 0:
            _one_line(r, 4, "full", "nothing was changed")
            break
        posted.append(body)
    else:
        pytest.fail("the disk never filled")
    r = cli(home, "timeline", "--json")
    assert r.code == 0, r.err
    assert sorted(p["body"] for p in r.json()) == sorted(posted)


# -- read-only -------------------------------------------------------------------------------------


def test_a_store_opened_read_only_reads_and_refuses_every_write(
    home: Path, passphrase: str, file_snapshot: Callable[[Path], Any]
) -> None:
    with Session.unlock(home, passphrase) as session:
        post_id = session.diary.post("readable").id
    before = file_snapshot(home)
    with Session(Store.open(home, passphrase, read_only=True)) as session:
        assert session.store.read_only
        assert [p.body for p in session.diary.timeline()] == ["readable"]
        assert session.diary.get(post_id).body == "readable"
        assert session.contacts.list() == []
        with pytest.raises(StoreReadOnly, match="read-only"):
            session.diary.post("refused")
        with pytest.raises(StoreReadOnly):
            session.store.change_passphrase("new", CHEAP)
        assert sorted(p.name for p in home.iterdir()) == ["store.db", "store.key"]  # no -wal, no -shm
    assert file_snapshot(home) == before


def test_a_read_only_store_with_an_unreplayed_log_says_so(
    home: Path, passphrase: str, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    with Session.unlock(home, passphrase) as session:
        session.diary.post("only in the write-ahead log so far")
        shutil.copytree(home, copy)  # while open: store.db-wal holds the entry
    assert (copy / "store.db-wal").stat().st_size > 0
    with pytest.raises(StoreReadOnly, match="not closed cleanly"):
        Store.open(copy, passphrase, read_only=True)


def test_an_old_schema_on_read_only_media_says_it_needs_an_upgrade(
    home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_sns.store import schema

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, "CREATE TABLE extra (x)"])
    monkeypatch.setattr("tui_sns.store.database.MIGRATIONS", schema.MIGRATIONS)
    monkeypatch.setattr("tui_sns.store.database.LATEST", schema.LATEST + 1)
    with pytest.raises(StoreReadOnly, match="needs an upgrade"):
        Store.open(home, passphrase, read_only=True)


@pytest.fixture
def read_only_mount(tmp_path: Path, passphrase: str, befriend: Callable[..., None]) -> Iterator[Path]:
    with tmpfs(tmp_path / "mnt", "4m") as where:
        home = where / "alice"
        Session.create(home, "alice", passphrase, CHEAP).close()
        bob = tmp_path / "bob"
        Session.create(bob, "bob", passphrase, CHEAP).close()
        befriend(home, bob)
        with Session.unlock(home, passphrase) as session:
            session.diary.post("on read-only media", title="ro")
        remount_read_only(where)
        yield home


def test_read_only_media_reads_and_refuses_writes(
    read_only_mount: Path, cli: CLI, tmp_path: Path, passphrase: str
) -> None:
    """Seen: a store on a read-only mount could not be read ("cannot be opened with this key file")."""
    home = read_only_mount
    r = cli(home, "timeline", "--json")
    assert r.code == 0, r.err
    (entry,) = r.json()
    assert cli(home, "show", entry["id"]).code == 0
    r = cli(home, "contacts", "list")
    assert r.code == 0 and "bob" in r.out
    assert cli(home, "backup", str(tmp_path / "from-ro.bak")).code == 0
    for args in (["post", "--body", "x"], ["circles", "create", "c"], ["contacts", "remove", "bob"]):
        _one_line(cli(home, *args), 3, "read-only", "nothing was changed")
    # the app as a reader: a session opens, shows the timeline, marking read is skipped
    with Session.unlock(home, passphrase) as session:
        assert session.store.read_only
        assert session.diary.mark_all_read() == 0
        assert [p.title for p in session.diary.timeline()] == ["ro"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes; the read-only tmpfs test covers root")
def test_file_modes_make_the_store_read_only(home: Path, cli: CLI) -> None:
    assert cli(home, "post", "--body", "before").code == 0
    for path in home.iterdir():
        path.chmod(0o400)
    home.chmod(0o500)
    try:
        r = cli(home, "timeline")
        assert r.code == 0 and "before" in r.out, r.err
        _one_line(cli(home, "post", "--body", "x"), 3, "read-only")
    finally:
        home.chmod(0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the store to another user")
def test_file_modes_make_the_store_read_only_for_its_owner(passphrase: str) -> None:
    """As root, file modes mean nothing: the store is handed to "nobody", made 0400/0500, and the CLI
    runs as "nobody" (setpriv) in a child process."""
    import hashlib
    import pwd
    import subprocess
    import sys
    import tempfile

    nobody = pwd.getpwnam("nobody")
    cli = Path(sys.executable).with_name("tui-sns")
    if not cli.exists() or shutil.which("setpriv") is None:
        pytest.skip("needs the tui-sns script next to the interpreter and setpriv")
    base = Path(tempfile.mkdtemp(dir="/tmp", prefix="tui-sns-modes-"))
    try:
        base.chmod(0o755)
        home = base / "alice"
        with Session.create(home, "alice", passphrase, CHEAP) as session:
            session.diary.post("readable by its owner")
        for path in [home, *home.iterdir()]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            path.chmod(0o500 if path.is_dir() else 0o400)
        digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in home.iterdir()}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
                + [str(cli), "--home", str(home), *args],
                capture_output=True,
                text=True,
                timeout=120,
                env={"PATH": os.environ["PATH"], "HOME": str(base), "TUI_SNS_PASSPHRASE": passphrase},
            )

        r = run("timeline")
        assert r.returncode == 0 and "readable by its owner" in r.stdout, r.stderr
        r = run("post", "--body", "refused")
        assert r.returncode == 3 and "read-only" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in home.iterdir()} == digest
    finally:
        for path in base.rglob("*"):
            path.chmod(0o700)
        shutil.rmtree(base)


# -- a missing or empty database next to a key file (anti-rollback) ---------------------------------


@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_a_missing_or_empty_database_is_an_error_never_a_new_store(
    home: Path, passphrase: str, tmp_path: Path, cli: CLI, damage: str
) -> None:
    """Seen: truncating store.db to 0 bytes made a fresh store and lowered the key file's counter; an
    older copy put back afterwards then opened."""
    with Session.unlock(home, passphrase) as session:
        session.diary.post("one")
    shutil.copy2(home / "store.db", tmp_path / "old.db")
    with Session.unlock(home, passphrase) as session:
        session.diary.post("two")
        session.diary.post("three")
    key_before = (home / "store.key").read_bytes()
    counter = KeyFile.load(home / "store.key").counter
    if damage == "empty":
        (home / "store.db").write_bytes(b"")
    else:
        (home / "store.db").unlink()
    for _ in range(2):
        with pytest.raises(StoreMissing, match="restore a backup"):
            Store.open(home, passphrase)
    _one_line(cli(home, "timeline"), 5, damage, "restore a backup")
    _one_line(cli(home, "post", "--body", "x"), 5, "restore a backup")
    with pytest.raises(IdentityExists):
        Session.create(home, "mallory", passphrase, CHEAP)
    assert (home / "store.key").read_bytes() == key_before
    assert KeyFile.load(home / "store.key").counter == counter
    shutil.copy2(tmp_path / "old.db", home / "store.db")  # the older copy is still refused
    with pytest.raises(StoreRolledBack):
        Store.open(home, passphrase)
