"""Sync benchmark: a client pulls, opens and stores 10,000 envelopes from a real relay subprocess.

    /work/venv/bin/python bench/bench_sync.py              # about 20-60 s
    /work/venv/bin/python bench/bench_sync.py --profile    # also cProfile the sync, top 25 by own time

Half of the envelopes are addressed to the reader, half to someone else (the reader pays one X25519 to
learn that an envelope is not for it). They are sealed by a writer and put into the relay's database
through its storage API before the relay starts serving, so only the reader's side is timed:
``SyncEngine(reader).sync_once()`` = HTTP pages from the relay + parse + open + store, each page and its
cursor in one transaction of the encrypted store.

The reference is 10,000 raw X25519 operations (``nacl.bindings.crypto_scalarmult``) timed in the same
run. Target (issue #3): sync time <= 5 x that. The relay's database and the reader's store live in a
temporary directory (on tmpfs when /dev/shm exists: the figure is about the client, not the disk).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import nacl.bindings as sodium

from tui_sns.core.session import Session
from tui_sns.store import KdfParams
from tui_sns.store import relays as relay_store
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.storage import new_token, open_storage, token_hash

TOTAL = 10_000
TARGET = 5.0
RELAY_ENV = {
    "TUI_SNS_RELAY_READ_RATE": "100000",
    "TUI_SNS_RELAY_READ_BURST": "100000",
    "TUI_SNS_RELAY_WRITE_RATE": "100000",
    "TUI_SNS_RELAY_WRITE_BURST": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_relay(db: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tui_sns.sync.relay.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--db", db]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **RELAY_ENV}
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"relay exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    stop(proc)
    raise SystemExit(f"relay not ready:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)


def x25519_seconds(count: int) -> float:
    secret = os.urandom(32)
    points = [sodium.crypto_scalarmult_base(os.urandom(32)) for _ in range(count)]
    started = time.perf_counter()
    for point in points:
        sodium.crypto_scalarmult(secret, point)
    return time.perf_counter() - started


def prepare(root: Path, db: str) -> tuple[Path, list[bytes]]:
    """Writer, reader and other; returns the reader's home and the sealed envelopes (half each)."""
    kdf = KdfParams.insecure_for_tests()
    writer = Session.create(root / "writer", "writer", "pw", kdf=kdf)
    reader = Session.create(root / "reader", "reader", "pw", kdf=kdf)
    other = Session.create(root / "other", "other", "pw", kdf=kdf)
    for friend in (reader, other):
        writer.contacts.add(friend.contacts.my_card())
        friend.contacts.add(writer.contacts.my_card())
    with writer.store.write():
        for i in range(TOTAL):
            writer.diary.post(f"entry {i}", title=f"t{i}", to=["reader" if i % 2 == 0 else "other"])
    envelopes = [row[1] for row in relay_store.pending_deliveries(writer.store, "http://nowhere")]
    assert len(envelopes) == TOTAL
    home = reader.store.home
    for session in (writer, reader, other):
        session.close()
    storage = open_storage(db, pool_size=1)
    try:
        storage.migrate()
        now = time.time()
        for data in envelopes:
            storage.store_envelope(data, now, None)
        code = new_token()
        storage.create_invite(token_hash(code), 1, None, now)
    finally:
        storage.close()
    (root / "invite").write_text(code)
    return home, envelopes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the sync and print the top entries")
    args = parser.parse_args()
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=base))
    db = f"sqlite:///{root / 'relay.db'}"
    proc = None
    try:
        t0 = time.perf_counter()
        home, _ = prepare(root, db)
        print(f"prepared {TOTAL} envelopes in {time.perf_counter() - t0:.1f} s ({root})")
        proc, url = start_relay(db, root / "relay.log")
        reader = Session.unlock(home, "pw")
        reader.relays.add(url, (root / "invite").read_text())
        engine = SyncEngine(reader)
        reference = x25519_seconds(TOTAL)
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = engine.sync_once()
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        reference = (reference + x25519_seconds(TOTAL)) / 2  # before and after: a fairer reference
        stored = report.received.stored
        assert report.errors == [], report.errors
        assert report.pulled == TOTAL, report.pulled
        assert stored == TOTAL // 2, report.received.outcomes
        assert engine.sync_once().pulled == 0
        reader.close()
        ratio = elapsed / reference
        print(
            f"sync: {TOTAL} envelopes ({stored} for me) in {elapsed:.2f} s = {TOTAL / elapsed:,.0f} envelopes/s"
        )
        print(f"x25519 x {TOTAL}: {reference:.3f} s = {TOTAL / reference:,.0f} ops/s")
        print(f"ratio: {ratio:.2f} x (target <= {TARGET:g} x): {'OK' if ratio <= TARGET else 'MISSED'}")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0 if ratio <= TARGET else 1
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
