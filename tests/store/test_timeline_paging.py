"""Timeline pages are exact slices of the full timeline, ties on the timestamp included."""

from __future__ import annotations

from pathlib import Path

from tui_sns.core.session import Session
from tui_sns.store import KdfParams
from tui_sns.store import posts as post_store


def test_pages_at_any_offset_are_slices_of_the_whole_timeline(tmp_path: Path) -> None:
    session = Session.create(tmp_path / "a", "alice", "pw", KdfParams.insecure_for_tests())
    with session.store.write():
        for i in range(700):
            post_store.insert_post(
                session.store,
                post_id=f"{(i * 7919) % 1000:016x}",  # ids not in insertion order
                remote_id=f"r{i}",
                author_id=None,
                title=f"t{i}",
                body="b",
                created=f"2026-01-01T00:00:{i % 7:02d}+00:00",  # many entries share a timestamp
                received="2026-01-01T00:00:00+00:00",
            )
    whole = [p.id for p in session.diary.timeline()]
    assert len(whole) == len(set(whole)) == 700
    for offset in (0, 1, 99, 100, 350, 699, 700, 800):
        page = [p.id for p in session.diary.timeline(limit=100, offset=offset)]
        assert page == whole[offset : offset + 100], offset
    assert [p.id for p in session.diary.timeline(only_me=True, limit=50, offset=650)] == whole[650:]
