"""Issue 13 item 11: "Last sync" is the last SUCCESSFUL one (per relay and overall); while a relay is
down the watch loop says when it retries; back-off is capped and reset when the relay answers again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend
from test_bad_relays import GOOD, LIMITS, Router, invite

from tui_sns.core.relays import RelayBook
from tui_sns.store import relays as relay_store
from tui_sns.store.identity import get_meta
from tui_sns.sync import engine
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig


@pytest.fixture
def good_app(tmp_path: Path) -> Any:
    return create_app(replace(RelayConfig(db=f"sqlite:///{tmp_path / 'good.db'}"), **LIMITS))


class Switch(httpx.AsyncBaseTransport):
    """The relay app behind a switch: while ``down``, every connection is refused."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


def setup(good_app: Any, person: Callable[..., Any]) -> tuple[Any, Switch, Router]:
    alice, bob = person("alice"), person("bob")
    switch = Switch(good_app)
    router = Router({"good.test": switch})
    for session in (alice, bob):
        RelayBook(session, transport=router).add(GOOD, invite(good_app))
    befriend(alice, bob)
    return alice, switch, router


def test_a_failed_sync_does_not_move_the_last_successful_sync(
    good_app: Any, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    """The seen case: "Last sync" moved forward on failed syncs."""
    alice, switch, router = setup(good_app, person)
    switch.down = True
    assert SyncEngine(alice, transport=router).sync_once().errors
    status = SyncEngine(alice, transport=router).status(probe=False)
    assert status.last_sync is None and status.last_attempt is not None
    assert status.relays[0].last_ok is None and status.relays[0].error

    switch.down = False
    assert SyncEngine(alice, transport=router).sync_once().errors == []
    good = SyncEngine(alice, transport=router).status(probe=False)
    assert good.last_sync is not None and good.relays[0].last_ok is not None

    switch.down = True
    assert SyncEngine(alice, transport=router).sync_once().errors
    after = SyncEngine(alice, transport=router).status(probe=False)
    assert after.last_sync == good.last_sync  # not moved by the failed sync
    assert after.relays[0].last_ok == good.relays[0].last_ok and after.relays[0].error

    home = alice.store.home
    alice.close()
    shown = cli(home, "status")
    assert f"Last successful sync with my relays: {good.last_sync}" in shown.out
    assert f"last successful sync {good.relays[0].last_ok}" in shown.out


def test_back_off_is_capped() -> None:
    """The outbox back-off grew to an hour: queued entries went out long after the relay came back."""
    assert engine.MAX_BACKOFF <= 60 and engine.WATCH_RETRY_MAX <= 60
    assert max(engine.backoff_seconds(n) for n in range(200)) == engine.MAX_BACKOFF


def test_watch_says_when_it_retries_and_sends_the_outbox_as_soon_as_the_relay_answers(
    good_app: Any, person: Callable[..., Any]
) -> None:
    alice, switch, router = setup(good_app, person)
    switch.down = True
    alice.diary.post("queued while down", title="queued", to=["bob"])
    eid = relay_store.pending_deliveries(alice.store, GOOD)[0][0]
    # As after many failed attempts: the envelope would wait an hour with the old back-off.
    relay_store.mark_failed(alice.store, eid, GOOD, "2999-01-01T00:00:00+00:00")
    sync = SyncEngine(alice, transport=router)

    async def until(condition: Callable[[], bool], ceiling: float = 15.0) -> bool:
        for _ in range(int(ceiling / 0.05)):
            if condition():
                return True
            await asyncio.sleep(0.05)
        return condition()

    async def run() -> tuple[Any, int | None, Any]:
        task = asyncio.create_task(sync.watch(None, push_interval=0.1, retry_interval=0.5))
        try:
            assert await until(lambda: sync.status(probe=False).relays[0].retry_in is not None)
            down = sync.status(probe=False).relays[0]
            retry_in = down.retry_in
            switch.down = False
            assert await until(lambda: not relay_store.pending_deliveries(alice.store, GOOD)), (
                "the outbox did not go out when the relay answered again"
            )
            assert await until(lambda: sync.status(probe=False).relays[0].retry_in is None)
            assert await until(lambda: get_meta(alice.store, "last_sync") is not None)
            up = sync.status(probe=False)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return down, retry_in, up

    down, retry_in, up = asyncio.run(run())
    assert down.error and "unreachable" in down.error and down.last_ok is None
    assert retry_in is not None and 0 <= retry_in <= engine.WATCH_RETRY_MAX
    assert up.relays[0].error is None and up.relays[0].last_ok is not None


def test_watch_says_once_when_a_failed_relay_answers_again(good_app: Any, person: Callable[..., Any]) -> None:
    """The seen case: `sync --watch` said when a relay failed, and nothing when it came back."""
    alice, switch, router = setup(good_app, person)
    switch.down = True
    sync = SyncEngine(alice, transport=router)
    reports: list[Any] = []

    async def run() -> None:
        task = asyncio.create_task(sync.watch(reports.append, push_interval=0.1, retry_interval=0.3))
        try:
            for _ in range(200):
                if any(r.errors for r in reports):
                    break
                await asyncio.sleep(0.05)
            switch.down = False
            for _ in range(200):
                if any("answers again" in n for r in reports for n in r.notes):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # time for a second (wrong) recovery line
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(run())
    assert any(GOOD in e for r in reports for e in r.errors)
    recovered = [n for r in reports for n in r.notes if "answers again" in n]
    assert recovered == [f"relay {GOOD} answers again"], recovered
