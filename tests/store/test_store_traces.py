"""Every path where store content could touch the disk outside SQLCipher, each checked gone or encrypted
afterwards (issue 11, items 7 and 8; docs/threat-model.md, "Plaintext outside the store").

The $EDITOR draft file is the composer's (tests/tui); these are the store's own paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.session import Session
from tui_sns.store import KdfParams, Store
from tui_sns.store import database as database_module
from tui_sns.store import schema as schema_module
from tui_sns.store.backup import write_backup
from tui_sns.store.salvage import salvage

CHEAP = KdfParams.insecure_for_tests()
MARK = "PlaintextMarker-5e1f"


def _no_marker_under(*roots: Path) -> None:
    needles = (MARK.encode(), MARK.encode("utf-16-le"))
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not data.startswith(b"SQLite format 3"), f"{path} is an unencrypted database"
                for needle in needles:
                    assert needle not in data, f"plaintext in {path}"


def test_the_chosen_pragmas(home: Path, passphrase: str) -> None:
    """secure_delete on (deleted rows overwritten in the file, not only unlinked from the tree),
    temporaries in memory, the write-ahead log cut back after checkpoints, freed memory not wiped
    (cipher_memory_security off: see docs/threat-model.md for why)."""
    with Store.open(home, passphrase) as store:
        assert store.fetchone("PRAGMA secure_delete") == (1,)
        assert store.fetchone("PRAGMA temp_store") == (2,)
        assert store.fetchone("PRAGMA journal_size_limit") == (0,)
        assert store.fetchone("PRAGMA cipher_memory_security") in (("0",), (0,), ("OFF",))


def test_sorting_and_vacuum_leave_no_temporary_file(
    home: Path, passphrase: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "sqlite-tmp"
    spill.mkdir()
    monkeypatch.setenv("SQLITE_TMPDIR", str(spill))
    monkeypatch.setenv("TMPDIR", str(spill))
    with Session.unlock(home, passphrase) as session:
        for i in range(200):
            session.diary.post(f"{MARK} {i} " + "s" * 2000)
        with session.store.read() as conn:
            conn.execute("PRAGMA cache_size = 8")  # a tiny cache: sorting would spill if it could
            conn.execute("SELECT body FROM posts ORDER BY body DESC, title").fetchall()
            conn.execute("CREATE TEMP TABLE t AS SELECT body FROM posts")
            conn.execute("VACUUM")
    assert list(spill.iterdir()) == []


def test_only_the_database_and_the_key_file_remain_after_closing(home: Path, passphrase: str) -> None:
    with Session.unlock(home, passphrase) as session:
        for i in range(50):
            session.diary.post(f"{MARK} {i}")
        session.store.change_passphrase("other", CHEAP)
    assert sorted(p.name for p in home.iterdir()) == ["store.db", "store.key"]  # no -wal/-shm/.tmp
    _no_marker_under(home)


def test_backups_and_salvage_leave_only_their_sealed_file(
    home: Path, passphrase: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with Session.unlock(home, passphrase) as session:
        session.diary.post(MARK)
        write_backup(session.store, out / "b.bak", passphrase, CHEAP)
    salvage(home, passphrase, out / "s.bak", CHEAP)
    assert sorted(p.name for p in out.iterdir()) == ["b.bak", "s.bak"]  # no temporary copy left
    assert sorted(p.name for p in home.iterdir()) == ["store.db", "store.key"]
    _no_marker_under(out, home)


def test_the_upgrade_copy_is_encrypted_and_removed_after_the_upgrade(
    home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch, file_snapshot: Callable[[Path], Any]
) -> None:
    """Seen: a schema upgrade left store.vN.backup.db in the home forever, with deleted entries."""
    with Session.unlock(home, passphrase) as session:
        session.diary.delete(session.diary.post(MARK + " deleted before the upgrade").id)
    old = schema_module.LATEST
    failing = [*schema_module.MIGRATIONS, "CREATE TABLE extra (x); INSERT INTO nowhere VALUES (1)"]
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", failing)
        m.setattr(database_module, "LATEST", old + 1)
        with pytest.raises(Exception, match="migration"):
            Store.open(home, passphrase)
        copy = home / f"store.v{old}.backup.db"
        assert copy.exists()  # a failed upgrade keeps its copy, encrypted
        _no_marker_under(home)
        m.setattr(database_module, "MIGRATIONS", [*schema_module.MIGRATIONS, "CREATE TABLE extra (x)"])
        with Store.open(home, passphrase) as store:
            assert store.schema_version == old + 1
        assert not copy.exists()
    assert sorted(p.name for p in home.iterdir()) == ["store.db", "store.key"]
    assert os.stat(home).st_mode & 0o777 == 0o700
