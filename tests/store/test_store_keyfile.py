"""The wrapped-key file: passphrases, the anti-rollback counter, and crash-safe replacement."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_sns.store import KdfParams, KeyFileCorrupt, Store, StoreError, StoreRolledBack, WrongPassphrase
from tui_sns.store import atomic as atomic_module
from tui_sns.store.errors import StoreFull
from tui_sns.store.keyfile import KeyFile

CHEAP = KdfParams.insecure_for_tests()


def _db_counter(store: Store) -> int:
    row = store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'")
    assert row is not None
    return int(row[0])


def test_wrong_passphrase_raises_and_changes_nothing(
    home: Path, file_snapshot: Callable[[Path], dict[str, Any]]
) -> None:
    before = file_snapshot(home)
    with pytest.raises(WrongPassphrase):
        Store.open(home, "not the passphrase")
    with pytest.raises(WrongPassphrase):
        Store.open(home, "")
    assert file_snapshot(home) == before


def test_writes_raise_the_key_file_counter(
    home: Path, passphrase: str, open_session: Callable[..., Any]
) -> None:
    start = KeyFile.load(home / "store.key").counter
    with open_session(home) as session:
        session.diary.post("one")
        session.diary.post("two")
        assert KeyFile.load(home / "store.key").counter == _db_counter(session.store) >= start + 2


def test_an_old_copy_of_the_database_put_back_is_refused(
    home: Path, passphrase: str, open_session: Callable[..., Any], tmp_path: Path
) -> None:
    with open_session(home) as session:
        session.diary.post("before the copy")
    saved = tmp_path / "old-store.db"
    shutil.copy2(home / "store.db", saved)
    with open_session(home) as session:
        session.diary.post("after the copy")
    assert not (home / "store.db-wal").exists()
    shutil.copy2(saved, home / "store.db")
    with pytest.raises(StoreRolledBack, match="old copy of the database"):
        Store.open(home, passphrase)
    with pytest.raises(StoreRolledBack):  # refusing changed nothing: still refused
        Store.open(home, passphrase)


def test_a_crash_between_commit_and_counter_update_heals(
    home: Path, passphrase: str, open_session: Callable[..., Any]
) -> None:
    key_before = (home / "store.key").read_bytes()
    with open_session(home) as session:
        session.diary.post("committed, but the key file never heard of it")
    # the crash: the database commit happened, the key file replacement did not
    (home / "store.key").write_bytes(key_before)
    stale = KeyFile.load(home / "store.key").counter
    with open_session(home) as session:
        assert [p.body for p in session.diary.timeline()] == ["committed, but the key file never heard of it"]
        healed = KeyFile.load(home / "store.key").counter
        assert healed == _db_counter(session.store) > stale
    with Store.open(home, passphrase):
        pass


@pytest.mark.parametrize("delta", [-1, +1, +1000])
def test_an_edited_key_file_counter_is_corrupt(home: Path, passphrase: str, delta: int) -> None:
    path = home / "store.key"
    obj = json.loads(path.read_text())
    obj["counter"] = max(0, obj["counter"] + delta)
    path.write_text(json.dumps(obj))
    with pytest.raises(KeyFileCorrupt):
        Store.open(home, passphrase)


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"format": "tui-sns-keyfile", "version": 99}', '{"format": "x", "version": 1}'],
)
def test_an_unreadable_key_file_is_corrupt(home: Path, passphrase: str, text: str) -> None:
    (home / "store.key").write_text(text)
    with pytest.raises(KeyFileCorrupt):
        Store.open(home, passphrase)


def test_a_missing_key_file_is_a_clear_error(home: Path, passphrase: str) -> None:
    (home / "store.key").unlink()
    with pytest.raises(KeyFileCorrupt, match="missing"):
        Store.open(home, passphrase)


def test_a_database_not_matching_the_key_file_is_a_store_error(
    make_identity: Callable[..., Path], passphrase: str
) -> None:
    alice, bob = make_identity("alice"), make_identity("bob")
    shutil.copy2(bob / "store.db", alice / "store.db")
    with pytest.raises(StoreError, match="cannot be opened"):
        Store.open(alice, passphrase)


def test_passwd_changes_the_passphrase(home: Path, passphrase: str, open_session: Callable[..., Any]) -> None:
    with Store.open(home, passphrase) as store:
        store.change_passphrase("new passphrase", CHEAP)
    with pytest.raises(WrongPassphrase):
        Store.open(home, passphrase)
    with open_session(home, "new passphrase") as session:
        assert session.name == "alice"
        session.diary.post("still writable")  # counter updates keep the new wrapping
    with pytest.raises(WrongPassphrase):
        Store.open(home, passphrase)
    with Store.open(home, "new passphrase"):
        pass


def test_passwd_interrupted_before_the_rename_keeps_the_old_passphrase(
    home: Path, passphrase: str, open_session: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device (simulated crash)")

    with open_session(home) as session:
        with monkeypatch.context() as m:
            m.setattr(atomic_module.os, "replace", crash)
            with pytest.raises(StoreFull, match="full: nothing was changed"):
                session.store.change_passphrase("new passphrase", CHEAP)
        assert not (home / "store.key.tmp").exists()  # a failed (not crashed) write cleans up
        # the same session goes on writing (each write rewrites the key file's counter):
        # the failed change must not slip in through that back door
        session.diary.post("written after the failed passwd")
    with pytest.raises(WrongPassphrase):
        Store.open(home, "new passphrase")
    with open_session(home) as session:
        assert [p.body for p in session.diary.timeline()] == ["written after the failed passwd"]
        session.diary.post("and more")
        session.store.change_passphrase("new passphrase", CHEAP)  # the leftover .tmp is no obstacle
    with Store.open(home, "new passphrase") as store:
        assert store.fetchone("SELECT count(*) FROM posts") == (2,)


def test_leftover_tmp_file_does_not_break_opening(home: Path, passphrase: str) -> None:
    (home / "store.key.tmp").write_bytes(b"garbage from a crash")
    with Store.open(home, passphrase) as store, store.write() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 1)")
    with Store.open(home, passphrase):
        pass
