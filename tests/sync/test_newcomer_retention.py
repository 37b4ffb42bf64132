"""A newcomer starts near now, and retention warnings (issue 15 §6, §7; docs/design-sharding.md §7).

The relay runs in process (SQLite) behind an ASGI transport that records what it serves, so arrival
times can be moved into the past and the relay pruned at will; the client's clock is the fake one of
tui_sns/core/clock.py.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_helpers import befriend, received

from tui_sns.core import clock
from tui_sns.store import relays as relay_store
from tui_sns.sync import retention
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.app import create_app
from tui_sns.sync.relay.config import RelayConfig
from tui_sns.sync.relay.storage import new_token, token_hash

DAY = 86400
URL = "http://127.0.0.1:9"  # never dialled: the ASGI transport answers (and `status` finds it unreachable)


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """The in-process relay, recording the /v1/cursor questions and every seq it serves in pages."""

    inner: httpx.ASGITransport
    cursor_asks: list[int] = field(default_factory=list)
    cursor_answers: list[int] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    no_cursor: bool = False  # play a relay older than /v1/cursor
    info: dict[str, Any] | None = None  # replaces /v1/info's answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/cursor":
            self.cursor_asks.append(int(request.url.params["at"]))
            if self.no_cursor:
                return httpx.Response(404, json={"error": "not_found", "detail": "no such endpoint"})
        if path == "/v1/info" and self.info is not None:
            return httpx.Response(200, json=self.info)
        response = await self.inner.handle_async_request(request)
        if request.method == "GET" and path in ("/v1/envelopes", "/v1/cursor"):
            body = json.loads(await response.aread())
            if path == "/v1/cursor":
                self.cursor_answers.append(body["after"])
            else:
                self.served += [e["seq"] for e in body["envelopes"]]
            return httpx.Response(response.status_code, json=body)
        return response


@dataclass
class InProcessRelay:
    app: Any
    db: Path
    transport: Recorder

    @property
    def storage(self) -> Any:
        return self.app.state.relay.storage

    def join(self, session: Any) -> None:
        code, credential = new_token(), new_token()
        self.storage.create_invite(token_hash(code), 1, None, time.time())
        self.storage.redeem_invite(token_hash(code), token_hash(credential), time.time())
        relay_store.add_relay(session.store, URL, credential, clock.now_iso())

    def age_everything(self, seconds: int) -> None:
        """Every stored envelope arrived ``seconds`` earlier than it did."""
        with sqlite3.connect(self.db) as conn:
            conn.execute("UPDATE envelopes SET received_hour = received_hour - ?", (seconds,))

    def prune(self, now: float) -> int:
        deleted: int = self.storage.prune(now, self.app.state.relay.config.effective_retention)
        self.app.state.relay.first_seq_read = None
        return deleted

    def forget_requests(self) -> None:
        self.transport.cursor_asks.clear()
        self.transport.cursor_answers.clear()
        self.transport.served.clear()

    def seqs(self) -> list[int]:
        return [e.seq for e in self.storage.list_envelopes(0, 1000, time.time())]


@pytest.fixture
def test_relay(tmp_path: Path) -> Iterator[Callable[..., InProcessRelay]]:
    made: list[InProcessRelay] = []

    def make(**config: Any) -> InProcessRelay:
        db = tmp_path / f"relay-{len(made)}.db"
        app = create_app(RelayConfig(db=f"sqlite:///{db}", write_burst=10000, read_burst=10000, **config))
        relay = InProcessRelay(app, db, Recorder(httpx.ASGITransport(app=app)))
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.storage.close()


@pytest.fixture
def fake_clock() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(datetime.now(UTC))
    with clock.use_source(fake):
        yield fake


def sync(session: Any, relay: InProcessRelay) -> Any:
    return SyncEngine(session, transport=relay.transport).sync_once()


# -- a newcomer starts near now (§7.1) ---------------------------------------------------------------


def test_a_newcomers_first_sync_starts_at_the_day_of_its_card(
    test_relay: Callable[..., InProcessRelay], person: Callable[..., Any]
) -> None:
    relay = test_relay()
    carol, dave = person("carol"), person("dave")
    for who in (carol, dave):
        relay.join(who)
    befriend(carol, dave)
    for i in range(3):
        carol.diary.post(f"old {i}", title=f"old {i}", to=["dave"])
    assert sync(carol, relay).pushed == 3
    relay.age_everything(5 * DAY)  # the relay's history: five days old
    history = relay.seqs()

    alice, bob = person("alice"), person("bob")  # bob is the newcomer
    for who in (alice, bob):
        relay.join(who)
    befriend(alice, bob)  # bob gives out his first card now
    first_card = retention.first_card_at(bob.store)
    assert abs((first_card - clock.now()).total_seconds()) < 60
    alice.diary.post("welcome", title="welcome", to=["bob"])  # sealed after bob's card was given
    assert sync(alice, relay).pushed == 1

    relay.forget_requests()  # (carol's and alice's first syncs asked too)
    report = sync(bob, relay)
    assert report.errors == []
    assert relay.transport.cursor_asks == [retention.start_time(first_card)]
    day = first_card.replace(hour=0, minute=0, second=0, microsecond=0)
    assert relay.transport.cursor_asks[0] == int(day.timestamp()) - DAY  # the day of the card, minus a day
    (after,) = relay.transport.cursor_answers
    assert after == max(history)
    assert relay.transport.served and min(relay.transport.served) > after  # nothing below it was served
    assert [p.title for p in received(bob)] == ["welcome"]

    # Later syncs go on from the cursor: /v1/cursor is asked only once per relay.
    alice.diary.post("again", title="again", to=["bob"])
    sync(alice, relay)
    sync(bob, relay)
    assert len(relay.transport.cursor_asks) == 1
    assert {p.title for p in received(bob)} == {"welcome", "again"}


def test_a_relay_without_the_cursor_endpoint_is_read_from_the_start(
    test_relay: Callable[..., InProcessRelay], person: Callable[..., Any]
) -> None:
    relay = test_relay()
    relay.transport.no_cursor = True
    alice, bob = person("alice"), person("bob")
    for who in (alice, bob):
        relay.join(who)
    befriend(alice, bob)
    alice.diary.post("hello", title="hello", to=["bob"])
    sync(alice, relay)
    relay.age_everything(5 * DAY)
    relay.forget_requests()
    assert sync(bob, relay).errors == []
    assert relay.transport.cursor_asks and relay.transport.served == relay.seqs()
    assert [p.title for p in received(bob)] == ["hello"]


def test_the_first_cursor_is_never_below_first_seq() -> None:
    assert retention.first_cursor(None, 0) == 0  # an old relay, nothing pruned
    assert retention.first_cursor(None, 40) == 39
    assert retention.first_cursor(12, 40) == 39
    assert retention.first_cursor(90, 40) == 90


def test_an_older_identity_starts_at_its_creation_time(person: Callable[..., Any]) -> None:
    bob = person("bob")  # no card produced yet: the creation time stands in
    with bob.store.write() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'first_card_at'")
        conn.execute("UPDATE identity SET created = '2026-03-04T05:06:07+00:00'")
    assert retention.first_card_at(bob.store) == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert retention.start_time(retention.first_card_at(bob.store)) == int(
        datetime(2026, 3, 3, tzinfo=UTC).timestamp()
    )
    bob.contacts.my_card()  # the first card: recorded once
    first = retention.first_card_at(bob.store)
    assert abs((first - clock.now()).total_seconds()) < 60
    with clock.use_source(clock.FakeClock(datetime(2030, 1, 1, tzinfo=UTC))):
        bob.contacts.my_card()
    assert retention.first_card_at(bob.store) == first


# -- retention warnings (§7.2) ----------------------------------------------------------------------


def test_a_member_away_longer_than_the_retention_is_warned_then_told_what_was_lost(
    test_relay: Callable[..., InProcessRelay],
    person: Callable[..., Any],
    fake_clock: clock.FakeClock,
    cli: Callable[..., Any],
) -> None:
    relay = test_relay(retention=3 * DAY)  # a short retention
    alice, bob = person("alice"), person("bob")
    for who in (alice, bob):
        relay.join(who)
    befriend(alice, bob)
    alice.diary.post("before", title="before", to=["bob"])
    sync(alice, relay)
    assert sync(bob, relay).warnings == []
    last_read = clock.now()

    # Bob is away. Alice writes while he is away; those envelopes age on the relay.
    alice.diary.post("while away", title="while away", to=["bob"])
    sync(alice, relay)
    fake_clock.advance(DAY + 3600)  # retention 3 days - 2 days, but at least half of it: not yet
    assert SyncEngine(bob).take_warnings() == []
    fake_clock.advance(DAY)  # away 2 days and an hour: due
    engine = SyncEngine(bob, transport=relay.transport)
    status = engine.status(probe=False)
    (mine,) = [r for r in status.as_json()["relays"] if r["url"] == URL]  # type: ignore[index, union-attr]
    assert mine["retention"] == 3 * DAY and mine["retention_warning"] is True
    assert mine["pruned_unread"] is False
    first = engine.take_warnings()
    assert first == [
        "127.0.0.1:9 keeps envelopes 3 days and you last read it 2 days ago: "
        "sync soon or entries sent to you may be lost"
    ]
    assert engine.take_warnings() == []  # shown once

    # He stays away past the retention: the relay deletes what he had not read.
    fake_clock.advance(3 * DAY)
    relay.age_everything(4 * DAY)
    assert relay.prune(time.time()) >= 1
    report = sync(bob, relay)
    assert report.errors == []
    since, until = last_read.date().isoformat(), (clock.now().date().toordinal() - 3)
    until_text = datetime.fromordinal(until).date().isoformat()
    assert report.warnings == [
        f"127.0.0.1:9 dropped envelopes you had not read (sent between {since} and {until_text}): "
        "some entries to you may be lost. Contacts' chains will show which."
    ]
    assert "while away" not in {p.title for p in received(bob)}
    assert sync(bob, relay).warnings == []  # once per occurrence
    home = bob.store.home
    bob.close()

    shown = cli(home, "status", "--json")
    assert shown.code == 0, shown.err
    (entry,) = [r for r in shown.json()["relays"] if r["url"] == URL]
    assert entry["pruned_unread"] is True and entry["pruned_between"] == [since, until_text]
    assert entry["retention"] == 3 * DAY
    # the fields status --json printed before are all still there
    assert {"url", "mine", "reachable", "last_ok", "error", "named_by", "retry_in"} <= set(entry)
    human = cli(home, "status")
    assert "dropped envelopes" not in human.out  # already shown by the sync


def test_status_shows_a_loss_once_and_a_hostile_retention_is_only_a_warning(
    test_relay: Callable[..., InProcessRelay],
    person: Callable[..., Any],
    fake_clock: clock.FakeClock,
    cli: Callable[..., Any],
) -> None:
    relay = test_relay()
    alice, bob = person("alice"), person("bob")
    for who in (alice, bob):
        relay.join(who)
    befriend(alice, bob)
    alice.diary.post("one", title="one", to=["bob"])
    sync(alice, relay)
    sync(bob, relay)
    # A relay that claims to keep envelopes one second (and a bogus first_seq far ahead of the log).
    relay.transport.info = {"version": 1, "retention": 1, "first_seq": 10, "latest_seq": 11}
    fake_clock.advance(5)
    alice.diary.post("two", title="two", to=["bob"])
    sync(alice, relay)
    report = sync(bob, relay)
    assert report.errors == []
    assert any("dropped envelopes" in w for w in report.warnings)
    # Nothing else changed: what the relay still serves above first_seq - 1 arrives normally, and a
    # relay answering garbage in /v1/info costs only the warnings.
    relay.transport.info = {"version": 1, "retention": True, "first_seq": -4}
    assert sync(bob, relay).errors == []
    fake_clock.advance(5)
    # A loss recorded but not yet shown is shown by `status` (once).
    with bob.store.write() as conn:
        conn.execute(
            "UPDATE relay_state SET pruned_unread = json_set(pruned_unread, '$.shown', json('false'))"
            " WHERE url = ?",
            (URL,),
        )
    home = bob.store.home
    bob.close()
    first = cli(home, "status")
    assert first.code == 0, first.err
    assert "127.0.0.1:9 dropped envelopes you had not read" in first.out
    assert "dropped envelopes" not in cli(home, "status").out


@pytest.mark.parametrize(
    ("retention_s", "away", "due"),
    [
        (30 * DAY, 27 * DAY, False),
        (30 * DAY, 28 * DAY, True),
        (DAY, DAY // 2 - 1, False),
        (DAY, DAY // 2, True),
    ],
)
def test_the_approaching_threshold(retention_s: int, away: int, due: bool) -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    last = datetime.fromtimestamp(now.timestamp() - away, UTC).isoformat()
    state = relay_store.RelayState(URL, 5, last, None, retention=retention_s)
    assert (retention.approaching(state, now) is not None) is due


def test_an_identity_older_than_first_card_at_gets_its_creation_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migration: a store made before it has given out cards already, at unknown times; its
    creation time is the earliest any could have been given."""
    import os

    from tui_sns.store import KdfParams, Store
    from tui_sns.store import database as database_module
    from tui_sns.store import schema as schema_module

    passphrase = os.environ["TUI_SNS_PASSPHRASE"]
    before = next(i for i, m in enumerate(schema_module.MIGRATIONS) if "first_card_at" in m)
    home = tmp_path / "old"
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS[:before])
        m.setattr(database_module, "LATEST", before)
        store = Store.create(home, passphrase, KdfParams.insecure_for_tests())
        with store, store.write() as conn:
            conn.execute(
                "INSERT INTO identity (id, name, secret_key, public_key, created)"
                " VALUES (1, 'old', x'00', x'01', '2025-02-03T04:05:06+00:00')"
            )
    with Store.open(home, passphrase) as store:
        assert store.schema_version == schema_module.LATEST
        assert retention.first_card_at(store) == datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
        assert store.fetchone("SELECT value FROM meta WHERE key = 'first_card_at'") == (
            "2025-02-03T04:05:06+00:00",
        )
