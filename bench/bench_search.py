"""Search: time to the first page of results for a one-word query, as a ratio to the timeline's
first page, in a store of N entries, measured in the same run.

    .venv/bin/python bench/bench_search.py [--size 100000] [--runs 7]

The store is built as bench/bench_tui.py builds it (one transaction of ``posts.insert_post``; the
search index is filled by the migration's triggers as the rows go in). "First results" is what the
search screen does before it can draw: ``Diary.search_count`` plus ``Diary.search(limit=PAGE)``;
"timeline" is what the diary does before its first paint: ``Diary.count`` plus
``Diary.timeline(limit=PAGE)``. Queries: a rare word (a number that occurs in one entry; as the
last word it is also a prefix, so it matches 11), a word in every entry, and a word in none.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_tui import fill  # noqa: E402

from tui_sns.core.session import Session  # noqa: E402
from tui_sns.screens.widgets import PAGE  # noqa: E402
from tui_sns.store import KdfParams  # noqa: E402


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        session = Session.create(Path(tmp) / "h", "bench", "bench", KdfParams.insecure_for_tests())
        t0 = time.perf_counter()
        fill(session, args.size)
        fill_s = time.perf_counter() - t0
        diary = session.diary
        rare = str(args.size // 2 + 7)

        def timeline() -> object:
            return diary.count(), diary.timeline(limit=PAGE)

        def search(word: str) -> Callable[[], object]:
            return lambda: (diary.search_count(word), diary.search(word, limit=PAGE))

        timeline()  # warm the page cache the same way for everyone
        base = median_ms(timeline, args.runs)
        print(f"{args.size:,} entries (fill with the index: {fill_s:.1f} s), median of {args.runs} runs")
        print(f"{'timeline first page':<40} {base:8.1f} ms   1.00")
        for label, word in (
            (f"search {rare!r} (rare)", rare),
            ("search 'markdown' (every entry)", "markdown"),
            ("search 'zebra' (no entry)", "zebra"),
        ):
            found = diary.search_count(word)
            ms = median_ms(search(word), args.runs)
            print(f"{label + f' → {found:,}':<40} {ms:8.1f} ms   {ms / base:.2f}")
        session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
