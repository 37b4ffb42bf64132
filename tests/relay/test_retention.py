"""Retention by default (issue 15 §7): a relay keeps envelopes 30 days unless told otherwise, prunes older
ones, and says so in /v1/info (``retention``, ``first_seq``) so that clients can warn their members."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from relay_helpers import RelayClient

from tui_sns.net.transport import RelayGarbage, RelayInfo, parse_relay_info
from tui_sns.sync.relay.app import prune_once
from tui_sns.sync.relay.config import DEFAULT_RETENTION, RelayConfig, load_config
from tui_sns.sync.relay.errors import ConfigError
from tui_sns.sync.relay.openapi import openapi_document
from tui_sns.sync.relay.pruning import PruneClock

DAY = 86400
HOUR = 3600


class FakeClocks:
    def __init__(self) -> None:
        self.wall = time.time()
        self.steady = 1000.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.steady += seconds


def test_the_default_retention_is_30_days_and_forever_is_explicit(tmp_path: Path) -> None:
    assert RelayConfig().effective_retention == DEFAULT_RETENTION == 30 * DAY
    assert load_config({}, environ={}).effective_retention == 30 * DAY
    assert load_config({}, environ={"TUI_SNS_RELAY_RETENTION": "forever"}).effective_retention is None
    assert load_config({}, environ={"TUI_SNS_RELAY_RETENTION": "90d"}).effective_retention == 90 * DAY
    config = tmp_path / "relay.toml"
    config.write_text('retention = "Forever"\n')
    assert load_config({}, config_file=str(config), environ={}).effective_retention is None
    # The older option still works and wins, so existing configurations keep their meaning.
    both = {"TUI_SNS_RELAY_RETENTION": "forever", "TUI_SNS_RELAY_PRUNE_OLDER_THAN": "7d"}
    assert load_config({}, environ=both).effective_retention == 7 * DAY
    for bad in ("", "0d", "never", "-3d", "30"):
        with pytest.raises(ConfigError, match="retention"):
            load_config({}, environ={"TUI_SNS_RELAY_RETENTION": bad})


async def test_the_default_prunes_an_envelope_older_than_the_retention(
    make_relay: Callable[..., Any],
) -> None:
    relay: RelayClient = await make_relay()  # no retention setting: the default applies
    clocks = FakeClocks()
    relay.relay.prune_clock = PruneClock(wall=lambda: clocks.wall, steady=lambda: clocks.steady)
    credential = await relay.credential()
    old = (await relay.post(b"sent before the member went away", credential)).json()["seq"]
    info = (await relay.http.get("/v1/info")).json()
    assert (info["retention"], info["first_seq"], info["latest_seq"]) == (30 * DAY, 0, old)

    clocks.tick(29 * DAY)  # within the retention (and one hour of rounding): kept
    assert await prune_once(relay.relay) == 0
    clocks.tick(DAY + 2 * HOUR)  # now surely older than 30 days
    newer = relay.relay.storage.store_envelope(b"sent just now", clocks.wall, None).seq  # the relay's "now"
    await relay.relay.hub.advance(newer)
    assert await prune_once(relay.relay) == 1

    listed = (await relay.http.get("/v1/envelopes")).json()["envelopes"]
    assert [e["seq"] for e in listed] == [newer]
    info = (await relay.http.get("/v1/info")).json()
    # A member whose cursor is below first_seq - 1 knows it missed envelopes.
    assert (info["first_seq"], info["latest_seq"]) == (old + 1, newer)


async def test_forever_keeps_old_envelopes_and_says_null(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(retention=None)
    clocks = FakeClocks()
    relay.relay.prune_clock = PruneClock(wall=lambda: clocks.wall, steady=lambda: clocks.steady)
    credential = await relay.credential()
    await relay.post(b"kept", credential)
    clocks.tick(400 * DAY)
    assert await prune_once(relay.relay) == 0
    info = (await relay.http.get("/v1/info")).json()
    assert (info["retention"], info["first_seq"], info["latest_seq"]) == (None, 0, 1)


async def test_expired_envelopes_do_not_move_first_seq(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay()
    credential = await relay.credential()
    now = time.time()
    await relay.post(b"short lived", credential, expires=int(now) + HOUR)
    storage = relay.relay.storage
    assert storage.prune(now + 3 * HOUR, DEFAULT_RETENTION) == 1  # deleted because it expired
    assert storage.first_seq() == 0  # an expired envelope is not one a member missed
    # The watermark only grows, even when a later prune deletes lower seqs.
    await relay.post(b"a", credential)
    assert storage.prune(now + 40 * DAY, DEFAULT_RETENTION) == 1
    assert storage.first_seq() == 3
    assert storage.prune(now + 80 * DAY, DEFAULT_RETENTION) == 0
    assert storage.first_seq() == 3


def test_openapi_documents_the_retention_fields() -> None:
    info = openapi_document(RelayConfig())["components"]["schemas"]["Info"]
    assert {"retention", "first_seq", "latest_seq"} <= set(info["required"])
    assert info["properties"]["retention"]["nullable"] is True


async def test_the_client_parser_reads_the_relays_info(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay()
    payload = (await relay.http.get("/v1/info")).json()
    assert parse_relay_info("http://r", payload) == RelayInfo(30 * DAY, 0, 0)
    assert parse_relay_info("http://r", {"version": 1}) == RelayInfo(None, 0, 0)  # an older relay


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "info",
        {"retention": 0},
        {"retention": -5},
        {"retention": True},
        {"retention": 1.5},
        {"retention": "30d"},
        {"retention": 2**80},
        {"first_seq": -1},
        {"first_seq": 2**63},
        {"latest_seq": "7"},
    ],
)
def test_the_client_parser_refuses_hostile_info(payload: Any) -> None:
    with pytest.raises(RelayGarbage, match="http://r"):
        parse_relay_info("http://r", payload)


async def test_members_mode_shows_the_seqs_to_members_only(make_relay: Callable[..., Any]) -> None:
    relay: RelayClient = await make_relay(read="members")
    credential = await relay.credential()
    await relay.post(b"one", credential)
    outsider = (await relay.http.get("/v1/info")).json()
    assert (outsider["retention"], outsider["first_seq"], outsider["latest_seq"]) == (30 * DAY, None, None)
    bad = {"Authorization": "Bearer not-a-credential"}
    assert (await relay.http.get("/v1/info", headers=bad)).json()["latest_seq"] is None
    member = {"Authorization": f"Bearer {credential}"}
    info = (await relay.http.get("/v1/info", headers=member)).json()
    assert (info["first_seq"], info["latest_seq"]) == (0, 1)
    assert parse_relay_info("http://r", outsider) == RelayInfo(30 * DAY, 0, 0)
