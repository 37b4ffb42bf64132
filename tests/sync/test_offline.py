"""Offline first: writing needs no relay; a sync with relays down says so and keeps the outbox;
a sync killed with SIGKILL midway is resumed by the next one, every entry stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer
from sync_helpers import befriend, outbox, post_many, received, sync, unlock

pytestmark = pytest.mark.slow


def test_post_and_sync_with_the_relays_down_then_up(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    one, two = spawn_relay(), spawn_relay()
    alice, bob = person("alice", one, two), person("bob", one)
    befriend(alice, bob)
    homes = {"alice": alice.store.home, "bob": bob.store.home}
    alice.close()
    one.stop()
    two.stop()

    posted = cli(homes["alice"], "post", "--to", "bob", "--title", "written offline", "--body", "hello")
    assert posted.code == 0, posted.err

    down = cli(homes["alice"], "sync")
    assert down.code != 0
    assert "Traceback" not in down.err
    errors = [line for line in down.err_lines if line.startswith("tui-sns: relay ")]
    assert len(errors) == 2, down.err  # one line per relay, each naming it
    assert {url for url in (one.url, two.url) if any(url in line for line in errors)} == {one.url, two.url}
    assert all("unreachable" in line for line in errors), errors
    status = cli(homes["alice"], "status", "--json").json()
    assert status["outbox"] == 1
    assert {r["url"]: r["reachable"] for r in status["relays"]} == {one.url: False, two.url: False}
    assert all(r["error"] for r in status["relays"])

    one.start()
    two.start()
    up = cli(homes["alice"], "sync")
    assert up.code == 0, up.err
    assert up.out.startswith("Sent 2,")  # the one envelope, to each of her two relays
    assert cli(homes["alice"], "status", "--json").json()["outbox"] == 0
    assert cli(homes["alice"], "sync").out.startswith("Sent 0,")
    assert sync(bob).errors == []
    assert {p.title for p in received(bob)} == {"written offline"}


def run_sync_child(home: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_sns", "--home", str(home), "sync"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )


def requests_besides_pages(relay: RelayServer, home: Any) -> int:
    """How many 200 answers a ``tui-sns sync`` with nothing to fetch gets besides its one (empty) page
    (``/v1/info`` and whatever else a pass asks before paging), measured on the second of two runs so
    that a first read's extra requests are not counted."""
    overhead = 0
    for _ in range(2):
        base = relay.ok_responses()
        child = run_sync_child(home)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err.decode(errors="replace")
        overhead = relay.ok_responses() - base - 1 - 1  # the first metrics request, the empty page
    assert overhead >= 0
    return overhead


def kill_while_storing(relay: RelayServer, home: Any, pages_done: int, overhead: int) -> tuple[bool, str]:
    """Run ``tui-sns sync`` and SIGKILL it once it has stored about ``pages_done`` pages.

    The sync asks for the next page before it stores the current one, so the request for page k+2
    shows that page k is stored: wait for ``pages_done + 1`` served pages (besides the ``overhead``
    other answers a pass gets, see :func:`requests_besides_pages`), which means at least
    ``pages_done - 1`` (>= 1) pages are stored. Returns (killed before it finished, its stderr).
    """
    base = relay.ok_responses() + overhead
    polls = 1
    child = run_sync_child(home)
    try:
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            served = relay.ok_responses() - base - polls
            polls += 1
            if served >= pages_done + 1:
                time.sleep(random.uniform(0, 0.05))
                break
            time.sleep(0.01)
        killed = child.poll() is None
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    return killed, err.decode(errors="replace")


def test_a_sync_killed_midway_resumes_and_stores_each_entry_once(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    relay = spawn_relay(in_ram=True)
    alice, bob = person("alice", relay), person("bob", relay)
    befriend(alice, bob)
    bob_home = bob.store.home
    bob.close()
    overhead = requests_besides_pages(relay, bob_home)

    expected: set[str] = set()
    interrupted = []
    for attempt in range(3):
        expected.update(post_many(alice, 3000, ["bob"], f"a{attempt}"))
        relay.store_directly(outbox(alice, relay.url))  # 3000 envelopes waiting for bob
        alice.store.fetchall("SELECT 1")  # alice stays open; she does not sync again
        killed, err = kill_while_storing(relay, bob_home, pages_done=random.randint(2, 4), overhead=overhead)
        assert "Traceback" not in err, err
        with unlock(bob_home) as bob:
            stored = len(received(bob))
        assert stored >= 500  # at least the first page
        if killed and stored < len(expected):
            interrupted.append(stored)
            break
    assert interrupted, "every sync finished before it could be killed"

    with unlock(bob_home) as bob:
        report = sync(bob)
        assert report.errors == []
        entries = received(bob)
        assert len(entries) == len(expected)
        assert len({p.id for p in entries}) == len(expected)
        assert {p.title for p in entries} == expected
        assert bob.diary.missing() == []
        assert sync(bob).new_post_ids == []
    alice.close()
