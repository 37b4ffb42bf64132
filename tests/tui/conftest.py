"""Fixtures for the TUI tests: cheap identities, deterministic data, a private config dir."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui_sns.core.session import Session
from tui_sns.screens.app import TuiSnsApp
from tui_sns.store import KdfParams
from tui_sns.store import posts as post_store

PASS = "correct horse battery staple"
CHEAP = KdfParams.insecure_for_tests()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times render in local time: make that UTC so the snapshots do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def person(tmp_path: Path) -> Iterator[Callable[[str], Session]]:
    opened: list[Session] = []

    def make(name: str) -> Session:
        session = Session.create(tmp_path / f"home-{name}", name, PASS, kdf=CHEAP)
        opened.append(session)
        return session

    yield make
    for session in opened:
        with contextlib.suppress(Exception):
            session.close()


def befriend(a: Session, b: Session) -> None:
    a.contacts.add(b.contacts.my_card(), b.name)
    b.contacts.add(a.contacts.my_card(), a.name)


def add_entry(
    session: Session,
    title: str,
    body: str,
    created: str,
    *,
    author_id: int | None = None,
    audience: dict[str, list[str]] | None = None,
    readers: list[tuple[int, str]] | None = None,
) -> None:
    """An entry with a fixed time (for snapshots and the benchmark), straight into the store."""
    pid = f"{abs(hash((title, created))) % 10**12:012d}"
    post_store.insert_post(
        session.store,
        post_id=pid,
        remote_id=pid,
        author_id=author_id,
        title=title,
        body=body,
        created=created,
        received=created,
        audience=audience
        if author_id is None and audience is not None
        else ({"circles": [], "contacts": []} if author_id is None else None),
        readers=readers,
    )


@pytest.fixture
def ann_world(person: Callable[[str], Session]) -> Session:
    """Ann with friends Bob and Kenji, a circle "Close friends", and a few entries at fixed times."""
    ann, bob, kenji = person("Ann"), person("Bob"), person("Kenji")
    befriend(ann, bob)
    befriend(ann, kenji)
    ann.circles.create("Close friends")
    ann.circles.add("Close friends", ["Bob", "Kenji"])
    ann.circles.create("Climbing")
    ann.circles.add("Climbing", ["Bob"])
    contacts = {c.name: c for c in ann.contacts.list()}
    bob_id = ann.contacts.get("Bob").id
    kenji_id = ann.contacts.get("Kenji").id
    assert contacts
    add_entry(ann, "Morning pages", "Slept well. *Coffee* first.", "2026-03-01T08:00:00+00:00")
    add_entry(
        ann,
        "Weekend plans",
        "Anyone up for the **crag** on Saturday?",
        "2026-03-02T09:30:00+00:00",
        audience={"circles": ["Close friends"], "contacts": []},
        readers=[(bob_id, "Bob"), (kenji_id, "Kenji")],
    )
    add_entry(ann, "Re: plans", "Count me in.", "2026-03-02T10:00:00+00:00", author_id=bob_id)
    add_entry(ann, "Tea notes", "A new oolong.", "2026-03-03T18:15:00+00:00", author_id=kenji_id)
    return ann


@pytest.fixture
def make_app(config_dir: Path) -> Callable[..., TuiSnsApp]:
    def make(home: Path, session: Session | None = None, **kwargs: object) -> TuiSnsApp:
        kwargs.setdefault("sync", False)
        kwargs.setdefault("kdf", CHEAP)
        return TuiSnsApp(home, session, config_dir=config_dir, **kwargs)  # type: ignore[arg-type]

    return make


os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
