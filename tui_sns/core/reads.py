"""Read state written in batches: a front end notes each entry the reader has read; the notes go to the
store in one transaction per flush (a timer in the app, and ``Session.close()``), not one per entry.

Why batch: the store has one connection behind one lock, and every write transaction also bumps the
key file's anti-rollback counter (an fsync): one write per entry shown would queue behind (and slow)
sync and comment writes. Thread-safe: notes come from the UI thread, flushes run on worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_sns.core.session import Session


class ReadLog:
    """Entries read but not written to the store yet."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def note(self, post_id: str) -> None:
        """``post_id`` has been read; written at the next ``flush``."""
        with self._lock:
            self._pending.add(post_id)

    def forget(self, post_ids: Iterable[str]) -> None:
        """Drop notes already written another way (e.g. "mark all read")."""
        with self._lock:
            self._pending.difference_update(post_ids)

    @property
    def pending(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._pending)

    def flush(self) -> list[str]:
        """Write the pending notes in one transaction; returns the ids written (none: no write at all).

        The notes are taken before the write: if it fails (a ``TuiSnsError``, raised) they are dropped,
        so a store that cannot be written does not fail again on every flush.
        """
        with self._lock:
            ids, self._pending = sorted(self._pending), set()
        if ids:
            self.session.diary.mark_read(ids)
        return ids
