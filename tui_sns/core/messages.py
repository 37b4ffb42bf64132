"""What travels inside an envelope: one JSON object (docs/protocol.md, "Payloads" and
"Conversations and defenses"). One typed dataclass per ``type``; :func:`decode_message` returns None
for anything unknown or malformed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tui_sns.crypto.card import MAX_CARD_CHARS, check_relay_url
from tui_sns.crypto.errors import CardError

MAX_TITLE = 500
MAX_ID = 64
MAX_NOTE = 500  # characters of a contact request's note
MAX_LABEL = 100  # characters of a commenter's card name in a forward
MAX_COMMENT = 8000  # characters of a comment's body
EDIT_TIE_BITS = 24  # an edit's order: Lamport time, then 24 bits of the version's digest (one SQLite integer)
MAX_EDIT_LC = 2**38  # the Lamport time an edit may carry (its order stays within 63 bits)


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def normalize_time(text: str) -> str | None:
    """An ISO 8601 time with a zone, as UTC to the second (the store's form); None if unparseable."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    try:
        return when.astimezone(UTC).replace(microsecond=0).isoformat()
    except OverflowError:  # "0001-01-01T00:00:00+23:59": its UTC form is before year 1
        return None


@dataclass(frozen=True)
class PostMessage:
    remote_id: str
    title: str
    body: str
    created: str
    thread: str | None = None  # hex of the entry's 32-byte thread key (comments)
    expires: str | None = None  # ISO 8601 UTC: every reader deletes the entry after this

    def encode(self) -> bytes:
        obj: dict[str, Any] = {
            "type": "post",
            "id": self.remote_id,
            "title": self.title,
            "body": self.body,
            "created": self.created,
        }
        if self.thread is not None:
            obj["thread"] = self.thread
        if self.expires is not None:
            obj["expires"] = self.expires
        return _encode(obj)

    @property
    def thread_key(self) -> bytes | None:
        return None if self.thread is None else bytes.fromhex(self.thread)


@dataclass(frozen=True)
class EditMessage:
    """The author replaces an entry's title and body."""

    remote_id: str
    title: str
    body: str
    edited: str
    lc: int | None = None  # the author's Lamport time (design-v2 §8.4): orders edits from several devices

    def encode(self) -> bytes:
        fields: dict[str, object] = {
            "type": "edit",
            "id": self.remote_id,
            "title": self.title,
            "body": self.body,
            "edited": self.edited,
        }
        if self.lc is not None:
            fields["lc"] = self.lc
        return _encode(fields)

    def order(self, seq: int) -> int:
        """Where this edit stands among the entry's edits (the higher applies): with ``lc``, Lamport
        time then the version's digest, the same for every reader and every device of the author
        (design-v2 §8.4); without (an older client), the author's chain sequence ``seq``."""
        if self.lc is None:
            return seq
        digest = entry_digest(self.remote_id, self.title, self.body)
        return (self.lc << EDIT_TIE_BITS) | int.from_bytes(digest[:3], "big")


@dataclass(frozen=True)
class DeleteMessage:
    """The author deletes an entry."""

    remote_id: str

    def encode(self) -> bytes:
        return _encode({"type": "delete", "id": self.remote_id})


@dataclass(frozen=True)
class CommentMessage:
    """A reader's comment, to the entry's author only; ``inner`` is sealed under the thread key."""

    post: str  # the author's remote id of the entry
    inner: bytes

    def encode(self) -> bytes:
        return _encode({"type": "comment", "post": self.post, "inner": base64.b64encode(self.inner).decode()})


@dataclass(frozen=True)
class ThreadMessage:
    """The author forwards a comment (the same ``inner``) to the entry's other readers."""

    post: str
    comment_id: str
    by: str  # the commenter's card name, as the author knows it
    by_key: bytes  # the commenter's public key
    inner: bytes

    def encode(self) -> bytes:
        return _encode(
            {
                "type": "thread",
                "post": self.post,
                "comment_id": self.comment_id,
                "by": self.by,
                "by_key": self.by_key.hex(),
                "inner": base64.b64encode(self.inner).decode(),
            }
        )


@dataclass(frozen=True)
class HideMessage:
    """The author hides a comment for everyone in the audience."""

    post: str
    comment_id: str

    def encode(self) -> bytes:
        return _encode({"type": "hide", "post": self.post, "comment_id": self.comment_id})


@dataclass(frozen=True)
class UncommentMessage:
    """A commenter deletes their own comment (to the entry's author, who forwards a hide)."""

    post: str
    comment_id: str

    def encode(self) -> bytes:
        return _encode({"type": "uncomment", "post": self.post, "comment_id": self.comment_id})


@dataclass(frozen=True)
class RequestMessage:
    """A contact request from someone who is not (yet) the recipient's contact."""

    card: str
    note: str

    def encode(self) -> bytes:
        return _encode({"type": "request", "card": self.card, "note": self.note})


MAX_ROUTES = 16  # relays one routes message may name (as announce.routes, docs/design-v2.md §6.1)
MAX_SEED = 65535


@dataclass(frozen=True)
class RoutesMessage:
    """My shard seed on relays I read (docs/design-sharding.md §3.1): ``routes`` is (relay URL, seed
    0..65535, or None: forget my seed there), at most ``MAX_ROUTES``, no relay twice."""

    routes: tuple[tuple[str, int | None], ...]

    def encode(self) -> bytes:
        items: list[dict[str, Any]] = []
        for relay, seed in self.routes:
            items.append({"relay": relay} if seed is None else {"relay": relay, "shard": seed})
        return _encode({"type": "routes", "routes": items})


def _decode_routes(obj: dict[str, Any]) -> RoutesMessage | None:
    """``{"type":"routes","routes":[{"relay":url,"shard":u}, ...]}``: 1..16 objects, each URL a valid
    relay URL (stored without a trailing slash), no relay twice, ``shard`` a JSON integer 0..65535
    or absent. Anything else: None (the whole message is refused)."""
    items = obj.get("routes")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ROUTES:
        return None
    routes: dict[str, int | None] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        relay, seed = item.get("relay"), item.get("shard")
        try:
            url = check_relay_url(relay) if isinstance(relay, str) else None
        except CardError:
            return None
        if url is None or url in routes:
            return None
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
        ):
            return None
        routes[url] = seed
    return RoutesMessage(tuple(routes.items()))


