"""Unsent drafts of diary entries, kept in the encrypted store so they survive a crash."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tui_sns.store.database import Store


@dataclass(frozen=True)
class Draft:
    id: str
    title: str
    body: str
    audience: tuple[str, ...]  # what was picked when saved; never preselected again by the app
    updated: str


def save_draft(
    store: Store, draft_id: str, *, title: str, body: str, audience: list[str], updated: str
) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO drafts (id, title, body, audience, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body, "
            "audience = excluded.audience, updated = excluded.updated",
            (draft_id, title, body, json.dumps(list(audience)), updated),
        )


def load_draft(store: Store, draft_id: str) -> Draft | None:
    row = store.fetchone("SELECT id, title, body, audience, updated FROM drafts WHERE id = ?", (draft_id,))
    if row is None:
        return None
    return Draft(str(row[0]), str(row[1]), str(row[2]), tuple(json.loads(row[3])), str(row[4]))


def delete_draft(store: Store, draft_id: str) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM drafts WHERE id = ?", (draft_id,))
