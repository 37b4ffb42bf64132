"""Fixtures for the relay tests: databases on both backends, in-process apps, real servers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from relay_helpers import TEST_ENV, TEST_LIMITS, RelayClient, pg_dsn_or_skip, with_search_path
from relay_server import RelayServer

from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    dsn = pg_dsn_or_skip()
    schema = f"relay_test_{secrets.token_hex(6)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(dsn, schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'relay.db'}"


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrises a test over both backends (PostgreSQL only when configured)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relay.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def make_relay(db_url: str) -> AsyncIterator[Callable[..., Any]]:
    """``await make_relay(**config_overrides)`` -> a running in-process :class:`RelayClient`."""
    async with AsyncExitStack() as stack:

        async def factory(**overrides: Any) -> RelayClient:
            config = replace(RelayConfig(db=db_url), **{**TEST_LIMITS, **overrides})
            app = create_app(config)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay.test")
            await stack.enter_async_context(client)
            return RelayClient(app, client)

        yield factory


@pytest.fixture
async def relay(make_relay: Callable[..., Any]) -> RelayClient:
    client: RelayClient = await make_relay()
    return client


@pytest.fixture
def spawn_relay(tmp_path: Path) -> Iterator[Callable[..., RelayServer]]:
    """``spawn_relay(db, *extra_args)`` starts a server that is always stopped afterwards."""
    started: list[RelayServer] = []

    def spawn(db: str, *args: str, env: dict[str, str] | None = None) -> RelayServer:
        process = RelayServer(db, tmp_path, *args, env={**TEST_ENV, **(env or {})})
        started.append(process)
        process.start()
        return process

    try:
        yield spawn
    finally:
        for process in started:
            process.stop()
