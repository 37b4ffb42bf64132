"""A relay that withholds an envelope is noticed (status and timeline say what is missing); a relay
that re-serves an envelope at a later position gets it ignored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from relay_server import RelayServer
from sync_helpers import befriend, received, sync, unlock

from tui_sns.core.inbox import Outcome

pytestmark = pytest.mark.slow


class Tampering(httpx.AsyncBaseTransport):
    """In front of a real relay: drops the envelopes in ``withhold`` from pages and appends the
    envelopes in ``inject`` (re-served at later positions) to the next page."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.withhold: set[str] = set()
        self.inject: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or request.url.path != "/v1/envelopes":
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        body["envelopes"] = [e for e in body["envelopes"] if e["id"] not in self.withhold]
        for item in self.inject:
            body["next"] += 1
            body["envelopes"].append({**item, "seq": body["next"]})
        self.inject = []
        return httpx.Response(200, json=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_withheld_envelope_is_reported_and_a_replay_ignored(
    relay: RelayServer, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    alice, bob = person("alice", relay), person("bob", relay)
    befriend(alice, bob)
    for i in (1, 2, 3):
        alice.diary.post(f"body {i}", title=f"entry {i}", to=["bob"])
    assert sync(alice).pushed == 3
    listed = relay.envelopes()
    assert len(listed) == 3
    relay_sends = Tampering()
    relay_sends.withhold = {listed[1]["id"]}

    report = sync(bob, transport=relay_sends)
    assert report.errors == [] and report.pulled == 2
    assert {p.title for p in received(bob)} == {"entry 1", "entry 3"}
    home = bob.store.home
    bob.close()

    status = cli(home, "status", "--json")
    assert status.code == 0, status.err
    assert status.json()["missing"] == [{"contact": "alice", "count": 1}]
    timeline = cli(home, "timeline")
    assert timeline.code == 0
    assert "1 entry from alice has not arrived" in timeline.err_lines
    assert "missing" not in timeline.out

    # The relay serves entry 1 again, at a later seq: recognised and ignored.
    relay_sends.inject = [listed[0]]
    with unlock(home) as bob:
        again = sync(bob, transport=relay_sends)
        assert again.errors == [] and again.pulled == 1
        assert again.new_post_ids == []
        assert again.received.outcomes[Outcome.DUPLICATE] == 1
        assert len(received(bob)) == 2

        # The withheld one arriving late (re-served later by the relay) fills the gap.
        relay_sends.inject = [listed[1]]
        late = sync(bob, transport=relay_sends)
        assert late.errors == [] and len(late.new_post_ids) == 1
        assert {p.title for p in received(bob)} == {"entry 1", "entry 2", "entry 3"}
        assert bob.diary.missing() == []
    assert cli(home, "status", "--json").json()["missing"] == []
