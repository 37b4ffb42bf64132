"""Writing and reading diary entries."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tui_sns.core import clock
from tui_sns.core.audience import Audience, resolve
from tui_sns.core.clock import now_iso
from tui_sns.core.display import safe_line
from tui_sns.core.errors import InvalidInput, UnknownName
from tui_sns.core.messages import (
    MAX_EDIT_LC,
    MAX_TITLE,
    DeleteMessage,
    EditMessage,
    PostMessage,
    entry_digest,
)
from tui_sns.core.outgoing import derived_expires, expires_unix, readers_of, send, split_readers
from tui_sns.core.timeline import TimelineFilter
from tui_sns.crypto.envelope import MAX_PAYLOAD, MAX_RECIPIENTS, slot_bucket
from tui_sns.crypto.thread import new_thread_key
from tui_sns.store import contacts as contact_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store import mailbox, synced
from tui_sns.store import posts as post_store
from tui_sns.store.errors import NotFound
from tui_sns.store.records import Contact, Post

if TYPE_CHECKING:
    from tui_sns.core.session import Session


@dataclass(frozen=True)
class Sealing:
    """How an entry travelled (design-v2 §7). Mine: ``readers`` in all, ``fallback`` of them got the
    v1 fallback (``not_forward_secret``: their names), ``held`` ones are not sealed yet (§10.4),
    ``elsewhere`` ones were sealed by another device of mine and how is not known here (an entry
    synced before its ``sealed`` map travelled); ``envelope_version`` 2 when any got v2, None when
    no reader's version is known here. Received: ``envelope_version`` of the envelope it arrived in."""

    envelope_version: int | None
    fallback: int
    not_forward_secret: tuple[str, ...]
    readers: int
    held: tuple[str, ...] = ()
    elsewhere: tuple[str, ...] = ()

    @property
    def forward_secret(self) -> bool | None:
        """True when every reader got v2; False when one got the v1 fallback; None when that is not
        known here (some readers sealed on another device, none known to have got v1)."""
        if self.not_forward_secret:
            return False
        if self.elsewhere or self.envelope_version is None:
            return None
        return self.envelope_version == 2


def names_list(names: list[str]) -> str:
    return ", ".join(names)


def _why_not(names: list[str]) -> str:
    """Why readers get the v1 fallback, in words (never "v1"): their app sent no current key."""
    return (
        "their app has not sent a current key"
        if len(names) == 1
        else "their apps have not sent a current key"
    )


def not_forward_secret_sentence(names: list[str]) -> str:
    """The composer's line, which ``post`` prints too (design-v2 §7): "Not forward-secret for Kenji
    yet — their app has not sent a current key."."""
    return f"Not forward-secret for {names_list(names)} yet — {_why_not(names)}."


def _and_list(names: list[str]) -> str:
    """Names in words: "Lee", "Lee and Kenji", "Lee, Kenji and Mio"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def reads_when_synced_sentence(names: list[str], device: str | None) -> str:
    """The line said when my v1 sender device, not this one, seals for these readers (design-v2 §7):
    "Lee reads this when your device 'desktop' next syncs." / "Lee and Kenji read this …"; with no
    device name known, "… when your other device next syncs.". ``names`` (at least one) and ``device``
    come out as :func:`~tui_sns.core.display.safe_line` shows them."""
    shown = [safe_line(n) for n in names]
    verb = "reads" if len(shown) == 1 else "read"
    where = f"your device '{safe_line(device)}'" if device else "your other device"
    return f"{_and_list(shown)} {verb} this when {where} next syncs."


def sealing_sentence(post: Post, sealing: Sealing) -> str | None:
    """``show``'s line about forward secrecy, or None (an only-me entry). Mine: one clause per kind
    of reader, nothing said of what is not known here: "Sealed forward-secret to 8 readers; not
    forward-secret for Kenji, Lee: their apps have not sent a current key; held for Mio (not sealed
    yet); sealed to Rui on another of your devices."."""
    if post.mine:
        if sealing.readers == 0:
            return None
        fs = sealing.readers - len(sealing.not_forward_secret) - len(sealing.held) - len(sealing.elsewhere)
        parts = []
        if fs:
            parts.append(f"sealed forward-secret to {fs} reader{'s' if fs != 1 else ''}")
        if sealing.not_forward_secret:
            fallback = list(sealing.not_forward_secret)
            parts.append(f"not forward-secret for {names_list(fallback)}: {_why_not(fallback)}")
        if sealing.held:
            parts.append(f"held for {names_list(list(sealing.held))} (not sealed yet)")
        if sealing.elsewhere:
            parts.append(f"sealed to {names_list(list(sealing.elsewhere))} on another of your devices")
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "."
    if sealing.envelope_version == 1:
        return f"This entry reached you without forward secrecy ({post.author}'s app is older)."
    return None


