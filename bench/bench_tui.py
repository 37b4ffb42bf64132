"""Time from App.run_test() start to the first idle diary screen, and to the end of the timeline.

    /work/venv/bin/python bench/bench_tui.py [--sizes 0,1000,100000]

Entries are bulk-inserted in one transaction (``session.store.write()`` + ``posts.insert_post``).
Identities use the cheap test KDF: Argon2id is not what is measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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
            created = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}+00:00"
            pid = f"{i:016x}"
            post_store.insert_post(
                session.store, post_id=pid, remote_id=pid, author_id=None, title=f"Entry {i}",
                body=f"Body of entry {i}\n\nSome *markdown* text.", created=created, received=created,
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


def main() -> int:
    global first_count
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,1000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[int, tuple[float, float]] = {}
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
            results[size] = (statistics.median(firsts), statistics.median(ends))
            print(f"{size:>7} entries: first screen {results[size][0]*1000:7.1f} ms, "
                  f"G to the end {results[size][1]*1000:7.1f} ms (fill {fill_s:.1f} s)", flush=True)
    base = results.get(0)
    if base:
        for size, (first, _end) in results.items():
            print(f"ratio first screen {size}/empty: {first / base[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
