"""Opening, creating and writing the SQLCipher store.

* ``store.key`` holds the random database key wrapped under Argon2id(passphrase) (keyfile.py).
* ``store.db`` is SQLCipher 4 keyed with that raw key (``PRAGMA key = "x'…'"``: no PBKDF2 on open),
  in WAL mode with synchronous=FULL, foreign keys on.
* Every write runs in one transaction that also bumps ``meta.write_counter``; after the commit the
  key file's authenticated counter is raised to match. Opening refuses a database whose counter is
  below the key file's: an older copy of the database file put back (rollback).
* A store that cannot be written (read-only media, no write permission, a disk with no space left
  to open the write-ahead log) opens read-only (SQLite ``immutable=1``): reading works, every write
  raises :class:`StoreReadOnly` (or :class:`StoreFull`) and nothing changes, the key file included.
* SQLite errors never leave this module raw: :func:`classify` turns each into the StoreError of its
  cause (disk full, read-only, damaged pages, wrong key).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, cast

import sqlcipher3

from tui_sns.store.errors import (
    IdentityExists,
    KeyFileCorrupt,
    NoIdentity,
    StoreDamaged,
    StoreError,
    StoreFull,
    StoreMissing,
    StoreReadOnly,
    StoreRolledBack,
    WrongKey,
    WrongPassphrase,
)
from tui_sns.store.keyfile import DEFAULT_KDF, KdfParams, KeyFile
from tui_sns.store.schema import DATA_STEPS, LATEST, MIGRATIONS, MigrationContext

DB_NAME = "store.db"
KEY_NAME = "store.key"

Connection = Any  # sqlcipher3 ships no type information

# SQLite primary result codes (sqlite3.h)
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = (
    8,
    10,
    11,
    13,
    14,
    26,
)
# Too little free space to grow the write-ahead log's index: treated as a full disk.
LOW_SPACE = 64 * 1024
SALVAGE_HINT = "run `tui-sns backup --salvage FILE` to save every readable entry, or restore a backup"


def _free_bytes(path: Path) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return LOW_SPACE + 1
    return st.f_bavail * st.f_frsize


def classify(exc: BaseException, db_path: Path) -> StoreError | None:
    """The StoreError naming the cause of a SQLite error (its primary result code), or None for a
    code that names no cause a person can act on (a bug: it stays an unexpected error). Never raises."""
    if isinstance(exc, StoreError):
        return exc
    code = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    home = db_path.parent
    if code == _SQLITE_FULL or (code == _SQLITE_IOERR and _free_bytes(home) <= LOW_SPACE):
        return StoreFull(f"the disk holding {home} is full: nothing was changed (free some space and retry)")
    if code in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
        return StoreReadOnly(
            f"the store in {home} is read-only (read-only media or no write permission): nothing was changed"
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreDamaged(f"{db_path} is damaged ({exc}): {SALVAGE_HINT}")
    if code == _SQLITE_IOERR:
        return StoreError(f"{db_path} cannot be read or written (disk I/O error): the disk may be failing")
    return None


def _raise_classified(exc: BaseException, db_path: Path) -> NoReturn:
    """Raise the StoreError of ``exc``'s cause, or ``exc`` itself when it names none."""
    error = classify(exc, db_path)
    if error is None:
        raise exc
    raise error from exc


def secure_dir(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)


