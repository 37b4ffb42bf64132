"""What travels inside an envelope: one JSON object (docs/protocol.md, "Payloads")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_TITLE = 500


@dataclass(frozen=True)
class PostMessage:
    remote_id: str
    title: str
    body: str
    created: str

    def encode(self) -> bytes:
        return json.dumps(
            {
                "type": "post",
                "id": self.remote_id,
                "title": self.title,
                "body": self.body,
                "created": self.created,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")


def decode_message(payload: bytes) -> PostMessage | None:
    """None for anything that is not a well-formed message this version understands."""
    try:
        obj: Any = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or obj.get("type") != "post":
        return None
    fields = (obj.get("id"), obj.get("title"), obj.get("body"), obj.get("created"))
    if not all(isinstance(f, str) for f in fields):
        return None
    remote_id, title, body, created = fields
    if not 1 <= len(remote_id) <= 64 or len(title) > MAX_TITLE:
        return None
    return PostMessage(remote_id=remote_id, title=title, body=body, created=created)
