"""`status` says why a relay is unreachable once.

Seen: "unreachable (connection refused (nothing listens there…)); last successful sync …; last error:
relay … is unreachable: connection refused (nothing listens there…)" — the same reason twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from relay_server import RelayServer


def test_status_gives_an_unreachable_relays_reason_once(
    home: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    server = RelayServer(f"sqlite:///{tmp_path / 'relay.db'}", tmp_path).start()
    try:
        assert cli(home, "relay", "add", server.url, "--invite", server.invite()).code == 0
        assert cli(home, "sync").code == 0
    finally:
        server.stop()
    assert cli(home, "sync").code == 1  # the relay is down now: its error is recorded
    result = cli(home, "status")
    assert result.code == 0, result.err
    (line,) = [line for line in result.out.splitlines() if line.startswith(f"Relay {server.url} ")]
    assert "unreachable" in line and "last successful sync 20" in line
    assert line.count("connection refused") == 1, line
    assert line.count("nothing listens there") == 1, line
