"""Fixtures for the conversation tests: in-process people (cheap KDF) and bundle delivery between them.

The relay fixtures of tests/sync are reused (its helpers module is put on sys.path).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sync"))

from relay_server import RelayServer  # noqa: E402
from sync_helpers import RELAY_TEST_ENV  # noqa: E402

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass


@pytest.fixture
def people(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """people("alice", "bob") -> open Sessions (closed afterwards)."""
    from tui_sns.core.session import Session
    from tui_sns.store import KdfParams

    opened: list[Any] = []

    def make(*names: str) -> Any:
        made = []
        for name in names:
            session = Session.create(
                tmp_path / f"home-{name}", name, PASSPHRASE, kdf=KdfParams.insecure_for_tests()
            )
            opened.append(session)
            made.append(session)
        return made[0] if len(made) == 1 else made

    yield make
    for session in opened:
        session.store.close()


@pytest.fixture
def deliver(tmp_path: Path) -> Callable[..., list[Any]]:
    """deliver(sender, *receivers): the sender's new outbox envelopes, as a bundle, into each receiver."""
    counter = itertools.count()

    def run(sender: Any, *receivers: Any) -> list[Any]:
        path = tmp_path / f"bundle-{next(counter)}.tsns"
        sender.exchange.export_outbox(path)
        return [r.exchange.import_inbox(path) for r in receivers]

    return run


@pytest.fixture
def spawn_relay(tmp_path: Path) -> Iterator[Callable[..., RelayServer]]:
    started: list[RelayServer] = []

    def spawn() -> RelayServer:
        server = RelayServer(f"sqlite:///{tmp_path / f'relay-{len(started)}.db'}", tmp_path, env=RELAY_TEST_ENV)
        started.append(server)
        return server.start()

    try:
        yield spawn
    finally:
        for server in started:
            server.stop()
