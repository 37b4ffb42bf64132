"""Device-sync ops leave in the sync that sees them (design-v2 §8.2), as outbox envelopes do.

Seen in a trial: (b) an op recorded while a sync's pull ran (the app, or applying what the pull
brought) waited for the next sync; (c) in watch mode the pusher was woken by new outbox envelopes
only, so such an op waited for the push timer. Both tests failed before the fix (watched)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from relay_server import RelayServer
from sync_helpers import befriend, sync
from test_watch import Watcher, wait_for

from tui_sns.crypto.primitives import x25519_base
from tui_sns.sync.engine import SyncEngine


def _with_a_sibling(session: Any) -> None:
    """List a second device of mine (as linking does), so that changes are queued as ops for it."""
    secret = os.urandom(32)
    session.devices.add_device(os.urandom(8), x25519_base(secret), "laptop")
    SyncEngine(session).seal_device_ops()  # (the device op itself)


def test_an_op_recorded_during_the_pull_goes_out_in_the_same_sync(
    relay: RelayServer, person: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = person("ana", relay)
    _with_a_sibling(ana)
    sync(ana)
    engine = SyncEngine(ana)
    real_pull = engine.pull
    calls = 0

    async def pull_and_change(client: Any, into: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:  # the person makes a circle while the pull runs
            ana.circles.create("made during the pull")
        return await real_pull(client, into)

    monkeypatch.setattr(engine, "pull", pull_and_change)
    report = engine.sync_once()
    assert ana.devices.queued() == []  # sealed ...
    assert report.pushed >= 1  # ... and pushed in this sync
    assert not report.errors


@pytest.mark.slow
def test_watch_pushes_an_op_recorded_by_applying_at_once(relay: RelayServer, person: Any) -> None:
    """The push timer is 60 s here: only a wake explains the op leaving within seconds."""
    ana, kenji = person("ana", relay), person("kenji", relay)
    befriend(ana, kenji)
    _with_a_sibling(ana)
    sync(ana)
    engine = SyncEngine(ana)
    real_apply = engine._apply

    def apply_and_record(url: str, envelopes: list[Any], cursor: int, into: Any) -> None:
        real_apply(url, envelopes, cursor, into)
        if envelopes:  # what applying did was recorded for my other device (say, a read mark)
            ana.circles.create(f"after {len(envelopes)}")

    engine._apply = apply_and_record  # type: ignore[method-assign]
    with Watcher(engine, push_interval=60) as watcher:
        assert wait_for(lambda: any(r.errors == [] for r in watcher.reports))  # caught up, streaming
        wait_for(lambda: False, timeout=0.5)  # past the first push round (then the timer is 60 s)
        kenji.diary.post("hello", title="while ana watches", to=["ana"])
        assert sync(kenji).pushed >= 1
        assert wait_for(lambda: any(p.title == "while ana watches" for p in ana.diary.timeline()))
        assert wait_for(lambda: ana.devices.queued() == [] and any(r.pushed for r in watcher.reports))
    assert all(not r.errors for r in watcher.reports), [r.errors for r in watcher.reports]
