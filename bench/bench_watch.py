"""Watch mode against a paged pull: the client's CPU per envelope (issue 15 §4).

    /work/venv/bin/python bench/bench_watch.py [--count 2000]

A writer seals ``count`` envelopes (half to the reader, half to someone else). The reader, caught up on
an empty relay (a `tui-sns-relay serve` subprocess), runs ``SyncEngine.watch()`` in its own thread;
the writer then pushes the envelopes in batches and the reader applies the streamed envelopes (in
batches), until it has them all. A copy of the reader's store, taken before, then pulls the same
envelopes with ``sync_once()`` (pages of 500, each page in one transaction). Both are measured as the
CPU time of the thread that runs them (``time.thread_time``), per envelope, against one X25519 timed the
same way in the same run: the ratio watch / pull is the figure (issue 15 §4's target, once watch mode
stores in batches: <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_sync import RELAY_ENV, start_relay, stop

from tui_sns.core.session import Session
from tui_sns.net.transport import RelayClient
from tui_sns.store import KdfParams
from tui_sns.store import relays as relay_store
from tui_sns.sync.engine import SyncEngine, SyncReport
from tui_sns.sync.relay.storage import new_token, open_storage, token_hash

assert RELAY_ENV  # the relay runs with the same (unthrottled) limits as bench_sync's


def x25519_cpu(count: int) -> float:
    import nacl.bindings as sodium

    secret = os.urandom(32)
    points = [sodium.crypto_scalarmult_base(os.urandom(32)) for _ in range(count)]
    started = time.thread_time()
    for point in points:
        sodium.crypto_scalarmult(secret, point)
    return (time.thread_time() - started) / count


def watch_until(session: Session, count: int, ready: threading.Event, out: dict[str, float]) -> None:
    """In this thread: watch until ``count`` envelopes were applied; CPU time from ready to the last."""

    async def run() -> None:
        finished = asyncio.Event()
        seen = 0

        def on_report(report: SyncReport) -> None:
            nonlocal seen
            if report.errors:
                out["errors"] = out.get("errors", 0) + len(report.errors)
            if not ready.is_set() and not report.errors:
                out["cpu0"], out["wall0"] = time.thread_time(), time.perf_counter()
                ready.set()  # caught up on the empty relay: the stream starts
                return
            seen += report.pulled
            if seen >= count and not finished.is_set():
                out["cpu1"], out["wall1"] = time.thread_time(), time.perf_counter()
                finished.set()

        task = asyncio.create_task(SyncEngine(session).watch(on_report, push_interval=3600))
        try:
            await asyncio.wait_for(finished.wait(), timeout=900)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    count = args.count
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="bench-watch-", dir=base))
    proc = None
    load = os.getloadavg()
    try:
        db = f"sqlite:///{root / 'relay.db'}"
        storage = open_storage(db, pool_size=1)
        try:
            storage.migrate()
            code = new_token()
            storage.create_invite(token_hash(code), 10, None, time.time())
        finally:
            storage.close()
        proc, url = start_relay(db, root / "relay.log")
        kdf = KdfParams.insecure_for_tests()
        writer = Session.create(root / "writer", "writer", "pw", kdf=kdf)
        reader = Session.create(root / "reader", "reader", "pw", kdf=kdf)
        other = Session.create(root / "other", "other", "pw", kdf=kdf)
        for friend in (reader, other):
            writer.contacts.add(friend.contacts.my_card())
            friend.contacts.add(writer.contacts.my_card())
        other.close()
        writer.relays.add(url, code)
        reader.relays.add(url, code)
        with writer.store.write():
            for i in range(count):
                writer.diary.post(f"entry {i}", title=f"t{i}", to=["reader" if i % 2 == 0 else "other"])
        reader.close()
        shutil.copytree(root / "reader", root / "reader-pull")
        reader = Session.unlock(root / "reader", "pw")

        ready, out = threading.Event(), dict[str, float]()
        watcher = threading.Thread(target=watch_until, args=(reader, count, ready, out))
        watcher.start()
        if not ready.wait(60):
            raise SystemExit("the watch did not catch up")
        credential = relay_store.list_relays(writer.store)[0].credential

        async def push() -> int:
            async with RelayClient(url, credential) as client:
                return await SyncEngine(writer).push(client, honor_backoff=False)

        assert asyncio.run(push()) == count
        watcher.join(900)
        assert "cpu1" in out and not out.get("errors"), out
        reader.close()
        writer.close()

        puller = Session.unlock(root / "reader-pull", "pw")
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        report = SyncEngine(puller).sync_once()
        pull_cpu, pull_wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        assert report.pulled == count and report.errors == [], report
        puller.close()
        x = (x25519_cpu(5000) + x25519_cpu(5000)) / 2

        watch_cpu = out["cpu1"] - out["cpu0"]
        watch_wall = out["wall1"] - out["wall0"]
        per_watch, per_pull = watch_cpu / count, pull_cpu / count
        print(f"{count:,} envelopes (half for the reader); X25519 {x * 1e6:.1f} µs CPU")
        print(
            f"watch: {per_watch * 1e6:7.1f} µs CPU/envelope = {per_watch / x:5.1f} x X25519 "
            f"(wall {watch_wall:.1f} s, pushing included)"
        )
        print(
            f"pull:  {per_pull * 1e6:7.1f} µs CPU/envelope = {per_pull / x:5.1f} x X25519 (wall {pull_wall:.1f} s)"
        )
        print(f"watch / pull = {per_watch / per_pull:.2f} (issue 15 §4 target once batched: <= 1.5)")
        after = os.getloadavg()
        print(f"load average before {load[0]:.1f}, after {after[0]:.1f} (2 cores)")
        return 0
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
