"""`status` tells an unreachable relay from one answering an error (its HTTP status) and from one
refusing my credential; one dead contact relay does not keep "Last successful sync" (my relays) from
moving, and each relay's own last good sync is kept and shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_bad_relays import GOOD, LIMITS, Router, invite

from tui_sns.core.relays import RelayBook
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig

DEAD = "https://dead.example.org"
BROKEN = "https://broken.example.org"


@pytest.fixture
def good_app(tmp_path: Path) -> Any:
    return create_app(replace(RelayConfig(db=f"sqlite:///{tmp_path / 'good.db'}"), **LIMITS))


def answering(status: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json={"detail": "boom"}))


def test_one_dead_contact_relay_does_not_hold_back_the_last_successful_sync(
    good_app: Any, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    alice, bob = person("alice"), person("bob")
    router = Router({"good.test": httpx.ASGITransport(app=good_app)})  # dead.example.org: no route
    RelayBook(alice, transport=router).add(GOOD, invite(good_app))
    alice.contacts.add(bob.contacts.my_card(relays=(DEAD,)))
    report = SyncEngine(alice, transport=router).sync_once()
    assert report.errors and DEAD in report.errors[0]  # still said, and `sync` still exits 1
    status = SyncEngine(alice, transport=router).status(probe=False)
    assert status.last_sync is not None  # every one of my relays answered
    shown = {r.url: r for r in status.relays}
    assert shown[GOOD].last_ok is not None and shown[DEAD].last_ok is None and shown[DEAD].error

    home = alice.store.home
    alice.close()
    out = cli(home, "status").out
    assert f"Last successful sync with my relays: {status.last_sync}" in out
    (dead_line,) = [line for line in out.splitlines() if line.startswith(f"Relay {DEAD} ")]
    assert "last successful sync never" in dead_line
    (good_line,) = [line for line in out.splitlines() if line.startswith(f"Relay {GOOD} ")]
    assert f"last successful sync {shown[GOOD].last_ok}" in good_line


def test_a_relay_without_relays_of_mine_counts_every_relay(good_app: Any, person: Callable[..., Any]) -> None:
    alice, bob = person("alice"), person("bob")
    router = Router({"good.test": httpx.ASGITransport(app=good_app)})
    alice.contacts.add(bob.contacts.my_card(relays=(GOOD, DEAD)))
    SyncEngine(alice, transport=router).sync_once()
    assert SyncEngine(alice, transport=router).status(probe=False).last_sync is None


def test_status_tells_unreachable_from_an_error_answer_and_a_refused_credential(
    good_app: Any, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    alice, bob = person("alice"), person("bob")
    router = Router({"good.test": httpx.ASGITransport(app=good_app), "broken.example.org": answering(500)})
    RelayBook(alice, transport=router).add(GOOD, invite(good_app))
    alice.contacts.add(bob.contacts.my_card(relays=(DEAD, BROKEN)))

    status = SyncEngine(alice, transport=router).status()
    states = {r.url: (r.state, r.http_status, r.reachable) for r in status.relays}
    assert states == {
        GOOD: ("reachable", None, True),
        DEAD: ("unreachable", None, False),
        BROKEN: ("error", 500, False),
    }
    as_json = {r["url"]: r for r in status.as_json()["relays"]}  # type: ignore[union-attr]
    assert as_json[BROKEN]["state"] == "error" and as_json[BROKEN]["http_status"] == 500

    # The relay forgets my credential (revoked, or the relay was reset): the probe says so.
    refusing = Router({"good.test": httpx.ASGITransport(app=good_app)})
    fresh = create_app(replace(RelayConfig(db=f"sqlite:///{Path(alice.store.home) / 'other.db'}"), **LIMITS))
    refusing.routes["good.test"] = httpx.ASGITransport(app=fresh)
    mine = SyncEngine(alice, transport=refusing).status().relays[0]
    assert (mine.url, mine.state, mine.http_status, mine.reachable) == (GOOD, "refused", 401, True)

    from tui_sns.cli.commands import _probe_words

    assert _probe_words("error", 500, False, None) == "answering with an error (HTTP 500)"
    assert "refuses my credential" in _probe_words("refused", 401, True, None)
    assert _probe_words("unreachable", None, False, None) == "unreachable"


def test_the_apps_relay_list_says_the_same_states() -> None:
    from tui_sns.screens.relays import _reachable
    from tui_sns.sync.engine import RelayStatus

    def shown(state: str | None, reachable: bool | None, http_status: int | None = None) -> str:
        return _reachable(
            RelayStatus(DEAD, False, reachable, None, None, (), state=state, http_status=http_status)
        )

    assert shown("reachable", True) == "● yes"
    assert shown("unreachable", False) == "● no"
    assert shown("error", False, 500) == "● error 500"
    assert shown("refused", True, 401) == "● key refused"
    assert shown("skipped", None) == "– not contacted"
    assert shown(None, None) == "○ checking…"
