"""Fixtures for the client-sync tests: real relay subprocesses, cheap identities that joined them.

Every relay listens on 127.0.0.1 on a free port and is stopped by the fixture that started it
(terminate, then kill). Identities use the insecure test KDF; the CLI unlocks them cheaply because
the key file records the parameters (TUI_SNS_PASSPHRASE is set by ``isolated_env``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from relay_server import RelayServer
from sync_helpers import RELAY_TEST_ENV

PG_ENV = "TUI_SNS_TEST_PG_DSN"


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass


@pytest.fixture
def ram_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when there is one (fsync is free there), else under tmp_path.

    For relay databases in tests that measure correctness under volume, not the disk.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="tui-sns-sync-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def spawn_relay(tmp_path: Path, ram_dir: Path) -> Iterator[Callable[..., RelayServer]]:
    """``spawn_relay(db=None, env=None, in_ram=False)`` -> a started relay; each is stopped afterwards."""
    started: list[RelayServer] = []

    def spawn(db: str | None = None, env: dict[str, str] | None = None, in_ram: bool = False) -> RelayServer:
        db = db or f"sqlite:///{(ram_dir if in_ram else tmp_path) / f'relay-{len(started)}.db'}"
        server = RelayServer(db, tmp_path, env={**RELAY_TEST_ENV, **(env or {})})
        started.append(server)
        return server.start()

    try:
        yield spawn
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def relay(spawn_relay: Callable[..., RelayServer]) -> RelayServer:
    return spawn_relay()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (the relay does not create it), dropped after."""
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(f"{PG_ENV} is not set: the PostgreSQL two-relay test needs a database")
    import psycopg
    from psycopg import sql

    schema = f"sync_test_{secrets.token_hex(6)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# -- people --------------------------------------------------------------------------------------


@pytest.fixture
def person(tmp_path: Path, ram_dir: Path) -> Callable[..., Any]:
    """person("alice", *relays, in_ram=False) -> an open Session (cheap KDF), joined to the relays.

    The caller owns the session (close it, or let the test end). ``in_ram`` puts the home on tmpfs.
    """
    from tui_sns.core.session import Session
    from tui_sns.store import KdfParams

    passphrase = os.environ["TUI_SNS_PASSPHRASE"]

    def make(name: str, *relays: RelayServer, in_ram: bool = False) -> Any:
        home = (ram_dir if in_ram else tmp_path) / f"home-{name}"
        session = Session.create(home, name, passphrase, kdf=KdfParams.insecure_for_tests())
        for server in relays:
            session.relays.add(server.url, server.invite())
        return session

    return make
