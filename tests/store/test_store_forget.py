"""Deleting or expiring an entry removes every row that names it (issue 11, item 7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.session import Session
from tui_sns.crypto.envelope import Opened, open_envelope
from tui_sns.store import Store
from tui_sns.store.mailbox import chain_breaks

Pair = tuple[Session, Session, Path]


@pytest.fixture
def pair(
    make_identity: Callable[..., Path], befriend: Callable[..., None], passphrase: str, tmp_path: Path
) -> Iterator[Pair]:
    alice_home, bob_home = make_identity("alice"), make_identity("bob")
    befriend(alice_home, bob_home)
    with Session.unlock(alice_home, passphrase) as alice, Session.unlock(bob_home, passphrase) as bob:
        yield alice, bob, tmp_path


def _deliver(alice: Session, bob: Session, where: Path) -> None:
    bundle = where / f"bundle-{len(list(where.glob('bundle-*')))}"
    alice.exchange.export_outbox(bundle)
    bob.exchange.import_inbox(bundle)


def _rows_naming(store: Store, *needles: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """Every row of every table holding one of ``needles`` (str or bytes) in any column."""
    found = []
    tables = [str(r[0]) for r in store.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in store.fetchall(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, bytes | str) and any(
                    type(n) is type(value) and n in value for n in needles
                ):
                    found.append((table, tuple(row)))
    return found


def _received(bob: Session) -> dict[int, tuple[bytes, bytes]]:
    return {
        int(r[0]): (bytes(r[1]), bytes(r[2]))
        for r in bob.store.fetchall("SELECT seq, digest, prev FROM chain_received")
    }


def _envelope_of(session: Session, post_id: str) -> str:
    row = session.store.fetchone("SELECT envelope_id FROM posts WHERE id = ?", (post_id,))
    assert row is not None and row[0]
    return str(row[0])


@pytest.mark.parametrize("how", ["deleted", "expired", "deleted by its author"])
def test_a_received_entry_gone_leaves_no_row_naming_its_envelope(pair: Pair, how: str) -> None:
    """Seen: after an entry expired, bookkeeping rows still tied its envelope to its author."""
    alice, bob, where = pair
    alice.diary.post("one", to=["bob"])
    doomed = alice.diary.post("two", to=["bob"])
    alice.diary.post("three", to=["bob"])
    _deliver(alice, bob, where)
    ids = {p.body: p.id for p in bob.diary.timeline()}
    envelope = _envelope_of(bob, ids["two"])
    assert envelope == doomed.envelope_id
    data = alice.store.fetchone("SELECT data FROM outbox WHERE envelope_id = ?", (envelope,))
    assert data is not None
    opened = open_envelope(bob.epochs.keyring(), bytes(data[0]))
    assert isinstance(opened, Opened)
    digest = opened.digest
    assert _rows_naming(bob.store, envelope, digest)  # before: the envelope and its digest are named
    if how == "deleted":
        bob.diary.delete(ids["two"])
    elif how == "expired":
        with bob.store.write() as conn:
            conn.execute("UPDATE posts SET expires = '2000-01-01T00:00:00+00:00' WHERE id = ?", (ids["two"],))
        assert bob.diary.purge_expired() == 1
    else:
        alice.diary.delete(doomed.id)
        _deliver(alice, bob, where)
    assert {p.body for p in bob.diary.timeline()} == {"three", "one"}
    assert _rows_naming(bob.store, envelope, digest) == []
    assert opened.seq in _received(bob)  # its sequence number stays: a replay is still refused
    # a later envelope naming the forgotten one as "prev" is no chain break either
    alice.diary.post("four", to=["bob"])
    _deliver(alice, bob, where)
    assert chain_breaks(bob.store) == []
    assert {p.body for p in bob.diary.timeline()} == {"four", "three", "one"}
