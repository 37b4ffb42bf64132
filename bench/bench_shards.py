"""A member's download with shards against today's whole log (issue 15 §1; docs/design-sharding.md §9.1).

    .venv/bin/python bench/bench_shards.py [--members 10000] [--log 20000] [--shards 128,256,512]

For each shard count S: a `tui-sns-relay serve` subprocess (SQLite in a temporary directory, on tmpfs
when there is one; then PostgreSQL in a fresh schema with ``--pg DSN`` or ``TUI_SNS_TEST_PG_DSN``)
with ``shards = S``. ``members`` simulated members, each with a uniform random
16-bit seed and a contact list of 20–150 members drawn uniformly. ``log`` envelopes: the author is
uniform, the audience size ``a`` in 1..50 with ``P(a) ∝ 1/a`` drawn from the author's contacts, and 1 %
of uploads broadcast (a recipient's seed unknown). Each envelope has the exact v2 length for
``n = bucket(a + 1)`` slots and a 1 KiB body bucket, random bytes (the relay does not parse
envelopes). Tags come from the client's own tagging function (``tui_sns.core.routing.shard_tags``) and
go up in tagged batches of 100 (``RelayClient.put_many``), as the sync engine sends them.

Measured in the same run, per S: the envelope bytes and time to page the whole log
(``/v1/envelopes``) once, and for 50 sampled members the bytes and time to page their shard
(``/v1/shards/{u mod S}/envelopes``). Reported: the mean, p95 and max of member bytes / whole-log
bytes, the prediction of design-sharding §4 (``E[min(n, S)]/S`` plus the broadcast fraction, from the
drawn log), the time ratio, and a routing check (every envelope addressed to a sampled member is in
its shard's listing). Pass: mean ≤ 1/8 of the bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_sync import RELAY_ENV, free_port, stop

from tui_sns.core.routing import shard_tags
from tui_sns.crypto.envelope import AEAD_TAG_BYTES, slot_bucket
from tui_sns.crypto.envelope_v2 import HEADER_BYTES, SLOT_BYTES
from tui_sns.net.transport import RelayClient
from tui_sns.sync.relay.storage import new_token, open_storage, token_hash

BODY = 1024  # the body bucket of every envelope (a short entry)
SAMPLED = 50  # members whose shard is paged
BROADCAST = 0.01
BATCH = 100


def start_relay(db: str, log: Path, shards: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tui_sns.sync.relay.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--db", db]
    env = {**os.environ, **RELAY_ENV, "TUI_SNS_RELAY_SHARDS": str(shards)}
    with log.open("ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
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


def audience_size(rng: random.Random) -> int:
    """``a`` in 1..50 with ``P(a) ∝ 1/a``."""
    weights = [1 / a for a in range(1, 51)]
    return rng.choices(range(1, 51), weights)[0]


def make_log(
    members: int, count: int, rng: random.Random
) -> tuple[list[int], list[tuple[list[int], int, bool]]]:
    """Seeds of every member, and per envelope (recipients, slot count n, broadcast?)."""
    seeds = [rng.randrange(0x10000) for _ in range(members)]
    contacts = [rng.sample(range(members), rng.randint(20, 150)) for _ in range(members)]
    log = []
    for _ in range(count):
        author = rng.randrange(members)
        pool = [m for m in contacts[author] if m != author]
        audience = rng.sample(pool, min(audience_size(rng), len(pool)))
        log.append((audience, slot_bucket(len(audience) + 1), rng.random() < BROADCAST))
    return seeds, log


def envelope(slots: int) -> bytes:
    """Random bytes of the exact v2 length for ``slots`` slots and a 1 KiB body (the relay parses nothing)."""
    return os.urandom(HEADER_BYTES + slots * SLOT_BYTES + BODY + AEAD_TAG_BYTES)


async def upload(
    url: str, invite: str, seeds: list[int], log: list[tuple[list[int], int, bool]], shards: int
) -> list[str]:
    """Upload the log in tagged batches; returns the envelope ids in log order."""
    rng = random.Random(shards)
    ids: list[str] = []
    async with RelayClient(url) as anonymous:
        credential = await anonymous.redeem(invite)
    async with RelayClient(url, credential) as client:
        for start in range(0, len(log), BATCH):
            datas, tags = [], []
            for audience, slots, broadcast in log[start : start + BATCH]:
                data = envelope(slots)
                known: list[int | None] = [seeds[m] for m in audience]
                if broadcast:
                    known[0] = None  # a recipient whose seed the sender does not know yet
                tags.append(shard_tags(known, slots, shards, rng=rng))
                datas.append(data)
            ids += await client.put_many(datas, None, tags)
    return ids


async def page_all(url: str, shard: int | None) -> tuple[int, float, set[str]]:
    """Page the whole log (``shard`` None) or one shard from the start: (envelope bytes, seconds, ids)."""
    got: set[str] = set()
    size = 0
    started = time.perf_counter()
    async with RelayClient(url) as client:
        after, more = 0, True
        while more:
            page = await client.page(after, shard=shard)
            size += sum(len(e.data) for e in page.envelopes)
            got.update(e.id for e in page.envelopes)
            after, more = page.next, page.more
    return size, time.perf_counter() - started, got


def predicted(log: list[tuple[list[int], int, bool]], shards: int) -> tuple[float, float]:
    """design-sharding §4 for the drawn log: the expected fraction of the envelopes a member downloads
    (``n/S`` per tagged envelope, 1 per broadcast one, including those with ``n ≥ S``), and the same
    weighted by envelope size (large audiences have more slots, so more bytes and more tags)."""
    count = weighted = size = 0.0
    for _audience, slots, broadcast in log:
        share = 1.0 if broadcast or slots >= shards else slots / shards
        length = HEADER_BYTES + slots * SLOT_BYTES + BODY + AEAD_TAG_BYTES
        count += share
        weighted += share * length
        size += length
    return count / len(log), weighted / size


def pg_schema(dsn: str) -> tuple[str, str]:
    """A fresh schema on ``dsn``: (its name, a relay URL whose search_path is it)."""
    import secrets
    from urllib.parse import quote

    import psycopg
    from psycopg import sql

    schema = f"bench_shards_{secrets.token_hex(6)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    separator = "&" if "?" in dsn else "?"
    return schema, f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"


def drop_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def run_one(
    root: Path, shards: int, seeds: list[int], log: list[tuple[list[int], int, bool]], db: str | None = None
) -> dict[str, float]:
    db = db or f"sqlite:///{root / f'relay-{shards}.db'}"
    proc, url = start_relay(db, root / f"relay-{shards}.log", shards)
    try:
        storage = open_storage(db, pool_size=1)
        try:
            invite = new_token()
            storage.create_invite(token_hash(invite), 1, None, time.time())
        finally:
            storage.close()
        started = time.perf_counter()
        ids = asyncio.run(upload(url, invite, seeds, log, shards))
        upload_s = time.perf_counter() - started
        whole_bytes, whole_s, whole_ids = asyncio.run(page_all(url, None))
        assert len(whole_ids) == len(log)
        rng = random.Random(7)
        ratios, counts, times, misses = [], [], [], 0
        addressed: dict[int, set[str]] = {}
        for eid, (audience, _slots, _b) in zip(ids, log, strict=True):
            for m in audience:
                addressed.setdefault(m, set()).add(eid)
        sample = rng.sample(sorted(addressed), SAMPLED)
        for member in sample:
            size, seconds, got = asyncio.run(page_all(url, seeds[member] % shards))
            ratios.append(size / whole_bytes)
            counts.append(len(got) / len(whole_ids))
            times.append(seconds / whole_s)
            misses += len(addressed[member] - got)
        ratios.sort()
        return {
            "S": shards,
            "upload_s": upload_s,
            "whole_mib": whole_bytes / 2**20,
            "whole_s": whole_s,
            "mean": statistics.fmean(ratios),
            "p95": ratios[int(0.95 * (len(ratios) - 1))],
            "max": ratios[-1],
            "count": statistics.fmean(counts),
            "predicted_count": predicted(log, shards)[0],
            "predicted": predicted(log, shards)[1],
            "time_ratio": statistics.fmean(times),
            "misses": misses,
        }
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--log", type=int, default=20_000)
    parser.add_argument("--shards", default="128,256,512")
    parser.add_argument(
        "--pg",
        default=os.environ.get("TUI_SNS_TEST_PG_DSN"),
        help="also run each S on this PostgreSQL DSN (default $TUI_SNS_TEST_PG_DSN), in a fresh schema",
    )
    args = parser.parse_args()
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="bench-shards-", dir=shm if shm.is_dir() else None))
    try:
        print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}", flush=True)
        rng = random.Random(15)
        seeds, log = make_log(args.members, args.log, rng)
        mean_a = statistics.fmean(len(a) for a, _, _ in log)
        mean_n = statistics.fmean(n for _, n, _ in log)
        print(
            f"{args.members} members, {args.log} envelopes: mean audience {mean_a:.1f}, mean n {mean_n:.1f}"
        )
        print(
            "   S | upload s | whole log MiB, s | member/whole bytes: mean  p95    max  (§4) "
            "| envelopes: mean (§4) | time ratio | misses"
        )
        rows = []
        runs: list[tuple[int, str | None]] = [(int(s), None) for s in args.shards.split(",")]
        runs += [(int(s), args.pg) for s in args.shards.split(",")] if args.pg else []
        for shards, dsn in runs:
            schema, db = pg_schema(dsn) if dsn else (None, None)
            try:
                r = run_one(root, shards, seeds, log, db)
            finally:
                if dsn and schema:
                    drop_schema(dsn, schema)
            r["pg"] = 1.0 if dsn else 0.0
            rows.append(r)
            print(
                f"{'pg ' if dsn else ''}{shards:4d} | {r['upload_s']:8.1f} | {r['whole_mib']:7.1f} {r['whole_s']:6.2f} | "
                f"{r['mean']:.4f} {r['p95']:.4f} {r['max']:.4f} ({r['predicted']:.4f}) | "
                f"{r['count']:.4f} ({r['predicted_count']:.4f}) | "
                f"{r['time_ratio']:.3f} | {int(r['misses'])}",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()}")
        routed = all(r["misses"] == 0 for r in rows)
        for r in rows:
            verdict = "PASS" if r["mean"] <= 1 / 8 and routed else "FAIL"
            print(
                f"{'PostgreSQL ' if r['pg'] else ''}S = {int(r['S'])}: a member downloads {r['mean']:.4f} of the whole log's bytes "
                f"({r['count']:.4f} of its envelopes); target <= 0.125 in bytes: {verdict}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
