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
        with self.store.write():
            draft_store.save_draft(
                self.store, draft_id, title=title, body=body, audience=list(audience or []), updated=now_iso()
            )
            self._sync(draft_id, title=title, body=body, audience=list(audience or []), deleted=False)

    def _sync(self, draft_id: str, **fields: object) -> None:
        """Record the whole draft for my other devices (design-v2 §8.3: the composer's draft travels
        as ``composer:<devid>``, so two devices' composers do not fight)."""
        devices = self.session.devices
        wire = f"{COMPOSER}:{devices.devid.hex()}" if draft_id == COMPOSER else draft_id
        devices.record("draft", {"id": wire}, fields)

    def load(self, draft_id: str = COMPOSER) -> Draft | None:
        return draft_store.load_draft(self.store, draft_id)

    def delete(self, draft_id: str = COMPOSER) -> None:
        if draft_store.load_draft(self.store, draft_id) is None:
            return
        with self.store.write():
            draft_store.delete_draft(self.store, draft_id)
            self._sync(draft_id, deleted=True)
