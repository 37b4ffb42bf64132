"""Comments under entries (docs/protocol.md, "Conversations and defenses").

A comment is readable by exactly the entry's audience plus its author, by construction: the
commenter seals it under the entry's thread key ``T`` (:mod:`tui_sns.crypto.thread`) and sends that
blob to the entry's author only; the author checks the commenter is one of the entry's readers and
forwards the same blob to the other readers. The commenter never learns the audience.

App-facing API (``session.comments``): :meth:`Comments.add`, :meth:`Comments.list`,
:meth:`Comments.hide` (the entry's author, for everyone), :meth:`Comments.delete` (the commenter,
their own comment). The ``on_*`` methods are called by the inbox for received messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import InvalidInput, UnknownName
from tui_sns.core.messages import (
    MAX_COMMENT,
    MAX_LABEL,
    CommentBody,
    CommentMessage,
    HideMessage,
    ThreadMessage,
    UncommentMessage,
    decode_comment_body,
    entry_digest,
)
from tui_sns.core.outgoing import derived_expires, send
from tui_sns.crypto.thread import ThreadError, open_comment, seal_comment
from tui_sns.store import comments as comment_store
from tui_sns.store import contacts as contact_store
from tui_sns.store import posts as post_store
from tui_sns.store.records import CommentRecord, Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session


@dataclass(frozen=True)
class Comment:
    """One visible comment, as the app shows it."""

    id: str
    post_id: str
    # "me"; my contact name for the commenter (only when the comment's key is that contact's); or
    # "card name, via entry's author, not in your contacts"
    author: str
    body: str
    created: str
    mine: bool
    in_contacts: bool = False  # the commenter's key is one of my contacts' (or mine)
    warning: str | None = None  # e.g. the comment was written about a version of the entry I never held

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "author": self.author,
            "body": self.body,
            "created": self.created,
            "mine": self.mine,
            "in_contacts": self.in_contacts,
            "warning": self.warning,
        }


DIFFERENT_ENTRY = "written about a version of this entry that you never received"


def _view(record: CommentRecord, warning: str | None = None) -> Comment:
    if record.author_key is None:
        author, mine, known = "me", True, True
    elif record.contact_name is not None:
        author, mine, known = record.contact_name, False, True
    else:
        # A forwarded comment's name is whatever the entry's author says: never shown as a contact.
        via = f", via {record.post_author}" if record.post_author is not None else ""
        author, mine, known = f"{record.author_label}{via}, not in your contacts", False, False
    return Comment(record.id, record.post_id, author, record.body, record.created, mine, known, warning)


class Comments:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    # -- what the app calls -----------------------------------------------------------------

    def list(self, post_id: str) -> list[Comment]:
        """The entry's visible comments, oldest first (hidden ones are not listed)."""
        post = self.session.diary.get(post_id)
        return [
            _view(r, self._warning(post.id, r.entry_digest))
            for r in comment_store.list_comments(self.store, post.id)
        ]

    def _warning(self, post_id: str, digest: bytes | None) -> str | None:
        if digest is None or post_store.has_version(self.store, post_id, digest):
            return None
        return DIFFERENT_ENTRY

    def add(self, post_id: str, body: str) -> Comment:
        """Comment on an entry I can read. Sealed under its thread key; sent to its author only
        (or, on my own entry, to its readers)."""
        self.session.resets.check_can_write()  # design-v2 §10: not on a device a reset left out
        if not body.strip():
            raise InvalidInput("a comment cannot be empty")
        if len(body) > MAX_COMMENT:
            raise InvalidInput(f"a comment is at most {MAX_COMMENT} characters")
        post = self.session.diary.get(post_id)
        remote_id, author_id, thread_key, expires = post_store.post_meta(self.store, post.id)
        if thread_key is None:
            raise InvalidInput("this entry was written by an older version of tui-sns: it takes no comments")
        author = None
        if author_id is not None:
            author = next(c for c in contact_store.list_contacts(self.store) if c.id == author_id)
            if author.blocked:
                raise InvalidInput(f"{author.name!r} is blocked: unblock them to comment on their entries")
        comment_id = os.urandom(8).hex()
        created = now_iso()
        digest = entry_digest(remote_id, post.title, post.body)
        inner = seal_comment(thread_key, CommentBody(comment_id, body, created, digest.hex()).encode())
        with self.store.write():
            comment_store.insert_comment(
                self.store,
                post_id=post.id,
                comment_id=comment_id,
                author_key=None,
                author_label=self.session.name,
                body=body,
                created=created,
                entry_digest=digest,
            )
            if author is None:
                me = ThreadMessage(
                    remote_id, comment_id, self.session.name[:MAX_LABEL], self.session.identity.public, inner
                )
                self.session.diary.send_derived(post.id, me.encode())
            else:
                message = CommentMessage(remote_id, inner).encode()
                send(self.session, [author], message, expires=derived_expires(), target=post.id)
            # my other devices show it too (design-v2 §8.3 ``comment``): the entry's author forwards it
            # to the other readers, never back to me
            self._sync(
                author,
                remote_id,
                comment_id,
                body=body,
                created=created,
                by=None,
                label=self.session.name[:MAX_LABEL],
                digest=digest.hex(),
                hidden=False,
            )
        return Comment(comment_id, post.id, "me", body, created, True)

    def _sync(self, author: Contact | None, remote_id: str, comment_id: str, **fields: object) -> None:
        """Record a change of a comment for my other devices (``comment`` op, design-v2 §8.3)."""
        key = self.session.identity.public if author is None else author.public_key
        self.session.devices.record(
            "comment", {"author": key.hex(), "post": remote_id, "id": comment_id}, fields
        )

    def hide(self, post_id: str, comment_id: str) -> None:
        """The entry's author hides a comment for everyone in the audience (its text is erased)."""
        post = self.session.diary.get(post_id)
        if not post.mine:
            raise InvalidInput("only the entry's author can hide its comments (delete your own with delete)")
        if comment_store.get_comment(self.store, post.id, comment_id) is None:
            raise UnknownName(f"no comment {comment_id!r} under this entry")
        with self.store.write():
            self._hide_everywhere(post.id, comment_id)
            self._sync(None, post_store.post_meta(self.store, post.id)[0], comment_id, hidden=True)

    def delete(self, comment_id: str) -> None:
        """Delete one of my comments: for every reader of the entry (through its author)."""
        mine = comment_store.find_my_comment(self.store, comment_id)
        if mine is None:
            raise UnknownName(f"no comment of yours with id {comment_id!r}")
        remote_id, author_id, _, _ = post_store.post_meta(self.store, mine.post_id)
        if author_id is None:
            with self.store.write():
                self._hide_everywhere(mine.post_id, comment_id)
                self._sync(None, remote_id, comment_id, hidden=True)
            return
        with self.store.write():
            comment_store.hide_comment(self.store, mine.post_id, comment_id)
            author = [c for c in contact_store.list_contacts(self.store) if c.id == author_id]
            message = UncommentMessage(remote_id, comment_id).encode()
            send(self.session, author, message, expires=derived_expires(), target=mine.post_id)
            self._sync(author[0] if author else None, remote_id, comment_id, hidden=True)

    # -- helpers ----------------------------------------------------------------------------

    def _hide_everywhere(
        self, post_id: str, comment_id: str, *, without: bytes | None = None, received: bool = False
    ) -> None:
        """Hide a comment on my entry here and for its readers. ``received``: the hide follows a
        commenter's uncomment, which reached every device of mine: sent per the forwarding rule."""
        remote_id = post_store.post_meta(self.store, post_id)[0]
        with self.store.write():
            comment_store.hide_comment(self.store, post_id, comment_id)
            payload = HideMessage(remote_id, comment_id).encode()
            self._forward(post_id, remote_id, comment_id, payload, without, "hidden" if received else None)

    def _forward(
        self,
        post_id: str,
        remote_id: str,
        comment_id: str,
        payload: bytes,
        without: bytes | None,
        kind: str | None,
    ) -> None:
        """Send a payload derived from my entry to its readers. ``kind`` ("sent": a comment forward,
        "hidden": the hide after an uncomment; None: my own action, sent at once): with linked devices
        only the device that wrote the entry sends it at once (and says so); another keeps it and sends
        it if no sibling said so within an hour (design-v2 §8.3)."""
        devices = self.session.devices
        if kind is None:
            self.session.diary.send_derived(post_id, payload, without=without)
        elif devices.forward_now(remote_id, comment_id, kind):
            self.session.diary.send_derived(post_id, payload, without=without)
            devices.forward_done(remote_id, comment_id, kind)
        elif not self._forwarded(remote_id, comment_id, kind):
            devices.defer_forward(post_id, remote_id, comment_id, payload, without, kind)

    def _forwarded(self, remote_id: str, comment_id: str, kind: str) -> bool:
        from tui_sns.store import devices as device_store

        with self.store.read() as conn:
            return device_store.clock_of(conn, f"forwarded:{remote_id}:{comment_id}", kind) is not None

    def _open(self, thread_key: bytes | None, inner: bytes) -> CommentBody | None:
        if thread_key is None:
            return None
        try:
            return decode_comment_body(open_comment(thread_key, inner))
        except ThreadError:
            return None

    # -- received (called by the inbox, inside its transaction); False: ignored ---------------

    def on_comment(self, sender: Contact, message: CommentMessage) -> bool:
        """A reader commented on my entry: check they are one of its readers, store, forward."""
        found = post_store.find_post_by(self.store, None, message.post)
        if found is None:
            return False
        post_id, thread_key = found
        if sender.id not in post_store.reader_ids(self.store, post_id):
            return False
        body = self._open(thread_key, message.inner)
        if body is None:
            return False
        fresh = comment_store.insert_comment(
            self.store,
            post_id=post_id,
            comment_id=body.comment_id,
            author_key=sender.public_key,
            author_label=sender.card_name,
            body=body.body,
            created=body.created,
            entry_digest=body.entry_digest,
        )
        if not fresh:
            return False
        forward = ThreadMessage(
            message.post, body.comment_id, _label(sender.card_name), sender.public_key, message.inner
        )
        self._forward(post_id, message.post, body.comment_id, forward.encode(), sender.public_key, "sent")
        return True

    def on_thread(self, sender: Contact, message: ThreadMessage, seq: int | None = None) -> bool:
        """The entry's author forwarded a comment: accepted only from that author, and only if it
        opens under the entry's thread key. ``seq``: the forward's chain sequence (orders ties)."""
        found = post_store.find_post_by(self.store, sender.id, message.post)
        if found is None or message.by_key == self.session.identity.public:
            return False
        post_id, thread_key = found
        body = self._open(thread_key, message.inner)
        if body is None or body.comment_id != message.comment_id or not _label_ok(message.by):
            return False
        return comment_store.insert_comment(
            self.store,
            post_id=post_id,
            comment_id=body.comment_id,
            author_key=message.by_key,
            author_label=message.by,
            body=body.body,
            created=body.created,
            entry_digest=body.entry_digest,
            seq=seq,
        )

    def on_hide(self, sender: Contact, message: HideMessage) -> bool:
        """The entry's author hid a comment. One that has not arrived yet is remembered hidden, so its
        forward arriving later is never shown."""
        found = post_store.find_post_by(self.store, sender.id, message.post)
        return found is not None and comment_store.hide_comment(
            self.store, found[0], message.comment_id, placeholder=True
        )

    def on_uncomment(self, sender: Contact, message: UncommentMessage) -> bool:
        """A commenter deleted their comment on my entry: hide it here and for the other readers."""
        found = post_store.find_post_by(self.store, None, message.post)
        if found is None:
            return False
        comment = comment_store.get_comment(self.store, found[0], message.comment_id)
        if comment is None:
            # Their comment has not arrived (or was hidden already): remember it hidden, so it is never
            # stored nor forwarded if it arrives later. Only a not-yet-seen id can be claimed this way.
            return comment_store.hide_comment(
                self.store, found[0], message.comment_id, placeholder=True, author_key=sender.public_key
            )
        if comment.author_key != sender.public_key:
            return False
        self._hide_everywhere(found[0], message.comment_id, without=sender.public_key, received=True)
        return True


def _label(card_name: str) -> str:
    """The commenter's card name as forwarded: one safe line of at most MAX_LABEL characters (a name
    stored before cards were checked is passed on with its control characters made visible)."""
    from tui_sns.core.display import safe_line

    return safe_line(card_name, MAX_LABEL).strip() or "?"


def _label_ok(label: str) -> bool:
    """A forwarded commenter's name passes the rules my own contact book applies to card names."""
    from tui_sns.core.names import check_display_name

    try:
        check_display_name(label, "commenter")
    except InvalidInput:
        return False
    return True
