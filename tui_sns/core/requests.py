"""Contact requests from strangers: list, accept (adds the contact from their card), reject.

Only a well-formed ``request`` whose card carries the sender's authenticated key is kept, at most one
per sender (a later one replaces it) and at most ``MAX_PENDING_REQUESTS`` in total (docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_sns.core.errors import UnknownName
from tui_sns.crypto.card import decode_card
from tui_sns.crypto.errors import CardError
from tui_sns.store import requests as request_store
from tui_sns.store.records import Contact, RequestRecord

if TYPE_CHECKING:
    from tui_sns.core.session import Session


@dataclass(frozen=True)
class RequestView:
    id: int
    card_name: str
    public_key: str
    note: str
    received: str
    relays: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "card_name": self.card_name,
            "public_key": self.public_key,
            "note": self.note,
            "received": self.received,
            "relays": list(self.relays),
        }


def _view(record: RequestRecord) -> RequestView | None:
    try:
        card = decode_card(record.card)
    except CardError:  # checked on arrival; only a newer card format could fail here
        return None
    return RequestView(
        record.id, card.name, record.sender_key.hex(), record.note, record.received, card.relays
    )


class Requests:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def list(self) -> list[RequestView]:
        views = (_view(r) for r in request_store.list_requests(self.store))
        return [v for v in views if v is not None]

    def _get(self, request_id: int) -> RequestRecord:
        record = request_store.get_request(self.store, request_id)
        if record is None:
            raise UnknownName(f"no pending request with id {request_id}")
        return record

    def accept(self, request_id: int, name: str | None = None) -> Contact:
        """Add the sender as a contact (under ``name``, default their card's name)."""
        record = self._get(request_id)
        with self.store.write():
            contact = self.session.contacts.add(record.card, name)
            request_store.delete_request(self.store, request_id)
            self._sync(record.sender_key, "accepted")
        return contact

    def reject(self, request_id: int) -> None:
        record = self._get(request_id)
        with self.store.write():
            request_store.delete_request(self.store, request_id)
            self._sync(record.sender_key, "rejected")

    def _sync(self, key: bytes, state: str) -> None:
        self.session.devices.record("request", {"key": key.hex()}, {"state": state})
