"""Opening, creating and writing the SQLCipher store.

* ``store.key`` holds the random database key wrapped under Argon2id(passphrase) (keyfile.py).
* ``store.db`` is SQLCipher 4 keyed with that raw key (``PRAGMA key = "x'…'"``: no PBKDF2 on open),
  in WAL mode with synchronous=FULL, foreign keys on.
* Every write runs in one transaction that also bumps ``meta.write_counter``; after the commit the
  key file's authenticated counter is raised to match. Opening refuses a database whose counter is
  below the key file's: an older copy of the database file put back (rollback).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import sqlcipher3

from tui_sns.store.errors import IdentityExists, KeyFileCorrupt, NoIdentity, StoreError, StoreRolledBack
from tui_sns.store.keyfile import DEFAULT_KDF, KdfParams, KeyFile
from tui_sns.store.schema import LATEST, MIGRATIONS

DB_NAME = "store.db"
KEY_NAME = "store.key"

Connection = Any  # sqlcipher3 ships no type information


def secure_dir(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)


class Store:
    """One identity's encrypted database. Thread-safe: one connection guarded by a lock."""

    def __init__(self, home: Path, conn: Connection, keyfile: KeyFile, db_key: bytes) -> None:
        self.home = home
        self._conn = conn
        self._keyfile = keyfile
        self._db_key = db_key
        self._lock = threading.RLock()
        self._depth = 0

    # -- lifecycle -------------------------------------------------------------------------

    @staticmethod
    def exists(home: Path) -> bool:
        """An identity exists once its key file does: the key file is written last by ``create``."""
        return (home / KEY_NAME).exists()

    @classmethod
    def create(
        cls,
        home: Path,
        passphrase: str,
        kdf: KdfParams = DEFAULT_KDF,
        setup: Callable[[Store], None] | None = None,
    ) -> Store:
        """Create a migrated store, run ``setup`` on it, then write the key file.

        Refuses (changing nothing) if an identity exists. The key file is written last, so a crash
        at any earlier point leaves no identity and ``create`` can simply be run again: a database
        left without a key file can never be opened, and is moved aside as ``store.db.orphan-N``.
        """
        if cls.exists(home):
            raise IdentityExists(f"an identity already exists in {home}")
        secure_dir(home)
        _move_aside_orphan(home / DB_NAME)
        db_key = os.urandom(32)
        keyfile = KeyFile.new(home / KEY_NAME, passphrase, db_key, kdf)
        conn = cls._connect(home / DB_NAME, db_key)
        store = cls(home, conn, keyfile, db_key)
        try:
            store._migrate()
            if setup is not None:
                setup(store)
        except BaseException:
            conn.close()
            raise
        store._keyfile = keyfile.with_counter(db_key, store._db_counter())
        store._keyfile.save()
        return store

    @staticmethod
    def check_present(home: Path) -> None:
        """Raise the right error, before any passphrase is asked for, if ``home`` holds no usable store."""
        key_path, db_path = home / KEY_NAME, home / DB_NAME
        if not key_path.exists():
            if db_path.exists():
                raise KeyFileCorrupt(f"{key_path} is missing: the store cannot be unlocked")
            raise NoIdentity(f"no identity in {home}: run `tui-sns init --name NAME` first")
        if not db_path.exists():
            raise StoreError(f"{db_path} is missing")

    @classmethod
    def open(cls, home: Path, passphrase: str) -> Store:
        cls.check_present(home)
        key_path, db_path = home / KEY_NAME, home / DB_NAME
        keyfile = KeyFile.load(key_path)
        db_key = keyfile.unwrap(passphrase)
        conn = cls._connect(db_path, db_key)
        store = cls(home, conn, keyfile, db_key)
        try:
            store._check_counter()
            store._migrate()
        except BaseException:
            conn.close()
            raise
        return store

    @staticmethod
    def _connect(path: Path, db_key: bytes) -> Connection:
        fresh = not path.exists()
        if fresh:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
            conn.execute("PRAGMA cipher_memory_security = OFF")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 5000")
        except sqlcipher3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path} cannot be opened with this key file: {exc}") from exc
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema and rollback protection ----------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version
        if current > LATEST:
            raise StoreError(f"store schema {current} is newer than this program ({LATEST}): upgrade tui-sns")
        if current == LATEST:
            return
        if current > 0:
            self._backup_before_upgrade(current)
        for number in range(current + 1, LATEST + 1):
            try:
                with self.write() as conn:
                    for statement in _split(MIGRATIONS[number - 1]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
            except sqlcipher3.Error as exc:
                raise StoreError(
                    f"store migration {number} failed ({exc}); the store was left at schema {number - 1}"
                ) from exc

    def _backup_before_upgrade(self, version: int) -> None:
        target = self.home / f"store.v{version}.backup.db"
        if not target.exists():
            self._conn.execute("VACUUM INTO ?", (str(target),))
            os.chmod(target, 0o600)

    def _db_counter(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'write_counter'").fetchone()
        return int(row[0]) if row else 0

    def _check_counter(self) -> None:
        if self.schema_version == 0:
            return
        db_counter = self._db_counter()
        if db_counter < self._keyfile.counter:
            raise StoreRolledBack(
                f"the store in {self.home} is older than its key file says "
                f"(write {db_counter} < {self._keyfile.counter}): an old copy of the database "
                "was put back. Refusing to open it."
            )
        if db_counter > self._keyfile.counter:  # a crash between commit and counter update
            self._raise_keyfile_counter(db_counter)

    def _raise_keyfile_counter(self, counter: int) -> None:
        self._keyfile = self._keyfile.with_counter(self._db_key, counter)
        self._keyfile.save()

    # -- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._lock:
            yield self._conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction; nested calls join the outer one. Bumps the anti-rollback counter."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
                has_meta = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
                counter = None
                if has_meta:
                    counter = self._db_counter() + 1
                    self._conn.execute("UPDATE meta SET value = ? WHERE key = 'write_counter'", (counter,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            if counter is not None and self._keyfile.path.exists():
                self._raise_keyfile_counter(counter)

    # -- passphrase ------------------------------------------------------------------------

    def change_passphrase(self, new_passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> None:
        """Re-wrap the database key. Atomic: the key file is replaced by one rename."""
        with self._lock:
            fresh = self._keyfile.rewrapped(self._db_key, new_passphrase, kdf)
            fresh.save()
            self._keyfile = fresh  # only once on disk: a failed save must not leak in with a later write

    @property
    def database_key(self) -> bytes:
        """The raw SQLCipher key (for encrypted backups only)."""
        return self._db_key

    def backup_to(self, target: Path) -> None:
        """A consistent encrypted copy of the database (same key), e.g. for tests or backups."""
        with self._lock:
            self._conn.execute("VACUUM INTO ?", (str(target),))

    def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return cast(list[tuple[Any, ...]], self._conn.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return cast("tuple[Any, ...] | None", self._conn.execute(sql, params).fetchone())


def _move_aside_orphan(db_path: Path) -> None:
    if not db_path.exists():
        return
    n = 1
    while db_path.with_name(f"{db_path.name}.orphan-{n}").exists():
        n += 1
    db_path.rename(db_path.with_name(f"{db_path.name}.orphan-{n}"))
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)


def _split(script: str) -> list[str]:
    """The statements of a migration script. A piece ending in ";" is a statement once SQLite's own
    parser says it is complete (``sqlite3.complete_statement``), so a trigger body's inner
    statements stay inside its CREATE TRIGGER."""
    import sqlite3

    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                statements.append(pending.strip().rstrip(";").strip())
            pending = ""
    if pending.strip(" \n\t;"):
        statements.append(pending.strip().rstrip(";").strip())
    return statements
