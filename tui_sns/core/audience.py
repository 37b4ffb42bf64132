"""Who can read an entry: circles and contacts resolved to people. Closed by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_sns.core.errors import InvalidInput, UnknownName
from tui_sns.store import contacts as contact_store
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session


@dataclass(frozen=True)
class Audience:
    circles: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    readers: tuple[Contact, ...] = ()

    @property
    def only_me(self) -> bool:
        return not self.readers

    @property
    def reader_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.readers)

    def as_json(self) -> dict[str, list[str]]:
        return {"circles": list(self.circles), "contacts": list(self.contacts)}

    def describe(self) -> str:
        """The headline privacy line: "Readable by 3 people: you, Bob, Kenji". The count is the
        number of names it lists, the author included (never fewer than the names shown)."""
        if self.only_me:
            return "Readable by you alone"
        names = ["you", *self.reader_names]
        return f"Readable by {len(names)} people: " + ", ".join(names)


ONLY_ME = Audience()


def resolve(session: Session, names: list[str]) -> Audience:
    """Each name is a circle or a contact (they share one namespace). Unknown names and blocked
    contacts are errors."""
    circles: list[str] = []
    contacts: list[str] = []
    readers: dict[int, Contact] = {}
    by_id = {c.id: c for c in contact_store.list_contacts(session.store)}
    for name in dict.fromkeys(names):
        if session.circles.exists(name):
            circles.append(name)
            for cid in session.circles.member_ids(name):
                if not by_id[cid].blocked:  # blocking removes from circles; never send to them anyway
                    readers[cid] = by_id[cid]
            continue
        contact = contact_store.find_contact(session.store, name)
        if contact is None:
            raise UnknownName(f"{name!r} is neither a circle nor a contact")
        if contact.blocked:
            raise InvalidInput(f"{name!r} is blocked: they get nothing from you (unblock them first)")
        contacts.append(name)
        readers[contact.id] = contact
    return Audience(tuple(circles), tuple(contacts), tuple(sorted(readers.values(), key=lambda c: c.name)))
