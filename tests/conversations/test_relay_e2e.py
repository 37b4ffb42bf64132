"""End to end through a real relay subprocess: comments reach exactly the audience, envelopes carry
the relay expiry, and the relay's storage names nobody and holds no comment text."""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conv_helpers import befriend

from tui_sns.core.inbox import local_post_id
from tui_sns.sync.engine import SyncEngine
from tui_sns.sync.relay.dump import dump_relay_storage

pytestmark = pytest.mark.slow


def spellings(key: bytes) -> list[bytes]:
    out = [key, key.hex().encode()]
    for b64 in (base64.b64encode(key), base64.urlsafe_b64encode(key)):
        out += [b64, b64.rstrip(b"=")]
    return out


def test_comments_through_a_relay(people: Callable[..., Any], spawn_relay: Callable[..., Any]) -> None:
    relay = spawn_relay()
    mark = secrets.token_hex(5)
    names = {n: f"{n}{mark}" for n in ("alice", "bob", "carol", "dave")}
    alice, bob, carol, dave = people(*names.values())
    for s in (alice, bob, carol, dave):
        s.relays.add(relay.url, relay.invite())
    for other in (bob, carol, dave):
        befriend(alice, other)
    befriend(bob, dave)
    alice.circles.create(f"close{mark}")
    alice.circles.add(f"close{mark}", [names["bob"], names["dave"]])
    secret_body, secret_comment = f"entry-{mark}", f"comment-{mark}"
    entry = alice.diary.post(
        secret_body, title=f"title-{mark}", to=[f"close{mark}"], expires=timedelta(hours=2)
    ).id

    def sync(*sessions: Any) -> None:
        for s in sessions:
            SyncEngine(s).sync_once()

    sync(alice, bob, carol, dave)
    pid = local_post_id(alice.identity.public, entry)
    bob.comments.add(pid, secret_comment)
    sync(bob, alice, alice, bob, carol, dave)
    assert [c.body for c in dave.comments.list(pid)] == [secret_comment]
    assert [c.author for c in dave.comments.list(pid)] == [names["bob"]]
    assert [c.body for c in alice.comments.list(entry)] == [secret_comment]
    # carol, alice's contact outside the audience, received every envelope on the relay and read none
    sync(carol)
    assert carol.diary.timeline() == []
    assert carol.store.fetchone("SELECT count(*) FROM comments")[0] == 0
    assert carol.store.fetchone("SELECT count(*) FROM posts")[0] == 0

    # every envelope (the entry, bob's comment, alice's forward) carries the relay expiry
    db_path = Path(relay.db.removeprefix("sqlite:///"))
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT expires_hour FROM envelopes").fetchall()
    assert len(rows) == 3 and all(r[0] is not None for r in rows)

    dump = dump_relay_storage(relay.db)
    assert len(dump) > 1000
    for s in (alice, bob, carol, dave):
        for spelling in spellings(s.identity.public):
            assert spelling not in dump
    for text in [*names.values(), secret_body, secret_comment, f"close{mark}"]:
        assert text.encode() not in dump