ENTRY_DIGEST_BYTES = 16


def entry_digest(remote_id: str, title: str, body: str) -> bytes:
    """16-byte BLAKE2b (person "tuisns1-entry") of one version of an entry as its reader holds it:
    a comment names the version its writer saw (docs/protocol.md, "Thread keys and comments")."""
    data = _encode({"id": remote_id, "title": title, "body": body})
    return hashlib.blake2b(data, digest_size=ENTRY_DIGEST_BYTES, person=b"tuisns1-entry").digest()


@dataclass(frozen=True)
class CommentBody:
    """The plaintext sealed under the thread key (crypto/thread.py). ``entry``: hex of the
    :func:`entry_digest` of the entry as the commenter saw it (absent from older versions)."""

    comment_id: str
    body: str
    created: str
    entry: str | None = None

    def encode(self) -> bytes:
        obj = {"comment_id": self.comment_id, "body": self.body, "created": self.created}
        if self.entry is not None:
            obj["entry"] = self.entry
        return _encode(obj)

    @property
    def entry_digest(self) -> bytes | None:
        return None if self.entry is None else bytes.fromhex(self.entry)


Message = (
    PostMessage
    | EditMessage
    | DeleteMessage
    | CommentMessage
    | ThreadMessage
    | HideMessage
    | UncommentMessage
    | RequestMessage
    | RoutesMessage
)


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        obj: Any = json.loads(payload.decode("utf-8"))
        # a "\ud800" escape decodes to a lone surrogate, which no store or terminal can take: refused
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError, ValueError, RecursionError):  # (deep nesting)
        return None
    return obj if isinstance(obj, dict) else None


def _strs(obj: dict[str, Any], *keys: str) -> list[str] | None:
    values = [obj.get(k) for k in keys]
    if not all(isinstance(v, str) for v in values):
        return None
    return [str(v) for v in values]


