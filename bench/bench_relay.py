"""Benchmark the tui-sns relay against a minimal baseline and against nostr-relay.

Store and list rates (envelopes/s) of 2 KiB random envelopes from 16 concurrent
httpx.AsyncClient clients over loopback HTTP to a uvicorn subprocess, on SQLite
and (with --pg DSN or TUI_SNS_TEST_PG_DSN) PostgreSQL, each as a ratio to a
baseline: a minimal starlette endpoint on uvicorn storing the same bytes in the
same kind of database with no checks (same synchronous/commit settings).
Then the PyPI package nostr-relay, installed in a throwaway venv under /tmp,
is fed the same number of small signed events over 8 WebSocket connections and
compared with our relay storing the same number of small (256 B) envelopes over
8 clients, twice: pushed the way the sync engine pushes (RelayClient.put_many,
PUSH_BATCH envelopes per POST /v1/envelopes/batch) and one POST per envelope.
Each small-event figure (ours and nostr-relay's) is the median of 3 runs on
fresh databases.

The streams case (issue 9): the same 16-client upload rate on SQLite, on fresh
relays, with no stream open and with ``--streams`` (1,000) idle ``/v1/stream``
subscribers open (held by a helper process that reads and discards what they
are sent), alternated A-B-B-A in the same run; the ratio of the mean rates is
what counts (the goal is at least 80 %).

    .venv/bin/python bench/bench_relay.py [--count 2000] [--pg DSN] [--no-nostr] [--streams 1000]
    .venv/bin/python bench/bench_relay.py --only-streams   # just the streams case
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg

from tui_sns.net.transport import RelayClient
from tui_sns.sync.engine import PUSH_BATCH

CLIENTS = 16
ENVELOPE_BYTES = 2048
NOSTR_CONNECTIONS = 8
NOSTR_VENV = Path("/tmp/tui-sns-bench-nostr-venv")
RELAY_ENV = {
    "TUI_SNS_RELAY_WRITE_RATE": "1000000",
    "TUI_SNS_RELAY_WRITE_BURST": "1000000",
    "TUI_SNS_RELAY_READ_RATE": "1000000",
    "TUI_SNS_RELAY_READ_BURST": "1000000",
    "TUI_SNS_RELAY_REDEEM_RATE": "1000000",
    "TUI_SNS_RELAY_REDEEM_BURST": "1000000",
    "TUI_SNS_RELAY_MAX_CONNECTIONS": "10000",
    "TUI_SNS_RELAY_MAX_CONNECTIONS_PER_ADDRESS": "10000",
    "TUI_SNS_RELAY_MAX_STREAMS": "10000",
    "TUI_SNS_RELAY_MAX_STREAMS_PER_ADDRESS": "10000",
}

STREAM_HOLDER = """
import selectors, socket, sys
port, count, reading = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "reading"
sel = selectors.DefaultSelector()
request = b"GET /v1/stream?after=0 HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n"
pending = {}
for _ in range(count):
    sock = socket.socket()
    if not reading:  # an idle client: it stops reading once its stream is open
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ)
    pending[sock] = b""
received = 0
while True:
    for key, _ in sel.select(timeout=1.0):
        data = key.fileobj.recv(1 << 16)
        if not data:
            sys.exit("a stream was closed by the relay")
        received += len(data)
        if key.fileobj in pending:
            pending[key.fileobj] += data
            if b"retry: 2000" in pending[key.fileobj]:
                del pending[key.fileobj]
                if not reading:
                    sel.unregister(key.fileobj)
                if not pending:
                    print("ready", flush=True)
"""

BASELINE_APP = """
import base64, os, sqlite3, threading
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

DB = os.environ["BASELINE_DB"]
if DB.startswith("sqlite:///"):
    conn = sqlite3.connect(DB[len("sqlite://"):], isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS blobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL)")
    lock = threading.Lock()

    def store(data):
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            seq = conn.execute("INSERT INTO blobs(data) VALUES (?)", (data,)).lastrowid
            conn.execute("COMMIT")
            return seq

    def page(after, limit):
        with lock:
            return conn.execute("SELECT seq, data FROM blobs WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
else:
    from psycopg_pool import ConnectionPool
    pool = ConnectionPool(DB, min_size=1, max_size=10, kwargs={"autocommit": True}, open=True)
    with pool.connection() as c:
        c.execute("CREATE TABLE IF NOT EXISTS blobs (seq BIGSERIAL PRIMARY KEY, data BYTEA NOT NULL)")

    def store(data):
        with pool.connection() as c:
            return c.execute("INSERT INTO blobs(data) VALUES (%s) RETURNING seq", (data,)).fetchone()[0]

    def page(after, limit):
        with pool.connection() as c:
            return c.execute("SELECT seq, data FROM blobs WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit)).fetchall()


async def post(request):
    seq = await run_in_threadpool(store, await request.body())
    return JSONResponse({"seq": seq}, status_code=201)


async def get(request):
    after, limit = int(request.query_params.get("after", 0)), int(request.query_params.get("limit", 500))
    rows = await run_in_threadpool(page, after, limit)
    items = [{"seq": s, "data": base64.b64encode(bytes(d)).decode()} for s, d in rows]
    return JSONResponse({"envelopes": items, "next": rows[-1][0] if rows else after, "more": len(rows) == limit})


async def health(request):
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/v1/envelopes", post, methods=["POST"]), Route("/v1/envelopes", get, methods=["GET"]),
                        Route("/healthz", health)])
