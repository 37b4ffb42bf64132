"""A real ``tui-sns-relay serve`` subprocess on a free loopback port, for every test that needs one.

Importable from any test module: pytest puts ``tests/`` on sys.path (it holds the root conftest.py).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The load limits a test does not set itself are high enough that tests measure correctness, not
# throttling (the tests of the limits set them low); /metrics is reached with a per-server token.
PERMISSIVE_ENV = {
    "TUI_SNS_RELAY_MAX_CONNECTIONS_PER_ADDRESS": "1000",
    "TUI_SNS_RELAY_MAX_STREAMS_PER_ADDRESS": "1000",
    "TUI_SNS_RELAY_REDEEM_RATE": "100000",
    "TUI_SNS_RELAY_REDEEM_BURST": "100000",
}


class RelayServer:
    """``RelayServer(db_url, log_dir, *extra_serve_args, env=...)``; always ``stop()`` it (fixtures do)."""

    def __init__(self, db: str, log_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.args = args
        self.metrics_token = secrets.token_urlsafe(16)
        self.env = {
            **os.environ,
            **PERMISSIVE_ENV,
            "TUI_SNS_RELAY_METRICS_TOKEN": self.metrics_token,
            **(env or {}),
        }
        self.log_path = log_dir / f"relay-{secrets.token_hex(4)}.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> RelayServer:
        """Start (or restart, on the same port once chosen) and poll /healthz until it answers."""
        if not self.port:
            self.port = free_port()
        command = [sys.executable, "-m", "tui_sns.sync.relay.cli", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--db", self.db, *self.args]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"relay not ready after {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """``kill -9``: no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- admin shortcuts (through the relay's own storage API, as its CLI does) --------------

    def invite(self, uses: int = 1) -> str:
        from tui_sns.sync.relay.storage import new_token, open_storage, token_hash

        storage = open_storage(self.db, pool_size=1)
        try:
            code = new_token()
            storage.create_invite(token_hash(code), uses, None, time.time())
        finally:
            storage.close()
        return code

    def store_directly(self, envelopes: list[bytes]) -> None:
        """Put envelopes into the relay's database through its storage API (no HTTP, no rate limit)."""
        from tui_sns.sync.relay.storage import open_storage

        storage = open_storage(self.db, pool_size=1)
        try:
            now = time.time()
            for data in envelopes:
                storage.store_envelope(data, now, None)
        finally:
            storage.close()

    def metrics(self) -> str:
        """The relay's /metrics text (with this server's admin token)."""
        headers = {"Authorization": f"Bearer {self.metrics_token}"}
        return httpx.get(f"{self.url}/metrics", headers=headers, timeout=5).text

    def ok_responses(self) -> int:
        """How many 200 responses the relay has sent (from its /metrics; this request not included)."""
        text = self.metrics()
        for line in text.splitlines():
            if line.startswith('relay_http_requests_total{status="200"}'):
                return int(float(line.split()[-1]))
        return 0

    def envelopes(self) -> list[Any]:
        """Every envelope the relay lists (through its HTTP API, page by page)."""
        out: list[Any] = []
        after = 0
        while True:
            body = httpx.get(f"{self.url}/v1/envelopes", params={"after": after, "limit": 1000}).json()
            out.extend(body["envelopes"])
            after = body["next"]
            if not body["more"]:
                return out