def sealing_json(post: Post, sealing: Sealing) -> dict[str, object]:
    """``show --json``'s forward-secrecy fields (design-v2 §7): ``envelope_version`` (1 or 2; None for
    an only-me entry, which is never sealed, and for mine when no reader's version is known on this
    device), ``forward_secret`` (bool; None for only-me, or when some readers were sealed on another
    device and none is known to have got the v1 fallback) and ``not_forward_secret`` (my readers who
    got the v1 fallback, by name; [] otherwise). Mine also: ``held`` (readers not sealed to yet) and
    ``sealed_elsewhere`` (readers another device of mine sealed to, how not known here)."""
    if post.mine and sealing.readers == 0:
        return {"envelope_version": None, "forward_secret": None, "not_forward_secret": []}
    out: dict[str, object] = {
        "envelope_version": sealing.envelope_version,
        "forward_secret": sealing.forward_secret,
        "not_forward_secret": list(sealing.not_forward_secret) if post.mine else [],
    }
    if post.mine:
        out.update(held=list(sealing.held), sealed_elsewhere=list(sealing.elsewhere))
    return out


@dataclass(frozen=True)
class PostResult:
    id: str
    audience: Audience
    envelope_id: str | None  # None: the entry stays on this device (only me)
    held: tuple[str, ...] = ()  # readers it is held for (a prekey conflict, design-v2 §10.4): names


def missing_warning(name: str, count: int) -> str:
    """The withholding warning, e.g. "2 entries from Alice have not arrived"."""
    if count == 1:
        return f"1 entry from {name} has not arrived"
    return f"{count} entries from {name} have not arrived"


def post_json(post: Post) -> dict[str, object]:
    """The entry as JSON; "claimed" (its author's claimed time) only when it differs from "created"."""
    out: dict[str, object] = {
        "id": post.id,
        "author": "me" if post.mine else post.author,
        "title": post.title,
        "body": post.body,
        "created": post.created,
        "audience": post.audience,
        "unread": post.unread,
    }
    if post.claimed is not None:
        out["claimed"] = post.claimed
    return out


