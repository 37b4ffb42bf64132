"""Hostile or broken relays and cards (issue 8 §3): every relay answer is validated in the transport,
anything else is that relay's error (named), one sync fetches a bounded amount per relay, and a bad
relay URL (in a card, or already stored) never stops the other relays."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend, received
from test_bad_relays import BAD, GOOD, LIMITS, Router, invite, page, record

from tui_sns.core.errors import InvalidInput
from tui_sns.core.relays import RelayBook
from tui_sns.crypto.card import Card
from tui_sns.crypto.envelope import envelope_id
from tui_sns.store import contacts as contact_store
from tui_sns.store import relays as relay_store
from tui_sns.sync import engine
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig

TOO_BIG = 2**64


@pytest.fixture
def good_app(tmp_path: Path) -> Any:
    return create_app(replace(RelayConfig(db=f"sqlite:///{tmp_path / 'good.db'}"), **LIMITS))


def junk() -> bytes:
    return os.urandom(300)


def hostile_page(kind: str) -> Callable[[httpx.Request], httpx.Response]:
    """A relay answering every page with one kind of hostile page (and every upload fine)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        after = int(request.url.params.get("after", "0"))
        data = junk()
        ok = record(after + 1, data)
        if kind == "seq-2^64":  # the seen case
            return page([record(TOO_BIG, data)], TOO_BIG)
        if kind == "next-2^64":
            return page([], TOO_BIG)
        if kind == "seq-negative":
            return page([record(-1, data)], after)
        if kind == "seq-string":
            return page([{**ok, "seq": str(after + 1)}], after + 1)
        if kind == "seq-float":
            return page([{**ok, "seq": after + 1.5}], after + 1)
        if kind == "seq-bool":
            return page([{**ok, "seq": True}], 1)
        if kind == "next-behind-last-seq":
            return page([ok], after)
        if kind == "seqs-not-increasing":
            return page([record(after + 2, data), record(after + 1, junk())], after + 2)
        if kind == "more-not-bool":
            return httpx.Response(200, json={"envelopes": [ok], "next": after + 1, "more": "no"})
        if kind == "id-uppercase":
            return page([{**ok, "id": envelope_id(data).upper()}], after + 1)
        if kind == "data-not-base64":
            return page([{**ok, "data": "%%%%"}], after + 1)
        if kind == "data-too-large":
            big = b"\0" * (2 * 1024 * 1024)
            return page([record(after + 1, big)], after + 1)
        if kind == "page-longer-than-asked":
            limit = int(request.url.params.get("limit", "500"))
            items = [record(after + 1 + i, junk()) for i in range(limit + 1)]
            return page(items, after + limit + 1)
        if kind == "json-nesting-bomb":
            return httpx.Response(
                200, content=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"}
            )
        if kind == "huge-number":
            return httpx.Response(
                200,
                content=b'{"envelopes": [], "next": ' + b"9" * 5000 + b', "more": false}',
                headers={"Content-Type": "application/json"},
            )
        if kind == "body-over-the-cap":
            return httpx.Response(
                200,
                content=b'{"envelopes": [], "next": 0, "more": false, "x": "' + b"a" * (64 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )
        raise AssertionError(kind)

    return handler


HOSTILE_PAGES = [
    "seq-2^64",
    "next-2^64",
    "seq-negative",
    "seq-string",
    "seq-float",
    "seq-bool",
    "next-behind-last-seq",
    "seqs-not-increasing",
    "more-not-bool",
    "id-uppercase",
    "data-not-base64",
    "data-too-large",
    "page-longer-than-asked",
    "json-nesting-bomb",
    "huge-number",
    "body-over-the-cap",
]


def two_relays(good_app: Any, person: Callable[..., Any], handler: Any) -> tuple[Any, Any, Router]:
    """alice and bob share the good relay; alice also reads BAD (named by bob's card)."""
    alice, bob = person("alice"), person("bob")
    router = Router({"good.test": httpx.ASGITransport(app=good_app)})
    for session in (alice, bob):
        RelayBook(session, transport=router).add(GOOD, invite(good_app))
    relay_store.add_relay(bob.store, BAD, "cred", "2026-01-01T00:00:00+00:00")
    befriend(alice, bob)
    relay_store.remove_relay(bob.store, BAD)
    router.routes["bad.test"] = httpx.MockTransport(handler)
    bob.diary.post("from bob", title="bob's", to=["alice"])
    assert SyncEngine(bob, transport=router).sync_once().errors == []
    return alice, bob, router


@pytest.mark.parametrize("kind", HOSTILE_PAGES)
def test_a_hostile_page_is_that_relays_error_and_the_good_one_still_syncs(
    kind: str, good_app: Any, person: Callable[..., Any]
) -> None:
    alice, _bob, router = two_relays(good_app, person, hostile_page(kind))
    report = SyncEngine(alice, transport=router).sync_once()
    assert len(report.errors) == 1, report.errors
    assert BAD in report.errors[0] and "named by the card of bob" in report.errors[0]
    assert {p.title for p in received(alice)} == {"bob's"}
    assert relay_store.get_state(alice.store, BAD).cursor == 0  # nothing of that page was taken
    status = SyncEngine(alice, transport=router).status(probe=False).as_json()
    relays = {r["url"]: r for r in status["relays"]}  # type: ignore[attr-defined]
    assert relays[GOOD]["error"] is None and BAD in str(relays[BAD]["error"])


def test_a_streamed_envelope_with_seq_2_64_is_that_relays_error(
    good_app: Any, person: Callable[..., Any]
) -> None:
    """The watch loop: the seen OverflowError came through the stream too; it must stay BAD's error."""
    import asyncio

    data = junk()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/stream":
            item = json.dumps(record(TOO_BIG, data))
            return httpx.Response(
                200,
                content=f"retry: 2000\n\nevent: envelope\nid: 1\ndata: {item}\n\n".encode(),
                headers={"Content-Type": "text/event-stream"},
            )
        return page([], 0)

    alice, _bob, router = two_relays(good_app, person, handler)
    reports: list[Any] = []

    async def run() -> None:
        task = asyncio.create_task(
            SyncEngine(alice, transport=router).watch(reports.append, push_interval=0.05, retry_interval=0.05)
        )
        for _ in range(400):  # bounded: at most ~20 s
            await asyncio.sleep(0.05)
            if task.done() or sum(BAD in e for r in reports for e in r.errors) >= 2:
                break
        assert not task.done(), task.exception()  # the watch loop is still running for every relay
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    errors = [e for r in reports for e in r.errors]
    assert sum(BAD in e for e in errors) >= 2, errors  # reported, then retried (and reported again)
    assert not any(GOOD in e for e in errors), errors
    assert {p.title for p in received(alice)} == {"bob's"}


def test_a_relay_that_always_has_more_is_fetched_a_bounded_amount_per_sync(
    good_app: Any, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seen case: ``more: true`` forever with fresh junk kept one sync running forever."""
    monkeypatch.setattr(engine, "MAX_PULL_PAGES", 3)
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path in ("/v1/info", "/v1/cursor"):  # (an older relay: only pages are counted)
            return httpx.Response(404)
        after = int(request.url.params.get("after", "0"))
        asked.append(after)
        if len(asked) > 50:  # the unfixed engine never stops: fail instead of hanging
            raise httpx.ReadTimeout("the client kept asking", request=request)
        items = [record(after + 1 + i, junk()) for i in range(5)]
        return page(items, after + 5, more=True)

    alice, _bob, router = two_relays(good_app, person, handler)
    report = SyncEngine(alice, transport=router).sync_once()
    assert len(asked) <= 3, len(asked)
    assert report.errors == [], report.errors
    assert relay_store.get_state(alice.store, BAD).cursor == 15
    assert any(BAD in note and "more" in note for note in report.notes), report.notes
    asked.clear()
    SyncEngine(alice, transport=router).sync_once()  # continues where it stopped
    assert asked[0] == 15 and len(asked) <= 3


def test_a_pull_stops_at_the_byte_budget(
    good_app: Any, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "MAX_PULL_BYTES", 3000)
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/v1/info", "/v1/cursor"):  # (an older relay: only pages are counted)
            return httpx.Response(404)
        after = int(request.url.params.get("after", "0"))
        asked.append(after)
        if len(asked) > 50:
            raise httpx.ReadTimeout("the client kept asking", request=request)
        return page([record(after + i + 1, os.urandom(1000)) for i in range(2)], after + 2, more=True)

    alice, _bob, router = two_relays(good_app, person, handler)
    report = SyncEngine(alice, transport=router).sync_once()
    assert report.errors == []
    assert len(asked) <= 2  # 2000 bytes, then 4000 >= 3000: stop


BAD_URLS = [
    "http://[::1",  # the seen case (InvalidURL)
    "http://\x1b[2Jrelay.test",  # the seen case: ESC
    "http://relay.test/\x1b]0;pwned\x07",
    "ftp://relay.test",
    "relay.test",
    "http://",
    "http://:8080",
    "http://relay.test:99999",
    "http://relay.test:0",
    "http://user:secret@relay.test",
    "http://relay.test/" + "a" * 300,
    "http://rel ay.test",
    "http://relay.test\n.evil",
    "javascript:alert(1)",
    "http://relay.test/?q=1",
    "http://" + "a" * 64 + ".test",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_card_naming_a_bad_relay_url_is_refused(url: str, person: Callable[..., Any]) -> None:
    alice, bob = person("alice"), person("bob")
    card = Card(name="bob", public_key=bob.identity.public, relays=(url,)).encode()
    with pytest.raises(InvalidInput, match="relay") as caught:
        alice.contacts.add(card)
    assert "\x1b" not in str(caught.value) and "\n" not in str(caught.value)
    assert alice.contacts.list() == []  # nothing was added


def test_a_card_naming_too_many_relays_is_refused(person: Callable[..., Any]) -> None:
    from tui_sns.crypto.card import MAX_RELAYS

    alice, bob = person("alice"), person("bob")
    relays = tuple(f"https://r{i}.example.org" for i in range(MAX_RELAYS + 1))
    with pytest.raises(InvalidInput, match="relay"):
        alice.contacts.add(Card(name="bob", public_key=bob.identity.public, relays=relays).encode())
    fine = Card(name="bob", public_key=bob.identity.public, relays=relays[:MAX_RELAYS]).encode()
    assert alice.contacts.add(fine).relays == relays[:MAX_RELAYS]


@pytest.mark.parametrize(
    "url",
    [
        "https://relay.example.org",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "https://example.org/tui-sns/relay",
        "http://relay.test/",
    ],
)
def test_a_card_naming_good_relay_urls_is_accepted(url: str, person: Callable[..., Any]) -> None:
    alice, bob = person("alice"), person("bob")
    alice.contacts.add(Card(name="bob", public_key=bob.identity.public, relays=(url,)).encode())
    assert len(alice.contacts.list()) == 1


@pytest.mark.parametrize("url", ["http://[::1", "http://\x1b[2Jrelay.test", "http://relay.test:99999"])
def test_a_bad_relay_url_already_stored_never_stops_the_others(
    url: str, good_app: Any, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    """The seen case: such a URL stored before cards were checked made every sync and status crash."""
    alice, bob = person("alice"), person("bob")
    router = Router({"good.test": httpx.ASGITransport(app=good_app)})
    for session in (alice, bob):
        RelayBook(session, transport=router).add(GOOD, invite(good_app))
    befriend(alice, bob)
    contact = contact_store.get_contact(alice.store, "bob")
    contact_store.update_card(alice.store, contact.id, "bob", (GOOD, url))  # as an older version stored it
    bob.diary.post("from bob", title="bob's", to=["alice"])
    assert SyncEngine(bob, transport=router).sync_once().errors == []

    report = SyncEngine(alice, transport=router).sync_once()
    assert {p.title for p in received(alice)} == {"bob's"}
    assert len(report.errors) == 1, report.errors
    assert "not a valid relay URL" in report.errors[0] and "named by the card of bob" in report.errors[0]
    assert "\x1b" not in report.errors[0] and "\n" not in report.errors[0]
    status = SyncEngine(alice, transport=router).status().as_json()
    bad = [r for r in status["relays"] if r["url"] != GOOD]  # type: ignore[attr-defined]
    assert len(bad) == 1 and bad[0]["reachable"] is False and "not a valid relay URL" in bad[0]["error"]
    assert not any(r["error"] for r in status["relays"] if r["url"] == GOOD)  # type: ignore[attr-defined]

    home = alice.store.home
    alice.close()
    shown = cli(home, "status")
    assert shown.code == 0 and "Traceback" not in shown.err and "\x1b" not in shown.out
    assert "not a valid relay URL" in shown.out


class Answering503ToUploads(http.server.BaseHTTPRequestHandler):
    """A relay that serves one (junk) envelope and answers 503 to every upload."""

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path.startswith("/v1/envelopes"):
            after = int(self.path.split("after=")[1].split("&")[0])
            data = b"junk envelope"
            items = [record(1, data)] if after == 0 else []
            self._send(200, {"envelopes": items, "next": max(after, len(items)), "more": False})
        else:
            self._send(200, {"status": "ok"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(503, {"error": "storage_unavailable", "detail": "try later"})


def test_sync_exits_non_zero_when_uploads_fail_even_if_something_was_fetched(
    person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    """The seen case: `tui-sns sync` exited 0 after the relay answered 503 for every upload."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering503ToUploads)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        alice, bob = person("alice"), person("bob")
        relay_store.add_relay(alice.store, url, "cred", "2026-01-01T00:00:00+00:00")
        befriend(alice, bob)
        alice.diary.post("hello", title="waits", to=["bob"])
        home = alice.store.home
        alice.close()
        synced = cli(home, "sync")
        assert "fetched 1" in synced.out  # something was fetched...
        assert synced.code != 0, synced.err  # ...but the upload failed: not a success
        assert "answered 503" in synced.err and url in synced.err
        assert cli(home, "status", "--json").json()["outbox"] == 1  # kept
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_an_endless_junk_stream_is_cut_at_one_pass_budget(
    good_app: Any, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch loop's stream is bounded like a pull: a relay streaming junk without end is closed after
    one pass's budget and caught up again after the pause (never read at whatever rate it likes)."""
    import asyncio

    monkeypatch.setattr(engine, "MAX_PULL_PAGES", 1)
    monkeypatch.setattr(engine, "PAGE", 5)
    taken: list[int] = []  # envelopes each stream connection gave before the client closed it

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/stream":
            return page([], int(request.url.params.get("after", "0")))
        start = int(request.url.params.get("after", "0"))
        taken.append(0)

        async def endless() -> Any:
            for i in range(1, 2000):  # (the guard that ends the unfixed client's read)
                item = json.dumps(record(start + i, junk()))
                taken[-1] = i
                yield f"event: envelope\ndata: {item}\n\n".encode()
                await asyncio.sleep(0)

        return httpx.Response(200, content=endless(), headers={"Content-Type": "text/event-stream"})

    alice, _bob, router = two_relays(good_app, person, handler)

    async def run() -> None:
        task = asyncio.create_task(
            SyncEngine(alice, transport=router).watch(None, push_interval=0.05, retry_interval=0.05)
        )
        for _ in range(400):
            await asyncio.sleep(0.05)
            if len(taken) >= 2 or task.done():
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert len(taken) >= 2, taken  # closed and reconnected
    assert taken[0] <= 10, taken  # 5 applied (and a little read ahead), not 2000


@pytest.mark.parametrize("url", ["http://[::1", "http://\x1b[2Jrelay.test", "ftp://relay.test"])
def test_joining_a_bad_relay_url_is_a_clear_error(url: str, home: Path, cli: Callable[..., Any]) -> None:
    result = cli(home, "relay", "add", url, "--invite", "code")
    assert result.code == 2 and len(result.err_lines) == 1
    assert (
        "not a valid relay URL" in result.err and "\x1b" not in result.err and "Traceback" not in result.err
    )
    assert cli(home, "relay", "list", "--json").json() == []


@pytest.mark.parametrize("credential", ["tok\r\nX-Evil: 1", "x" * 257, "", 42, "t\x1b[2J"])
def test_a_relay_handing_out_an_unusable_credential_is_refused(
    credential: Any, person: Callable[..., Any]
) -> None:
    from tui_sns.core.errors import NetworkError

    alice = person("alice")
    relay = httpx.MockTransport(lambda request: httpx.Response(201, json={"credential": credential}))
    with pytest.raises(NetworkError, match="usable credential"):
        RelayBook(alice, transport=Router({"bad.test": relay})).add(BAD, "code")
    assert relay_store.list_relays(alice.store) == []


class AnsweringSeq2To64(Answering503ToUploads):
    def do_GET(self) -> None:
        if self.path.startswith("/v1/envelopes"):
            self._send(200, {"envelopes": [record(TOO_BIG, b"junk")], "next": TOO_BIG, "more": False})
        else:
            self._send(200, {"status": "ok"})


def test_the_cli_reports_a_page_with_seq_2_64_as_that_relays_error(
    person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    """The seen case: the CLI printed a traceback (OverflowError)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AnsweringSeq2To64)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        alice = person("alice")
        relay_store.add_relay(alice.store, url, "cred", "2026-01-01T00:00:00+00:00")
        home = alice.store.home
        alice.close()
        synced = cli(home, "sync")
        assert synced.code == 1 and "Traceback" not in synced.err
        assert synced.err_lines == [
            f"tui-sns: relay {url} sent a malformed page (seq or next is not an integer in 0..2^63-1)"
        ]
        assert cli(home, "status").code == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_stream_that_turns_bad_mid_batch_keeps_what_came_before(
    good_app: Any, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Watch mode gathers streamed envelopes into batches (issue 15 §4): a stream that goes backwards
    after three envelopes, inside one batch's window, is BAD's error, and the three before it are still
    stored with the cursor (it advances exactly to the last stored one, never past the bad event)."""
    import asyncio

    monkeypatch.setattr(engine, "WATCH_BATCH_WINDOW", 1.0)  # all four events fall in one window
    streams: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/stream":
            return page([], int(request.url.params.get("after", "0")))
        after = int(request.url.params.get("after", "0"))
        streams.append(after)
        seqs = [after + 1, after + 2, after + 3, after + 2]  # the fourth goes backwards
        body = "".join(f"event: envelope\ndata: {json.dumps(record(s, junk()))}\n\n" for s in seqs)
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/event-stream"})

    alice, _bob, router = two_relays(good_app, person, handler)
    reports: list[Any] = []

    async def run() -> None:
        task = asyncio.create_task(
            SyncEngine(alice, transport=router).watch(reports.append, push_interval=0.05, retry_interval=30)
        )
        for _ in range(400):  # bounded: at most ~20 s
            await asyncio.sleep(0.05)
            if task.done() or any(BAD in e for r in reports for e in r.errors):
                break
        assert not task.done(), task.exception()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    errors = [e for r in reports for e in r.errors]
    assert streams == [0] and any(BAD in e and "backwards" in e for e in errors), (streams, errors)
    assert not any(GOOD in e for e in errors), errors
    assert relay_store.get_state(alice.store, BAD).cursor == 3
    assert sum(r.pulled for r in reports if not r.errors) >= 3


def test_cancelling_the_watch_while_a_stream_closes_stops_it(
    good_app: Any, person: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seen case (a full-suite run hung for minutes): the watch was cancelled while a stream's
    reader was still closing; waiting for the reader swallowed the cancellation, and the relay's
    follower went on reconnecting for ever. A cancelled watch ends."""
    import asyncio

    monkeypatch.setattr(engine, "MAX_PULL_PAGES", 1)
    monkeypatch.setattr(engine, "PAGE", 5)
    closing = asyncio.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/stream":
            return page([], int(request.url.params.get("after", "0")))
        start = int(request.url.params.get("after", "0"))

        async def slow_to_close() -> Any:
            try:
                for i in range(1, 2000):
                    yield f"event: envelope\ndata: {json.dumps(record(start + i, junk()))}\n\n".encode()
                    await asyncio.sleep(0)
            finally:  # the stream takes its time to close (a slow network, a relay lingering)
                closing.set()
                for _ in range(50):
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.sleep(0.02)

        return httpx.Response(200, content=slow_to_close(), headers={"Content-Type": "text/event-stream"})

    alice, _bob, router = two_relays(good_app, person, handler)

    async def run() -> bool:
        task = asyncio.create_task(
            SyncEngine(alice, transport=router).watch(None, push_interval=0.05, retry_interval=0.05)
        )
        await asyncio.wait_for(closing.wait(), 20)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        if not done:  # (the unfixed watch: stop the test's loop anyway)
            for t in asyncio.all_tasks() - {asyncio.current_task()}:
                t.cancel()
        return bool(done)

    assert asyncio.run(run()), "the watch went on after it was cancelled"
