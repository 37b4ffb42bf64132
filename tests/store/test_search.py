"""Full-text search (FTS5 inside the encrypted store): kept in step with every change, safe input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_sns.core.session import Session
from tui_sns.store import KdfParams, Store
from tui_sns.store import database as database_module
from tui_sns.store import posts as post_store
from tui_sns.store import schema as schema_module

CHEAP = KdfParams.insecure_for_tests()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Session, Session]]:
    ann = Session.create(tmp_path / "ann", "Ann", "pw", kdf=CHEAP)
    bob = Session.create(tmp_path / "bob", "Bob", "pw", kdf=CHEAP)
    ann.contacts.add(bob.contacts.my_card(), "Bob")
    bob.contacts.add(ann.contacts.my_card(), "Ann")
    try:
        yield ann, bob
    finally:
        ann.close()
        bob.close()


def _titles(session: Session, query: str, **kw: object) -> list[str]:
    return [p.title for p in session.diary.search(query, **kw)]  # type: ignore[arg-type]


def _receive(ann: Session, bob: Session, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bob.exchange.export_outbox(bundle)
    ann.exchange.import_inbox(bundle)
    bundle.unlink()


def test_titles_bodies_and_comments_are_found_newest_first(
    pair: tuple[Session, Session], tmp_path: Path
) -> None:
    ann, bob = pair
    ann.diary.post("Coffee, then the long walk.", title="Morning pages")
    ann.diary.post("Anyone up for the crag?", title="Weekend plans", to=["Bob"])
    bob.diary.post("A new oolong: floral, a bit smoky.", title="Tea notes", to=["Ann"])
    _receive(ann, bob, tmp_path)
    assert _titles(ann, "crag") == ["Weekend plans"]
    assert _titles(ann, "OOLONG") == ["Tea notes"]  # case ignored
    assert _titles(ann, "morning") == ["Morning pages"]  # titles too
    assert _titles(ann, "walk coffee") == ["Morning pages"]  # every word, any order
    assert _titles(ann, "walk crag") == []
    assert _titles(ann, "smo") == ["Tea notes"]  # the last word is also a prefix
    assert ann.diary.search_count("the") == 2
    # a comment makes its entry findable; hiding it (text erased) takes it out again
    plans = next(p for p in ann.diary.timeline() if p.title == "Weekend plans")
    comment = ann.comments.add(plans.id, "bring the quickdraws")
    assert _titles(ann, "quickdraws") == ["Weekend plans"]
    ann.comments.delete(comment.id)
    assert _titles(ann, "quickdraws") == []


def test_edits_deletions_and_expiry_keep_the_index_in_step(pair: tuple[Session, Session]) -> None:
    ann, _ = pair
    entry = ann.diary.post("the old text", title="Draft one").id
    assert _titles(ann, "old") == ["Draft one"]
    ann.diary.edit(entry, title="Second thoughts", body="the new text")
    assert _titles(ann, "old") == []
    assert _titles(ann, "new") == ["Second thoughts"]
    assert _titles(ann, "draft") == []
    ann.diary.delete(entry)
    assert _titles(ann, "new") == [] and ann.diary.search_count("new") == 0
    # expiry deletes rows straight in SQL: the index follows
    from datetime import timedelta

    ann.diary.post("ephemeral words", title="Soon gone", expires=timedelta(hours=1))  # (expired below)
    assert _titles(ann, "ephemeral") == ["Soon gone"]
    with ann.store.write() as conn:
        conn.execute("UPDATE posts SET expires = '2000-01-01T00:00:00+00:00' WHERE title = 'Soon gone'")
    assert _titles(ann, "ephemeral") == []
    left = ann.store.fetchone("SELECT count(*) FROM post_search")
    mapped = ann.store.fetchone("SELECT count(*) FROM post_search_map")
    posts = ann.store.fetchone("SELECT count(*) FROM posts")
    assert left == mapped == posts


def test_removing_a_contact_takes_their_entries_out_of_the_index(
    pair: tuple[Session, Session], tmp_path: Path
) -> None:
    ann, bob = pair
    bob.diary.post("quarry slab", title="Quarry", to=["Ann"])
    _receive(ann, bob, tmp_path)
    assert _titles(ann, "quarry") == ["Quarry"]
    ann.contacts.remove("Bob")  # their entries go by ON DELETE CASCADE
    assert _titles(ann, "quarry") == []
    assert ann.store.fetchone("SELECT count(*) FROM post_search_map")[0] == 0


def test_search_keeps_the_audience_and_leaves_muted_authors_out(
    pair: tuple[Session, Session], tmp_path: Path
) -> None:
    ann, bob = pair
    ann.circles.create("Climbing")
    ann.circles.add("Climbing", ["Bob"])
    ann.diary.post("rope day", title="Mine to climbing", to=["Climbing"])
    ann.diary.post("rope at home", title="Mine alone")
    bob.diary.post("rope bought", title="Bob's rope", to=["Ann"])
    _receive(ann, bob, tmp_path)
    assert set(_titles(ann, "rope")) == {"Mine to climbing", "Mine alone", "Bob's rope"}
    assert set(_titles(ann, "rope", circle="Climbing")) == {"Mine to climbing", "Bob's rope"}
    assert _titles(ann, "rope", only_me=True) == ["Mine alone"]
    assert ann.diary.search_count("rope", only_me=True) == 1
    ann.contacts.mute("Bob")
    assert "Bob's rope" not in _titles(ann, "rope")


@pytest.mark.parametrize(
    "query",
    ['"', 'rope"', "rope AND", "NEAR(rope", "rope*", "^rope", "title:rope", "(rope", "-rope", "rope OR", "*"],
)
def test_typed_syntax_is_never_an_error(pair: tuple[Session, Session], query: str) -> None:
    ann, _ = pair
    ann.diary.post("rope", title="Rope")
    found = _titles(ann, query)  # no exception: every word is quoted
    assert found in ([], ["Rope"])


def test_queries_without_words_and_huge_queries(pair: tuple[Session, Session]) -> None:
    ann, _ = pair
    ann.diary.post("anything", title="Something")
    assert _titles(ann, "") == [] and _titles(ann, "   ") == [] and _titles(ann, "*** ---") == []
    assert ann.diary.search_count("") == 0
    huge = " ".join(["anything"] * 10_000) + " " + "a" * 100_000
    assert post_store.match_expression(huge).count('"') <= 2 * post_store.MAX_QUERY_TERMS
    _titles(ann, huge)  # bounded: no error, no runaway


def test_the_migration_indexes_entries_stored_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "old"
    index = next(i for i, m in enumerate(schema_module.MIGRATIONS) if "post_search" in m)
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS[:index])
        m.setattr(database_module, "LATEST", index)
        store = Store.create(home, "pw", CHEAP)
        with store, store.write() as conn:
            conn.execute(
                "INSERT INTO posts (id, remote_id, author_id, title, body, created, received) "
                "VALUES ('p1', 'r1', NULL, 'Old entry', 'written before search', '2026', '2026')"
            )
            conn.execute(
                "INSERT INTO comments (post_id, id, body, created) VALUES ('p1', 'c1', 'a remark', '2026')"
            )
    with Store.open(home, "pw") as store:
        assert store.schema_version == schema_module.LATEST
        assert [p.id for p in post_store.search(store, "before")] == ["p1"]
        assert [p.id for p in post_store.search(store, "remark")] == ["p1"]
        assert post_store.search(store, "nothing") == []


def test_many_hits_walk_the_timeline_with_the_same_answer(
    pair: tuple[Session, Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob = pair
    ann.circles.create("Climbing")
    ann.circles.add("Climbing", ["Bob"])
    for i in range(5):
        ann.diary.post(f"rope {i}", title=f"Mine {i}", to=["Climbing"] if i % 2 else None)
    bob.diary.post("rope bought", title="Bob's rope", to=["Ann"])
    _receive(ann, bob, tmp_path)
    cases: list[dict[str, object]] = [{}, {"circle": "Climbing"}, {"only_me": True}]
    by_id = [
        [p.id for p in ann.diary.search("rope", limit=3, offset=o, **kw)] for kw in cases for o in (0, 3)
    ]  # type: ignore[arg-type]
    monkeypatch.setattr(post_store, "SMALL_MATCH", 0)  # every query now takes the walking plan
    walked = [
        [p.id for p in ann.diary.search("rope", limit=3, offset=o, **kw)] for kw in cases for o in (0, 3)
    ]  # type: ignore[arg-type]
    assert walked == by_id and any(by_id)