def _id_ok(text: str) -> bool:
    return 1 <= len(text) <= MAX_ID


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_comment_body(plaintext: bytes) -> CommentBody | None:
    obj = _json_object(plaintext)
    fields = None if obj is None else _strs(obj, "comment_id", "body", "created")
    if fields is None:
        return None
    comment_id, body, created = fields
    created_n = normalize_time(created)
    if not _id_ok(comment_id) or len(body) > MAX_COMMENT or not body.strip() or created_n is None:
        return None
    entry = obj.get("entry") if obj is not None else None
    if entry is not None:
        if not isinstance(entry, str) or len(entry) != 2 * ENTRY_DIGEST_BYTES:
            return None
        try:
            bytes.fromhex(entry)
        except ValueError:
            return None
        entry = entry.lower()
    return CommentBody(comment_id, body, created_n, entry)


def _decode_post(obj: dict[str, Any]) -> PostMessage | None:
    fields = _strs(obj, "id", "title", "body", "created")
    if fields is None:
        return None
    remote_id, title, body, created = fields
    if not _id_ok(remote_id) or len(title) > MAX_TITLE:
        return None
    thread, expires = obj.get("thread"), obj.get("expires")
    if thread is not None:
        if not isinstance(thread, str) or len(thread) != 64:
            return None
        try:
            bytes.fromhex(thread)
        except ValueError:
            return None
        thread = thread.lower()
    if expires is not None:
        expires = normalize_time(expires) if isinstance(expires, str) else None
        if expires is None:
            return None
    return PostMessage(remote_id, title, body, created, thread, expires)


def _decode_other(kind: object, obj: dict[str, Any]) -> Message | None:
    if kind == "edit":
        f = _strs(obj, "id", "title", "body", "edited")
        if f is None or not _id_ok(f[0]) or len(f[1]) > MAX_TITLE:
            return None
        edited = normalize_time(f[3])
        lc = obj.get("lc")
        if lc is not None and (type(lc) is not int or not 0 < lc <= MAX_EDIT_LC):
            return None
        return None if edited is None else EditMessage(f[0], f[1], f[2], edited, lc)
    if kind == "delete":
        f = _strs(obj, "id")
        return None if f is None or not _id_ok(f[0]) else DeleteMessage(f[0])
    if kind in ("hide", "uncomment"):
        f = _strs(obj, "post", "comment_id")
        if f is None or not (_id_ok(f[0]) and _id_ok(f[1])):
            return None
        return HideMessage(f[0], f[1]) if kind == "hide" else UncommentMessage(f[0], f[1])
    if kind == "comment":
        f = _strs(obj, "post", "inner")
        inner = None if f is None else _b64(f[1])
        if f is None or inner is None or not _id_ok(f[0]):
            return None
        return CommentMessage(f[0], inner)
    if kind == "thread":
        f = _strs(obj, "post", "comment_id", "by", "by_key", "inner")
        if f is None or not (_id_ok(f[0]) and _id_ok(f[1])) or not 1 <= len(f[2]) <= MAX_LABEL:
            return None
        inner = _b64(f[4])
        try:
            by_key = bytes.fromhex(f[3])
        except ValueError:
            return None
        if inner is None or len(by_key) != 32:
            return None
        return ThreadMessage(f[0], f[1], f[2], by_key, inner)
    if kind == "request":
        f = _strs(obj, "card", "note")
        if f is None or len(f[0]) > MAX_CARD_CHARS or len(f[1]) > MAX_NOTE:  # (the card's own limit)
            return None
        return RequestMessage(f[0], f[1])
    if kind == "routes":
        return _decode_routes(obj)
    return None


def message_type(payload: bytes) -> str | None:
    """The ``type`` a payload claims (``"request"``, ``"post"``, ...), well-formed or not; None when it
    is not a JSON object with a string ``type``. Only for counting what was refused."""
    obj = _json_object(payload)
    kind = obj.get("type") if obj is not None else None
    return kind if isinstance(kind, str) else None


def decode_message(payload: bytes) -> Message | None:
    """None for anything that is not a well-formed message this version understands."""
    obj = _json_object(payload)
    if obj is None:
        return None
    kind = obj.get("type")
    if kind == "post":
        return _decode_post(obj)
    return _decode_other(kind, obj)
