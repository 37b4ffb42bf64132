"""Drafts: what the composer autosaves, restored when it opens again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.store import drafts as draft_store
from tui_sns.store.drafts import Draft

if TYPE_CHECKING:
    from tui_sns.core.session import Session

COMPOSER = "composer"  # the one draft the composer keeps

__all__ = ["COMPOSER", "Draft", "Drafts"]


class Drafts:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def save(
        self, title: str, body: str, audience: list[str] | None = None, draft_id: str = COMPOSER
    ) -> None:
        """Keep (or replace) a draft. An empty one is deleted instead."""
        if not title.strip() and not body.strip():
            self.delete(draft_id)
            return
        draft_store.save_draft(
            self.store, draft_id, title=title, body=body, audience=list(audience or []), updated=now_iso()
        )

    def load(self, draft_id: str = COMPOSER) -> Draft | None:
        return draft_store.load_draft(self.store, draft_id)

    def delete(self, draft_id: str = COMPOSER) -> None:
        draft_store.delete_draft(self.store, draft_id)
