"""Benchmark PostgreSQL write throughput with 1, 2 and 3 relay processes on one database (issue 15 §3).

For each process count ``p``: a fresh schema, ``p`` ``tui-sns-relay serve`` subprocesses on free ports,
and one load-generator PROCESS per relay process with ``--clients`` (4) concurrent clients, each
uploading batches of ``--batch`` (100) random ``--size`` (2700) byte envelopes through
``POST /v1/envelopes/batch`` (a 2xx means committed) after a warm-up batch each; with ``--shards 256
--tags 16`` the relays are sharded and each envelope carries 16 random tags (``?tagged=1``).  Every
generator starts on the same signal; the rate is all envelopes acknowledged / the slowest generator's
time.  Process counts run in the order 1, 2, 3, 3, 2, 1 (each p's figure is the mean of its two runs)
so that drifting machine load hits every p alike.  Reported: ``rate(2)/rate(1)`` (target >= 1.5) and
``rate(3)/rate(1)``; the seq lock's mean hold per batch (from the relays' bench-only lock log); the CPU
used by PostgreSQL, the relays and the generators (``/proc/<pid>/stat`` deltas, as % of one core and
as core-ms per 1000 envelopes, the figure that machine load moves least: ``postgres`` is every
PostgreSQL process on the machine, other users of the server and the shared WAL writer too,
``pg_ours`` only the backends serving the relays); the load average before and after.
``--apart`` also runs relays that each have a schema of their own (no shared log, no coordination:
the ceiling the machine allows).  ``--old-tree DIR`` also runs the same cases against another checkout
of the relay (e.g. ``git archive <commit> | tar -x -C DIR``) in the same run.

    TUI_SNS_TEST_PG_DSN=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_pg_scale.py [--count 12000] [--shards 256 --tags 16] [--apart] [--old-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
from bench_relay import RELAY_ENV, free_port, pg_schema, relay_credentials, server

from tui_sns.sync.relay.storage_postgres import LOCK_LOG_ENV

GENERATOR = r"""
import asyncio, json, os, sys, time
import httpx
import random
url, credentials, count, clients, batch, size, shards, tags = (
    sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
    int(sys.argv[7]), int(sys.argv[8]),
)
path = "/v1/envelopes/batch?tagged=1" if tags else "/v1/envelopes/batch"

def item(data):
    head = len(data).to_bytes(4, "big")
    if tags:
        picked = random.sample(range(shards), tags)
        head += len(picked).to_bytes(2, "big") + b"".join(t.to_bytes(2, "big") for t in picked)
    return head + data

def body(n):
    return b"".join(item(os.urandom(size)) for _ in range(n))

