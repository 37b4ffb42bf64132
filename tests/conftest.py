"""Shared fixtures for the store and CLI tests: cheap identities, an in-process CLI runner, file snapshots.

Identities are created through the API with ``KdfParams.insecure_for_tests()``; the key file records
those parameters, so the CLI unlocks them cheaply too. Only a few tests run ``tui-sns init`` (which
always pays for the production Argon2id cost).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PASSPHRASE = "correct horse battery staple"
ISOLATED_ENV_NAMES = (
    "TUI_SNS_PASSPHRASE",
    "TUI_SNS_NEW_PASSPHRASE",
    "TUI_SNS_HOME",
    "TUI_SNS_PROXY",
    "TUI_SNS_ALLOW_PRIVATE_RELAYS",
)


@pytest.fixture
def passphrase() -> str:
    return PASSPHRASE


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the real user data directory or inherit a passphrase from the environment."""
    for name in ISOLATED_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUI_SNS_HOME", str(tmp_path / "default-home-must-not-be-used"))
    monkeypatch.setenv("TUI_SNS_PASSPHRASE", PASSPHRASE)


@pytest.fixture
def make_identity(tmp_path: Path) -> Callable[..., Path]:
    """make_identity("alice") -> a fresh home holding a closed identity named alice (cheap KDF)."""
    from tui_sns.core.session import Session
    from tui_sns.store import KdfParams

    def make(name: str, passphrase: str = PASSPHRASE, home: Path | None = None) -> Path:
        home = home if home is not None else tmp_path / f"home-{name}"
        Session.create(home, name, passphrase, kdf=KdfParams.insecure_for_tests()).close()
        return home

    return make


@pytest.fixture
def home(make_identity: Callable[..., Path]) -> Path:
    """A home holding the identity "alice"."""
    return make_identity("alice")


@pytest.fixture
def open_session() -> Callable[..., Any]:
    from tui_sns.core.session import Session

    def unlock(home: Path, passphrase: str = PASSPHRASE) -> Session:
        return Session.unlock(home, passphrase)

    return unlock


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """cli(home, "whoami", "--json", stdin=None) runs ``tui_sns.cli.main`` in process."""
    from tui_sns.cli import main

    def run(home: Path | None, *args: str, stdin: str | None = None) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        argv = (["--home", str(home)] if home is not None else []) + list(args)
        with monkeypatch.context() as m:
            m.setattr(sys, "stdin", io.StringIO(stdin if stdin is not None else ""))
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def file_snapshot() -> Callable[[Path], dict[str, tuple[str, int, int]]]:
    """file_snapshot(dir) -> {relative path: (sha256, mtime_ns, mode)} of every file under dir."""

    def take(root: Path) -> dict[str, tuple[str, int, int]]:
        out: dict[str, tuple[str, int, int]] = {}
        if not root.exists():
            return out
        for path in sorted(root.rglob("*")):
            if path.is_file():
                st = path.stat()
                out[str(path.relative_to(root))] = (
                    hashlib.sha256(path.read_bytes()).hexdigest(),
                    st.st_mtime_ns,
                    st.st_mode,
                )
        return out

    return take


@pytest.fixture
def card_of(open_session: Callable[..., Any]) -> Callable[..., str]:
    """card_of(home) -> that identity's contact card."""

    def card(home: Path, display_name: str | None = None) -> str:
        with open_session(home) as session:
            return str(session.contacts.my_card(display_name))

    return card


@pytest.fixture
def befriend(open_session: Callable[..., Any], card_of: Callable[..., str]) -> Callable[..., None]:
    """befriend(home_a, home_b): each adds the other's card (under the card's name)."""

    def both(a: Path, b: Path) -> None:
        card_a, card_b = card_of(a), card_of(b)
        with open_session(a) as session:
            session.contacts.add(card_b)
        with open_session(b) as session:
            session.contacts.add(card_a)

    return both


@pytest.fixture
def umask0() -> Iterator[None]:
    """Run with umask 000, so file modes come from the code alone."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- in-process people and bundle delivery (hostile-input and conversation tests) ---------------


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
