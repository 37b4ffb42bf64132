"""Linked devices: this device, the device list, and the device-sync ops that keep every device of an
identity showing the same diary (docs/design-v2.md §8).

A change made on one device becomes an **op** ``{"o": kind, "t": [lamport, devid hex], <object id>,
<fields>}``; ops wait in ``sync_outbox`` until sealed into a ``sync`` payload
(``{"type":"sync","lc":…,"ops":[…]}``) for my other devices. Receiving ops merges them **last writer
wins per (object, field)**, comparing ``t`` as (lamport, devid): every device keeps the ``t`` of each
field it holds (``sync_clock``) and ignores a field whose ``t`` is not greater. Deletions are fields
too (``removed``, ``deleted``, ``in``), so a late op cannot resurrect what a later one removed. Ops
are idempotent; a snapshot is every object as ops with its stored ``t``. Lamport time: each op takes
``lc = lc + 1``; receiving sets ``lc = max(lc, t)`` (§8.4), ``t`` counted at most 2^52 there
(``store.devices.MAX_OBSERVED``: my next ops stay below the 2^53 my siblings accept).

Kinds applied here (§8.3): ``contact``, ``circle``, ``member``, ``draft``, ``read``, ``request``,
``device``, ``entry`` (my entries, only-me ones included), ``comment`` (my comments and hides),
``received`` (an entry I received, for snapshots), ``setting``, ``forwarded`` (a comment forward or a
hide was sent by a sibling), ``v1-send`` (a payload for my v1 readers, sealed by my v1 sender
device, §7), ``v1-chain`` (how far my v1 sender got on a v1 reader's chain) and ``relay`` (a relay I
joined or left: its URL, the credential it issued and my shard seed there), ``catchup`` (a sibling
lost envelopes: my snapshot answers). Unknown kinds are skipped and counted. An op on an object that is not here yet (a member of an unknown circle, the read state of
an entry not received yet, a field change before the object's creation) waits as a pending
operation (issue 10's table, under my own key) and is applied when its target arrives.

Hostile input from a sibling is still hostile: a payload is at most 64 KiB of JSON and 4096 ops,
every field is validated as the single-device API validates it, and an invalid op is skipped and
counted (never applied in part).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import json
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tui_sns.core.clock import now, now_iso
from tui_sns.core.errors import InvalidInput
from tui_sns.core.messages import MAX_COMMENT, MAX_ID, MAX_LABEL, MAX_TITLE, entry_digest, normalize_time
from tui_sns.core.names import MAX_NAME, check_display_name, check_name
from tui_sns.crypto.card import MAX_RELAY_URL_CHARS, MAX_RELAYS, check_relay_url, check_relay_urls
from tui_sns.crypto.envelope import MAX_BODY, MAX_RECIPIENTS, Sealed
from tui_sns.crypto.envelope import MAX_PAYLOAD as MAX_SEALED
from tui_sns.crypto.envelope_v2 import OpenedV2, SelfKey, seal_v2
from tui_sns.crypto.epochs import device_id
from tui_sns.crypto.errors import CardError, InvalidPublicKey
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import comments as comment_store
from tui_sns.store import contacts as contact_store
from tui_sns.store import devices as device_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store import mailbox, synced
from tui_sns.store import posts as post_store
from tui_sns.store import relays as relay_store
from tui_sns.store import requests as request_store
from tui_sns.store import routes as route_store
from tui_sns.store.database import Connection
from tui_sns.store.devices import DeviceRecord
from tui_sns.store.identity import get_meta

if TYPE_CHECKING:
    from tui_sns.core.session import Session

MERGED_FIELDS = frozenset({("entry", "sealed")})
"""Fields merged by value, not last writer wins (an entry's per-reader ``sealed`` map: highest version
wins per reader): they keep no clock, so a snapshot and an op carry them the same way."""
MAX_OPS = 4096  # per payload (§8.3)
MAX_PAYLOAD = MAX_BODY  # bytes of one sync payload's JSON
MAX_LAMPORT = 2**53  # a sibling cannot push the clock past what JSON numbers hold exactly
MAX_TEXT = 65536  # characters of an entry's or draft's body (the envelope bounds a sent one further)
MAX_READERS = 1023
MAX_AUDIENCE = 1024
MAX_PENDING_SYNC = 10_000  # ops waiting for their target, all my devices together
PENDING_SYNC_LIFETIME = timedelta(days=30)
COMPOSER = "composer"  # the composer's draft id on this device; "composer:<devid hex>" on the wire

KINDS = (
    "contact",
    "circle",
    "member",
    "draft",
    "read",
    "request",
    "device",
    "entry",
    "comment",
    "received",
    "setting",
    "forwarded",
    "v1-send",
    "v1-chain",
    "relay",
    "catchup",
)
LATER_KINDS: tuple[str, ...] = ()  # every kind of §8.3 is applied; unknown kinds are skipped and counted
CATCHUP_INTERVAL = timedelta(hours=1)  # a sibling answers one device's catch-up at most this often
FORWARD_DELAY = timedelta(hours=1)  # §8.3: a device that did not write the entry forwards after this
MAX_RELAYS_HELD = 32  # relays a sibling's relay ops may leave me with (a card names the first MAX_RELAYS)
MAX_CREDENTIAL = 256  # characters of a relay credential (printable ASCII, as the transport accepts)
MIN_SCHEDULE, MAX_SCHEDULE = 3600, 90 * 86400  # epoch_length / epoch_grace bounds (as Epochs.set_schedule)

_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")

# setting name → validator of its value (unknown names are skipped and counted, like unknown kinds)
SETTINGS: dict[str, Any] = {
    "epoch_length": lambda v: _int_in(v, MIN_SCHEDULE, MAX_SCHEDULE),
    "epoch_grace": lambda v: _int_in(v, MIN_SCHEDULE, MAX_SCHEDULE),
    "require_forward_secrecy": lambda v: _bool(v),
    "v1_sender": lambda v: None if v is None else _hex(v, _HEX16).hex(),
}

Stamp = tuple[int, bytes]  # (lamport, devid): an op's time, compared as a tuple


class BadOp(InvalidInput):
    """An op that fails validation: skipped and counted, never applied in part."""


@dataclass
class SyncReport:
    """What applying ops did: ``applied`` (ops that changed something or were already in force),
    ``stale`` (every field older than what is held), ``pending`` (waiting for their target),
    ``invalid`` (failed validation), ``skipped`` (kinds not applied: unknown or later steps, by kind),
    ``renamed`` (name collisions resolved locally: "Kenji" → "Kenji (2)")."""

    applied: int = 0
    stale: int = 0
    pending: int = 0
    invalid: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    rejected: str | None = None  # the whole payload was refused (too large, too many ops, not JSON)


@dataclass(frozen=True)
class DeviceView:
    """One device of my identity as ``devices list`` shows it."""

    name: str
    devid: str
    added: str
    last_seen: str | None
    this: bool
    removed: str | None  # when it was removed (ISO 8601 UTC), or None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "devid": self.devid,
            "added": self.added,
            "last_seen": self.last_seen,
            "this": self.this,
            "removed": self.removed,
        }


def default_device_name() -> str:
    """The host name, reduced to letters, digits, ``.``, ``-`` and ``_`` (at most 40), or "device"."""
    name = re.sub(r"[^A-Za-z0-9._-]", "", socket.gethostname())[:40]
    return name or "device"


# -- validation --------------------------------------------------------------------------------------


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise BadOp("not a boolean")
    return value


def _str(value: object, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise BadOp("not a string of the allowed length")
    return value


def _hex(value: object, pattern: re.Pattern[str]) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadOp("not hex of the right length")
    return bytes.fromhex(value)


def _time(value: object) -> str:
    text = _str(value, 64)
    normal = normalize_time(text)
    if normal is None:
        raise BadOp("not an ISO 8601 time with a zone")
    return normal


def _name(value: object, what: str) -> str:
    try:
        return check_name(_str(value, MAX_NAME), what)
    except InvalidInput as exc:
        raise BadOp(str(exc)) from exc


def _names(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_AUDIENCE:
        raise BadOp("not a list of names")
    return [_str(v, MAX_NAME) for v in value]


def _stamp(value: object) -> Stamp:
    if not isinstance(value, list) or len(value) != 2:
        raise BadOp("t is [lamport, devid]")
    lamport, devid = value
    if type(lamport) is not int or not 0 < lamport <= MAX_LAMPORT:
        raise BadOp("bad lamport time")
    return lamport, _hex(devid, _HEX16)


def _relays(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_RELAYS:
        raise BadOp(f"relays is a list of at most {MAX_RELAYS} URLs")
    out = []
    for url in value:
        try:
            check_relay_urls([_str(url, 2048)])  # (kept as written, as a card's: no white space around)
        except CardError as exc:
            raise BadOp(str(exc)) from exc
        out.append(url)
    return out


def _audience(value: object) -> dict[str, list[str]]:
    if not isinstance(value, dict) or set(value) - {"circles", "contacts"}:
        raise BadOp("audience is {circles, contacts}")
    return {"circles": _names(value.get("circles", [])), "contacts": _names(value.get("contacts", []))}


# per kind: the validator of each field (unknown fields are ignored, so newer devices may add some)
_FIELDS: dict[str, dict[str, Any]] = {
    "contact": {
        "name": lambda v: _name(v, "contact"),
        "card_name": lambda v: _display(v),
        "relays": _relays,
        "verified": _bool,
        "blocked": _bool,
        "muted": _bool,
        "removed": _bool,
    },
    "circle": {"name": lambda v: _name(v, "circle"), "deleted": _bool},
    "member": {"in": _bool},
    "draft": {
        "title": lambda v: _str(v, MAX_TITLE),
        "body": lambda v: _str(v, MAX_TEXT),
        "audience": _names,
        "deleted": _bool,
    },
    "read": {"read": _bool},
    "request": {"state": lambda v: _choice(v, ("accepted", "rejected"))},
    "device": {
        "key": lambda v: _hex(v, _HEX64),
        "name": lambda v: _display(v),
        "added": _time,
        "removed": lambda v: None if v is None else _time(v),
    },
    "comment": {
        "body": lambda v: _str(v, MAX_COMMENT),
        "created": _time,
        "by": lambda v: None if v is None else _hex(v, _HEX64),
        "label": lambda v: _label(v),
        "digest": lambda v: None if v is None else _hex(v, _HEX32),
        "hidden": _bool,
    },
    "received": {
        "title": lambda v: _str(v, MAX_TITLE),
        "body": lambda v: _str(v, MAX_TEXT),
        "created": _time,
        "received": _time,
        "thread": lambda v: None if v is None else _hex(v, _HEX64),
        "expires": lambda v: None if v is None else _time(v),
        "edited": lambda v: None if v is None else _time(v),
        "version": lambda v: _int_in(v, 1, 2),
        "deleted": _bool,
    },
    "setting": {"value": lambda v: _scalar(v)},
    "forwarded": {"sent": _bool, "hidden": _bool},
    "v1-send": {
        "payload": lambda v: _payload(v),
        "readers": lambda v: _v1_readers(v),
        "expires": lambda v: None if v is None else _int_in(v, 0, 2**40),
        "target": lambda v: None if v is None else _ident(v),
        "min_slots": lambda v: _int_in(v, 0, MAX_RECIPIENTS + 1),
    },
    "v1-chain": {"seq": lambda v: _int_in(v, 1, MAX_LAMPORT), "prev": lambda v: _hex(v, _HEX64)},
    "catchup": {"since": _time},
    "relay": {
        "credential": lambda v: _credential(v),
        "shard": lambda v: _int_in(v, 0, 0xFFFF),
        "removed": _bool,
    },
    "entry": {
        "title": lambda v: _str(v, MAX_TITLE),
        "body": lambda v: _str(v, MAX_TEXT),
        "created": _time,
        "audience": _audience,
        "readers": lambda v: _reader_keys(v),
        "sealed": lambda v: _sealed(v),
        "thread": lambda v: None if v is None else _hex(v, _HEX64).hex(),
        "expires": lambda v: None if v is None else _time(v),
        "edited": lambda v: None if v is None else _time(v),
        "deleted": _bool,
    },
}


def _int_in(value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise BadOp(f"an integer from {low} to {high}")
    return value


def _ident(value: object) -> str:
    """An entry's or comment's id: 1 to 64 printable characters."""
    text = _str(value, MAX_ID)
    if not text or not text.isprintable():
        raise BadOp("bad id")
    return text


def _label(value: object) -> str:
    try:
        return check_display_name(_str(value, MAX_LABEL), "commenter")
    except InvalidInput as exc:
        raise BadOp(str(exc)) from exc


def _scalar(value: object) -> object:
    """A setting's value before its name's own check: a boolean, an integer, null or a short string."""
    if value is None or type(value) in (bool, int) or (isinstance(value, str) and len(value) <= 64):
        return value
    raise BadOp("a setting's value is a scalar")


def _payload(value: object) -> bytes:
    """A ``v1-send`` payload: base64 of at most the envelope's payload limit."""
    text = _str(value, (MAX_SEALED + 2) // 3 * 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadOp("payload is base64") from exc
    if not data or len(data) > MAX_SEALED:
        raise BadOp("payload size")
    return data


def _credential(value: object) -> str:
    """A relay credential: 1 to 256 printable ASCII characters, no space (what a relay's redeem gives)."""
    text = _str(value, MAX_CREDENTIAL)
    if not text or any(not "!" <= ch <= "~" for ch in text):
        raise BadOp("not a relay credential")
    return text


def _relay_url(value: object) -> str:
    """A relay URL exactly as :func:`check_relay_url` returns it (so one relay is one object)."""
    text = _str(value, MAX_RELAY_URL_CHARS)
    try:
        checked = check_relay_url(text)
    except CardError as exc:
        raise BadOp(str(exc)) from exc
    if checked != text:
        raise BadOp("a relay URL in its checked form")
    return text


def _display(value: object) -> str:
    try:
        return check_display_name(_str(value, MAX_NAME), "the")
    except InvalidInput as exc:
        raise BadOp(str(exc)) from exc


def _choice(value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BadOp(f"one of {choices}")
    return str(value)


def _sealed(value: object) -> dict[str, int]:
    """An entry's ``sealed`` map: reader key (64 hex) → 0 held, 1 v1 fallback, 2 v2; at most
    ``MAX_READERS`` readers, as the ``readers`` list."""
    if not isinstance(value, dict) or len(value) > MAX_READERS:
        raise BadOp("sealed maps reader keys to 0, 1 or 2")
    return {_hex(k, _HEX64).hex(): _int_in(v, 0, 2) for k, v in value.items()}


def _reader_keys(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_READERS:
        raise BadOp("readers is a list of keys")
    return [_hex(v, _HEX64).hex() for v in value]


def _v1_readers(value: object) -> list[bytes]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_RECIPIENTS:
        raise BadOp(f"readers is a list of 1 to {MAX_RECIPIENTS} keys")
    return [_hex(v, _HEX64) for v in value]


def _object_id(kind: str, op: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The op's object as (sync_clock object string, parsed id parts). BadOp if malformed."""
    if kind == "contact" or kind == "request":
        key = _hex(op.get("key"), _HEX64)
        return f"{kind}:{key.hex()}", (key,)
    if kind == "circle":
        uid = _hex(op.get("uid"), _HEX32)
        return f"circle:{uid.hex()}", (uid,)
    if kind == "member":
        uid, key = _hex(op.get("circle"), _HEX32), _hex(op.get("key"), _HEX64)
        return f"member:{uid.hex()}:{key.hex()}", (uid, key)
    if kind == "draft":
        draft_id = _str(op.get("id"), MAX_ID)
        if not draft_id or not draft_id.isprintable():
            raise BadOp("bad draft id")
        return f"draft:{draft_id}", (draft_id,)
    if kind == "read":
        key = _hex(op.get("author"), _HEX64)
        remote_id = _str(op.get("id"), MAX_ID)
        if not remote_id:
            raise BadOp("bad entry id")
        return f"read:{key.hex()}:{remote_id}", (key, remote_id)
    if kind == "device":
        devid = _hex(op.get("devid"), _HEX16)
        return f"device:{devid.hex()}", (devid,)
    if kind == "entry":
        remote_id = _str(op.get("id"), MAX_ID)
        if not remote_id or not remote_id.isprintable():
            raise BadOp("bad entry id")
        return f"entry:{remote_id}", (remote_id,)
    if kind == "comment":
        author, post, comment = _hex(op.get("author"), _HEX64), _ident(op.get("post")), _ident(op.get("id"))
        return f"comment:{author.hex()}:{post}:{comment}", (author, post, comment)
    if kind == "received":
        author, remote_id = _hex(op.get("author"), _HEX64), _ident(op.get("id"))
        return f"received:{author.hex()}:{remote_id}", (author, remote_id)
    if kind == "setting":
        name = op.get("name")
        if not isinstance(name, str) or len(name) > 32:
            raise BadOp("a setting has a name")
        if name not in SETTINGS:
            raise KeyError(f"setting:{name}")  # a newer device's setting: skipped and counted
        return f"setting:{name}", (name,)
    if kind == "forwarded":
        post, comment = _ident(op.get("post")), _ident(op.get("id"))
        return f"forwarded:{post}:{comment}", (post, comment)
    if kind == "v1-send":
        op_id = _hex(op.get("id"), _HEX32)
        return f"v1-send:{op_id.hex()}", (op_id,)
    if kind == "catchup":
        devid = _hex(op.get("devid"), _HEX16)
        return f"catchup:{devid.hex()}", (devid,)
    if kind == "v1-chain":
        key = _hex(op.get("key"), _HEX64)
        return f"v1-chain:{key.hex()}", (key,)
    if kind == "relay":
        url = _relay_url(op.get("url"))
        return f"relay:{url}", (url,)
    raise BadOp("unknown kind")


def parse_op(op: object) -> tuple[str, str, tuple[Any, ...], Stamp, dict[str, Any]]:
    """Validate one op: (kind, object, id parts, t, fields). BadOp for anything malformed; a kind
    outside :data:`KINDS` raises KeyError (the caller counts it as skipped)."""
    if not isinstance(op, dict):
        raise BadOp("an op is an object")
    kind = op.get("o")
    if not isinstance(kind, str) or len(kind) > 32:
        raise BadOp("an op names its kind")
    if kind not in _FIELDS:
        raise KeyError(kind)
    stamp = _stamp(op.get("t"))
    obj, ident = _object_id(kind, op)
    fields = {name: check(op[name]) for name, check in _FIELDS[kind].items() if name in op}
    if not fields:
        raise BadOp("an op changes at least one field")
    return kind, obj, ident, stamp, fields


class Devices:
    """This device and its siblings; recording local changes as ops and merging theirs."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store
        self._device: DeviceRecord | None = None

    # -- this device and the list --------------------------------------------------------------------

    def this_device(self, name: str | None = None, *, device_secret: bytes | None = None) -> DeviceRecord:
        """This device's row, made on first use: a random device key; ``devid`` and ``Kdevtag`` taken
        over from the stand-ins the v2-keys migration wrote (``meta``), else ``devid`` from the device
        key and a random ``Kdevtag``; name = ``name`` or the sanitised host name."""
        if self._device is not None:
            return self._device
        record = device_store.load_device(self.store)
        if record is None:
            secret = device_secret or os.urandom(32)
            public = x25519_base(secret)
            # a store migrated to v2 keys already sealed with stand-in ids: keep them (§15.1)
            devid, devtag_key = device_store.stand_in_ids(self.store) or (device_id(public), os.urandom(32))
            fresh = DeviceRecord(
                devid=devid,
                name=name or default_device_name(),
                secret_key=secret,
                public_key=public,
                devtag_key=devtag_key,
                lamport=0,
                created=now_iso(),
            )
            with self.store.write():
                device_store.create_device(self.store, fresh)
                record = device_store.load_device(self.store)
                assert record is not None
                # my siblings learn of me like of any change
                self._record_in(
                    "device",
                    {"devid": record.devid.hex()},
                    {
                        "key": record.public_key.hex(),
                        "name": record.name,
                        "added": record.created,
                        "removed": None,
                    },
                    record,
                )
        self._device = record
        return record

    @property
    def devid(self) -> bytes:
        return self.this_device().devid

    def list(self) -> builtins.list[DeviceView]:
        """Every device of my identity, this one included (made if needed), oldest first. ``last_seen``:
        a sibling's newest device-sync envelope opened here; this device's last sync that reached a
        relay (None: none yet)."""
        mine = self.this_device().devid
        synced_at = device_store.last_sync(self.store)  # this device: its last sync that reached a relay
        return [
            DeviceView(
                name=d.name,
                devid=d.devid.hex(),
                added=d.added,
                last_seen=_minute(synced_at if d.devid == mine else d.last_seen),
                this=d.devid == mine,
                removed=d.removed,
            )
            for d in device_store.list_devices(self.store)
        ]

    def lamport(self) -> int:
        return device_store.lamport(self.store)

    def add_device(self, devid: bytes, public_key: bytes, name: str) -> None:
        """List a newly linked device of mine (§9.3: after WELCOME), for me and my other devices."""
        self.this_device()
        added = now_iso()
        with self.store.write() as conn:
            if get_meta(self.store, "v1_sender") is None:  # the role stays where it is (§7), named
                self.set_setting("v1_sender", self.v1_sender().hex())
            device_store.put_device(conn, devid, public_key=public_key, name=name, added=added, removed=None)
            self.record(
                "device",
                {"devid": devid.hex()},
                {"key": public_key.hex(), "name": name, "added": added, "removed": None},
            )

    def observe(self, lamport: int) -> None:
        """``lc = max(lc, lamport)`` (a linked device starts from its sibling's Lamport time)."""
        self.this_device()
        with self.store.write() as conn:
            device_store.observe(conn, lamport)

    def set_setting(self, name: str, value: object) -> None:
        """Change a synced setting (:data:`SETTINGS`) here and on my other devices (a ``setting`` op).
        BadOp when the value is not valid for it."""
        value = SETTINGS[name](value)
        with self.store.write() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (name,))
            else:
                device_store.set_meta_values(conn, {name: _setting_text(value)})
            self.record("setting", {"name": name}, {"value": value})

    # -- recording my changes ------------------------------------------------------------------------

    def record(self, kind: str, ident: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """Record a change made on this device: one op of ``kind`` for the object ``ident`` with
        ``fields``, stamped ``(lc + 1, devid)``, its clocks set and the op queued for my siblings.
        Joins the caller's write transaction. Returns the op."""
        record = self.this_device()
        with self.store.write():
            return self._record_in(kind, ident, fields, record)

    def _record_in(
        self, kind: str, ident: dict[str, Any], fields: dict[str, Any], record: DeviceRecord
    ) -> dict[str, Any]:
        with self.store.write() as conn:
            lamport = device_store.tick(conn)
            if kind == "draft":  # whole-draft LWW: an autosave replaces the one not sent yet
                device_store.drop_queued(conn, "draft", "id", str(ident["id"]))
            op = {"o": kind, "t": [lamport, record.devid.hex()], **ident, **fields}
            obj, _ = _object_id(kind, op)
            for name in ("draft",) if kind == "draft" else fields:  # a draft has one clock (whole LWW)
                if (kind, name) not in MERGED_FIELDS:
                    device_store.set_clock(conn, obj, name, lamport, record.devid)
            # alone, the clocks are enough: a device linked later gets everything in the snapshot
            if device_store.has_siblings(conn, record.devid):
                device_store.queue_op(conn, json.dumps(op, separators=(",", ":"), ensure_ascii=False))
        return op

    def queued(self, limit: int = MAX_OPS) -> builtins.list[tuple[int, dict[str, Any]]]:
        """Ops not yet sent to my siblings, oldest first: (op id, op)."""
        return [(i, json.loads(text)) for i, text in device_store.queued_ops(self.store, limit)]

    def sync_payload(self, limit: int = MAX_OPS) -> tuple[bytes, builtins.list[int]] | None:
        """The next ``sync`` payload (≤ 64 KiB, ≤ ``limit`` ops) and the ids of the ops in it; None
        when nothing waits. The caller seals it and then calls :meth:`sent`."""
        ops: builtins.list[dict[str, Any]] = []
        ids: builtins.list[int] = []
        size = 64
        for op_id, op in self.queued(limit):
            text = json.dumps(op, separators=(",", ":"), ensure_ascii=False)
            if ops and size + len(text.encode()) + 1 > MAX_PAYLOAD - 64:
                break
            ops.append(op)
            ids.append(op_id)
            size += len(text.encode()) + 1
        if not ops:
            return None
        payload = {"type": "sync", "lc": self.lamport(), "ops": ops}
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), ids

    def sent(self, op_ids: builtins.list[int]) -> None:
        with self.store.write() as conn:
            device_store.drop_ops(conn, op_ids)

    # -- the v1 sender (§7) and comment forwarding (§8.3) ---------------------------------------------

    def v1_sender(self) -> bytes:
        """The devid of my v1 sender device: the one the ``v1_sender`` setting names while it is listed
        and not removed, else the oldest device not removed (ties by devid); this device when alone."""
        me = self.this_device().devid
        live = [d for d in device_store.list_devices(self.store) if d.removed is None]
        named = get_meta(self.store, "v1_sender")
        if named is not None and any(d.devid.hex() == named for d in live):
            return bytes.fromhex(named)
        return min(((d.added, d.devid) for d in live), default=("", me))[1]

    def v1_sender_name(self) -> str | None:
        """The name my device list gives my v1 sender device (as stored: not sanitised), or None when
        it is not listed or has no name."""
        devid = self.v1_sender()
        return next((d.name or None for d in device_store.list_devices(self.store) if d.devid == devid), None)

    def is_v1_sender(self) -> bool:
        """Whether this device seals my v1 envelopes (a v1 client keeps one chain per sender key)."""
        return self.v1_sender() == self.this_device().devid

    def delegate_v1(
        self,
        payload: bytes,
        readers: builtins.list[bytes],
        expires: int | None,
        target: str | None,
        min_slots: int,
    ) -> None:
        """Hand a payload for v1 readers to my v1 sender device: a ``v1-send`` op (§7), sealed there at
        its next sync. Joins the caller's transaction."""
        self.record(
            "v1-send",
            {"id": os.urandom(16).hex()},
            {
                "payload": base64.b64encode(payload).decode(),
                "readers": [k.hex() for k in readers],
                "expires": expires,
                "target": target,
                "min_slots": min_slots,
            },
        )

    def entry_sealed(self, payload: bytes, versions: dict[bytes, int]) -> None:
        """``payload`` was just sealed to these readers (public key → 1 or 2): when it is one of my
        entries already stored here — sealed later than it was written: a held reader released, or
        readers my v1 sender sealed for a sibling — their versions are merged into it and an ``entry``
        op carrying them (``sealed``) tells my other devices. Anything else: nothing. Joins the
        caller's write transaction."""
        if not versions or _peek_type(payload) != "post":
            return
        from tui_sns.core.messages import PostMessage, decode_message

        message = decode_message(payload)
        if not isinstance(message, PostMessage):
            return
        with self.store.write() as conn:
            if epoch_store.merge_sealed(conn, message.remote_id, versions):
                sealed = {k.hex(): v for k, v in versions.items()}
                self.record("entry", {"id": message.remote_id}, {"sealed": sealed})

    def _v1_edit_order(self, payload: bytes) -> tuple[str, Stamp] | None:
        """(entry remote id, (lc, 8 bytes of the version's digest)) of an edit payload carrying ``lc``."""
        from tui_sns.core.messages import EditMessage, decode_message

        if _peek_type(payload) != "edit":
            return None
        message = decode_message(payload)
        if not isinstance(message, EditMessage) or message.lc is None:
            return None
        digest = entry_digest(message.remote_id, message.title, message.body)
        return message.remote_id, (message.lc, digest[:8])

    def ask_catchup(self) -> bool:
        """Envelopes for me arrived under keys erased while this device was away (§5.4): ask my other
        devices for what they hold (a ``catchup`` op; each answers with its snapshot, whose ops merge
        here like any others). ``since``: this device's last sync. False when alone (nobody to ask) or
        when it asked less than :data:`CATCHUP_INTERVAL` ago: anyone with my card can write a slot
        naming an old key id of mine, and the snapshot answering the last ask, taken after it, already
        holds what my siblings had."""
        record = self.this_device()
        since = get_meta(self.store, "last_sync") or now_iso()
        with self.store.write() as conn:
            if not device_store.has_siblings(conn, record.devid):
                return False
            asked = get_meta(self.store, "catchup_asked")
            if asked is not None and abs(now() - datetime.fromisoformat(asked)) < CATCHUP_INTERVAL:
                return False
            device_store.set_meta_values(conn, {"catchup_asked": now_iso()})
            device_store.drop_queued(conn, "catchup", "devid", record.devid.hex())
            self._record_in("catchup", {"devid": record.devid.hex()}, {"since": _time(since)}, record)
        return True

    def v1_chain_moved(self, positions: builtins.list[tuple[bytes, int, bytes]]) -> None:
        """The v1 sender sealed v1 envelopes at these (reader key, seq, envelope digest): tell my other
        devices (a ``v1-chain`` op per reader, the newest replacing one still queued), so whichever
        becomes the v1 sender next continues the chain instead of reusing its numbers."""
        record = self.this_device()
        with self.store.write() as conn:
            if not device_store.has_siblings(conn, record.devid):
                return
            for key, seq, digest in positions:
                device_store.drop_queued(conn, "v1-chain", "key", key.hex())
                self._record_in("v1-chain", {"key": key.hex()}, {"seq": seq, "prev": digest.hex()}, record)

    def v1_edit_sent(self, payload: bytes) -> None:
        """The v1 sender seals ``payload`` for v1 readers: if it is an edit, remember its order."""
        found = self._v1_edit_order(payload)
        if found is not None:
            with self.store.write() as conn:
                if not device_store.has_siblings(conn, self.this_device().devid):
                    return  # alone: no edit is handed to me
                held = device_store.clock_of(conn, f"v1edit:{found[0]}", "order")
                if held is None or found[1] > held:
                    device_store.set_clock(conn, f"v1edit:{found[0]}", "order", *found[1])

    def v1_edit_stale(self, payload: bytes) -> bool:
        """A v1 client applies edits in chain order (it ignores ``lc``): an edit older (in Lamport
        order) than one already sealed for v1 readers must not follow it, or they would keep the older
        text while everyone else keeps the newer (design-v2 §8.4)."""
        found = self._v1_edit_order(payload)
        if found is None:
            return False
        with self.store.read() as conn:
            held = device_store.clock_of(conn, f"v1edit:{found[0]}", "order")
        return held is not None and found[1] <= held

    def _writer(self, conn: Connection, remote_id: str) -> bytes:
        """The devid of the device that wrote my entry ``remote_id`` (its ``created`` clock); this device
        for an entry written before linked devices."""
        held = device_store.clock_of(conn, f"entry:{remote_id}", "created")
        return self.this_device().devid if held is None else held[1]

    def forward_now(self, remote_id: str, comment_id: str, kind: str = "sent") -> bool:
        """§8.3: should this device send the forward (``kind`` "sent") or the hide after an uncomment
        (``kind`` "hidden") of comment ``comment_id`` on my entry ``remote_id`` now? Yes when alone,
        when this device wrote the entry, or when the writer is gone (removed or not listed); not when
        a sibling said it sent it already. Otherwise the caller defers it (:meth:`defer_forward`)."""
        me = self.this_device().devid
        with self.store.write() as conn:
            if device_store.clock_of(conn, f"forwarded:{remote_id}:{comment_id}", kind) is not None:
                return False
            if not device_store.has_siblings(conn, me):
                return True
            writer = self._writer(conn, remote_id)
            if writer == me:
                return True
            device = device_store.get_device(conn, writer)
            return device is None or device.removed is not None

    def forward_done(self, remote_id: str, comment_id: str, kind: str = "sent") -> None:
        """Tell my siblings the forward (or hide) of this comment was sent (a ``forwarded`` op; nothing
        for a device alone, whose store need not remember every forward)."""
        record = self.this_device()
        with self.store.write() as conn:
            if device_store.has_siblings(conn, record.devid):
                self._record_in("forwarded", {"post": remote_id, "id": comment_id}, {kind: True}, record)

    def defer_forward(
        self, post_id: str, remote_id: str, comment_id: str, payload: bytes, without: bytes | None, kind: str
    ) -> None:
        """Keep a forward (or hide) this device sends only if no sibling has said ``forwarded`` within
        :data:`FORWARD_DELAY` (§8.3). Kept in issue 10's pending table under my own key."""
        me = self.session.identity.public
        when = now()
        item = {
            "post": post_id,
            "remote_id": remote_id,
            "comment": comment_id,
            "kind": kind,
            "payload": base64.b64encode(payload).decode(),
            "without": None if without is None else without.hex(),
        }
        with self.store.write() as conn:
            seq = device_store.tick(conn)
            post_store.add_pending(
                self.store,
                me,
                seq,
                f"{kind}-forward:{remote_id}:{comment_id}",
                json.dumps(item).encode(),
                when.isoformat(),
                MAX_PENDING_SYNC,
                (when - PENDING_SYNC_LIFETIME).isoformat(),
                b"forward\x00",
            )

    def send_due_forwards(self) -> int:
        """Send the deferred forwards and hides whose sibling did not report them within
        :data:`FORWARD_DELAY` (called at every sync round). Returns how many were sent."""
        me = self.session.identity.public
        due = device_store.due_forwards(self.store, me, (now() - FORWARD_DELAY).isoformat())
        sent = 0
        for target, payload in due:
            try:
                item = json.loads(payload)
                data = base64.b64decode(item["payload"])
                without = None if item["without"] is None else bytes.fromhex(item["without"])
            except (ValueError, KeyError, TypeError):
                continue
            with self.store.write():
                post_store.take_pending(self.store, me, target)
                if post_store.find_post_by(self.store, None, item["remote_id"]) is None:
                    continue  # the entry was deleted meanwhile
                self.session.diary.send_derived(item["post"], data, without=without)
                self.forward_done(item["remote_id"], item["comment"], item["kind"])
                sent += 1
        return sent

    # -- device-sync envelopes (§8.2) -------------------------------------------------------------------

    def known_devids(self) -> tuple[set[bytes], set[bytes]]:
        """(live, removed) devids of my devices, this one included: what a keyring accepts in a self slot."""
        live: set[bytes] = {self.this_device().devid}
        removed: set[bytes] = set()
        for d in device_store.list_devices(self.store):
            (removed if d.removed else live).add(d.devid)
        return live - removed, removed

    def seal_pending(self, self_key: SelfKey, self_hint: bytes | None = None) -> builtins.list[Sealed]:
        """Seal every queued op into self-only v2 envelopes (one self slot, three decoys: n = 4) on this
        device's self chain, queue them in the outbox for all my relays, and drop the ops. One
        transaction per envelope. Returns what was sealed (nothing when no op waits)."""
        record = self.this_device()
        me = self.session.identity.public
        out: builtins.list[Sealed] = []
        while True:
            with self.store.write():
                batch = self.sync_payload()
                if batch is None:
                    return out
                payload, ids = batch
                seq, prev = contact_store.send_positions(self.store, [me], 2)[me]
                sealed = seal_v2(
                    self.session.identity,
                    [],
                    payload,
                    self_key=self_key,
                    devid=record.devid,
                    devtag_key=record.devtag_key,
                    self_seq=seq + 1,
                    self_prev=prev,
                    self_hint=self_hint,
                )
                contact_store.advance_send_chain(self.store, me, seq + 1, sealed.digest, 2)
                mailbox.queue_envelope(self.store, sealed.id, sealed.data, now_iso())
                # on a sharded relay: my own shard plus covers (design-sharding §8)
                route_store.set_recipients(self.store, sealed.id, [me])
                with self.store.write() as conn:
                    device_store.drop_ops(conn, ids)
                out.append(sealed)

    def receive(self, conn: Connection, opened: OpenedV2) -> str:
        """An envelope whose self slot opened (sent by one of my devices). Returns the outcome name:
        ``mine`` (this device's own, or a sibling's entry: the author's copy lives in its ``entry`` op),
        ``replay`` (this (device, seq) was seen), ``from_removed_device`` (ignored, §10.4), ``synced``
        (a ``sync`` payload applied), ``rejected`` (a sync payload refused whole)."""
        record = self.this_device()
        if opened.dev == record.devid:
            return "mine"
        if opened.from_removed_device:
            return "from_removed_device"
        if opened.seq == 0:  # an entry's (or announcement's) self slot: no self-chain position (§8.2)
            return "mine"
        me = self.session.identity.public
        if not mailbox.record_received_seq(conn, me, opened.seq, opened.digest, opened.prev, opened.dev):
            return "replay"
        obj = _peek_type(opened.payload)
        if obj != "sync":
            return "mine"
        report = self.apply_payload(opened.payload, opened.dev)
        return "rejected" if report.rejected else "synced"

    # -- merging my siblings' changes ----------------------------------------------------------------

    def apply_payload(self, payload: bytes, sender: bytes | None = None) -> SyncReport:
        """Apply a ``sync`` payload (JSON bytes) from my device ``sender`` (8-byte devid; its
        ``last_seen`` moves). One transaction. Refused whole when over 64 KiB, not a sync object, or
        over 4096 ops; otherwise each op is applied or skipped alone (:class:`SyncReport`)."""
        report = SyncReport()
        if len(payload) > MAX_PAYLOAD:
            report.rejected = "payload over 64 KiB"
            return report
        try:
            obj = json.loads(payload)
        except (ValueError, RecursionError):
            report.rejected = "not JSON"
            return report
        return self._apply_sync(obj, sender, report)

    def apply_ops(self, ops: builtins.list[Any]) -> SyncReport:
        """Apply ops (a snapshot chunk, or a test's) in one transaction; at most 4096, like a payload."""
        return self._apply_sync({"type": "sync", "ops": ops}, None, SyncReport())

    def _apply_sync(self, obj: object, sender: bytes | None, report: SyncReport) -> SyncReport:
        if not isinstance(obj, dict) or obj.get("type") != "sync" or not isinstance(obj.get("ops"), list):
            report.rejected = "not a sync payload"
            return report
        if len(obj["ops"]) > MAX_OPS:
            report.rejected = f"more than {MAX_OPS} ops"
            return report
        lc = obj.get("lc")
        with self.store.write() as conn:
            self.this_device()
            if type(lc) is int and 0 < lc <= MAX_LAMPORT:
                device_store.observe(conn, lc)
            for op in obj["ops"]:
                self._apply_one(conn, op, report)
            if sender is not None:  # after the ops: the first payload of a device lists it
                device_store.touch_device(conn, sender, now_iso())
        return report

    def _apply_one(self, conn: Connection, op: object, report: SyncReport) -> None:
        try:
            kind, obj, ident, stamp, fields = parse_op(op)
        except KeyError as exc:
            report.skipped[str(exc.args[0])[:32]] += 1
            return
        except BadOp:
            report.invalid += 1
            return
        device_store.observe(conn, stamp[0])
        try:
            outcome = getattr(self, "_apply_" + kind.replace("-", "_"))(
                conn, obj, ident, stamp, fields, report
            )
        except BadOp:
            report.invalid += 1
            return
        if isinstance(outcome, str):  # the target it waits for
            if self._keep_pending(conn, outcome, stamp, op):
                report.pending += 1
            else:
                report.skipped["waiting: too many"] += 1  # MAX_PENDING_SYNC ops wait already
        elif outcome:
            report.applied += 1
        else:
            report.stale += 1

    def _merge(self, conn: Connection, obj: str, stamp: Stamp, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields whose ``t`` is newer than the one held; their clocks move to ``stamp``."""
        won = {}
        for name, value in fields.items():
            held = device_store.clock_of(conn, obj, name)
            if held is None or stamp > held:
                won[name] = value
                device_store.set_clock(conn, obj, name, stamp[0], stamp[1])
        return won

    def _held(self, conn: Connection, obj: str, name: str) -> Stamp | None:
        return device_store.clock_of(conn, obj, name)

    # pending ops wait in issue 10's table under my own key: (my key, sender devid, a number of their
    # own — not the Lamport time, which several ops share: a snapshot's unchanged fields all carry (1, devid))
    def _keep_pending(self, conn: Connection, target: str, stamp: Stamp, op: object) -> bool:
        """Keep ``op`` until ``target`` exists here. False when :data:`MAX_PENDING_SYNC` ops wait."""
        me = self.session.identity.public
        when = now()
        payload = json.dumps(op).encode()
        seq = device_store.next_pending_seq(conn, me, stamp[1], target, payload)
        if seq is None:
            return True  # this op waits already
        return post_store.add_pending(
            self.store,
            me,
            seq,
            target,
            payload,
            when.isoformat(),
            MAX_PENDING_SYNC,
            (when - PENDING_SYNC_LIFETIME).isoformat(),
            stamp[1],
        )

    def _arrived(self, conn: Connection, target: str, report: SyncReport) -> None:
        """``target`` now exists here: apply the ops that waited for it (in Lamport order)."""
        waiting = []
        for _, payload in post_store.take_pending(self.store, self.session.identity.public, target):
            try:
                waiting.append(json.loads(payload))
            except (ValueError, RecursionError):
                continue
        for op in sorted(waiting, key=_lamport_order):
            self._apply_one(conn, op, report)

    def received_entry(self, author_key: bytes, remote_id: str) -> None:
        """The inbox stored a received entry: apply read-state ops that waited for it."""
        target = f"post:{author_key.hex()}:{remote_id}"
        if not post_store.has_pending(self.store, self.session.identity.public, target):
            return
        report = SyncReport()
        with self.store.write() as conn:
            self._arrived(conn, target, report)

    def _unique_name(self, conn: Connection, name: str) -> str:
        """The first free "name (i)", i = 2… (every device makes the same choice). The names taken are
        read once: a lookup per candidate made n colliding ops cost n²/2 queries."""
        taken = synced.names_from(conn, name[: MAX_NAME - 7])  # (every candidate begins with this)
        for i in range(2, 10_000):
            suffix = f" ({i})"
            candidate = name[: MAX_NAME - len(suffix)] + suffix
            if candidate not in taken:
                return candidate
        raise BadOp("no free name")

    def _claim_name(
        self, conn: Connection, name: str, me: tuple[str, bytes], stamp: Stamp, report: SyncReport
    ) -> str:
        """The name object ``me`` ends up with here: ``name`` unless another object holds it with a
        newer name clock, in which case ``me`` gets "name (2)" (§8.3); an older holder is the one
        renamed. Local renames are not ops: every device makes the same choice."""
        owner = synced.name_owner(conn, name)
        if owner is None or owner == me:
            return name
        held = self._held(conn, f"{owner[0]}:{owner[1].hex()}", "name") or (0, b"")
        if stamp > held:
            moved = self._unique_name(conn, name)
            if owner[0] == "contact":
                synced.rename_contact(conn, owner[1], moved)
            else:
                synced.rename_circle(conn, owner[1], moved)
            report.renamed.append((name, moved))
            return name
        moved = self._unique_name(conn, name)
        report.renamed.append((name, moved))
        return moved

    # -- one method per kind: True (applied), False (stale), or the target string to wait for --------

    def _apply_contact(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (key,) = ident
        if key == self.session.identity.public:
            raise BadOp("I am not my own contact")
        exists = synced.contact_state(conn, key) is not None
        removed_held = self._held(conn, obj, "removed")
        if (
            not exists
            and "removed" not in fields
            and removed_held is None
            and not {"name", "card_name"} <= set(fields)
        ):
            return obj  # a change before the creation arrived
        try:
            shared = self.session.identity.shared(key)
        except InvalidPublicKey as exc:
            raise BadOp("not a usable public key") from exc
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        if won.get("removed") is True:
            if exists:
                synced.delete_contact(conn, key)
            return True
        alive = exists or won.get("removed") is False or (removed_held is None and "removed" not in fields)
        if not alive:
            return True  # fields of a removed contact: clocks kept, nothing shown
        if "name" in won:
            won["name"] = self._claim_name(conn, won["name"], ("contact", key), stamp, report)
        if exists:
            synced.update_contact(conn, key, won)
        else:
            if not {"name", "card_name"} <= set(fields):
                return True
            values = {**fields, **{k: v for k, v in won.items()}}
            values["name"] = won.get("name", values["name"])
            synced.insert_contact(conn, key, shared, values, now_iso())
            self.session.identity.preload_shared(key, shared)
            request_store.delete_requests_from(self.store, key)
            self._arrived(conn, obj, report)
        return True

    def _apply_circle(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (uid,) = ident
        exists = synced.circle_state(conn, uid) is not None
        deleted_held = self._held(conn, obj, "deleted")
        if not exists and deleted_held is None and "deleted" not in fields and "name" not in fields:
            return obj
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        if won.get("deleted") is True:
            if exists:
                synced.delete_circle(conn, uid)
            return True
        alive = exists or won.get("deleted") is False or (deleted_held is None and "deleted" not in fields)
        if not alive:
            return True
        if exists:
            if "name" in won:
                synced.rename_circle(
                    conn, uid, self._claim_name(conn, won["name"], ("circle", uid), stamp, report)
                )
        elif "name" in fields:
            name = self._claim_name(conn, won.get("name", fields["name"]), ("circle", uid), stamp, report)
            synced.insert_circle(conn, uid, name, now_iso())
            self._arrived(conn, obj, report)
        return True

    def _apply_member(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        uid, key = ident
        if synced.circle_state(conn, uid) is None:
            return f"circle:{uid.hex()}"
        if synced.contact_state(conn, key) is None:
            return f"contact:{key.hex()}"
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        synced.set_member(conn, uid, key, won["in"])
        return True

    def _draft_local_id(self, draft_id: str) -> str:
        return COMPOSER if draft_id == f"{COMPOSER}:{self.devid.hex()}" else draft_id

    def _apply_draft(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (wire_id,) = ident
        # whole-draft LWW: one clock for the draft
        held = self._held(conn, obj, "draft")
        if held is not None and stamp <= held:
            return False
        device_store.set_clock(conn, obj, "draft", stamp[0], stamp[1])
        local = self._draft_local_id(wire_id)
        if fields.get("deleted"):
            synced.delete_draft(conn, local)
            return True
        device = None
        if wire_id.startswith(f"{COMPOSER}:") and _HEX16.fullmatch(wire_id[len(COMPOSER) + 1 :]):
            device = bytes.fromhex(wire_id[len(COMPOSER) + 1 :])
        synced.put_draft(
            conn,
            local,
            fields.get("title", ""),
            fields.get("body", ""),
            list(fields.get("audience", [])),
            now_iso(),
            device,
        )
        return True

    def _apply_read(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        key, remote_id = ident
        held = self._held(conn, obj, "read")
        if held is not None and stamp <= held:
            return False
        if not synced.set_read(conn, key, remote_id, fields["read"]):
            return f"post:{key.hex()}:{remote_id}"
        device_store.set_clock(conn, obj, "read", stamp[0], stamp[1])
        return True

    def _apply_request(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (key,) = ident
        if not self._merge(conn, obj, stamp, fields):
            return False
        request_store.delete_requests_from(self.store, key)  # accepted (the contact op adds them) or rejected
        return True

    def _apply_device(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (devid,) = ident
        current = device_store.get_device(conn, devid)
        if current is None and not {"key", "name", "added"} <= set(fields):
            return obj
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        device_store.put_device(
            conn,
            devid,
            public_key=won.get("key", current.public_key if current else fields["key"]),
            name=won.get("name", current.name if current else fields["name"]),
            added=won.get("added", current.added if current else fields["added"]),
            removed=won.get("removed", current.removed if current else None),
        )
        if current is None:
            self._arrived(conn, obj, report)
        return True

    def _apply_entry(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (remote_id,) = ident
        me = self.session.identity.public
        # how each reader got the entry is merged, not last-writer-wins: the writing device and my v1
        # sender (or a release of held readers) each know part of it (store.epochs.merge_sealed)
        fields = dict(fields)
        sealed = {bytes.fromhex(k): v for k, v in fields.pop("sealed", {}).items()}
        if synced.my_tombstoned(conn, me, remote_id):
            self._merge(conn, obj, stamp, fields)
            return False
        exists = synced.my_entry_state(conn, remote_id) is not None
        needed = {"title", "body", "created", "audience"}
        if not exists and not fields.get("deleted") and not needed <= set(fields):
            return obj
        fields = self._edit_tie(conn, obj, remote_id, stamp, fields)
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            self._held_version(conn, remote_id, fields)
            return epoch_store.merge_sealed(conn, remote_id, sealed)
        if won.get("deleted") is True:
            synced.delete_my_entry(conn, me, remote_id, now_iso())
            return True
        if exists:
            synced.update_my_entry(conn, remote_id, won, won.get("edited"))
        elif needed <= set(fields):
            synced.insert_my_entry(conn, remote_id, {**fields, **won}, stamp[0])
            self._arrived(conn, obj, report)
        self._held_version(conn, remote_id, fields)
        epoch_store.merge_sealed(conn, remote_id, sealed)
        return True

    def _edit_tie(
        self, conn: Connection, obj: str, remote_id: str, stamp: Stamp, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Two devices edited my entry at the same Lamport time: readers break the tie by the
        version's digest (``EditMessage.order``), so my devices do too, not by devid — everyone keeps
        the same text. Returns the fields to merge (the edit's dropped when it loses; its clocks moved
        to ``stamp`` when it wins)."""
        if not {"title", "body"} <= set(fields):
            return fields
        held = device_store.clock_of(conn, obj, "body")
        current = synced.my_entry_state(conn, remote_id)
        if held is None or current is None or held[0] != stamp[0] or held[1] == stamp[1]:
            return fields
        mine = entry_digest(remote_id, current["title"], current["body"])[:3]
        theirs = entry_digest(remote_id, fields["title"], fields["body"])[:3]
        edit = {"title", "body", "edited"}
        if theirs > mine:
            for name in edit & set(fields):  # wins whatever the devids say
                conn.execute("DELETE FROM sync_clock WHERE object = ? AND field = ?", (obj, name))
            return fields
        self._held_version(conn, remote_id, fields)
        return {k: v for k, v in fields.items() if k not in edit}

    def _held_version(self, conn: Connection, remote_id: str, fields: dict[str, Any]) -> None:
        """Each version of my entry a sibling wrote (even one a later edit overrides) is a version my
        readers may have commented on: remembered, so their comments carry no "never received"."""
        if {"title", "body"} <= set(fields) and synced.my_entry_state(conn, remote_id) is not None:
            digest = entry_digest(remote_id, fields["title"], fields["body"])
            post_store.add_version(self.store, remote_id, digest)

    def _comment_post(self, conn: Connection, author: bytes, remote_id: str) -> tuple[str | None, str]:
        """(local id of the entry a comment op names, or None, and the target to wait for)."""
        if author == self.session.identity.public:
            found = post_store.find_post_by(self.store, None, remote_id)
            return (found[0] if found else None), f"entry:{remote_id}"
        contact = contact_store.contact_by_key(self.store, author)
        if contact is None:
            return None, f"contact:{author.hex()}"
        found = post_store.find_post_by(self.store, contact.id, remote_id)
        return (found[0] if found else None), f"post:{author.hex()}:{remote_id}"

    def _apply_comment(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        author, remote_id, comment_id = ident
        if post_store.is_tombstoned(self.store, author, remote_id) or synced.my_tombstoned(
            conn, author, remote_id
        ):
            return False  # the entry was deleted: its comments went with it
        post_id, target = self._comment_post(conn, author, remote_id)
        if post_id is None:
            return target
        needed = {"body", "created", "label"}
        if not fields.get("hidden") and not needed <= set(fields):
            raise BadOp("a comment op carries its body, time and label (or hides it)")
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        if won.get("hidden") is True:
            by = fields.get("by")
            mine = by is None or by == self.session.identity.public
            comment_store.hide_comment(
                self.store, post_id, comment_id, placeholder=True, author_key=None if mine else by
            )
            return True
        if needed <= set(fields):  # (a hidden placeholder keeps it out: comments are written once)
            by = fields.get("by")
            comment_store.insert_comment(
                self.store,
                post_id=post_id,
                comment_id=comment_id,
                author_key=None if by is None or by == self.session.identity.public else by,
                author_label=fields["label"],
                body=fields["body"],
                created=fields["created"],
                entry_digest=fields.get("digest"),
            )
        return True

    def _apply_received(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        from tui_sns.core.inbox import local_post_id

        author, remote_id = ident
        if author == self.session.identity.public:
            raise BadOp("my own entries travel as entry ops")
        if post_store.is_tombstoned(self.store, author, remote_id):
            self._merge(conn, obj, stamp, fields)
            return False
        contact = contact_store.contact_by_key(self.store, author)
        if contact is None:
            return f"contact:{author.hex()}"
        found = post_store.find_post_by(self.store, contact.id, remote_id)
        needed = {"title", "body", "created", "received"}
        if found is None and not fields.get("deleted") and not needed <= set(fields):
            return f"post:{author.hex()}:{remote_id}"
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        if won.get("deleted") is True:
            post_store.add_tombstone(self.store, author, remote_id, now_iso())
            if found is not None:
                post_store.delete_post(self.store, found[0])
            return True
        if found is None:
            values = {**fields, **won}
            post_id = local_post_id(author, remote_id)
            post_store.insert_post(
                self.store,
                post_id=post_id,
                remote_id=remote_id,
                author_id=contact.id,
                title=values["title"],
                body=values["body"],
                created=values["created"],
                received=values["received"],
                thread_key=values.get("thread"),
                expires=values.get("expires"),
                unread=True,
                seq=0,
                digest=entry_digest(remote_id, values["title"], values["body"]),
            )
            if values.get("version") == 2:
                from tui_sns.store import epochs as epoch_store

                epoch_store.set_received_version(self.store, post_id, 2)
            self._arrived(conn, f"post:{author.hex()}:{remote_id}", report)
        elif {"title", "body"} & set(won):
            title = won.get("title", post_store.get_post(self.store, found[0]).title)
            body = won.get("body", post_store.get_post(self.store, found[0]).body)
            post_store.add_version(self.store, found[0], entry_digest(remote_id, title, body))
            post_store.update_post(self.store, found[0], title, body, won.get("edited") or now_iso())
        return True

    def _apply_setting(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        (name,) = ident
        value = SETTINGS[name](fields["value"])  # BadOp: invalid for this setting
        if not self._merge(conn, obj, stamp, {"value": value}):
            return False
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (name,))
        else:
            device_store.set_meta_values(conn, {name: _setting_text(value)})
        return True

    def _apply_forwarded(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        remote_id, comment_id = ident
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        me = self.session.identity.public
        for kind in won:  # a sibling sent it: the deferred copy here is dropped
            post_store.take_pending(self.store, me, f"{kind}-forward:{remote_id}:{comment_id}")
        return True

    def _apply_catchup(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        """A sibling lost envelopes (§5.4): queue my snapshot for my devices — every object as ops with
        its stored clocks, so merging them there changes only what it missed. The asker must be a
        device of mine, listed and not removed (else BadOp). At most one answer an hour **in all**:
        the snapshot is sealed to every device of mine, so it answers every ask of that hour, and a
        stream of asks naming many devids (a hostile sibling) costs one snapshot an hour, not one
        per devid."""
        (devid,) = ident
        if devid == self.this_device().devid:
            return False  # my own ask, back in a sibling's snapshot
        asker = device_store.get_device(conn, devid)
        if asker is None or asker.removed is not None:
            raise BadOp("a catch-up ask from a device that is not mine")
        if not self._merge(conn, obj, stamp, fields):
            return False
        key = "catchup_answered"
        last = get_meta(self.store, key)
        if last is not None and abs(now() - datetime.fromisoformat(last)) < CATCHUP_INTERVAL:
            return True
        device_store.set_meta_values(conn, {key: now_iso()})
        for op in self.snapshot():
            if op["o"] != "catchup":
                device_store.queue_op(conn, json.dumps(op, separators=(",", ":"), ensure_ascii=False))
        return True

    def _apply_v1_chain(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        """A v1 chain position my v1 sender reached: kept if further than mine (positions only grow)."""
        (key,) = ident
        if key == self.session.identity.public:
            raise BadOp("my own key has no v1 chain")
        if not {"seq", "prev"} <= set(fields):
            raise BadOp("a v1-chain op carries seq and prev")
        held = contact_store.send_positions(self.store, [key], 1)[key][0]
        if fields["seq"] <= held:
            return False
        contact_store.advance_send_chain(self.store, key, fields["seq"], fields["prev"], 1)
        return True

    def _apply_v1_send(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        if not {"payload", "readers"} <= set(fields):
            raise BadOp("a v1-send op carries its payload and readers")
        if not self._merge(conn, obj, stamp, fields):
            return False  # seen before
        if not self.is_v1_sender():
            return True  # for my v1 sender only (another device acting on it would fork the v1 chain)
        from tui_sns.core.outgoing import send

        if self.v1_edit_stale(fields["payload"]):
            return True  # a newer edit of that entry already reached my v1 readers
        wanted = set(fields["readers"])
        readers = [c for c in contact_store.list_contacts(self.store) if c.public_key in wanted]
        target = fields.get("target")
        if target is not None and post_store.find_post_by(self.store, None, target) is None:
            target = None  # not an entry here (deleted, or not arrived): the envelope goes out alone
        try:
            send(
                self.session,
                readers,
                fields["payload"],
                expires=fields.get("expires"),
                target=target,
                min_slots=fields.get("min_slots", 0),
            )
        except InvalidInput as exc:
            raise BadOp(str(exc)) from exc
        return True

    def _apply_relay(
        self,
        conn: Connection,
        obj: str,
        ident: tuple[Any, ...],
        stamp: Stamp,
        fields: dict[str, Any],
        report: SyncReport,
    ) -> bool | str:
        """A relay my sibling joined (``credential``, ``shard``, ``removed`` false) or left (``removed``
        true). Joined here: the relay is kept with that credential (devices share the account the relay
        issued, as linking does) and my shard seed there becomes the op's, so every device reads the
        shard my card names; the first read starts near now, as any first read (sync/retention.py).
        Left: the relay is removed here (its waiting deliveries with it)."""
        (url,) = ident
        held = {r.url: r for r in relay_store.list_relays(self.store)}
        exists = url in held
        removed_held = self._held(conn, obj, "removed")
        creates = not exists and fields.get("removed") is not True
        if creates and "credential" not in fields and "removed" not in fields and removed_held is None:
            return obj  # a change before the join arrived
        if creates and "credential" in fields and len(held) >= MAX_RELAYS_HELD:
            raise BadOp(f"more than {MAX_RELAYS_HELD} relays")  # (checked before any clock moves)
        won = self._merge(conn, obj, stamp, fields)
        if not won:
            return False
        if won.get("removed") is True:
            if exists:
                relay_store.remove_relay(self.store, url)
            return True
        alive = exists or won.get("removed") is False or (removed_held is None and "removed" not in fields)
        if not alive:
            return True  # fields of a relay I left: clocks kept, nothing joined
        if not exists:
            if "credential" not in fields:
                return True
            relay_store.add_relay(self.store, url, won.get("credential", fields["credential"]), now_iso())
        elif "credential" in won:
            relay_store.add_relay(self.store, url, won["credential"], held[url].added)
        if "shard" in won and route_store.set_seed(self.store, url, won["shard"], now_iso()):
            relay_store.read_again(self.store, url)  # (read before under another shard: read it again)
        if not exists:
            self._arrived(conn, obj, report)
        return True

    # -- a snapshot: everything as ops with its stored t (§9.4) --------------------------------------

    def snapshot(self) -> builtins.list[dict[str, Any]]:
        """Every synced object of this store as ops, each field stamped with its stored clock (fields
        never changed since before linked devices get ``(1, this devid)``)."""
        me = self.this_device()
        base = (1, me.devid)
        clocks = device_store.all_clocks(self.store)
        ops: builtins.list[dict[str, Any]] = []

        def emit(kind: str, ident: dict[str, Any], values: dict[str, Any], obj: str | None = None) -> None:
            if obj is None:
                obj, _ = _object_id(kind, {"o": kind, **ident})
            held = clocks.get(obj, {})
            groups: dict[Stamp, dict[str, Any]] = {}
            for name, value in values.items():
                groups.setdefault(held.get(name, base), {})[name] = value
            # The oldest op carries EVERY field, so the object is created whole on the new device (a
            # contact whose newer card came after it was added, a renamed circle, an edited entry have
            # no op holding all the fields a creation needs); the newer ops that follow raise each
            # field's clock to the one held here, with the same values: values and clocks end equal.
            for i, stamp in enumerate(sorted(groups)):
                fields = values if i == 0 else groups[stamp]
                ops.append({"o": kind, "t": [stamp[0], stamp[1].hex()], **ident, **fields})

        with self.store.read() as conn:
            for d in device_store.list_devices(self.store):
                emit(
                    "device",
                    {"devid": d.devid.hex()},
                    {"key": d.public_key.hex(), "name": d.name, "added": d.added, "removed": d.removed},
                )
            for key in synced.all_contact_keys(self.store):
                state = synced.contact_state(conn, key)
                assert state is not None
                state.pop("added")
                emit("contact", {"key": key.hex()}, {**state, "removed": False})
            for uid in synced.all_circle_uids(self.store):
                state = synced.circle_state(conn, uid)
                assert state is not None
                emit("circle", {"uid": uid.hex()}, {"name": state["name"], "deleted": False})
            for uid, key in synced.all_members(self.store):
                emit("member", {"circle": uid.hex(), "key": key.hex()}, {"in": True})
            for draft_id in synced.all_draft_ids(self.store):
                draft = synced.draft_state(conn, draft_id)
                assert draft is not None
                wire = f"{COMPOSER}:{me.devid.hex()}" if draft_id == COMPOSER else draft_id
                obj = f"draft:{wire}"
                stamp = clocks.get(obj, {}).get("draft", base)
                ops.append(
                    {"o": "draft", "t": [stamp[0], stamp[1].hex()], "id": wire, **draft, "deleted": False}
                )
            for name in SETTINGS:  # the synced settings held here (design-v2 §8.3 ``setting``)
                text = get_meta(self.store, name)
                if text is not None:
                    # (a value this version does not accept is not passed on)
                    with contextlib.suppress(BadOp, ValueError):
                        emit("setting", {"name": name}, {"value": SETTINGS[name](_setting_value(name, text))})
            seeds = route_store.my_seeds(self.store)
            for relay in relay_store.list_relays(self.store):  # (WELCOME carries them too: these hold t)
                with contextlib.suppress(BadOp):  # (a stored URL that is not a relay URL stays here)
                    _relay_url(relay.url)
                    _credential(relay.credential)
                    emit(
                        "relay",
                        {"url": relay.url},
                        {"credential": relay.credential, "removed": False}
                        | ({"shard": seeds[relay.url]} if relay.url in seeds else {}),
                    )
            for remote_id in synced.all_my_entry_ids(self.store):
                entry = synced.my_entry_state(conn, remote_id)
                assert entry is not None
                entry.pop("post_id")
                emit("entry", {"id": remote_id}, {**entry, "deleted": False})
            # entries I received and the comments I hold (mine and others', on any entry): a new device
            # does not read them again from the relays (it starts at my cursors, linking.py)
            for entry in synced.all_received_entries(self.store):
                author, remote_id = entry.pop("author").hex(), entry.pop("id")
                emit(
                    "received",
                    {"author": author, "id": remote_id},
                    {**entry, "deleted": False},
                    f"received:{author}:{remote_id}",
                )
            me_hex = self.session.identity.public.hex()
            for comment in synced.all_comments(self.store):
                author = me_hex if comment["author"] is None else comment["author"].hex()
                ident = {"author": author, "post": comment["post"], "id": comment["id"]}
                by, digest = comment["by"], comment["digest"]
                values = {
                    "body": comment["body"],
                    "created": comment["created"],
                    "by": None if by is None else by.hex(),
                    "label": comment["label"],
                    "digest": None if digest is None else digest.hex(),
                    "hidden": comment["hidden"],
                }
                emit("comment", ident, values, f"comment:{author}:{comment['post']}:{comment['id']}")
            for author, remote_id, read in synced.all_read_states(self.store):
                obj = f"read:{author.hex()}:{remote_id}"
                if obj in clocks or read:
                    stamp = clocks.get(obj, {}).get("read", base)
                    ops.append(
                        {
                            "o": "read",
                            "t": [stamp[0], stamp[1].hex()],
                            "author": author.hex(),
                            "id": remote_id,
                            "read": read,
                        }
                    )
        return ops


def _lamport_order(op: object) -> Stamp:
    """An op's ``t`` for sorting ops that waited ((0, b"") when malformed: it is refused when applied)."""
    try:
        return _stamp(op.get("t") if isinstance(op, dict) else None)
    except BadOp:
        return 0, b""


def _setting_text(value: object) -> str:
    """A setting's value as ``meta`` holds it (booleans as "1"/"0")."""
    return ("1" if value else "0") if type(value) is bool else str(value)


def _setting_value(name: str, text: str) -> object:
    """The op value of a setting held in ``meta`` (the inverse of :func:`_setting_text`)."""
    if name == "require_forward_secrecy":
        return text == "1"
    if name in ("epoch_length", "epoch_grace"):
        return int(text)
    return text


def _peek_type(payload: bytes) -> str | None:
    """The ``type`` of a JSON payload (None: not JSON, not an object)."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None


def _minute(when: str | None) -> str | None:
    """An ISO time rounded down to the minute (``last_seen`` is shown no finer, §9.5)."""
    if when is None:
        return None
    normal = normalize_time(when)
    return None if normal is None else normal[:16] + ":00" + normal[19:]
