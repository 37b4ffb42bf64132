"""Time from App.run_test() start to the first idle diary screen, and to the end of the timeline;
and the cold start (a fresh interpreter: imports, unlock-free open, first idle diary screen).

    /work/venv/bin/python bench/bench_tui.py [--sizes 0,1000,100000] [--runs 3]

Entries are bulk-inserted in one transaction (``session.store.write()`` + ``posts.insert_post``).
Identities use the cheap test KDF: Argon2id is not what is measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui_sns.core.session import Session
from tui_sns.screens.app import TuiSnsApp
from tui_sns.screens.main import MainScreen
from tui_sns.screens.widgets import Timeline
from tui_sns.store import KdfParams
from tui_sns.store import posts as post_store


def fill(session: Session, count: int) -> None:
    with session.store.write():
        for i in range(count):
            created = (
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}+00:00"
            )
            pid = f"{i:016x}"
            post_store.insert_post(
                session.store,
                post_id=pid,
                remote_id=pid,
                author_id=None,
                title=f"Entry {i}",
                body=f"Body of entry {i}\n\nSome *markdown* text.",
                created=created,
                received=created,
                audience={"circles": [], "contacts": []},
            )


async def measure(session: Session, home: Path, config: Path) -> tuple[float, float]:
    app = TuiSnsApp(home, session, config_dir=config, sync=False)
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = None
        while True:
            await pilot.pause(0.005)
            if isinstance(app.screen, MainScreen):
                timeline = app.screen.query_one(Timeline)
                expected = session.diary.count() if first_count is None else first_count
                if timeline.total == expected and (expected == 0 or timeline.highlighted is not None):
                    break
        await pilot.wait_for_animation()
        first = time.perf_counter() - start
        t0 = time.perf_counter()
        await pilot.press("G")
        await pilot.pause()
        assert timeline.cursor == max(0, timeline.total - 1)
        end = time.perf_counter() - t0
    return first, end


first_count: int | None = None


async def child_first_screen(home: Path, config: Path, expected: int) -> None:
    """In a fresh interpreter: open the store, run the app to the first idle diary screen, say so."""
    session = Session.unlock(home, "bench")
    app = TuiSnsApp(home, session, config_dir=config, sync=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            await pilot.pause(0.005)
            if isinstance(app.screen, MainScreen):
                timeline = app.screen.query_one(Timeline)
                if timeline.total == expected and (expected == 0 or timeline.highlighted is not None):
                    break
        print("ready", flush=True)
    session.close()


def cold_start(home: Path, config: Path, expected: int) -> float:
    """Seconds from spawning ``python bench_tui.py --child`` to its "ready" line."""
    command = [
        sys.executable,
        __file__,
        "--child",
        str(home),
        "--config",
        str(config),
        "--expect",
        str(expected),
    ]
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        proc.wait(30)
    if line.strip() != "ready":
        raise RuntimeError(f"child failed: {line!r}")
    return elapsed


def main() -> int:
    global first_count
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,1000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child_first_screen(Path(args.child), Path(args.config), args.expect))
        return 0
    results: dict[int, tuple[float, float]] = {}
    colds: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            home = Path(tmp) / f"h{size}"
            session = Session.create(home, "bench", "bench", KdfParams.insecure_for_tests())
            t0 = time.perf_counter()
            fill(session, size)
            fill_s = time.perf_counter() - t0
            first_count = session.diary.count()
            firsts, ends = [], []
            for _ in range(args.runs):
                f, e = asyncio.run(measure(session, home, Path(tmp) / "cfg"))
                firsts.append(f)
                ends.append(e)
            session.close()
            colds[size] = statistics.median(
                cold_start(home, Path(tmp) / "cfg", first_count) for _ in range(args.runs)
            )
            results[size] = (statistics.median(firsts), statistics.median(ends))
            print(
                f"{size:>7} entries: first screen {results[size][0] * 1000:7.1f} ms, "
                f"G to the end {results[size][1] * 1000:7.1f} ms, "
                f"cold start {colds[size] * 1000:7.1f} ms (fill {fill_s:.1f} s)",
                flush=True,
            )
    base = results.get(0)
    if base:
        for size, (first, end) in results.items():
            print(
                f"ratio to empty at {size}: first screen {first / base[0]:.2f}, "
                f"G {end / base[1]:.2f}, cold start {colds[size] / colds[0]:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
