"""Circles: create, rename, delete, edit membership."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput, UnknownName
from tui_sns.core.names import check_name
from tui_sns.store import circles as circle_store
from tui_sns.store.errors import NotFound
from tui_sns.store.records import Circle

if TYPE_CHECKING:
    from tui_sns.core.session import Session


class Circles:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def _require(self, name: str) -> None:
        if not circle_store.circle_exists(self.store, name):
            raise UnknownName(f"no circle named {name!r}")

    def create(self, name: str) -> None:
        check_name(name, "circle")
        self.session.contacts.ensure_name_free(name, hint=": contacts and circles share names")
        circle_store.create_circle(self.store, name, now_iso())

    def rename(self, old: str, new: str) -> None:
        self._require(old)
        check_name(new, "circle")
        if new != old:
            self.session.contacts.ensure_name_free(new, hint=": contacts and circles share names")
        circle_store.rename_circle(self.store, old, new)

    def delete(self, name: str) -> None:
        self._require(name)
        circle_store.delete_circle(self.store, name)

    def _contact_ids(self, names: list[str]) -> list[int]:
        if not names:
            raise InvalidInput("name at least one contact")
        return [self.session.contacts.get(n).id for n in names]

    def add(self, circle: str, contacts: list[str]) -> None:
        self._require(circle)
        blocked = [n for n in contacts if self.session.contacts.get(n).blocked]
        if blocked:
            raise InvalidInput(f"blocked contacts cannot join circles: {', '.join(blocked)}")
        circle_store.add_members(self.store, circle, self._contact_ids(contacts))

    def remove(self, circle: str, contacts: list[str]) -> None:
        self._require(circle)
        ids = self._contact_ids(contacts)
        members = set(circle_store.member_ids(self.store, circle))
        outside = [n for n, i in zip(contacts, ids, strict=True) if i not in members]
        if outside:
            raise UnknownName(f"not in circle {circle!r}: {', '.join(outside)}")
        circle_store.remove_members(self.store, circle, ids)

    def list(self) -> list[Circle]:
        return circle_store.list_circles(self.store)

    def get(self, name: str) -> Circle:
        for circle in self.list():
            if circle.name == name:
                return circle
        raise UnknownName(f"no circle named {name!r}")

    def exists(self, name: str) -> bool:
        return circle_store.circle_exists(self.store, name)

    def member_ids(self, name: str) -> builtins.list[int]:
        try:
            return circle_store.member_ids(self.store, name)
        except NotFound as exc:
            raise UnknownName(str(exc)) from exc
