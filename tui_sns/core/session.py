"""An unlocked identity: the store plus the key pair, and the services over them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso, now_unix
from tui_sns.core.errors import InvalidInput, TuiSnsError
from tui_sns.core.names import MAX_NAME, check_display_name
from tui_sns.crypto.keys import Identity
from tui_sns.store import DEFAULT_KDF, KdfParams, Store
from tui_sns.store.contacts import list_contacts
from tui_sns.store.identity import load_identity, save_identity
from tui_sns.store.records import IdentityRecord

if TYPE_CHECKING:
    from tui_sns.core.circles import Circles
    from tui_sns.core.comments import Comments
    from tui_sns.core.contacts import ContactBook
    from tui_sns.core.devices import Devices
    from tui_sns.core.diary import Diary
    from tui_sns.core.drafts import Drafts
    from tui_sns.core.epochs import Epochs
    from tui_sns.core.exchange import Exchange
    from tui_sns.core.inbox import Inbox
    from tui_sns.core.reads import ReadLog
    from tui_sns.core.relays import RelayBook
    from tui_sns.core.requests import Requests
    from tui_sns.core.resets import Resets
    from tui_sns.core.routing import Routes
    from tui_sns.store.salvage import SalvageReport

__all__ = ["DEFAULT_KDF", "KdfParams", "Session"]


class Session:
    def __init__(self, store: Store) -> None:
        self.store = store
        record = load_identity(store)
        self.name = record.name
        self.identity = Identity(secret=record.secret_key, public=record.public_key)
        for contact in list_contacts(store):
            self.identity.preload_shared(contact.public_key, contact.shared_key)
        self.diary.purge_expired()  # expired entries leave the store as soon as it is opened (if writable)
        self.epochs.tick()  # keys past their deletion time are erased before any network I/O (design-v2 §5.2)

    @classmethod
    def create(cls, home: Path, name: str, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> Session:
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput(f"the name must be 1 to {MAX_NAME} characters")
        check_display_name(name, "your display")  # what my contacts' apps would refuse on my card
        if not passphrase:
            raise InvalidInput("the passphrase cannot be empty")
        identity = Identity.generate()
        record = IdentityRecord(name, identity.secret, identity.public, now_iso())
        return cls(
            Store.create(
                home, passphrase, kdf, setup=lambda store: save_identity(store, record), now=now_unix
            )
        )

    @classmethod
    def create_linked(
        cls,
        home: Path,
        name: str,
        secret: bytes,
        passphrase: str,
        *,
        setup: Callable[[Store], None],
        kdf: KdfParams | None = None,
    ) -> Session:
        """A new store for an existing identity (device linking, design-v2 §9.4): ``secret`` is the
        identity's static secret; ``setup`` runs in the creation (the linked device's epoch state)."""
        if not passphrase:
            raise InvalidInput("the passphrase cannot be empty")
        identity = Identity(secret=secret)
        record = IdentityRecord(name, identity.secret, identity.public, now_iso())

        def both(store: Store) -> None:
            save_identity(store, record)
            setup(store)

        return cls(Store.create(home, passphrase, kdf or DEFAULT_KDF, setup=both, now=now_unix))

    @classmethod
    def unlock(cls, home: Path, passphrase: str) -> Session:
        return cls(Store.open(home, passphrase, now=now_unix))

    @staticmethod
    def exists(home: Path) -> bool:
        """Is there an identity (a store) in ``home``?"""
        return Store.exists(home)

    @staticmethod
    def check_present(home: Path) -> None:
        """Raise ``NoIdentity`` or another store error (with the sentence to show) if ``home`` holds no
        usable store; before any passphrase is asked for."""
        Store.check_present(home)

    @staticmethod
    def restore(home: Path, backup: Path, passphrase: str) -> None:
        """Recreate the store in ``home`` from an encrypted backup file (raises ``IdentityExists``,
        changing nothing, if ``home`` has one; ``WrongPassphrase`` if the backup does not open)."""
        from tui_sns.store.backup import restore_backup

        restore_backup(home, backup, passphrase).close()

    @staticmethod
    def salvage(home: Path, passphrase: str, path: Path) -> SalvageReport:
        """Copy every readable row of a damaged store in ``home`` into an encrypted backup at ``path``
        (restore it with :meth:`restore`). Changes nothing in ``home``. Raises ``WrongPassphrase``,
        ``StoreDamaged`` (nothing usable: the schema page or the identity is unreadable), ``WrongKey``."""
        from tui_sns.store.salvage import salvage

        return salvage(home, passphrase, path)

    def backup(self, path: Path, passphrase: str) -> None:
        """Write an encrypted backup of the whole store to ``path`` (it opens with ``passphrase``)."""
        from tui_sns.store.backup import write_backup

        write_backup(self.store, path, passphrase)

    def change_passphrase(self, new_passphrase: str) -> None:
        """Change the passphrase and rekey the database (crash-safe: the old or the new passphrase
        always opens the store; docs/protocol.md, "Changing the passphrase")."""
        self.store.change_passphrase(new_passphrase)

    def close(self) -> None:
        """Write the read state not flushed yet, then close the store."""
        reads: ReadLog | None = self.__dict__.get("reads")  # only if a front end used it
        try:
            if reads is not None:
                with contextlib.suppress(TuiSnsError):
                    reads.flush()
        finally:
            self.store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def public_keys(self) -> list[bytes]:
        return [self.identity.public]

    @cached_property
    def contacts(self) -> ContactBook:
        from tui_sns.core.contacts import ContactBook

        return ContactBook(self)

    @cached_property
    def epochs(self) -> Epochs:
        from tui_sns.core.epochs import Epochs

        return Epochs(self)

    @cached_property
    def circles(self) -> Circles:
        from tui_sns.core.circles import Circles

        return Circles(self)

    @cached_property
    def diary(self) -> Diary:
        from tui_sns.core.diary import Diary

        return Diary(self)

    @cached_property
    def inbox(self) -> Inbox:
        from tui_sns.core.inbox import Inbox

        return Inbox(self)

    @cached_property
    def exchange(self) -> Exchange:
        from tui_sns.core.exchange import Exchange

        return Exchange(self)

    @cached_property
    def drafts(self) -> Drafts:
        from tui_sns.core.drafts import Drafts

        return Drafts(self)

    @cached_property
    def comments(self) -> Comments:
        from tui_sns.core.comments import Comments

        return Comments(self)

    @cached_property
    def requests(self) -> Requests:
        from tui_sns.core.requests import Requests

        return Requests(self)

    @cached_property
    def reads(self) -> ReadLog:
        from tui_sns.core.reads import ReadLog

        return ReadLog(self)

    @cached_property
    def routes(self) -> Routes:
        from tui_sns.core.routing import Routes

        return Routes(self)

    @cached_property
    def devices(self) -> Devices:
        from tui_sns.core.devices import Devices

        return Devices(self)

    @cached_property
    def resets(self) -> Resets:
        from tui_sns.core.resets import Resets

        return Resets(self)

    @cached_property
    def relays(self) -> RelayBook:
        from tui_sns.core.relays import RelayBook

        return RelayBook(self)
