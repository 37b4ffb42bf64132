"""End-to-end tests against real ``tui-sns-relay serve`` subprocesses on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from relay_helpers import SseReader
from relay_server import RelayServer

pytestmark = pytest.mark.slow

FAST_STREAM = {"TUI_SNS_RELAY_STREAM_KEEPALIVE": "0.5"}


def admin(db: str, *argv: str) -> str:
    """Run an admin subcommand in its own process, as an operator would."""
    result = subprocess.run(
        [sys.executable, "-m", "tui_sns.sync.relay.cli", *argv, "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def credentials_for(server: RelayServer, count: int = 1) -> list[str]:
    code = admin(server.db, "invite", "create", "--uses", str(count)).splitlines()[-1]
    tokens: list[str] = []
    for _ in range(count):
        response = httpx.post(f"{server.url}/v1/invites/redeem", json={"code": code})
        assert response.status_code == 201
        tokens.append(response.json()["credential"])
    return tokens


def post(client: httpx.Client, url: str, credential: str, data: bytes) -> httpx.Response:
    return client.post(f"{url}/v1/envelopes", content=data, headers={"Authorization": f"Bearer {credential}"})


def list_all(url: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    envelopes: list[dict[str, Any]] = []
    after = 0
    while True:
        page = httpx.get(f"{url}/v1/envelopes", params={"after": after}, headers=headers).json()
        envelopes += page["envelopes"]
        after = page["next"]
        if not page["more"]:
            return envelopes


def test_stream_delivers_each_upload_live(sqlite_url: str, spawn_relay: Callable[..., RelayServer]) -> None:
    server = spawn_relay(sqlite_url, env=FAST_STREAM)
    [credential] = credentials_for(server)
    with httpx.Client() as client:
        first = post(client, server.url, credential, b"before the stream").json()
        with SseReader(server.url) as reader:
            assert reader.next(5)["seq"] == first["seq"]
            for i in range(3):  # each upload reaches the open stream (bounded wait, no timing asserted)
                stored = post(client, server.url, credential, f"live {i}".encode()).json()
                event = reader.next(10.0)
                assert (event["seq"], event["id"], event["id"]) == (stored["seq"], stored["id"], event["id"])
            metrics = server.metrics()
            assert "relay_stream_subscribers 1.0" in metrics
    deadline = time.monotonic() + 5
    while "relay_stream_subscribers 0.0" not in server.metrics():
        assert time.monotonic() < deadline, "subscriber not cleaned up after disconnect"
        time.sleep(0.1)


def test_no_access_log_by_default(sqlite_url: str, spawn_relay: Callable[..., RelayServer]) -> None:
    server = spawn_relay(sqlite_url)
    httpx.get(f"{server.url}/v1/info")
    server.stop()
    assert '"GET /v1/info' not in server.log() and "127.0.0.1:" not in server.log().replace(
        f"127.0.0.1:{server.port}", ""
    )


def test_load_20_clients_x_100_posts_with_default_limits(
    sqlite_url: str, spawn_relay: Callable[..., RelayServer]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_SNS_RELAY_")}
    server = spawn_relay(sqlite_url)
    server.env = env  # defaults for the rate limits: restart without the test overrides
    server.stop()
    server.start()
    credentials = credentials_for(server, 20)

    def client_posts(credential: str) -> list[int]:
        with httpx.Client() as client:
            return [post(client, server.url, credential, os.urandom(256)).status_code for _ in range(100)]

    with ThreadPoolExecutor(20) as pool:
        statuses = [s for result in pool.map(client_posts, credentials) for s in result]
    assert statuses.count(201) == 2000
    assert len(list_all(server.url)) == 2000


Acks = list[tuple[int, str]]


def _write_then_kill_9(
    server: RelayServer, credentials: list[str], send: Callable[[httpx.Client, str], Acks]
) -> tuple[Acks, list[dict[str, Any]]]:
    """Writers call ``send`` until the relay is killed with SIGKILL; then restart it and list everything.

    Returns what the relay acknowledged before dying and what it lists after the restart.
    """
    acknowledged: Acks = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(credential: str) -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    acks = send(client, credential)
                except httpx.TransportError:
                    return
                with lock:
                    acknowledged.extend(acks)

    threads = [threading.Thread(target=writer, args=(c,)) for c in credentials]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(10)
    server.start()
    return acknowledged, list_all(server.url)


def test_acknowledged_envelopes_survive_kill_9(
    sqlite_url: str, spawn_relay: Callable[..., RelayServer]
) -> None:
    server = spawn_relay(sqlite_url)

    def send(client: httpx.Client, credential: str) -> Acks:
        response = post(client, server.url, credential, os.urandom(2048))
        if response.status_code in (200, 201):
            return [(response.json()["seq"], response.json()["id"])]
        return []

    acknowledged, listed = _write_then_kill_9(server, credentials_for(server, 4), send)
    assert len(acknowledged) > 20
    seqs = [e["seq"] for e in listed]
    assert len(seqs) == len(set(seqs))
    by_seq = {e["seq"]: e["id"] for e in listed}
    for seq, eid in acknowledged:
        assert by_seq.get(seq) == eid
    assert sorted(by_seq.values()).count(acknowledged[0][1]) == 1


def test_acknowledged_batches_survive_kill_9(
    sqlite_url: str, spawn_relay: Callable[..., RelayServer]
) -> None:
    """The batch endpoint answers only after its commit, like the single one."""
    server = spawn_relay(sqlite_url)

    def send(client: httpx.Client, credential: str) -> Acks:
        datas = [os.urandom(512) for _ in range(20)]
        body = b"".join(len(d).to_bytes(4, "big") + d for d in datas)
        response = client.post(
            f"{server.url}/v1/envelopes/batch",
            content=body,
            headers={"Authorization": f"Bearer {credential}"},
        )
        if response.status_code == 200:
            return [(r["seq"], r["id"]) for r in response.json()["results"]]
        return []

    acknowledged, listed = _write_then_kill_9(server, credentials_for(server, 4), send)
    assert len(acknowledged) > 100
    by_seq = {e["seq"]: e["id"] for e in listed}
    assert len(by_seq) == len(listed)
    for seq, eid in acknowledged:
        assert by_seq.get(seq) == eid


@pytest.mark.pg
def test_acknowledged_batches_survive_kill_9_on_postgres(
    pg_url: str, spawn_relay: Callable[..., RelayServer]
) -> None:
    """On PostgreSQL too (seqs drawn before the insert, readers gated): a relay killed mid-write loses no
    acknowledged envelope; everything acknowledged is listed, in seq order, each once. (A batch the
    kill left registered would hold readers until the next sweep, hence the bounded wait; in practice
    the backend finishes the pipelined batch it already received. test_pg_writes covers the sweep.)"""
    server = spawn_relay(pg_url)

    def send(client: httpx.Client, credential: str) -> Acks:
        datas = [os.urandom(512) for _ in range(20)]
        body = b"".join(len(d).to_bytes(4, "big") + d for d in datas)
        response = client.post(
            f"{server.url}/v1/envelopes/batch",
            content=body,
            headers={"Authorization": f"Bearer {credential}"},
        )
        if response.status_code == 200:
            return [(r["seq"], r["id"]) for r in response.json()["results"]]
        return []

    acknowledged, listed = _write_then_kill_9(server, credentials_for(server, 4), send)
    assert len(acknowledged) > 100
    deadline = time.monotonic() + 30  # the restarted relay sweeps every 5 s (no timing asserted)
    while {seq for seq, _ in acknowledged} - {e["seq"] for e in listed} and time.monotonic() < deadline:
        time.sleep(0.5)
        listed = list_all(server.url)
    by_seq = {e["seq"]: e["id"] for e in listed}
    assert len(by_seq) == len(listed) and [e["seq"] for e in listed] == sorted(by_seq)
    for seq, eid in acknowledged:
        assert by_seq.get(seq) == eid


@pytest.mark.pg
def test_two_processes_on_one_postgres(pg_url: str, spawn_relay: Callable[..., RelayServer]) -> None:
    writer = spawn_relay(pg_url, env=FAST_STREAM)
    reader = spawn_relay(pg_url, env=FAST_STREAM)
    [credential] = credentials_for(writer)
    with httpx.Client() as client, SseReader(reader.url) as stream:
        for i in range(
            3
        ):  # each upload reaches the other process's stream (bounded wait, no timing asserted)
            stored = post(client, writer.url, credential, f"cross-process {i}".encode()).json()
            event = stream.next(10.0)
            assert (event["seq"], event["id"]) == (stored["seq"], stored["id"])
        # Concurrent writes through both processes: seq order is commit order, nothing is skipped.
        [other] = credentials_for(reader)

        def burst(url: str, token: str, tag: str) -> list[int]:
            with httpx.Client() as c:
                return [post(c, url, token, f"{tag}{n}".encode()).json()["seq"] for n in range(30)]

        with ThreadPoolExecutor(2) as pool:
            seqs = [
                s
                for result in pool.map(burst, [writer.url, reader.url], [credential, other], ["a", "b"])
                for s in result
            ]
        streamed = [stream.next(5.0)["seq"] for _ in range(60)]
        assert sorted(streamed) == sorted(seqs) and streamed == sorted(streamed)
    listed = list_all(reader.url)
    assert len(listed) == 63
