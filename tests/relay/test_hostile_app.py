"""Issue 9 §2-§4 in process: bounded handles, honest pruning, closed metrics, slow code guessing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from relay_helpers import METRICS_AUTH, RelayClient, assert_error

from tui_sns.sync.relay.app import prune_once
from tui_sns.sync.relay.config import load_config
from tui_sns.sync.relay.errors import ConfigError, InviteUnknownError
from tui_sns.sync.relay.pruning import PruneClock
from tui_sns.sync.relay.storage import HOUR, hour_floor, token_hash
from tui_sns.sync.relay.storage_sqlite import SqliteStorage

DAY = 86400


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc/self/fd")
def test_sqlite_handles_stay_bounded_across_bursts_of_threads(tmp_path: Path) -> None:
    # Seen: one reader connection per worker thread, never closed; idle threads are replaced, so
    # bursty reads grew the open handles on relay.db / relay.db-wal from 10 to 267.
    storage = SqliteStorage(str(tmp_path / "relay.db"), readers=3)
    storage.migrate()
    storage.store_envelope(b"x", time.time(), None)
    try:
        before = _open_fds()
        for _burst in range(8):  # each burst runs on fresh threads, as after an idle gap
            threads = [
                threading.Thread(target=storage.list_envelopes, args=(0, 10, time.time())) for _ in range(6)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
        # At most `readers` reader connections, each a few handles (db, wal, shm).
        assert _open_fds() - before <= 3 * 3
    finally:
        storage.close()


async def test_metrics_closed_on_the_public_listener_by_default(make_relay: Callable[..., Any]) -> None:
    # Seen: /metrics needed no credential, even in members mode, and leaked upload sizes and traffic.
    relay: RelayClient = await make_relay(metrics_token=None, read="members")
    assert_error(await relay.http.get("/metrics"), 404, "not_found")
    # /openapi.json and /v1/info stay public and say nothing about traffic.
    credential = await relay.credential()
    await relay.post(b"z" * 1234, credential)
    for path in ("/openapi.json", "/v1/info"):
        response = await relay.http.get(path)
        assert response.status_code == 200
        assert "1234" not in response.text and "relay_" not in response.text


async def test_metrics_behind_the_admin_token(relay: RelayClient) -> None:
    assert_error(await relay.http.get("/metrics"), 401, "unauthorized")
    wrong = {"Authorization": "Bearer not-the-token"}
    assert_error(await relay.http.get("/metrics", headers=wrong), 401, "unauthorized")
    assert (await relay.http.get("/metrics", headers=METRICS_AUTH)).status_code == 200


async def test_redeem_is_rate_limited_per_address(make_relay: Callable[..., Any]) -> None:
    # Seen: POST /v1/invites/redeem had no rate limit at all.
    relay: RelayClient = await make_relay(redeem_rate=0.01, redeem_burst=3)
    statuses = [
        (await relay.http.post("/v1/invites/redeem", json={"code": f"guess-{i}"})).status_code
        for i in range(5)
    ]
    assert statuses == [404, 404, 404, 429, 429]
    refused = await relay.http.post("/v1/invites/redeem", json={"code": relay.invite()})
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1


async def test_failed_redeem_does_not_take_the_write_lock(make_relay: Callable[..., Any]) -> None:
    # Seen: every redeem attempt, even with an unknown code, queued for the write lock.
    relay: RelayClient = await make_relay()
    storage: Any = relay.relay.storage
    if not isinstance(storage, SqliteStorage):
        pytest.skip("the write lock checked here is SQLite's")
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            storage.redeem_invite(token_hash("no such code"), token_hash("c"), time.time())
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    with storage._write_lock:  # a long write holds the lock
        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        thread.join(5)
        finished = not thread.is_alive()
    thread.join(10)
    assert finished, "an unknown code waited for the write lock"
    assert len(outcome) == 1 and isinstance(outcome[0], InviteUnknownError)


async def test_prune_by_age_never_deletes_a_younger_envelope(relay: RelayClient) -> None:
    # Seen: arrival times are stored rounded down to the hour, so `prune --older-than 10m` deleted an
    # envelope uploaded one second before and `prune_older_than = 1h` one 7 seconds old.
    storage = relay.relay.storage
    arrival = float(hour_floor(time.time()) - 1)  # one second before an hour boundary
    storage.store_envelope(b"late in its hour", arrival, None)
    assert storage.prune(arrival + 1, 600) == 0
    assert storage.prune(arrival + 7, 3600) == 0
    assert storage.prune(arrival + 3599, 3600) == 0  # 59 min 59 s old: younger than 1 h
    # ... and once it is surely older than the setting, it goes.
    assert storage.prune(arrival + 1 + 3600 + 3600, 3600) == 1


async def test_prune_at_the_exact_boundary(relay: RelayClient) -> None:
    # Another of the same kind: an envelope at the very start of its hour is kept until a full
    # rounding step has passed beyond the setting, never deleted early.
    storage = relay.relay.storage
    arrival = float(hour_floor(time.time()) - 2 * HOUR)
    storage.store_envelope(b"early in its hour", arrival, None)
    assert storage.prune(arrival + 600, 600) == 0
    assert storage.prune(arrival + HOUR + 600, 600) == 1


class FakeClocks:
    def __init__(self) -> None:
        self.wall = time.time()
        self.steady = 1000.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.steady += seconds


async def test_pruner_skips_when_the_wall_clock_jumped(make_relay: Callable[..., Any]) -> None:
    # Seen: stepping the clock forward one day for a few seconds made the pruner delete, for good,
    # an envelope that expired two hours later.
    relay: RelayClient = await make_relay(prune_older_than=7 * DAY)
    clocks = FakeClocks()
    relay.relay.prune_clock = PruneClock(wall=lambda: clocks.wall, steady=lambda: clocks.steady)
    credential = await relay.credential()
    expires = int(time.time()) + 2 * HOUR
    assert (await relay.post(b"two more hours", credential, expires=expires)).status_code == 201
    clocks.tick(300)
    assert await prune_once(relay.relay) == 0
    clocks.wall += DAY  # the step
    clocks.tick(300)
    assert await prune_once(relay.relay) is None
    assert len((await relay.http.get("/v1/envelopes")).json()["envelopes"]) == 1
    clocks.wall -= DAY  # stepped back: trusted again at once
    clocks.tick(300)
    assert await prune_once(relay.relay) == 0


async def test_pruner_skips_a_backward_jump_and_trusts_a_steady_new_clock(
    make_relay: Callable[..., Any],
) -> None:
    relay: RelayClient = await make_relay()
    clocks = FakeClocks()
    clock = PruneClock(wall=lambda: clocks.wall, steady=lambda: clocks.steady, settle=3600)
    relay.relay.prune_clock = clock
    clocks.wall -= 2 * HOUR
    clocks.tick(300)
    assert await prune_once(relay.relay) is None
    clocks.tick(1800)
    assert await prune_once(relay.relay) is None  # steady, but not yet for `settle` seconds
    clocks.tick(1800)
    assert await prune_once(relay.relay) == 0  # steady for an hour: the new time is trusted


def test_new_limits_are_configurable() -> None:
    config = load_config(
        {},
        environ={
            "TUI_SNS_RELAY_HEADER_TIMEOUT": "2.5",
            "TUI_SNS_RELAY_MAX_STREAMS_PER_ADDRESS": "3",
            "TUI_SNS_RELAY_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
        },
    )
    assert config.header_timeout == 2.5 and config.max_streams_per_address == 3
    assert config.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    defaults = load_config({}, environ={})
    assert defaults.trusted_proxies == () and defaults.metrics_token is None
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config({}, environ={"TUI_SNS_RELAY_TRUSTED_PROXIES": "10.0.0.300"})