"""

NOSTR_CLIENT = """
import asyncio, json, sys, time
import websockets
from aionostr.event import Event
from aionostr.key import PrivateKey

url, count, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
key = PrivateKey()
events = []
for i in range(count):
    event = Event(pubkey=key.public_key.hex(), content=f"bench {i} " + "x" * 180, created_at=int(time.time()), kind=1)
    event.sign(key.hex())
    events.append(event.to_json_object())

async def worker(share):
    ok = 0
    async with websockets.connect(url, max_size=None) as ws:
        for event in share:
            await ws.send(json.dumps(["EVENT", event]))
            while True:
                reply = json.loads(await ws.recv())
                if reply[0] == "OK":
                    ok += reply[2] is True
                    break
    return ok

async def main():
    shares = [events[i::connections] for i in range(connections)]
    started = time.perf_counter()
    oks = await asyncio.gather(*(worker(s) for s in shares))
    print(json.dumps({"seconds": time.perf_counter() - started, "ok": sum(oks)}))

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(
    command: list[str], port: int, env: dict[str, str], cwd: Path, health: str = "/healthz"
) -> Iterator[str]:
    """Run a server subprocess until the block ends; yields its base URL."""
    log = (cwd / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {(cwd / f'server-{port}.log').read_text()[-2000:]}")
            try:
                if httpx.get(url + health, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} not ready")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def store_rate(url: str, credentials: list[str], payloads: list[bytes], clients: int) -> float:
    """Envelopes stored per second by ``clients`` concurrent clients."""
    shares = [payloads[i::clients] for i in range(clients)]

    async def worker(index: int) -> None:
        headers = {"Authorization": f"Bearer {credentials[index % len(credentials)]}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            for data in shares[index]:
                response = await client.post("/v1/envelopes", content=data)
                if response.status_code not in (200, 201):
                    raise RuntimeError(f"store failed: {response.status_code} {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return len(payloads) / (time.perf_counter() - started)


async def batch_store_rate(url: str, credentials: list[str], payloads: list[bytes], clients: int) -> float:
    """Envelopes stored per second by ``clients`` concurrent clients pushing as the sync engine does:
    ``RelayClient.put_many`` (POST /v1/envelopes/batch) with PUSH_BATCH envelopes per request."""
    shares = [payloads[i::clients] for i in range(clients)]

    async def worker(index: int) -> None:
        async with RelayClient(url, credentials[index % len(credentials)]) as client:
            share = shares[index]
            for start in range(0, len(share), PUSH_BATCH):
                chunk = share[start : start + PUSH_BATCH]
                if len(await client.put_many(chunk)) != len(chunk):
                    raise RuntimeError("batch store failed")

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return len(payloads) / (time.perf_counter() - started)


async def list_rate(url: str, clients: int) -> float:
    """Envelopes received per second by ``clients`` concurrent clients each reading the whole log."""

    async def worker() -> int:
        received, after = 0, 0
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            while True:
                page = (await client.get("/v1/envelopes", params={"after": after, "limit": 500})).json()
                received += len(page["envelopes"])
                after = page["next"]
                if not page["more"] or not page["envelopes"]:
                    return received

    started = time.perf_counter()
    total = sum(await asyncio.gather(*(worker() for _ in range(clients))))
    return total / (time.perf_counter() - started)


def relay_credentials(db: str, count: int, url: str, env: dict[str, str] | None = None) -> list[str]:
    """``count`` credentials of the relay at ``url`` (one invite made by the relay CLI, with ``env`` added
    to this process's environment: the same code as the relay's, which migrates the database)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_sns.sync.relay.cli",
            "invite",
            "create",
            "--uses",
            str(count),
            "--db",
            db,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else {**os.environ, **env},
    ).stdout
    code = out.strip().splitlines()[-1]
    return [
        httpx.post(f"{url}/v1/invites/redeem", json={"code": code}).json()["credential"] for _ in range(count)
    ]


def run_relay(
    db: str, workdir: Path, payloads: list[bytes], clients: int, list_too: bool = True, batch: bool = False
) -> tuple[float, float]:
    port = free_port()
    command = [sys.executable, "-m", "tui_sns.sync.relay.cli", "serve", "--port", str(port), "--db", db]
    with server(command, port, RELAY_ENV, workdir) as url:
        credentials = relay_credentials(db, clients, url)
        rate = batch_store_rate if batch else store_rate
        stored = asyncio.run(rate(url, credentials, payloads, clients))
        listed = asyncio.run(list_rate(url, clients)) if list_too else 0.0
    return stored, listed


def streams_case(
    workdir: Path, payloads: list[bytes], streams: int, mode: str = "idle"
) -> tuple[float, float]:
    """Mean upload rate (16 clients, SQLite) without and with ``streams`` streams open, A-B-B-A.

    ``mode`` "idle": each stream client stops reading once its stream is open (so it takes
    only what fits in its socket buffers); "reading": each reads and discards every event.
    """
    holder_script = workdir / "stream_holder.py"
    holder_script.write_text(STREAM_HOLDER)
    rates: dict[bool, list[float]] = {False: [], True: []}
    for index, with_streams in enumerate((False, True, True, False)):
        db = f"sqlite:///{workdir / f'streams-{index}.db'}"
        port = free_port()
        command = [sys.executable, "-m", "tui_sns.sync.relay.cli", "serve", "--port", str(port), "--db", db]
        with server(command, port, RELAY_ENV, workdir) as url:
            credentials = relay_credentials(db, CLIENTS, url)
            holder = None
            if with_streams:
                holder = subprocess.Popen(
                    [sys.executable, str(holder_script), str(port), str(streams), mode],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert holder.stdout is not None
                if holder.stdout.readline().strip() != "ready":
                    raise RuntimeError("the stream holder did not get its streams")
            try:
                rates[with_streams].append(asyncio.run(store_rate(url, credentials, payloads, CLIENTS)))
            finally:
                if holder is not None:
                    if holder.poll() is not None:
                        raise RuntimeError("the stream holder died: a stream was closed")
                    holder.terminate()
                    holder.wait(10)
    return statistics.mean(rates[False]), statistics.mean(rates[True])


def small_rate(workdir: Path, count: int, batch: bool, runs: int = 3) -> float:
    """Median over ``runs`` fresh SQLite relays of storing ``count`` 256 B envelopes over 8 connections."""
    rates = []
    for run in range(runs):
        small = [os.urandom(256) for _ in range(count)]
        db = f"sqlite:///{workdir / f'small-{int(batch)}-{run}.db'}"
        rates.append(run_relay(db, workdir, small, NOSTR_CONNECTIONS, list_too=False, batch=batch)[0])
    return statistics.median(rates)


def run_baseline(db: str, workdir: Path, payloads: list[bytes]) -> tuple[float, float]:
    (workdir / "baseline_app.py").write_text(BASELINE_APP)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "baseline_app:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with server(command, port, {"BASELINE_DB": db}, workdir) as url:
        stored = asyncio.run(store_rate(url, ["-"], payloads, CLIENTS))
        listed = asyncio.run(list_rate(url, CLIENTS))
    return stored, listed


@contextmanager
def pg_schema(dsn: str) -> Iterator[str]:
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in dsn else "?"
        yield f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def nostr_python() -> Path | None:
    """The throwaway venv's python with nostr-relay installed, or None if it cannot be installed."""
    python = NOSTR_VENV / "bin" / "python"
    if not (NOSTR_VENV / "bin" / "nostr-relay").exists():
        venv.create(NOSTR_VENV, with_pip=True)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "nostr-relay", "websockets"],
            capture_output=True,
            text=True,
            timeout=240,
        )
        if result.returncode != 0:
            print(f"nostr-relay did not install here, skipping that part:\n{result.stderr[-800:]}")
            return None
    return python


def run_nostr(workdir: Path, count: int, runs: int = 3) -> float | None:
    """Median over ``runs`` fresh nostr-relay databases, or None if nostr-relay is not available."""
    rates = []
    for run in range(runs):
        rate = run_nostr_once(workdir, count, run)
        if rate is None:
            return None
        rates.append(rate)
    return statistics.median(rates)


def run_nostr_once(workdir: Path, count: int, run: int) -> float | None:
    python = nostr_python()
    if python is None:
        return None
    port = free_port()
    config = workdir / "nostr.yaml"
    config.write_text(
        "storage:\n"
        f"  sqlalchemy.url: sqlite+aiosqlite:///{workdir / f'nostr-{run}.sqlite3'}\n"
        "  num_concurrent_adds: 2\n"
        f"gunicorn:\n  bind: 127.0.0.1:{port}\n  workers: 1\n  loglevel: warning\n"
        "authentication:\n  enabled: false\n"
    )
    command = [str(python.parent / "nostr-relay"), "-c", str(config), "serve", "--use-uvicorn"]
    try:
        with server(command, port, {}, workdir, health="/") as url:
            client = workdir / "nostr_client.py"
            client.write_text(NOSTR_CLIENT)
            ws_url = url.replace("http://", "ws://")
            out = subprocess.run(
                [str(python), str(client), ws_url, str(count), str(NOSTR_CONNECTIONS)],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"nostr-relay did not run here, skipping that part: {exc}")
        return None
    result = json.loads(out)
    if result["ok"] != count:
        print(f"nostr-relay accepted only {result['ok']} of {count} events")
    rate: float = result["ok"] / result["seconds"]
    return rate


def print_streams(streams: int, count: int, without: float, with_streams: float, mode: str) -> None:
    print(
        f"\nUploads of {count} x {ENVELOPE_BYTES} B by {CLIENTS} clients, SQLite, mean of 2 runs each (A-B-B-A)\n"
    )
    print("| case | envelopes/s | ratio |\n|---|---:|---:|")
    print(f"| no stream open | {without:,.0f} | 100% |")
    what = "idle streams open" if mode == "idle" else "streams open, each reading every event"
    print(f"| {streams:,} {what} | {with_streams:,.0f} | {with_streams / without:.0%} |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000, help="envelopes per store run (default 2000)")
    parser.add_argument("--pg", default=os.environ.get("TUI_SNS_TEST_PG_DSN"), help="PostgreSQL DSN")
    parser.add_argument("--no-nostr", action="store_true", help="skip the nostr-relay comparison")
    parser.add_argument(
        "--streams", type=int, default=1000, help="idle streams in the streams case (0: skip)"
    )
    parser.add_argument("--only-streams", action="store_true", help="run the streams case only")
    parser.add_argument(
        "--reading-streams", action="store_true", help="streams case: the stream clients read every event"
    )
    args = parser.parse_args()
    payloads = [os.urandom(ENVELOPE_BYTES) for _ in range(args.count)]
    if args.only_streams:
        with tempfile.TemporaryDirectory(prefix="tui-sns-bench-") as tmp:
            mode = "reading" if args.reading_streams else "idle"
            rates = streams_case(Path(tmp), payloads, args.streams, mode)
            print_streams(args.streams, args.count, *rates, mode)
        return 0
    rows: list[tuple[str, float, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="tui-sns-bench-") as tmp:
        workdir = Path(tmp)
        ours = run_relay(f"sqlite:///{workdir / 'relay.db'}", workdir, payloads, CLIENTS)
        base = run_baseline(f"sqlite:///{workdir / 'baseline.db'}", workdir, payloads)
        rows.append(("sqlite", *ours, *base))
        if args.pg:
            with pg_schema(args.pg) as ours_db:
                ours = run_relay(ours_db, workdir, payloads, CLIENTS)
            with pg_schema(args.pg) as base_db:
                base = run_baseline(base_db, workdir, payloads)
            rows.append(("postgresql", *ours, *base))
        mode = "reading" if args.reading_streams else "idle"
        stream_rates = streams_case(workdir, payloads, args.streams, mode) if args.streams else None
        nostr = None if args.no_nostr else run_nostr(workdir, args.count)
        ours_single = ours_batch = 0.0
        if nostr is not None:
            ours_single = small_rate(workdir, args.count, batch=False)
            ours_batch = small_rate(workdir, args.count, batch=True)

    print(f"\n{args.count} envelopes of {ENVELOPE_BYTES} B, {CLIENTS} concurrent clients (envelopes/s)\n")
    print("| backend | relay store | baseline store | ratio | relay list | baseline list | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, store, listed, base_store, base_list in rows:
        print(
            f"| {name} | {store:,.0f} | {base_store:,.0f} | {store / base_store:.0%} "
            f"| {listed:,.0f} | {base_list:,.0f} | {listed / base_list:.0%} |"
        )
    if stream_rates is not None:
        print_streams(args.streams, args.count, *stream_rates, mode)
    if nostr is not None:
        print(f"\n{args.count} small events/envelopes over {NOSTR_CONNECTIONS} connections (SQLite both)\n")
        print("| relay | events/s | ratio to nostr-relay |\n|---|---:|---:|")
        print(
            f"| tui-sns-relay, batch upload ({PUSH_BATCH}/request, as the client pushes) "
            f"| {ours_batch:,.0f} | {ours_batch / nostr:.1f}x |"
        )
        print(f"| tui-sns-relay, one POST per envelope | {ours_single:,.0f} | {ours_single / nostr:.1f}x |")
        print(f"| nostr-relay, one EVENT per event | {nostr:,.0f} | 1.0x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