class Store:
    """One identity's encrypted database. Thread-safe: one connection guarded by a lock."""

    def __init__(
        self,
        home: Path,
        conn: Connection,
        keyfile: KeyFile,
        db_key: bytes,
        read_only: StoreError | None = None,
    ) -> None:
        self.home = home
        self._conn = conn
        self._keyfile = keyfile
        self._db_key = db_key
        self._lock = threading.RLock()
        self._depth = 0
        self._read_only = read_only  # the error every write raises, or None when writable
        self._counter_key = db_key  # the key of the key file's main record
        self._checkpoint_pending = False  # a transaction erased key material: checkpoint after commit
        self.now: Callable[[], int] = lambda: int(time.time())  # data steps' clock (set by open/create)

    @property
    def read_only(self) -> bool:
        """True when the store was opened read-only (read-only media, no write access, disk full)."""
        return self._read_only is not None

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
        *,
        now: Callable[[], int] | None = None,
    ) -> Store:
        """Create a migrated store, run ``setup`` on it, then write the key file.

        ``now`` (unix seconds; default the system clock) is the time migrations' data steps use
        (e.g. the start of the first epoch); the core passes its injectable clock.

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
        if now is not None:
            store.now = now
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

    @classmethod
    def plaintext_for_tests(cls, home: Path, *, now: Callable[[], int] | None = None) -> Store:
        """TEST SUPPORT ONLY: a migrated store in ``home`` whose database is plain SQLite (no SQLCipher
        key), so a test can search the raw bytes of ``store.db``, ``-wal`` and ``-shm`` for secrets that
        were erased (docs/design-v2.md §12.2 step 9). Same pragmas as a real store (WAL,
        ``secure_delete``); no key file is written (the anti-rollback counter is not kept). Never used
        by the program."""
        secure_dir(home)
        keyfile = KeyFile.new(home / "plaintext-test.key", "-", bytes(32), KdfParams.insecure_for_tests())
        conn = cls._connect(home / DB_NAME, b"")
        store = cls(home, conn, keyfile, b"")
        if now is not None:
            store.now = now
        store._migrate()
        return store

    @staticmethod
    def check_present(home: Path) -> None:
        """Raise the right error, before any passphrase is asked for, if ``home`` holds no usable store."""
        key_path, db_path = home / KEY_NAME, home / DB_NAME
        if not key_path.exists():
            if db_path.exists():
                raise KeyFileCorrupt(f"{key_path} is missing: the store cannot be unlocked")
            raise NoIdentity(f"no identity in {home}: run `tui-sns init --name NAME` first")
        if _is_empty(db_path):
            what = "missing" if not db_path.exists() else "empty"
            raise StoreMissing(
                f"{db_path} is {what} but {key_path.name} exists: restore a backup "
                "(`tui-sns restore FILE` into an empty home); a new store is never made over a key file"
            )

    @classmethod
    def open(
        cls, home: Path, passphrase: str, *, read_only: bool = False, now: Callable[[], int] | None = None
    ) -> Store:
        """Unlock the store in ``home``. Opens read-only (``read_only=True``, or when the store cannot
        be written). ``now`` as in :meth:`create` (for migrations' data steps). Raises WrongPassphrase, KeyFileCorrupt, StoreMissing, WrongKey, StoreDamaged,
        StoreRolledBack, StoreReadOnly (an upgrade needed but impossible) or StoreError."""
        cls.check_present(home)
        key_path, db_path = home / KEY_NAME, home / DB_NAME
        keyfile = KeyFile.load(key_path)
        unwrapped = keyfile.unwrap_any(passphrase)
        conn: Connection = None
        for db_key in unwrapped.keys:  # a passphrase change under way: the new key first, then the old
            try:
                conn, why_read_only = cls._open_connection(db_path, db_key, read_only)
                break
            except (WrongKey, StoreDamaged) as exc:
                # during a change, a half-checkpointed file holds pages under both keys: for the
                # other key that looks like damage
                if isinstance(exc, StoreDamaged) and keyfile.pending is None:
                    raise
                error = exc
        if conn is None:
            if keyfile.pending is not None and not unwrapped.via_pending:
                raise WrongPassphrase(
                    "wrong passphrase: a passphrase change completed (the old passphrase no longer opens "
                    "the store); use the new passphrase"
                ) from error
            raise error
        store = cls(home, conn, keyfile, db_key, why_read_only)
        if now is not None:
            store.now = now
        # the key the key file's main record wraps (its counter is authenticated under it)
        store._counter_key = unwrapped.keys[-1]
        try:
            store._check_counter()
            if keyfile.pending is not None:
                store._resolve_pending(unwrapped.keys)
            store._migrate()
        except sqlcipher3.Error as exc:
            conn.close()
            _raise_classified(exc, db_path)
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def _open_connection(
        cls, path: Path, db_key: bytes, read_only: bool
    ) -> tuple[Connection, StoreError | None]:
        """Read-write when possible; else read-only with the error that writes will raise."""
        home = path.parent
        if not read_only and os.access(home, os.W_OK) and os.access(path, os.W_OK):
            try:
                return cls._connect(path, db_key), None
            except (StoreReadOnly, StoreFull):
                pass  # e.g. no space left for the write-ahead log's index: read what is there
        why: StoreError
        if _free_bytes(home) <= LOW_SPACE and not read_only:
            why = StoreFull(
                f"the disk holding {home} is full: nothing was changed (free some space and retry)"
            )
        else:
            why = StoreReadOnly(
                f"the store in {home} is open read-only (read-only media or no write permission): "
                "nothing was changed"
            )
        return cls._connect(path, db_key, read_only=True), why

    @staticmethod
    def _connect(path: Path, db_key: bytes, read_only: bool = False) -> Connection:
        """A keyed connection. Read-only connections use ``immutable=1``: SQLite then needs neither the
        write-ahead log's index (``-shm``) nor write access, and creates no file at all."""
        if read_only:
            wal = path.with_name(path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreReadOnly(
                    f"{path} was not closed cleanly and its write-ahead log cannot be replayed without "
                    "write access and free space: copy the store to writable storage, or free some space"
                )
            uri = "file:" + urllib.parse.quote(str(path)) + "?immutable=1"
        else:
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            uri = "file:" + urllib.parse.quote(str(path))
        try:
            conn = sqlcipher3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlcipher3.Error as exc:
            _raise_classified(exc, path)
        try:
            conn.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to report, not stderr's
            if db_key:  # b"": a test-only plaintext database (plaintext_for_tests)
                conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
            # docs/threat-model.md, "Plaintext outside the store": no wiping of freed memory (the
            # plaintext lives in Python objects anyway), deleted rows overwritten, temporaries in memory
            conn.execute("PRAGMA cipher_memory_security = OFF")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA journal_size_limit = 0")  # the log is cut back after checkpoints
                conn.execute("PRAGMA busy_timeout = 5000")
        except sqlcipher3.Error as exc:
            error = classify(exc, path)
            if isinstance(error, StoreDamaged):
                error = _damaged_or_wrong_key(conn, path, exc)
            conn.close()
            if error is None:
                raise
            raise error from exc
        if not read_only:
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
        if self._read_only is not None:
            raise StoreReadOnly(
                f"the store in {self.home} needs an upgrade (schema {current} to {LATEST}), which needs "
                "write access and free space: nothing was changed"
            )
        copy = self._backup_before_upgrade(current) if current > 0 else None
        for number in range(current + 1, LATEST + 1):
            try:
                with self.write() as conn:
                    for statement in _split(MIGRATIONS[number - 1]):
                        conn.execute(statement)
                    step = DATA_STEPS.get(number)
                    if step is not None:  # the Python part, in the same transaction (schema.py)
                        step(conn, MigrationContext(now=self.now()))
                    conn.execute(f"PRAGMA user_version = {number}")
            except (StoreFull, StoreReadOnly, StoreDamaged):
                raise
            except (sqlcipher3.Error, StoreError) as exc:
                raise StoreError(
                    f"store migration {number} failed ({exc}); the store was left at schema {number - 1}"
                ) from exc
        if copy is not None:  # the upgraded store opened: the copy only kept deleted rows alive
            copy.unlink(missing_ok=True)

    def _backup_before_upgrade(self, version: int) -> Path:
        """An encrypted copy (same key) of the store as it was, kept until the upgrade succeeded."""
        target = self.home / f"store.v{version}.backup.db"
        if not target.exists():
            self._conn.execute("VACUUM INTO ?", (str(target),))
            os.chmod(target, 0o600)
        return target

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
        if db_counter > self._keyfile.counter and self._read_only is None:
            # a crash between commit and counter update: heal (read-only stores write nothing)
            self._raise_keyfile_counter(db_counter)

    def _raise_keyfile_counter(self, counter: int) -> None:
        """Raise the key file's counter after a commit. A key file that cannot be replaced (disk full)
        keeps its lower counter, which the next open heals: the commit stands either way."""
        fresh = self._keyfile.with_counter(self._counter_key, counter)
        try:
            fresh.save()
        except OSError:
            return
        self._keyfile = fresh

    # -- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """The connection, under the lock. SQLite errors raised inside become StoreErrors."""
        with self._lock:
            try:
                yield self._conn
            except sqlcipher3.Error as exc:
                _raise_classified(exc, self.home / DB_NAME)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction; nested calls join the outer one. Bumps the anti-rollback counter.

        Raises StoreReadOnly or StoreFull (the store opened read-only, or SQLite could not write) and
        StoreDamaged; in every case the transaction was rolled back and nothing changed."""
        with self._lock:
            if self._read_only is not None:
                raise type(self._read_only)(str(self._read_only))
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlcipher3.Error as exc:
                _raise_classified(exc, self.home / DB_NAME)
            self._depth = 1
            try:
                yield self._conn
                has_meta = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
                counter = None
                if has_meta:
                    counter = self._db_counter() + 1
                    self._conn.execute("UPDATE meta SET value = ? WHERE key = 'write_counter'", (counter,))
                self._conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlcipher3.Error):
                    _raise_classified(exc, self.home / DB_NAME)
                raise
            finally:
                self._depth = 0
                checkpoint, self._checkpoint_pending = self._checkpoint_pending, False
            if checkpoint:
                self._wal_truncate()
            if counter is not None and self._keyfile.path.exists():
                self._raise_keyfile_counter(counter)

    def checkpoint_after_commit(self) -> None:
        """Inside a write: once this transaction commits, run ``PRAGMA wal_checkpoint(TRUNCATE)``, so
        the write-ahead log keeps no frame of the pages it changed (secure deletion of key material,
        docs/design-v2.md §15.3; ``secure_delete = ON`` zeroes the freed cells in the pages themselves).
        Nothing happens if the transaction rolls back."""
        self._checkpoint_pending = True

    def _wal_truncate(self) -> None:
        with contextlib.suppress(sqlcipher3.Error):  # busy (another reader): the next erasure retries
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _rollback(self) -> None:
        """Roll back if a transaction is still open: SQLite rolls back by itself on some errors
        (SQLITE_FULL, SQLITE_IOERR), and a second ROLLBACK would fail ("no transaction is active")."""
        if self._conn.in_transaction:
            with contextlib.suppress(sqlcipher3.Error):
                self._conn.execute("ROLLBACK")

    # -- passphrase ------------------------------------------------------------------------

    def change_passphrase(self, new_passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> None:
        """Change the passphrase AND the database key (SQLCipher ``PRAGMA rekey``), so that an old key
        file or an old backup, with the old passphrase, cannot open what is written from now on.

        Two phases, each ending in one atomic rename or one SQLite commit (docs/protocol.md):
        1. store.key gains a pending record: the new key (and the old) under the new passphrase;
        2. the database is rekeyed (one transaction) and checkpointed;
        3. store.key's main record becomes the pending one.
        A crash after 1 leaves both passphrases working (the next open finishes or abandons the
        change); after 2, the new one. Raises StoreReadOnly, StoreFull (nothing changed) or
        StoreError."""
        with self._lock:
            if self._read_only is not None:
                raise type(self._read_only)(str(self._read_only))
            new_key = os.urandom(32)
            staged = self._keyfile.with_pending(self._db_key, new_key, new_passphrase, kdf)
            try:
                staged.save()
            except OSError as exc:
                raise _os_error(exc, self.home) from exc
            self._keyfile = staged  # only once on disk: a failed save must not leak in with a later write
            _checkpoint("pending-saved")
            self._finish_change(new_key)

    def _resolve_pending(self, keys: tuple[bytes, ...]) -> None:
        """Finish (the new passphrase was given) or abandon (the old one was) an interrupted change."""
        if self._read_only is not None:
            return  # read-only: use whichever key opened the database, write nothing
        if len(keys) == 1:  # the old passphrase, and the database still opens with the old key
            try:
                self._keyfile.without_pending().save()
            except OSError:
                return  # stays pending: both passphrases keep working
            self._keyfile = self._keyfile.without_pending()
            return
        # e.g. no space to rekey now: open with the old key, and the next open tries again
        with contextlib.suppress(StoreFull, StoreReadOnly):
            self._finish_change(keys[0], keep_pending_on_failure=True)

    def _finish_change(self, new_key: bytes, keep_pending_on_failure: bool = False) -> None:
        if self._db_key != new_key:
            _checkpoint("rekeying")
            failure: BaseException | None = None
            try:
                self._conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
                # SQLCipher's rekey can fail without an error (e.g. no space for the log): the next
                # statement fails instead, and a fresh connection must open the file with the new key
                self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlcipher3.Error as exc:
                failure = exc
            if failure is None and not _opens_with(self.home / DB_NAME, new_key):
                failure = StoreError(f"{self.home / DB_NAME} could not be rekeyed: nothing was changed")
            if failure is not None:
                self._undo_rekey(drop_pending=not keep_pending_on_failure)
                _raise_classified(failure, self.home / DB_NAME)
            self._db_key = new_key
            _checkpoint("rekeyed")
            with contextlib.suppress(sqlcipher3.Error):  # old-key pages leave the main file now
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        final = self._keyfile.finished(new_key)
        try:
            final.save()
        except OSError as exc:
            # the database is rekeyed, the key file still pending (the new passphrase works):
            # no more writes in this session, the next open finishes the change
            self._read_only = _os_error(exc, self.home)
            raise type(self._read_only)(str(self._read_only)) from exc
        self._keyfile, self._counter_key = final, new_key
        _checkpoint("finished")

    def _undo_rekey(self, drop_pending: bool) -> None:
        """After a failed rekey: the transaction rolled back, but SQLCipher keeps the new key on the
        connection. Reconnect with the key the database still has (and drop the pending record)."""
        self._rollback()
        with contextlib.suppress(sqlcipher3.Error):
            self._conn.close()
        self._conn = self._connect(self.home / DB_NAME, self._db_key)
        if not drop_pending:
            return
        with contextlib.suppress(OSError):
            self._keyfile.without_pending().save()
            self._keyfile = self._keyfile.without_pending()

    @property
    def database_key(self) -> bytes:
        """The raw SQLCipher key (for encrypted backups only)."""
        return self._db_key

    def backup_to(self, target: Path) -> None:
        """A consistent encrypted copy of the database (same key), e.g. for tests or backups."""
        with self.read() as conn:
            conn.execute("VACUUM INTO ?", (str(target),))

    def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.read() as conn:
            return cast(list[tuple[Any, ...]], conn.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self.read() as conn:
            return cast("tuple[Any, ...] | None", conn.execute(sql, params).fetchone())


def _opens_with(path: Path, key: bytes) -> bool:
    """Whether a fresh read-only connection reads ``path`` (its committed state) with ``key``."""
    try:
        conn = sqlcipher3.connect("file:" + urllib.parse.quote(str(path)) + "?mode=ro", uri=True)
    except sqlcipher3.Error:
        return False
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except sqlcipher3.Error:
        return False
    finally:
        conn.close()


def _checkpoint(name: str) -> None:
    """A named point of a passphrase change; tests replace this to kill the process there."""


def _os_error(exc: OSError, home: Path) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"the disk holding {home} is full: nothing was changed (free some space and retry)")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreReadOnly(f"the store in {home} is read-only: nothing was changed")
    return StoreError(f"{exc.filename or home}: {exc.strerror or exc}")


def _is_empty(db_path: Path) -> bool:
    """Missing, or 0 bytes with no write-ahead log holding its pages (a store created moments before
    a crash keeps everything in ``store.db-wal`` until the first checkpoint)."""
    if not db_path.exists():
        return True
    if db_path.stat().st_size > 0:
        return False
    wal = db_path.with_name(db_path.name + "-wal")
    return not (wal.exists() and wal.stat().st_size > 0)


def _damaged_or_wrong_key(conn: Connection, path: Path, exc: BaseException) -> StoreError:
    """SQLCipher says "not a database" both for a wrong key and for a damaged first page. A wrong key
    fails the HMAC of every page of the file; damage fails only some. When none fails, the pages that
    did not open are in the write-ahead log (whose frames carry checksums: damage there only shortens
    the log), written under another key, e.g. by a passphrase change that committed."""
    try:
        failures = sum(
            1 for (line,) in conn.execute("PRAGMA cipher_integrity_check").fetchall() if "HMAC" in str(line)
        )
        pages = max(1, path.stat().st_size // 4096)
    except (sqlcipher3.Error, OSError):
        return StoreDamaged(f"{path} is damaged ({exc}): {SALVAGE_HINT}")
    if failures >= pages or failures == 0:
        return WrongKey(
            f"{path} cannot be opened with this key file: it belongs to another store.key, or is not a "
            "tui-sns store (restore the matching key file or a backup)"
        )
    return StoreDamaged(f"{path} is damaged ({failures} of {pages} pages fail their check): {SALVAGE_HINT}")


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
