"""The cost of a passphrase change (which rekeys the whole database) at 10,000 and 100,000 entries, as a
ratio to two baselines measured in the same run on the same store:

* ``VACUUM INTO`` a fresh copy (reads, decrypts, re-encrypts and writes every page: what `backup` does);
* reading every entry (``SELECT * FROM posts``, decrypting every page once).

    .venv/bin/python bench/bench_store.py [--sizes 10000,100000] [--runs 3]

Entries are bulk-inserted in one transaction (``posts.insert_post``, ~400-byte bodies). The cheap test
KDF is used for the key file: Argon2id (about 0.5 s at production strength, twice per change) is not
what is measured here; the figure is the rekey and its two key-file renames.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from tui_sns.core.session import Session
from tui_sns.store import KdfParams, Store
from tui_sns.store import posts as post_store

CHEAP = KdfParams.insecure_for_tests()


def fill(session: Session, count: int) -> None:
    with session.store.write():
        for i in range(count):
            created = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00"
            pid = f"{i:016x}"
            post_store.insert_post(
                session.store,
                post_id=pid,
                remote_id=pid,
                author_id=None,
                title=f"Entry {i}",
                body=f"Body of entry {i}. " + "Some words of a diary entry, " * 13,
                created=created,
                received=created,
                audience={"circles": [], "contacts": []},
            )


def timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def measure(home: Path, runs: int) -> dict[str, float]:
    passphrases = ["bench", "bench-2"]
    rekey, vacuum, read = [], [], []
    for run in range(runs):
        with Store.open(home, passphrases[run % 2]) as store:
            copy = home.parent / "copy.db"
            vacuum.append(timed(lambda: store.backup_to(copy)))  # noqa: B023
            copy.unlink()
            read.append(timed(lambda: store.fetchall("SELECT * FROM posts")))  # noqa: B023
            rekey.append(timed(lambda: store.change_passphrase(passphrases[(run + 1) % 2], CHEAP)))  # noqa: B023
    return {
        "rekey": statistics.median(rekey),
        "vacuum": statistics.median(vacuum),
        "read": statistics.median(read),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| entries | store size | passwd (rekey) | VACUUM INTO copy | ratio | read all entries | ratio |")
    print("| ------: | ---------: | -------------: | ---------------: | ----: | ---------------: | ----: |")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            with Session.create(home, "bench", "bench", CHEAP) as session:
                fill(session, size)
            mib = (home / "store.db").stat().st_size / 2**20
            t = measure(home, args.runs)
            print(
                f"| {size:,} | {mib:.1f} MiB | {t['rekey'] * 1000:.0f} ms | {t['vacuum'] * 1000:.0f} ms "
                f"| {t['rekey'] / t['vacuum']:.2f} | {t['read'] * 1000:.0f} ms | {t['rekey'] / t['read']:.2f} |"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
