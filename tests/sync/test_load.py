"""Load: 20 clients push 100 entries each, concurrently, to one reader through a real relay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer
from sync_helpers import befriend, post_many, received, sync

from tui_sns.net.transport import RelayClient
from tui_sns.sync.engine import SyncEngine

pytestmark = pytest.mark.slow

CLIENTS = 20
POSTS = 100


async def push_all(sessions: list[Any], url: str) -> list[int]:
    async def push(session: Any) -> int:
        from tui_sns.store import relays as relay_store

        credential = relay_store.list_relays(session.store)[0].credential
        async with RelayClient(url, credential) as client:
            return await SyncEngine(session).push(client, honor_backoff=False)

    return list(await asyncio.gather(*(push(s) for s in sessions)))


def test_twenty_writers_one_reader(
    spawn_relay: Callable[..., RelayServer], person: Callable[..., Any]
) -> None:
    started = time.monotonic()
    relay = spawn_relay(in_ram=True)
    reader = person("reader", relay, in_ram=True)
    writers = [person(f"writer{i:02d}", relay, in_ram=True) for i in range(CLIENTS)]
    expected: set[str] = set()
    for i, writer in enumerate(writers):
        befriend(reader, writer)
        expected.update(post_many(writer, POSTS, ["reader"], f"w{i:02d}"))
    assert len(expected) == CLIENTS * POSTS

    assert asyncio.run(push_all(writers, relay.url)) == [POSTS] * CLIENTS
    listed = relay.envelopes()
    assert len(listed) == CLIENTS * POSTS
    assert len({e["id"] for e in listed}) == CLIENTS * POSTS
    assert len({e["seq"] for e in listed}) == CLIENTS * POSTS

    report = sync(reader)
    assert report.errors == []
    assert report.pulled == CLIENTS * POSTS
    assert len(report.new_post_ids) == CLIENTS * POSTS
    entries = received(reader)
    assert len(entries) == CLIENTS * POSTS
    assert len({p.id for p in entries}) == CLIENTS * POSTS
    assert {p.title for p in entries} == expected
    assert reader.diary.missing() == []

    again = sync(reader)
    assert (again.errors, again.pulled, again.new_post_ids) == ([], 0, [])
    assert len(received(reader)) == CLIENTS * POSTS
    # A writer's own sync sends nothing more: every envelope was acknowledged.
    assert sync(writers[0]).pushed == 0

    for session in [reader, *writers]:
        session.close()
    assert time.monotonic() - started < 60
