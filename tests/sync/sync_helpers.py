"""Helpers for the client-sync tests (imported by conftest.py and the tests; pytest puts this directory on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# High enough that the tests measure correctness, not throttling.
RELAY_TEST_ENV = {
    "TUI_SNS_RELAY_WRITE_RATE": "100000",
    "TUI_SNS_RELAY_WRITE_BURST": "100000",
    "TUI_SNS_RELAY_READ_RATE": "100000",
    "TUI_SNS_RELAY_READ_BURST": "100000",
}


def befriend(a: Any, b: Any) -> None:
    """Two open sessions add each other's current card (so each names the other's relays)."""
    card_a, card_b = a.contacts.my_card(), b.contacts.my_card()
    a.contacts.add(card_b)
    b.contacts.add(card_a)


def titles(session: Any) -> set[str]:
    return {p.title for p in session.diary.timeline() if not p.mine}


def sync(session: Any, **kw: Any) -> Any:
    from tui_sns.sync.engine import SyncEngine

    return SyncEngine(session, **kw).sync_once()


def unlock(home: Path) -> Any:
    """Open the identity in ``home`` with the test passphrase (from TUI_SNS_PASSPHRASE)."""
    from tui_sns.core.session import Session

    return Session.unlock(home, os.environ["TUI_SNS_PASSPHRASE"])


def post_many(session: Any, count: int, to: list[str], prefix: str) -> list[str]:
    """``count`` entries titled ``{prefix}-{i}`` in one store transaction (fast); returns the titles."""
    made = [f"{prefix}-{i}" for i in range(count)]
    with session.store.write():
        for title in made:
            session.diary.post(f"body of {title}", title=title, to=to)
    return made


def outbox(session: Any, url: str) -> list[bytes]:
    """The envelopes ``url`` has not acknowledged yet, oldest first."""
    from tui_sns.store import relays as relay_store

    return [row[1] for row in relay_store.pending_deliveries(session.store, url)]


def received(session: Any) -> list[Any]:
    """Every entry in the timeline that someone else wrote."""
    return [p for p in session.diary.timeline() if not p.mine]


def link_device(ana: Any, tmp_path: Path, name: str = "laptop") -> Any:
    """A new device of ``ana`` (an open Session) linked over her first relay through the real
    linking protocol (``core.linking.host_link`` in a thread, ``join_link`` here; cheap KDF): the
    new device's open Session, stored in ``tmp_path / name``."""
    import threading

    from tui_sns.core.linking import host_link, join_link
    from tui_sns.store import KdfParams

    url = ana.relays.list()[0].url
    credential = ana.relays.list()[0].credential
    shown: dict[str, Any] = {}
    ready = threading.Event()
    result: dict[str, Any] = {}

    def show(code: Any, qr: str) -> None:
        shown["code"] = code
        ready.set()

    def host() -> None:
        try:
            result["hello"] = host_link(ana, url, credential, 60, show, lambda hello: True)
        except BaseException as exc:  # reported by the main thread
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    try:
        assert ready.wait(30) and "error" not in result
        device = join_link(
            tmp_path / name,
            os.environ["TUI_SNS_PASSPHRASE"],
            shown["code"],
            url,
            None,
            name,
            lambda sas: None,
            timeout=30,
            kdf=KdfParams.insecure_for_tests(),
        )
    finally:
        thread.join(30)
    assert "error" not in result, result.get("error")
    return device
