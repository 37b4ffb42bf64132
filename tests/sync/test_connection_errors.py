"""A relay that cannot be talked to says why, in words a person can act on: https to a plain-HTTP
server ("does not speak TLS; did you mean http://…?"), a name that does not exist ("name not found"),
a refused connection, no answer in time — in ``sync``, ``status`` (``state`` stays "unreachable",
``reason`` and ``detail`` say why) and the app's notices (the sync report's errors).

Seen: https-to-an-http-server and an unresolvable name both said "unreachable (no answer at that
address: it may be down, or the address may be wrong)"."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_sns.store import relays as relay_store

NO_SUCH_NAME = "relay.no-such-name.invalid"  # RFC 6761: never resolves


@pytest.fixture
def plain_http() -> Iterator[int]:
    """A plain-HTTP server on 127.0.0.1 (a relay reached with https:// by mistake); stopped after."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections and never answers; closed after."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def with_relay(home: Path, url: str, open_session: Callable[..., Any]) -> None:
    """``url`` as one of my relays (as if joined earlier)."""
    with open_session(home) as session:
        relay_store.add_relay(session.store, url, "credential", "2026-01-01T00:00:00+00:00")


def cases(plain: int) -> list[tuple[str, str, str]]:
    return [
        (
            f"https://127.0.0.1:{plain}",
            "tls",
            f"does not speak TLS; did you mean http://127.0.0.1:{plain}?",
        ),
        (f"https://{NO_SUCH_NAME}", "dns", "name not found"),
        (f"http://127.0.0.1:{closed_port()}", "refused", "connection refused"),
    ]


def test_sync_and_status_say_why(
    home: Path, plain_http: int, cli: Callable[..., Any], open_session: Callable[..., Any]
) -> None:
    table = cases(plain_http)
    for url, _reason, _words in table:
        with_relay(home, url, open_session)
    synced = cli(home, "sync")
    assert synced.code == 1
    for url, _reason, words in table:
        (line,) = [line for line in synced.err_lines if url in line]
        assert words in line, line
    assert "no answer at that address" not in synced.err
    status = cli(home, "status", "--json").json()
    by_url = {r["url"]: r for r in status["relays"]}
    for url, reason, words in table:
        relay = by_url[url]
        assert relay["state"] == "unreachable" and relay["reachable"] is False  # the fields as before
        assert relay["reason"] == reason and words in relay["detail"]
        assert words in relay["error"]  # the last sync's error
    text = cli(home, "status").out
    for url, _reason, words in table:
        (line,) = [line for line in text.splitlines() if line.startswith(f"Relay {url} ")]
        assert "unreachable" in line and words in line


def test_a_relay_that_never_answers_timed_out(
    home: Path,
    silent: int,
    cli: Callable[..., Any],
    open_session: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    monkeypatch.setattr("tui_sns.net.transport.TIMEOUT", httpx.Timeout(0.5))
    url = f"http://127.0.0.1:{silent}"
    with_relay(home, url, open_session)
    synced = cli(home, "sync")
    assert synced.code == 1 and "no answer in time" in synced.err
    relay = cli(home, "status", "--json").json()["relays"][0]
    assert (relay["state"], relay["reason"]) == ("unreachable", "timeout")


def test_relay_add_says_why_too(home: Path, plain_http: int, cli: Callable[..., Any]) -> None:
    for url, _reason, words in cases(plain_http):
        result = cli(home, "relay", "add", url, "--invite", "code")
        assert result.code == 1 and len(result.err_lines) == 1 and words in result.err, result.err


def test_the_apps_notice_is_the_sync_error(
    home: Path, plain_http: int, open_session: Callable[..., Any]
) -> None:
    """The app shows the sync report's errors as its notices: the same sentences."""
    from tui_sns.sync.engine import SyncEngine

    url = f"https://127.0.0.1:{plain_http}"
    with_relay(home, url, open_session)
    with open_session(home) as session:
        report = SyncEngine(session).sync_once()
    assert [e for e in report.errors if f"did you mean http://127.0.0.1:{plain_http}?" in e]


def test_a_dead_proxy_is_named_as_the_proxy_never_as_the_relay(
    home: Path, cli: Callable[..., Any], open_session: Callable[..., Any]
) -> None:
    """Through a proxy, a refused connection is the proxy's (and its password is never shown)."""
    with_relay(home, "https://relay.example", open_session)
    port = closed_port()
    synced = cli(None, "--home", str(home), "--proxy", f"socks5://kasa:hunter2@127.0.0.1:{port}", "sync")
    assert synced.code == 1
    assert f"the proxy at 127.0.0.1:{port} refused the connection" in synced.err
    assert "hunter2" not in synced.err and "relay is down" not in synced.err
    relay = cli(
        None, "--home", str(home), "--proxy", f"socks5://kasa:hunter2@127.0.0.1:{port}", "status", "--json"
    ).json()["relays"][0]
    assert (relay["state"], relay["reason"]) == ("unreachable", "proxy")
