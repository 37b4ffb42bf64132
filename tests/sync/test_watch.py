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
from sync_helpers import befriend, post_many, received, sync

from tui_sns.sync import engine as engine_module
from tui_sns.sync.engine import SyncEngine, SyncReport

pytestmark = pytest.mark.slow


class Watcher:
    """``engine.watch`` in its own thread and event loop; ``stop()`` cancels the task."""

    def __init__(self, engine: SyncEngine, push_interval: float = 0.2) -> None:
        self.engine = engine
        self.push_interval = push_interval
        self.reports: list[SyncReport] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.task = asyncio.create_task(
                self.engine.watch(self.reports.append, push_interval=self.push_interval)
            )
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


def test_watch_stores_streamed_envelopes_in_batches(
    relay: RelayServer, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 §4: envelopes streamed together are stored in a few transactions, not one each."""
    # A window long enough that a loaded machine still gathers what arrives together (the default is
    # short; the test checks the batching, not its timing).
    monkeypatch.setattr(engine_module, "WATCH_BATCH_WINDOW", 1.0, raising=False)
    alice, bob = person("alice", relay), person("bob", relay)
    befriend(alice, bob)
    count = 30
    writes = 0
    real_write = bob.store.write

    @contextlib.contextmanager
    def counting_write() -> Any:
        nonlocal writes
        # Transactions the watcher begins (nested calls join the outer one; the test's own reads of
        # bob's store are not counted).
        if threading.get_ident() == watcher.thread.ident and not bob.store._depth:
            writes += 1
        with real_write() as conn:
            yield conn

    with Watcher(SyncEngine(bob)) as watcher:
        assert wait_for(lambda: any(r.errors == [] for r in watcher.reports))  # caught up, streaming
        made = post_many(alice, count, ["bob"], "burst")
        time.sleep(0)  # (the watcher thread is idle now: only the stream can write from here on)
        bob.store.write = counting_write  # type: ignore[method-assign]
        try:
            assert sync(alice).pushed == count
            assert wait_for(lambda: {p.title for p in received(bob)} == set(made), timeout=20)
            assert wait_for(lambda: sum(r.pulled for r in watcher.reports) >= count, timeout=10)
        finally:
            bob.store.write = real_write  # type: ignore[method-assign]
    assert sum(r.pulled for r in watcher.reports) == count
    # One transaction per envelope (and one more for its report) before; a handful of batches now.
    assert writes < count // 2, (writes, [r.pulled for r in watcher.reports])
    assert all(not r.errors for r in watcher.reports), [r.errors for r in watcher.reports]


def test_watch_forwards_a_comment_at_once(relay: RelayServer, person: Callable[..., Any]) -> None:
    """Issue 10 §4: a comment on my entry, applied by my watcher, is forwarded to the entry's other
    readers at once, not at the next push timer (60 s here: only the wake can explain delivery)."""
    alice, bob, carol = person("alice", relay), person("bob", relay), person("carol", relay)
    befriend(alice, bob)
    befriend(alice, carol)
    alice.diary.post("read me", title="thread", to=["bob", "carol"])
    sync(alice)
    sync(bob)
    sync(carol)
    (bobs,) = received(bob)
    (carols,) = received(carol)
    with Watcher(SyncEngine(alice), push_interval=60) as author, Watcher(SyncEngine(carol), push_interval=60):
        assert wait_for(lambda: any(r.errors == [] and r.pulled == 0 for r in author.reports))
        time.sleep(0.5)  # both watchers past their first push round (then the timer is 60 s)
        bob.comments.add(bobs.id, "a comment from bob")
        assert sync(bob).pushed == 1
        assert wait_for(lambda: [c.body for c in alice.comments.list(alice.diary.timeline()[0].id)] != [])
        assert wait_for(
            lambda: [c.body for c in carol.comments.list(carols.id)] == ["a comment from bob"], timeout=20
        )


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
