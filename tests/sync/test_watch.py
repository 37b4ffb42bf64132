"""Watch mode against a real relay: an entry alice sends reaches bob's running watcher in seconds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer
from sync_helpers import befriend, received, sync

from tui_sns.sync.engine import SyncEngine, SyncReport

pytestmark = pytest.mark.slow


class Watcher:
    """``engine.watch`` in its own thread and event loop; ``stop()`` cancels the task."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self.reports: list[SyncReport] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.task = asyncio.create_task(self.engine.watch(self.reports.append, push_interval=0.2))
            self.ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - reported by the test
            self.error = exc

    def __enter__(self) -> Watcher:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self.task is not None
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)
        assert not self.thread.is_alive(), "the watcher did not stop when cancelled"
        assert self.error is None, self.error


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_watch_applies_an_entry_within_seconds(relay: RelayServer, person: Callable[..., Any]) -> None:
    alice, bob = person("alice", relay), person("bob", relay)
    befriend(alice, bob)
    with Watcher(SyncEngine(bob)) as watcher:
        assert wait_for(lambda: any(r.errors == [] for r in watcher.reports))  # caught up, streaming
        alice.diary.post("live", title="while watching", to=["bob"])
        sent = time.monotonic()
        assert sync(alice).pushed == 1
        assert wait_for(lambda: {p.title for p in received(bob)} == {"while watching"}, timeout=10)
        assert time.monotonic() - sent < 10
        assert wait_for(lambda: any(r.new_post_ids for r in watcher.reports))  # (reported after storing)
        # bob's own entry, written while watching, is pushed by the watcher too.
        bob.diary.post("reply", title="bob live", to=["alice"])
        assert wait_for(lambda: any(r.pushed for r in watcher.reports))
    assert all(not r.errors for r in watcher.reports), [r.errors for r in watcher.reports]
    assert {p.title for p in received(alice)} == set()
    sync(alice)
    assert {p.title for p in received(alice)} == {"bob live"}


def test_sync_watch_command_smoke(relay: RelayServer, person: Callable[..., Any]) -> None:
    alice, bob = person("alice", relay), person("bob", relay)
    befriend(alice, bob)
    home = bob.store.home
    bob.close()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui_sns", "--home", str(home), "sync", "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout or ()], daemon=True).start()
    try:
        time.sleep(1.0)  # let it start and connect (an entry sent earlier is fetched on catch-up anyway)
        alice.diary.post("to a watcher", title="smoke", to=["bob"])
        assert sync(alice).pushed == 1
        deadline = time.monotonic() + 15
        seen: list[str] = []
        while time.monotonic() < deadline and not any("1 new entry" in line for line in seen):
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert any("1 new entry" in line for line in seen), seen
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
    err = child.stderr.read() if child.stderr else ""
    assert "Watching relays" in err
    assert "Traceback" not in err, err
