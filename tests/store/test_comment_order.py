"""Comments written in the same second keep the order in which they arrived."""

from __future__ import annotations

from pathlib import Path

from tui_sns.core.session import Session
from tui_sns.store import KdfParams
from tui_sns.store import comments as comment_store


def test_same_second_comments_are_listed_in_arrival_order(tmp_path: Path) -> None:
    session = Session.create(tmp_path / "a", "alice", "pw", KdfParams.insecure_for_tests())
    post = session.diary.post("an entry")
    # ids sort the other way round from arrival, so ordering by id would reverse them
    for comment_id, body in (("zz", "first"), ("mm", "second"), ("aa", "third")):
        comment_store.insert_comment(
            session.store,
            post_id=post.id,
            comment_id=comment_id,
            author_key=None,
            author_label="",
            body=body,
            created="2026-01-01T00:00:00+00:00",
        )
    assert [c.body for c in comment_store.list_comments(session.store, post.id)] == [
        "first",
        "second",
        "third",
    ]
