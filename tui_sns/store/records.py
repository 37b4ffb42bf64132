"""Plain records returned by the store's data-access modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


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
    blocked: bool = False  # their envelopes are dropped unseen; they get nothing from me
    muted: bool = False  # hidden from my timeline; they still read what I send them


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
    expires: str | None = None  # ISO 8601 UTC: deleted from every store after this
    edited: str | None = None  # when the author last edited it
    unread: bool = False  # received and not shown to me yet (mine never are)
    claimed: str | None = None  # received: the author's claimed time, when it differs from ``created``

    @property
    def mine(self) -> bool:
        return self.author is None


@dataclass(frozen=True)
class CommentRecord:
    post_id: str
    id: str
    author_key: bytes | None  # None: mine
    author_label: str  # the commenter's card name as the entry's author knows it
    body: str
    created: str
    contact_name: str | None  # my local name for the commenter, if they are my contact
    post_author: str | None  # my local name for the entry's author; None: the entry is mine
    entry_digest: bytes | None = None  # the version of the entry its writer saw (None: not said)


@dataclass(frozen=True)
class RequestRecord:
    id: int
    sender_key: bytes
    card: str
    note: str
    received: str


class PostMeta(NamedTuple):
    """What sending about a stored entry needs (``store.posts.post_meta``). A named tuple, so the
    positional unpacking older callers use still works."""

    remote_id: str  # the author's id of the entry, as in its envelopes
    author_id: int | None  # the author's contact id; None: mine
    thread_key: bytes | None  # the key its comments are sealed with (None: an old entry without one)
    expires: str | None  # ISO 8601 UTC time at which every copy is deleted, or None
