"""Persistent unread state: received entries arrive unread, mine never are, reading writes once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_sns.store import KdfParams, Store
from tui_sns.store import database as database_module
from tui_sns.store import posts as post_store
from tui_sns.store import schema as schema_module
from tui_sns.store.keyfile import KeyFile


def _db_counter(store: Store) -> int:
    row = store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'")
    assert row is not None
    return int(row[0])


@pytest.fixture
def ann(
    make_identity: Callable[..., Path],
    befriend: Callable[..., None],
    open_session: Callable[..., Any],
    tmp_path: Path,
) -> Iterator[Any]:
    """Ann (open) with friends Bob and Kenji; Bob sent her two entries, Kenji one; she wrote two."""
    homes = {name: make_identity(name) for name in ("ann", "bob", "kenji")}
    befriend(homes["ann"], homes["bob"])
    befriend(homes["ann"], homes["kenji"])
    for name, titles in (("bob", ["b1", "b2"]), ("kenji", ["k1"])):
        with open_session(homes[name]) as friend:
            for title in titles:
                friend.diary.post("body", title=title, to=["ann"])
            friend.exchange.export_outbox(tmp_path / f"{name}.bundle")
    session = open_session(homes["ann"])
    try:
        for name in ("bob", "kenji"):
            assert session.exchange.import_inbox(tmp_path / f"{name}.bundle").stored in (1, 2)
        session.diary.post("private", title="mine alone")
        session.diary.post("to bob", title="mine to bob", to=["bob"])
        session.circles.create("climbing")
        session.circles.add("climbing", ["bob"])
        session.circles.create("empty")
        yield session
    finally:
        session.close()


def _by_title(session: Any) -> dict[str, Any]:
    return {p.title: p for p in session.diary.timeline()}


def test_received_entries_are_unread_and_mine_never(ann: Any) -> None:
    posts = _by_title(ann)
    assert {t for t, p in posts.items() if p.unread} == {"b1", "b2", "k1"}
    assert not posts["mine alone"].unread and not posts["mine to bob"].unread
    assert ann.diary.get(posts["b1"].id).unread


def test_unread_counts_use_the_timeline_filters(ann: Any) -> None:
    diary = ann.diary
    assert diary.unread() == 3 and diary.count() == 5
    assert diary.unread(circle="climbing") == 2  # Bob's two; my entry to Bob is not unread
    assert diary.unread(circle="empty") == 0
    assert diary.unread(only_me=True) == 0
    assert sorted(diary.unread_ids(circle="climbing")) == sorted(
        p.id for p in diary.timeline(circle="climbing") if p.unread
    )
    ann.contacts.mute("kenji")
    assert diary.unread() == 2  # muted authors are left out, as from the timeline
    ann.contacts.unmute("kenji")
    assert diary.unread() == 3
    ann.contacts.block("kenji")
    assert diary.unread() == 2


def test_mark_read_is_one_write_and_none_when_nothing_is_unread(ann: Any) -> None:
    store, diary = ann.store, ann.diary
    posts = _by_title(ann)
    keyfile = store.home / "store.key"
    before = _db_counter(store)
    assert diary.mark_read([posts["b1"].id, posts["b2"].id, posts["mine alone"].id]) == 2
    assert _db_counter(store) == before + 1  # one transaction
    assert KeyFile.load(keyfile).counter == before + 1
    assert diary.unread() == 1 and diary.unread(circle="climbing") == 0
    assert not diary.get(posts["b1"].id).unread

    counter, stat, data = _db_counter(store), keyfile.stat(), keyfile.read_bytes()
    assert diary.mark_read([posts["b1"].id, posts["mine to bob"].id, "no-such-id"]) == 0
    assert diary.mark_read([]) == 0
    assert post_store.mark_read(store, iter([posts["b2"].id])) == 0
    assert _db_counter(store) == counter
    assert keyfile.read_bytes() == data and keyfile.stat().st_mtime_ns == stat.st_mtime_ns


def test_mark_all_read_of_one_audience(ann: Any) -> None:
    assert ann.diary.mark_all_read(circle="climbing") == 2
    assert ann.diary.unread() == 1
    assert ann.diary.mark_all_read(circle="climbing") == 0
    assert ann.diary.mark_all_read() == 1
    assert ann.diary.unread() == 0


def test_many_ids_at_once(ann: Any) -> None:
    ids = [p.id for p in ann.diary.timeline()] + [f"x{i}" for i in range(1200)]
    assert ann.diary.mark_read(ids) == 3
    assert ann.diary.unread() == 0


def test_migration_5_keeps_existing_entries_read(
    tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "old"
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS[:4])
        m.setattr(database_module, "LATEST", 4)
        store = Store.create(home, passphrase, KdfParams.insecure_for_tests())
        with store, store.write() as conn:
            conn.execute(
                "INSERT INTO contacts (name, card_name, public_key, shared_key, added) "
                "VALUES ('bob', 'bob', x'01', x'02', '2026')"
            )
            conn.execute(
                "INSERT INTO posts (id, remote_id, author_id, body, created, received) "
                "VALUES ('p1', 'r1', 1, 'old', '2026', '2026')"
            )
    with Store.open(home, passphrase) as store:
        assert store.schema_version == schema_module.LATEST
        assert post_store.unread_count(store) == 0
        assert not post_store.get_post(store, "p1").unread
        index = store.fetchone("SELECT sql FROM sqlite_master WHERE name = 'posts_unread'")
        assert index is not None and "WHERE unread" in index[0]


def test_read_log_writes_in_one_flush_and_on_close(ann: Any, open_session: Callable[..., Any]) -> None:
    posts = _by_title(ann)
    before = _db_counter(ann.store)
    assert ann.reads.flush() == [] and _db_counter(ann.store) == before  # nothing noted: no write
    ann.reads.note(posts["b1"].id)
    ann.reads.note(posts["k1"].id)
    assert ann.diary.unread() == 3  # noted, not written yet
    assert ann.reads.flush() == sorted([posts["b1"].id, posts["k1"].id])
    assert _db_counter(ann.store) == before + 1  # one transaction for both
    assert ann.diary.unread() == 1
    ann.reads.note(posts["b2"].id)
    home = ann.store.home
    ann.close()  # what was noted and not flushed is written before the store closes
    with open_session(home) as again:
        assert again.diary.unread() == 0


def test_timeline_filter_and_position(ann: Any) -> None:
    from tui_sns.core.timeline import ALL, ONLY_ME, TimelineFilter

    diary = ann.diary
    climbing = TimelineFilter.circle("climbing")
    assert diary.count(climbing) == diary.count(circle="climbing") == 2  # Bob's two
    assert diary.unread(ONLY_ME) == diary.unread(only_me=True) == 0
    assert [p.id for p in diary.timeline(climbing)] == [p.id for p in diary.timeline(circle="climbing")]
    whole = diary.timeline(ALL)
    for row, post in enumerate(whole):
        assert diary.position(post.id, ALL) == row
    in_circle = diary.timeline(climbing)
    for row, post in enumerate(in_circle):
        assert diary.position(post.id, climbing) == row
    mine_alone = next(p for p in whole if p.title == "mine alone")
    assert diary.position(mine_alone.id, climbing) is None  # not shown by that filter
    assert diary.position("no-such-entry", ALL) is None
