"""Circles: create, rename, delete, edit membership."""

from __future__ import annotations

import builtins
import os
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput, UnknownName
from tui_sns.core.names import check_name
from tui_sns.store import circles as circle_store
from tui_sns.store import synced
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
        uid = os.urandom(16)
        with self.store.write():
            circle_store.create_circle(self.store, name, now_iso(), uid)
            self._sync(uid, name=name, deleted=False)

    def _sync(self, uid: bytes, **fields: object) -> None:
        """Record a change of circle ``uid`` for my other devices (design-v2 §8.3)."""
        self.session.devices.record("circle", {"uid": uid.hex()}, fields)

    def _uid(self, name: str) -> bytes:
        uid = synced.circle_uid(self.store, name)
        if uid is None:
            raise UnknownName(f"no circle named {name!r}")
        return uid

    def _sync_members(self, circle: str, names: builtins.list[str], member: bool) -> None:
        uid = self._uid(circle)
        for name in names:
            key = self.session.contacts.get(name).public_key
            self.session.devices.record("member", {"circle": uid.hex(), "key": key.hex()}, {"in": member})

    def rename(self, old: str, new: str) -> None:
        self._require(old)
        check_name(new, "circle")
        if new != old:
            self.session.contacts.ensure_name_free(new, hint=": contacts and circles share names")
        with self.store.write():
            uid = self._uid(old)
            circle_store.rename_circle(self.store, old, new)
            self._sync(uid, name=new)

    def delete(self, name: str) -> None:
        self._require(name)
        with self.store.write():
            uid = self._uid(name)
            circle_store.delete_circle(self.store, name)
            self._sync(uid, deleted=True)

    def _contact_ids(self, names: list[str]) -> list[int]:
        if not names:
            raise InvalidInput("name at least one contact")
        return [self.session.contacts.get(n).id for n in names]

    def add(self, circle: str, contacts: list[str]) -> None:
        self._require(circle)
        blocked = [n for n in contacts if self.session.contacts.get(n).blocked]
        if blocked:
            raise InvalidInput(f"blocked contacts cannot join circles: {', '.join(blocked)}")
        with self.store.write():
            circle_store.add_members(self.store, circle, self._contact_ids(contacts))
            self._sync_members(circle, contacts, True)

    def remove(self, circle: str, contacts: list[str]) -> None:
        self._require(circle)
        ids = self._contact_ids(contacts)
        members = set(circle_store.member_ids(self.store, circle))
        outside = [n for n, i in zip(contacts, ids, strict=True) if i not in members]
        if outside:
            raise UnknownName(f"not in circle {circle!r}: {', '.join(outside)}")
        with self.store.write():
            circle_store.remove_members(self.store, circle, ids)
            self._sync_members(circle, contacts, False)

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