per_client = count // clients
bodies = [[body(batch) for _ in range(per_client // batch)] for _ in range(clients)]

async def run():
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        heads = [{"Authorization": f"Bearer {credentials[i % len(credentials)]}"} for i in range(clients)]
        await asyncio.gather(*(client.post(path, content=body(batch), headers=h) for h in heads))
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()

        async def worker(i):
            for data in bodies[i]:
                r = await client.post(path, content=data, headers=heads[i])
                if r.status_code != 200:
                    raise SystemExit(f"batch failed: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(worker(i) for i in range(clients)))
        print(json.dumps({"seconds": time.perf_counter() - started, "stored": clients * len(bodies[0]) * batch}), flush=True)

asyncio.run(run())
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def relay_backends(dsn: str, relay_pids: list[int]) -> list[int]:
    """PostgreSQL backend pids serving the given relay processes (their TCP connections' ports, matched
    in pg_stat_activity): unlike all ``postgres`` processes, these leave out other users of the server."""
    ports = []
    for line in subprocess.run(["ss", "-tnpH"], capture_output=True, text=True).stdout.splitlines():
        fields = line.split()
        if (
            len(fields) >= 5
            and fields[4].endswith(":5432")
            and any(f"pid={pid}," in line for pid in relay_pids)
        ):
            ports.append(int(fields[3].rsplit(":", 1)[1]))
    if not ports:
        return []
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s) AND client_addr IS NOT NULL",
            (ports,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def run_case(
    dsn: str, processes: int, args: argparse.Namespace, workdir: Path, tree: Path | None, apart: bool = False
) -> dict:
    """One case: ``processes`` relays on one schema (``apart``: each on a schema of its own, sharing
    nothing but the server and the machine: the ceiling the machine allows, without any coordination)."""
    lock_log = workdir / f"lock-{processes}-{time.monotonic_ns()}.log"
    env = {**RELAY_ENV, LOCK_LOG_ENV: str(lock_log)}
    if args.shards > 1:
        env["TUI_SNS_RELAY_SHARDS"] = str(args.shards)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    with ExitStack() as stack:
        shared = stack.enter_context(pg_schema(dsn))
        dbs = [stack.enter_context(pg_schema(dsn)) if apart else shared for _ in range(processes)]
        urls, relay_pids = [], []
        for db in dbs:
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "tui_sns.sync.relay.cli",
                "serve",
                "--port",
                str(port),
                "--db",
                db,
            ]
            urls.append(stack.enter_context(server(command, port, env, workdir)))
        for line in subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines():
            for url in urls:
                if f"127.0.0.1:{url.rsplit(':', 1)[1]} " in line and "pid=" in line:
                    relay_pids.append(int(line.split("pid=")[1].split(",")[0]))
        per_generator = args.count // processes
        generators = []
        for url, db in zip(urls, dbs, strict=True):
            credentials = relay_credentials(db, args.clients, url, env)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    GENERATOR,
                    url,
                    ",".join(credentials),
                    str(per_generator),
                    str(args.clients),
                    str(args.batch),
                    str(args.size),
                    str(args.shards),
                    str(args.tags),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            stack.callback(proc.kill)
            generators.append(proc)
        for proc in generators:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        lock_log.write_text("")  # forget the warm-up
        pg = postgres_pids()
        watched = {"postgres": pg, "relays": relay_pids, "generators": [g.pid for g in generators]}
        before = {k: sum(cpu_seconds(p) for p in v) for k, v in watched.items()}
        before_each = {p: cpu_seconds(p) for p in pg}
        started = time.perf_counter()
        for proc in generators:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = []
        for proc in generators:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("a load generator failed")
            outcomes.append(json.loads(line))
        wall = time.perf_counter() - started
        watched["postgres"] = sorted(set(pg) | set(postgres_pids()))  # backends the pools opened meanwhile
        used = {k: sum(cpu_seconds(p) for p in v) - before[k] for k, v in watched.items()}
        # The relays' own backends (a backend opened during the run counts from 0: it did nothing before).
        ours = relay_backends(dsn, relay_pids)
        used["pg_ours"] = sum(cpu_seconds(p) - before_each.get(p, 0.0) for p in ours)
        for proc in generators:
            proc.wait(10)
        holds = [float(x) for x in lock_log.read_text().split()] if lock_log.exists() else []
    stored = sum(o["stored"] for o in outcomes)
    return {
        "rate": stored / max(o["seconds"] for o in outcomes),
        "hold_ms": statistics.mean(holds) if holds else None,
        "batches": len(holds),
        "cpu": {k: round(100 * v / wall) for k, v in used.items()},
        # core-ms per 1000 envelopes: the load-insensitive figure (CPU time, not wall time)
        "core_ms": {k: round(1e6 * v / stored, 1) for k, v in used.items()},
    }


def series(
    dsn: str, args: argparse.Namespace, workdir: Path, tree: Path | None, label: str, apart: bool = False
) -> None:
    runs: dict[int, list[dict]] = {1: [], 2: [], 3: []}
    for p in (1, 2, 3, 3, 2, 1):
        result = run_case(dsn, p, args, workdir, tree, apart)
        runs[p].append(result)
        print(
            f"  [{label}] p={p}: {result['rate']:.0f} env/s, lock hold {result['hold_ms'] or 0:.1f} ms/commit"
            f" over {result['batches']} commits, CPU % of one core {result['cpu']},"
            f" core-ms per 1000 envelopes {result['core_ms']}",
            flush=True,
        )
    rate = {p: statistics.mean(r["rate"] for r in rs) for p, rs in runs.items()}
    core = {
        p: {k: statistics.mean(r["core_ms"][k] for r in rs) for k in rs[0]["core_ms"]}
        for p, rs in runs.items()
    }
    print(
        f"{label}: rate(1) {rate[1]:.0f}/s, rate(2)/rate(1) = {rate[2] / rate[1]:.2f},"
        f" rate(3)/rate(1) = {rate[3] / rate[1]:.2f}",
        flush=True,
    )
    for p, figures in core.items():
        mine = figures["pg_ours"] + figures["relays"]
        print(
            f"{label}: p={p} core-ms per 1000 envelopes {figures}; relays + their backends {mine:.0f}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", default=os.environ.get("TUI_SNS_TEST_PG_DSN"), help="PostgreSQL DSN")
    parser.add_argument("--count", type=int, default=12000, help="envelopes per case (split over generators)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients per generator")
    parser.add_argument("--batch", type=int, default=100, help="envelopes per batch request")
    parser.add_argument("--size", type=int, default=2700, help="bytes per envelope")
    parser.add_argument("--shards", type=int, default=1, help="relay shard count (power of two)")
    parser.add_argument("--tags", type=int, default=0, help="tags per envelope (?tagged=1); 0: untagged")
    parser.add_argument("--old-tree", type=Path, help="another checkout to run the same cases against")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="also run each relay on a schema of its own (no shared log): the ceiling of this machine",
    )
    args = parser.parse_args()
    if not args.pg:
        print("set TUI_SNS_TEST_PG_DSN or --pg", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tui-sns-pg-scale-") as tmp:
        workdir = Path(tmp)
        series(args.pg, args, workdir, None, "this tree")
        if args.apart:
            series(args.pg, args, workdir, None, "this tree, one schema per relay (apart)", apart=True)
        if args.old_tree:
            series(args.pg, args, workdir, args.old_tree.resolve(), f"old tree {args.old_tree}")
            series(args.pg, args, workdir, None, "this tree again")
    print(f"load average after: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
