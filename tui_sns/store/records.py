"""Plain records returned by the store's data-access modules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IdentityRecord:
    name: str
    secret_key: bytes
    public_key: bytes
    created: str


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    card_name: str
    public_key: bytes
    shared_key: bytes
    relays: tuple[str, ...]
    verified: bool
    added: str
    send_seq: int
    send_prev: bytes


@dataclass(frozen=True)
class Circle:
    id: int
    name: str
    members: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Post:
    id: str
    author: str | None  # None: mine
    title: str
    body: str
    created: str
    audience: dict[str, list[str]] | None  # mine: {"circles": [...], "contacts": [...]}
    readers: tuple[str, ...] | None  # mine: resolved names at sealing time

    @property
    def mine(self) -> bool:
        return self.author is None
