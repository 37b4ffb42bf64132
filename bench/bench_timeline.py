"""Peak memory of `tui-sns timeline --json` against the store's size (issue 15 §5).

    /work/venv/bin/python bench/bench_timeline.py [--sizes 1000,100000] [--baseline-src DIR]

For each size, a throwaway store (cheap test KDF: Argon2id is not what is measured) gets that many
entries, bulk-inserted in one transaction through the store API; then `tui-sns timeline --json` runs in
a fresh interpreter (stdout to /dev/null) and its peak RSS (``os.wait4``'s ``ru_maxrss``) and wall time
are recorded. Target: peak RSS at the largest size <= 1.2 x that at the smallest. With
``--baseline-src DIR`` (a tree of another version, e.g. ``git archive main | tar -x -C DIR``) the same
command also runs with that code on the same stores, for comparison in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui_sns.core.session import Session
from tui_sns.store import KdfParams
from tui_sns.store import posts as post_store

TARGET = 1.2
PASSPHRASE = "bench"


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
                body=f"Body of entry {i}\n\n" + "Some *markdown* text. " * 40,  # ~900 bytes
                created=created,
                received=created,
                audience={"circles": [], "contacts": []},
            )


def run_cli(home: Path, src: Path | None) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, bytes written) of one `tui-sns timeline --json` in a fresh process."""
    env = {**os.environ, "TUI_SNS_PASSPHRASE": PASSPHRASE}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    out = home.parent / f"{home.name}.json"
    command = [sys.executable, "-c", "import sys; from tui_sns.cli import main; sys.exit(main(sys.argv[1:]))"]
    command += ["--home", str(home), "timeline", "--json"]
    started = time.perf_counter()
    with out.open("wb") as sink:
        # cwd: not the repository, whose tui_sns would shadow a baseline's on sys.path ('' comes first)
        proc = subprocess.Popen(command, stdout=sink, env=env, cwd=home.parent)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"timeline --json failed with {proc.returncode}")
    size = out.stat().st_size
    out.unlink()
    return usage.ru_maxrss / 1024, elapsed, size


def code_of(src: Path | None, cwd: Path) -> str:
    """Where the CLI's tui_sns is imported from, as the measured runs import it."""
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src is not None else {})}
    command = [sys.executable, "-c", "import tui_sns; print(tui_sns.__file__)"]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,100000", help="comma-separated entry counts (default 1000,100000)"
    )
    parser.add_argument("--baseline-src", type=Path, help="also run this code tree's CLI on the same stores")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="bench-timeline-", dir=base))
    load = os.getloadavg()
    try:
        homes = {}
        for size in sizes:
            home = root / f"s{size}"
            with Session.create(home, "bench", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as session:
                fill(session, size)
            homes[size] = home
        codes: list[tuple[str, Path | None]] = [("this code", None)]
        if args.baseline_src is not None:
            codes.append(("baseline", args.baseline_src))
        verdict = 0
        for label, src in codes:
            peaks = {}
            print(f"{label:>9}: {code_of(src, root)}")
            for size in sizes:
                peak, elapsed, written = run_cli(homes[size], src)
                peaks[size] = peak
                print(
                    f"{label:>9}: {size:>7,} entries: peak RSS {peak:7.1f} MiB, {elapsed:6.2f} s, "
                    f"{written / 2**20:7.1f} MiB of JSON"
                )
            ratio = peaks[sizes[-1]] / peaks[sizes[0]]
            print(f"{label:>9}: peak RSS {sizes[-1]:,} / {sizes[0]:,} = {ratio:.2f} (target <= {TARGET})")
            if src is None and ratio > TARGET:
                verdict = 1
        after = os.getloadavg()
        print(f"load average before {load[0]:.1f}, after {after[0]:.1f} (2 cores)")
        return verdict
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
