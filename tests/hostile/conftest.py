"""Fixtures for the hostile-input tests: in-process people (cheap KDF), bundle delivery, hostile strings."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass


@pytest.fixture
def people(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """people("alice", "bob") -> open Sessions (closed afterwards; closing twice is harmless)."""
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
        with contextlib.suppress(Exception):  # already closed by the test
            session.close()


@pytest.fixture
def deliver(tmp_path: Path) -> Callable[..., list[Any]]:
    """deliver(sender, *receivers): the sender's new outbox envelopes, as a bundle, into each receiver."""
    counter = itertools.count()

    def run(sender: Any, *receivers: Any) -> list[Any]:
        path = tmp_path / f"bundle-{next(counter)}.tsns"
        sender.exchange.export_outbox(path)
        return [r.exchange.import_inbox(path) for r in receivers]

    return run


# -- the app ------------------------------------------------------------------------------------------


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Any]:
    import os

    from tui_sns.screens.app import TuiSnsApp
    from tui_sns.store import KdfParams

    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

    def make(home: Path, session: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("sync", False)
        kwargs.setdefault("kdf", KdfParams.insecure_for_tests())
        return TuiSnsApp(home, session, config_dir=tmp_path / "config", **kwargs)

    return make
