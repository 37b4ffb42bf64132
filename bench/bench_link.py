"""Linking benchmark: what a new device costs to link, against posting entries in the same run.

    .venv/bin/python bench/bench_link.py            # about 30-60 s

For diaries of N entries (only-me entries of ~600 characters, 20 contacts, 2 circles), it measures the
whole exchange without a relay: the first device's WELCOME and snapshot (``LinkHost.welcome``), the new
device opening them and making its store (``LinkJoiner.create_store``, cheap test KDF), and reports:

  * the snapshot's size (bytes of envelopes per entry) and its envelope count;
  * link time / (N × the time to post one such entry on the first device, measured in the same run):
    how many "posts" linking one entry costs — the figure docs/performance.md records;
  * the ratio of that figure between the largest and the smallest N (1.0 = linear in the diary).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from tui_sns.core.linking import LinkHost, LinkJoiner
from tui_sns.core.session import Session
from tui_sns.crypto.linking import LinkCode
from tui_sns.store import KdfParams

SIZES = (200, 2000)
BODY = "lorem ipsum dolor sit amet " * 22  # ~600 characters
KDF = KdfParams.insecure_for_tests()
PASS = "bench passphrase bench"


def make_diary(home: Path, entries: int) -> tuple[Session, float]:
    """A store with ``entries`` only-me entries, 20 contacts and 2 circles; returns it and the median
    seconds to post one entry (timed on the last 50)."""
    ana = Session.create(home / "ana", "ana", PASS, kdf=KDF)
    for i in range(20):
        with Session.create(home / f"c{i}", f"c{i}", PASS, kdf=KDF) as other:
            ana.contacts.add(other.contacts.my_card())
    ana.circles.create("close")
    ana.circles.add("close", ["c0", "c1", "c2"])
    ana.circles.create("work")
    ana.circles.add("work", ["c3", "c4"])
    with ana.store.write():
        for i in range(entries - 50):
            ana.diary.post(BODY, title=f"entry {i}")
    times = []
    for i in range(50):
        start = time.perf_counter()
        ana.diary.post(BODY, title=f"timed {i}")
        times.append(time.perf_counter() - start)
    return ana, statistics.median(times)


def link_once(ana: Session, home: Path) -> tuple[float, int, int]:
    """One link without a relay: (seconds, snapshot bytes, snapshot envelopes)."""
    start = time.perf_counter()
    host = LinkHost(ana, [])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    hello = joiner.on_envelope(host.offer())
    assert hello is not None
    reveal = host.on_envelope(hello)
    assert reveal is not None
    joiner.on_envelope(reveal)
    out = host.welcome()
    for data in out:
        joiner.on_envelope(data)
    assert joiner.complete
    joiner.create_store(home / "laptop", PASS, KDF).close()
    elapsed = time.perf_counter() - start
    return elapsed, sum(len(d) for d in out[1:-1]), len(out) - 2


def main() -> int:
    rows = []
    for n in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            ana, post = make_diary(Path(tmp), n)
            with ana:
                seconds, size, envelopes = link_once(ana, Path(tmp))
            per = seconds / (n * post)
            rows.append((n, seconds, post, per, size, envelopes))
            print(
                f"N={n:5d}: link {seconds:6.2f} s, post {post * 1000:6.2f} ms, "
                f"link per entry = {per:5.2f} posts, snapshot {size / n:7.0f} B/entry in {envelopes} envelopes"
            )
    print(f"linearity: per-entry cost at N={SIZES[-1]} / at N={SIZES[0]} = {rows[-1][3] / rows[0][3]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