def _encoded_size(text: str) -> int:
    """Bytes ``text`` takes inside the JSON payload (UTF-8; quotes, backslashes and control
    characters escaped), without its surrounding quotes."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def check_fits(payload: bytes, title: str, body: str) -> None:
    """Raise InvalidInput, in terms of what the person typed, if ``payload`` (an entry or an edit
    carrying ``title`` and ``body``) exceeds ``MAX_PAYLOAD`` bytes: how many characters they wrote,
    the bytes these take once encoded, and about how many characters of this very text fit (a
    line break, tab, quote or backslash takes 2 bytes, most non-Latin letters 3, an emoji 4)."""
    if len(payload) <= MAX_PAYLOAD:
        return
    chars = len(title) + len(body)
    text_bytes = _encoded_size(title) + _encoded_size(body)
    room = MAX_PAYLOAD - (len(payload) - text_bytes)  # what the envelope leaves for the text
    fit = max(0, room * chars // max(1, text_bytes))
    raise InvalidInput(
        f"the entry is too long: its {chars:,} characters take {text_bytes:,} bytes once encoded "
        f"(line breaks, tabs and quotes take 2 bytes each, most non-Latin letters 3, emoji 4) and an "
        f"entry holds {room:,}: about {fit:,} characters of this text fit. Split it into two entries."
    )


def _take(pages: Iterator[list[Post]], limit: int | None) -> Iterator[Post]:
    """The entries of ``pages`` in order, stopping after ``limit`` (None: all); no page is read
    after the last one needed."""
    left = limit
    for page in pages:
        for post in page:
            yield post
            if left is not None:
                left -= 1
                if left <= 0:
                    return


class Diary:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def audience(self, names: list[str]) -> Audience:
        return resolve(self.session, names)

    def post(
        self, body: str, *, title: str = "", to: list[str] | None = None, expires: timedelta | None = None
    ) -> PostResult:
        """Seal a new entry to exactly ``to`` (circles and contacts). No ``to``: readable by me alone.

        ``expires``: every reader's client deletes the entry (and its comments) after that long, and
        relays drop its envelope then. Blocked contacts cannot be named in ``to``.
        """
        self.session.resets.check_can_write()  # design-v2 §10: not on a device a reset left out
        if expires is not None and expires <= timedelta(0):
            raise InvalidInput("an expiry must be in the future")
        if not body.strip() and not title.strip():
            raise InvalidInput("an entry needs a title or a body")
        if len(title) > MAX_TITLE:
            raise InvalidInput(f"the title is longer than {MAX_TITLE} characters")
        audience = self.audience(list(to or []))
        if len(audience.readers) > MAX_RECIPIENTS:
            raise InvalidInput(f"at most {MAX_RECIPIENTS} people can read one entry")
        created = now_iso()
        remote_id = os.urandom(8).hex()
        thread_key = new_thread_key()
        expires_at = None
        if expires is not None:
            expires_at = (datetime.fromisoformat(created) + expires).astimezone(UTC).isoformat()
        payload = PostMessage(remote_id, title, body, created, thread_key.hex(), expires_at).encode()
        if not audience.only_me:
            check_fits(payload, title, body)  # the limit, in terms of what was typed
        # One transaction: the chain positions are read, the envelope sealed and queued, the chains
        # advanced and the entry stored together (outgoing.send), so no other send can take the same
        # sequence numbers in between.
        if not audience.only_me and self.session.epochs.require_forward_secrecy:
            self.check_forward_secret(audience.readers)
        from tui_sns.core.outgoing import conflicted

        held = conflicted(self.session, audience.readers)
        with self.store.write():
            # the entry op first: a v1-send op the send below may hand to my v1 sender then finds the
            # entry there, and the v1 sender can tell my devices how it sealed it (Devices.entry_sealed)
            self._sync(
                remote_id,
                title=title,
                body=body,
                created=created,
                audience=audience.as_json(),
                readers=sorted(c.public_key.hex() for c in audience.readers),
                thread=thread_key.hex(),
                expires=expires_at,
                deleted=False,
            )
            sealed = None
            if not audience.only_me:
                sealed = send(self.session, audience.readers, payload, expires=expires_unix(expires_at))
            envelope_id = None if sealed is None else sealed.id
            post_store.insert_post(
                self.store,
                post_id=remote_id,
                remote_id=remote_id,
                author_id=None,
                title=title,
                body=body,
                created=created,
                received=created,
                audience=audience.as_json(),
                readers=[(c.id, c.name) for c in audience.readers],
                envelope_id=envelope_id,
                thread_key=thread_key,
                expires=expires_at,
                digest=entry_digest(remote_id, title, body),
                circle_ids=[self.session.circles.get(name).id for name in audience.circles],
                direct={c.id for c in audience.readers if c.name in audience.contacts},
            )
            if sealed is not None:
                by_key = {c.public_key: c.id for c in audience.readers}
                epoch_store.set_sealed_versions(
                    self.store,
                    remote_id,
                    {by_key[k]: v for k, v in sealed.versions.items()},
                    len(sealed.fallback),
                )
            if held:  # design-v2 §10.4: not sealed to them yet
                from tui_sns.store import resets as reset_store

                reset_store.mark_held(
                    self.store, remote_id, [c.id for c in audience.readers if c.public_key in held]
                )
            if not audience.only_me:  # how each reader got it (0 held, 1 v1 or handed over, 2 v2)
                with self.store.write() as conn:
                    self._sync(remote_id, sealed=epoch_store.sealed_map(conn, remote_id))
        return PostResult(
            remote_id, audience, envelope_id, tuple(c.name for c in audience.readers if c.public_key in held)
        )

    def _sync(self, remote_id: str, **fields: object) -> None:
        """Record a change of my entry for my other devices (design-v2 §8.3 ``entry``)."""
        self.session.devices.record("entry", {"id": remote_id}, fields)

    def not_forward_secret(self, readers: Iterable[Contact]) -> list[str]:
        """Names of the readers an entry sealed now would reach without forward secrecy (the v1
        fallback, design-v2 §7): no usable prekey of theirs is held. Blocked readers are skipped."""
        readers = [c for c in readers if not c.blocked]
        _, fallback = split_readers(self.session, readers)
        return [c.name for c in fallback]

    def handed_over_sentence(self, names: Iterable[str]) -> str | None:
        """What the composer and ``post`` add when these fallback readers (names from
        :meth:`not_forward_secret` or :attr:`Sealing.not_forward_secret`) are sealed by my v1 sender,
        another device (design-v2 §7): :func:`reads_when_synced_sentence`; None when this device is
        the v1 sender or ``names`` is empty."""
        names = list(names)
        devices = self.session.devices
        if not names or devices.is_v1_sender():
            return None
        return reads_when_synced_sentence(names, devices.v1_sender_name())

    def check_forward_secret(self, readers: Iterable[Contact]) -> None:
        """InvalidInput naming the readers without forward secrecy (``require_forward_secrecy``)."""
        names = self.not_forward_secret(readers)
        if names:
            raise InvalidInput(not_forward_secret_sentence(names) + " (require_forward_secrecy is on)")

    def sealing(self, post_id: str) -> Sealing:
        """How my entry ``post_id`` was sealed, or how a received one arrived (design-v2 §7)."""
        version, fallback, readers = epoch_store.sealed_versions(self.store, post_id)
        known = any(v > 0 for _, v in readers)
        return Sealing(
            version if known or not readers else None,
            fallback,
            tuple(name for name, v in readers if v == 1),
            len(readers),
            held=tuple(name for name, v in readers if v == 0),
            elsewhere=tuple(name for name, v in readers if v == epoch_store.SEALED_UNKNOWN),
        )

    def timeline(
        self,
        view: TimelineFilter | None = None,
        *,
        circle: str | None = None,
        only_me: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Post]:
        """Entries newest first, shown by ``view`` (or the keyword form ``circle=`` / ``only_me=``).
        Raises ``UnknownName`` for a circle that does not exist."""
        view = view or TimelineFilter.of(circle, only_me)
        if view.circle_name is not None and not self.session.circles.exists(view.circle_name):
            raise UnknownName(f"no circle named {view.circle_name!r}")
        self.purge_expired()
        posts = post_store.timeline(
            self.store, circle=view.circle_name, only_mine_private=view.only_me, limit=limit, offset=offset
        )
        if self.store.read_only:  # nothing could be purged: at least show no expired entry
            now = clock.now().isoformat()
            posts = [p for p in posts if p.expires is None or p.expires > now]
        return posts

    def iter_timeline(
        self,
        view: TimelineFilter | None = None,
        *,
        circle: str | None = None,
        only_me: bool = False,
        before: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Post]:
        """Entries newest first (as :meth:`timeline`), read from the store in keyset pages of
        ``post_store.PAGE_SIZE`` while the caller consumes them: memory stays flat in the store's size.

        ``before``: an entry id (or a unique prefix of at least 4 characters); only entries older than
        it in the timeline order follow. ``limit``: at most that many entries (at least 1).
        Raises, before anything is read: ``UnknownName`` for a circle that does not exist or an unknown
        or ambiguous ``before``; ``InvalidInput`` for a ``limit`` below 1."""
        view = view or TimelineFilter.of(circle, only_me)
        if view.circle_name is not None and not self.session.circles.exists(view.circle_name):
            raise UnknownName(f"no circle named {view.circle_name!r}")
        if limit is not None and limit < 1:
            raise InvalidInput(f"--limit must be at least 1, not {limit}")
        self.purge_expired()
        key = None
        if before is not None:
            try:
                key = post_store.timeline_key(self.store, before)
            except NotFound as exc:
                raise UnknownName(str(exc)) from exc
        pages = post_store.timeline_pages(
            self.store,
            circle=view.circle_name,
            only_mine_private=view.only_me,
            before=key,
            page_size=min(limit, post_store.PAGE_SIZE) if limit is not None else post_store.PAGE_SIZE,
        )
        return _take(pages, limit)

    def count(
        self, view: TimelineFilter | None = None, *, circle: str | None = None, only_me: bool = False
    ) -> int:
        view = view or TimelineFilter.of(circle, only_me)
        return post_store.count_posts(self.store, circle=view.circle_name, only_mine_private=view.only_me)

    def search(
        self,
        query: str,
        view: TimelineFilter | None = None,
        *,
        circle: str | None = None,
        only_me: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Post]:
        """Entries whose title, body or visible comments hold every word of ``query`` (the last word
        also as a prefix; case and accents ignored), newest first, shown by ``view`` as in
        :meth:`timeline`. The index is a table of the encrypted store (SQLite FTS5): it never leaves
        SQLCipher. A query without a word finds nothing. Raises ``UnknownName`` for a circle that
        does not exist."""
        view = view or TimelineFilter.of(circle, only_me)
        if view.circle_name is not None and not self.session.circles.exists(view.circle_name):
            raise UnknownName(f"no circle named {view.circle_name!r}")
        self.purge_expired()
        return post_store.search(
            self.store,
            query,
            circle=view.circle_name,
            only_mine_private=view.only_me,
            limit=limit,
            offset=offset,
        )

    def search_count(
        self,
        query: str,
        view: TimelineFilter | None = None,
        *,
        circle: str | None = None,
        only_me: bool = False,
    ) -> int:
        """How many entries :meth:`search` finds with the same arguments."""
        view = view or TimelineFilter.of(circle, only_me)
        return post_store.search_count(
            self.store, query, circle=view.circle_name, only_mine_private=view.only_me
        )

    def unread(
        self, view: TimelineFilter | None = None, *, circle: str | None = None, only_me: bool = False
    ) -> int:
        """How many entries ``count`` counts with the same filter are unread (received, not shown)."""
        view = view or TimelineFilter.of(circle, only_me)
        return post_store.unread_count(self.store, circle=view.circle_name, only_mine_private=view.only_me)

    def unread_ids(
        self, view: TimelineFilter | None = None, *, circle: str | None = None, only_me: bool = False
    ) -> list[str]:
        view = view or TimelineFilter.of(circle, only_me)
        return post_store.unread_ids(self.store, circle=view.circle_name, only_mine_private=view.only_me)

    def position(self, post_id: str, view: TimelineFilter | None = None) -> int | None:
        """The row (0: newest) of entry ``post_id`` in ``view``'s timeline, or None if it is not there
        (deleted, or not shown by the filter). Lets a timeline keep its selection on the same entry when
        entries arrive or go."""
        view = view or TimelineFilter()
        return post_store.position(
            self.store, post_id, circle=view.circle_name, only_mine_private=view.only_me
        )

    def mark_read(self, ids: Iterable[str]) -> int:
        """Mark entries read (one transaction; no write at all when none is unread). Returns how many
        changed; 0 on a store opened read-only (reading it must not fail for want of a write)."""
        if self.store.read_only:
            return 0
        ids = list(ids)
        keys = synced.unread_keys(self.store, ids)
        if not keys:
            return 0
        with self.store.write():
            changed = post_store.mark_read(self.store, ids)
            for author, remote_id in keys:  # my other devices mark them read too (§8.3 ``read``)
                self.session.devices.record("read", {"author": author.hex(), "id": remote_id}, {"read": True})
        return changed

    def mark_all_read(
        self, view: TimelineFilter | None = None, *, circle: str | None = None, only_me: bool = False
    ) -> int:
        """Mark every unread entry ``view`` shows read (one transaction). Returns how many changed."""
        return self.mark_read(self.unread_ids(view, circle=circle, only_me=only_me))

    def get(self, post_id: str) -> Post:
        self.purge_expired()
        try:
            return post_store.get_post(self.store, post_id)
        except NotFound as exc:
            raise UnknownName(str(exc)) from exc

    def missing(self) -> list[tuple[str, int]]:
        """(contact name, how many of their envelopes to me have not arrived)."""
        return mailbox.missing_counts(self.store)

    def chain_breaks(self) -> list[tuple[str, int]]:
        """(contact name, seq) whose envelope does not follow on from the one before it."""
        return mailbox.chain_breaks(self.store)

    # -- edit, delete, expiry ---------------------------------------------------------------

    def send_derived(self, post_id: str, payload: bytes, *, without: bytes | None = None) -> None:
        """Send ``payload``, derived from my entry ``post_id``, to its current readers: sealed with the
        entry's own slot count and a coarse relay retention of its own (docs/threat-model.md)."""
        send(
            self.session,
            readers_of(self.session, post_id, without=without),
            payload,
            expires=derived_expires(),
            target=post_id,
            min_slots=slot_bucket(post_store.sealed_reader_count(self.store, post_id) + 1),
        )

    def _mine(self, post_id: str) -> Post:
        post = self.get(post_id)
        if not post.mine:
            raise InvalidInput("only the author can edit an entry")
        return post

    def edit(self, post_id: str, *, title: str | None = None, body: str | None = None) -> Post:
        """Change my entry's title and/or body, for me and for the entry's readers (same audience)."""
        post = self._mine(post_id)
        self.session.resets.check_can_write()  # design-v2 §10: not on a device a reset left out
        new_title = post.title if title is None else title
        new_body = post.body if body is None else body
        if not new_body.strip() and not new_title.strip():
            raise InvalidInput("an entry needs a title or a body")
        if len(new_title) > MAX_TITLE:
            raise InvalidInput(f"the title is longer than {MAX_TITLE} characters")
        edited = now_iso()
        remote_id = post_store.post_meta(self.store, post.id)[0]
        if post.readers:  # only an edit that travels is bounded by the envelope
            check_fits(EditMessage(remote_id, new_title, new_body, edited).encode(), new_title, new_body)
        with self.store.write():
            post_store.update_post(self.store, post.id, new_title, new_body, edited)
            post_store.add_version(self.store, post.id, entry_digest(remote_id, new_title, new_body))
            # the edit's Lamport time is its op's: readers and my other devices order edits alike (§8.4)
            op = self.session.devices.record(
                "entry", {"id": remote_id}, {"title": new_title, "body": new_body, "edited": edited}
            )
            lc = int(op["t"][0])
            payload = EditMessage(remote_id, new_title, new_body, edited, lc if lc <= MAX_EDIT_LC else None)
            self.send_derived(post.id, payload.encode())
        return self.get(post.id)

    def delete(self, post_id: str) -> None:
        """Delete an entry. Mine: for every reader too (their clients delete it). Someone else's: from
        this device only. Copies taken before cannot be recalled (docs/threat-model.md)."""
        post = self.get(post_id)
        with self.store.write():
            if post.mine:
                remote_id = post_store.post_meta(self.store, post.id)[0]
                # The deletion is not tied to the entry in the outbox: it must still go out.
                send(
                    self.session,
                    readers_of(self.session, post.id),
                    DeleteMessage(remote_id).encode(),
                    expires=derived_expires(),
                    min_slots=slot_bucket(post_store.sealed_reader_count(self.store, post.id) + 1),
                )
                # a tombstone under my own key: a late ``entry`` op from a sibling cannot bring it back
                post_store.add_tombstone(self.store, self.session.identity.public, remote_id, now_iso())
                self._sync(remote_id, deleted=True)
            else:
                # A tombstone, so its late edits, forwards and hides are not kept waiting for it.
                remote_id, author_id, _, _ = post_store.post_meta(self.store, post.id)
                author = next((c for c in contact_store.list_contacts(self.store) if c.id == author_id), None)
                if author is not None:
                    post_store.add_tombstone(self.store, author.public_key, remote_id, now_iso())
            post_store.delete_post(self.store, post.id)

    def purge_expired(self) -> int:
        """Delete every expired entry (with its comments) and expired outbox envelopes. Cheap when
        nothing expired (an indexed read, no write). Returns how many entries were deleted; 0 on a
        store opened read-only (which cannot delete)."""
        if self.store.read_only:
            return 0
        now = clock.now()
        return post_store.purge_expired(self.store, now.isoformat(), int(now.timestamp()))
