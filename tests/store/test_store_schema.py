"""Schema versions and the migration runner."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlcipher3

from tui_sns.store import KdfParams, Store, StoreError
from tui_sns.store import database as database_module
from tui_sns.store import schema as schema_module
from tui_sns.store.keyfile import KeyFile

V2 = "CREATE TABLE extra (x INTEGER NOT NULL); INSERT INTO extra (x) VALUES (42)"
V2_FAILING = "CREATE TABLE extra (x INTEGER NOT NULL); INSERT INTO no_such_table VALUES (1)"


def _add_migration(monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    migrations = [*schema_module.MIGRATIONS, script]
    monkeypatch.setattr(database_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(database_module, "LATEST", len(migrations))


def _raw_connect(path: Path, home: Path, passphrase: str) -> sqlcipher3.Connection:
    db_key = KeyFile.load(home / "store.key").unwrap(passphrase)
    conn = sqlcipher3.connect(str(path))
    conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
    return conn


def _has_table(store: Store, name: str) -> bool:
    return (
        store.fetchone("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None
    )


def test_user_version_is_the_number_of_migrations(home: Path, passphrase: str) -> None:
    with Store.open(home, passphrase) as store:
        assert store.schema_version == len(schema_module.MIGRATIONS) == schema_module.LATEST
    fresh = Store.create(home.parent / "fresh", passphrase, KdfParams.insecure_for_tests())
    with fresh:
        assert fresh.schema_version == len(schema_module.MIGRATIONS)


def test_an_added_migration_is_applied_in_one_transaction_after_a_backup(
    home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch, traced: list[str]
) -> None:
    old = len(schema_module.MIGRATIONS)
    backup = home / f"store.v{old}.backup.db"
    assert not backup.exists()
    _add_migration(monkeypatch, V2)
    with Store.open(home, passphrase) as store:
        assert store.schema_version == old + 1
        assert store.fetchall("SELECT x FROM extra") == [(42,)]
    # the statements of the migration and the version bump ran between one BEGIN and its COMMIT
    text = [s.strip() for s in traced]
    create = next(i for i, s in enumerate(text) if s.startswith("CREATE TABLE extra"))
    begin = max(i for i, s in enumerate(text[:create]) if s.upper().startswith("BEGIN"))
    commit = next(i for i, s in enumerate(text) if i > create and s.upper() in ("COMMIT", "ROLLBACK"))
    assert text[commit].upper() == "COMMIT"
    between = text[begin + 1 : commit]
    assert any(s.startswith("INSERT INTO extra") for s in between)
    assert any(s.replace(" ", "").upper() == f"PRAGMAUSER_VERSION={old + 1}" for s in between)
    assert not any(s.upper().startswith(("COMMIT", "ROLLBACK", "BEGIN")) for s in between)
    # the copy was taken before the upgrade, and removed once the upgraded store opened: it would
    # otherwise keep deleted and expired entries forever (issue 11, item 7)
    assert any(s.upper().startswith("VACUUM INTO") for s in text[:begin])
    assert not backup.exists()
    # and the upgraded store keeps opening (no second backup, no migration run again)
    with Store.open(home, passphrase) as store:
        assert store.schema_version == old + 1


def test_a_failing_migration_leaves_the_old_version_openable(
    home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = len(schema_module.MIGRATIONS)
    with monkeypatch.context() as m:
        _add_migration(m, V2_FAILING)
        with pytest.raises(StoreError, match="migrat"):
            Store.open(home, passphrase)
        with pytest.raises(StoreError):  # still failing, still not half-applied
            Store.open(home, passphrase)
        # a failed upgrade keeps its copy: same key, old version, no new table, private
        backup = home / f"store.v{old}.backup.db"
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        conn = _raw_connect(backup, home, passphrase)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == old
            assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM identity").fetchone()[0] == 1
        finally:
            conn.close()
    with Store.open(home, passphrase) as store:
        assert store.schema_version == old
        assert not _has_table(store, "extra")  # the migration's first statement was rolled back
        assert store.fetchone("SELECT name FROM identity") == ("alice",)
    # a corrected migration then applies
    _add_migration(monkeypatch, V2)
    with Store.open(home, passphrase) as store:
        assert store.schema_version == old + 1
        assert _has_table(store, "extra")
    assert not backup.exists()  # and the copy went with the successful upgrade


def test_a_store_newer_than_the_program_is_refused_clearly(home: Path, passphrase: str) -> None:
    with Store.open(home, passphrase) as store, store.write() as conn:
        conn.execute(f"PRAGMA user_version = {schema_module.LATEST + 1}")
    with pytest.raises(StoreError, match="newer than this program"):
        Store.open(home, passphrase)
