"""The Relays screen says why a relay is unreachable (https to a plain-HTTP server: "did you mean
http://…?"), as ``sync`` and ``status`` do (tests/sync/test_connection_errors.py)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tui_sns.store import relays as relay_store

from .test_app import wait_for


@pytest.fixture
def plain_http() -> Iterator[int]:
    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

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


async def test_relays_screen_says_why_a_relay_is_unreachable(
    person: Callable[..., Any], make_app: Callable[..., Any], plain_http: int
) -> None:
    from tui_sns.screens.relays import RelaysScreen

    ann = person("Ann")
    url = f"https://127.0.0.1:{plain_http}"
    relay_store.add_relay(ann.store, url, "credential", "2026-01-01T00:00:00+00:00")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, RelaysScreen))
        table = app.screen.query_one("#relays")
        await wait_for(pilot, lambda: table.row_count == 1 and "no" in str(table.get_row_at(0)[2]))
        assert "TLS" in str(table.get_row_at(0)[2])
        detail = app.screen.query_one("#relay-detail")
        await wait_for(pilot, lambda: f"did you mean http://127.0.0.1:{plain_http}?" in str(detail.render()))
