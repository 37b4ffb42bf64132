"""Fixtures for the conversation tests: in-process people (cheap KDF) and bundle delivery between them.

The relay fixtures of tests/sync are reused (its helpers module is put on sys.path).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sync"))

from relay_server import RelayServer  # noqa: E402
from sync_helpers import RELAY_TEST_ENV  # noqa: E402

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass


@pytest.fixture
def spawn_relay(tmp_path: Path) -> Iterator[Callable[..., RelayServer]]:
    started: list[RelayServer] = []

    def spawn() -> RelayServer:
        server = RelayServer(
            f"sqlite:///{tmp_path / f'relay-{len(started)}.db'}", tmp_path, env=RELAY_TEST_ENV
        )
        started.append(server)
        return server.start()

    try:
        yield spawn
    finally:
        for server in started:
            server.stop()
