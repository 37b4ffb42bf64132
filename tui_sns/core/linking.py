"""Device linking through a relay (docs/design-v2.md §9.3, §9.4): a device that has the identity (A,
:class:`LinkHost`) and a new one (B, :class:`LinkJoiner`) exchange OFFER, HELLO, REVEAL, WELCOME and
the snapshot as v2 envelopes with one link slot (``seal_link``), which a relay cannot tell from
entries.

    A: OFFER  [Kl] {"type":"link-offer","commit":hex(com(A)),"expires":t0+timeout,"relays":[{url,credential}]}
    B: HELLO  [Kl] {"type":"link-hello","b":hex(B),"name":…,"dev_key":hex(D)}
    A: REVEAL [Kl] {"type":"link-reveal","a":hex(A)}        (only for the first valid HELLO)
    both: Ks, and the 6-digit string; the person compares and confirms on A
    A: WELCOME [Ks] {"type":"link-welcome", identity, seeds, live keys, settings, devices, relays, lc,
                     "snapshot":{"envelopes":n}}, then n × SNAPSHOT [Ks] {"type":"link-snapshot","index":i,"ops":[…]}

The two state machines are pure (bytes in, envelopes and events out; time from the core clock), so
tests drive them without a relay; :func:`host_link` and :func:`join_link` run them over one relay.

Every message is hostile until checked: the first valid HELLO is the only one answered, a REVEAL that
does not match the OFFER's commitment aborts the join, WELCOME must carry the identity whose key signed
the OFFER's slot, and every field is validated (lengths, types, counts) before anything is stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sns.core import clock
from tui_sns.core.devices import SyncReport
from tui_sns.core.errors import InvalidInput, TuiSnsError
from tui_sns.core.messages import MAX_NOTE, normalize_time
from tui_sns.core.names import check_display_name, check_note
from tui_sns.crypto.card import check_relay_url, decode_card, parse_prekey
from tui_sns.crypto.envelope import MAX_BODY
from tui_sns.crypto.envelope_v2 import open_link, seal_link
from tui_sns.crypto.epochs import device_id
from tui_sns.crypto.errors import CardError, CryptoError, InvalidPublicKey
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.linking import LinkCode, ephemeral, parse_code, parse_qr, show_sas
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import contacts as contact_store
from tui_sns.store import devices as device_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store import linking as link_store
from tui_sns.store import relays as relay_store
from tui_sns.store import requests as request_store
from tui_sns.store import routes as route_store
from tui_sns.store.devices import LiveKey, SeedRow
from tui_sns.store.identity import get_meta, set_meta

if TYPE_CHECKING:
    from tui_sns.core.session import Session

DEFAULT_TIMEOUT = 600  # seconds (§9.3: setting link_timeout, default 10 min)
MAX_TIMEOUT = 86400
SNAPSHOT_PIECE = 45 * 1024  # bytes of the snapshot's JSON per envelope: base64 of it + 64 ≤ 64 KiB payload
APPLY_BATCH = 1024  # snapshot ops applied per store transaction on the new device
MAX_SNAPSHOT_ENVELOPES = 4096  # 4096 × 60 KiB: 240 MiB of diary, far beyond a person's
MAX_RELAYS_OFFERED = 8
MAX_LIVE_KEYS = 64
MAX_CREDENTIAL = 512
POLL_SECONDS = 0.2
RELAY_MARGIN = 300  # seconds a relay keeps a link message past the code's expiry (clocks differ)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")


class LinkError(TuiSnsError):
    """Linking did not complete; the message says why and what to do (exit 1)."""


class LinkExpired(LinkError):
    pass


class LinkAborted(LinkError):
    pass


def _hex(value: object, pattern: re.Pattern[str], what: str) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise LinkAborted(f"a link message carries a bad {what}")
    return bytes.fromhex(value)


def _int(value: object, low: int, high: int, what: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise LinkAborted(f"a link message carries a bad {what}")
    return value


def _json(payload: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _relays(value: object) -> list[tuple[str, str | None]]:
    if not isinstance(value, list) or len(value) > MAX_RELAYS_OFFERED:
        raise LinkAborted("a link message names bad relays")
    out: list[tuple[str, str | None]] = []
    for item in value:
        if not isinstance(item, dict):
            raise LinkAborted("a link message names bad relays")
        url, credential = item.get("url"), item.get("credential")
        try:
            check_relay_url(url if isinstance(url, str) else "")
        except CardError as exc:
            raise LinkAborted(f"a link message names a bad relay: {exc}") from exc
        if str(url) != str(url).strip():  # (kept as written: no white space around it)
            raise LinkAborted("a link message names a bad relay: white space around its URL")
        if credential is not None and (
            not isinstance(credential, str)
            or len(credential) > MAX_CREDENTIAL
            or any(not "!" <= ch <= "~" for ch in credential)  # (printable ASCII: an HTTP header)
        ):
            raise LinkAborted("a link message carries a bad relay credential")
        out.append((str(url), credential or None))
    return out


def _cursors(value: object) -> dict[str, int]:
    """The ``cursor`` of each of a WELCOME's relays ({url: seq}); relays were checked by _relays."""
    out: dict[str, int] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and "cursor" in item:
            out[str(item.get("url"))] = _int(item["cursor"], 0, 2**62, "relay cursor")
    return out


def _optional_time(value: object) -> str | None:
    if value is None:
        return None
    normal = normalize_time(value) if isinstance(value, str) and len(value) <= 64 else None
    if normal is None:
        raise LinkAborted("a link message carries a bad time")
    return normal


def _constant(value: int) -> Callable[[], int]:
    return lambda: value


def _seeds(value: object) -> dict[str, int]:
    """The ``shard`` seeds of a WELCOME's relays ({url: 0..65535}); relays were checked by _relays."""
    out: dict[str, int] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and "shard" in item:
            out[str(item.get("url"))] = _int(item["shard"], 0, 0xFFFF, "shard seed")
    return out


# -- identity-level state beside the diary (§9.4 as built) ------------------------------------------

FIRST_CARD_AT = "first_card_at"  # meta key (where a first read of a relay starts, sync/retention.py)
CHAIN_ROWS_PER_RECORD = 256  # ≈ 40 KiB of JSON: a record always fits one snapshot envelope
MAX_PENDING_REQUESTS = 50  # as the inbox keeps (core/inbox.py)
MAX_CARD_TEXT = 8192
STATE_KINDS = ("link-chain", "link-prekey", "link-peer", "link-request", "link-pending")
MAX_PENDING = 20_000  # waiting operations a new device takes (contacts' and my devices' together)


def _is_state(op: object) -> bool:
    return isinstance(op, dict) and op.get("o") in STATE_KINDS


def link_state(session: Session) -> list[dict[str, Any]]:
    """What a new device needs beside the diary to open and answer what my contacts send from the
    moment of linking, as snapshot records (``o`` = ``link-…``, never sync ops): received chain
    positions (no false gap or replay), my contacts' prekeys (it seals v2 to them at once), which
    epoch each contact was announced and which were told my shard seeds (no repeated announcements),
    their shard seeds (tagged uploads), and the contact requests waiting for an answer."""
    store = session.store
    out: list[dict[str, Any]] = []
    by_chain: dict[tuple[bytes, bytes], list[list[Any]]] = {}
    for key, dev, seq, digest, prev in link_store.chain_rows(store):
        by_chain.setdefault((key, dev), []).append([seq, digest.hex(), prev.hex()])
    for (key, dev), rows in by_chain.items():
        for start in range(0, len(rows), CHAIN_ROWS_PER_RECORD):
            out.append(
                {
                    "o": "link-chain",
                    "key": key.hex(),
                    "dev": dev.hex(),
                    "rows": rows[start : start + CHAIN_ROWS_PER_RECORD],
                }
            )
    for key, prekeys in epoch_store.all_peer_prekeys(store).items():
        for p in prekeys:
            out.append(
                {
                    "o": "link-prekey",
                    "key": key.hex(),
                    "prekey": {
                        "gen": p.gen,
                        "id": f"{p.kid:08x}",
                        "x25519": p.public_key.hex(),
                        "start": p.start,
                        "end": p.end,
                        "delete": p.delete_at,
                    },
                }
            )
    sent: dict[bytes, list[list[Any]]] = {}
    for key, url, seed in link_store.routes_sent(store):
        sent.setdefault(key, []).append([url, seed])
    caps = epoch_store.all_peer_caps(store)
    for key in set(caps) | set(sent):
        cap = caps.get(key)
        out.append(
            {
                "o": "link-peer",
                "key": key.hex(),
                "announced": None if cap is None or cap.announced is None else list(cap.announced),
                "routes": route_store.peer_routes(store, key),
                "sent": sent.get(key, []),
            }
        )
    for key, dev, seq, target, payload, received in link_store.pending_rows(store):
        out.append(
            {
                "o": "link-pending",
                "key": key.hex(),
                "dev": dev.hex(),
                "seq": seq,
                "target": target,
                "payload": base64.b64encode(payload).decode(),
                "received": received,
            }
        )
    for r in request_store.list_requests(store):
        out.append(
            {
                "o": "link-request",
                "key": r.sender_key.hex(),
                "card": r.card,
                "note": r.note,
                "received": r.received,
            }
        )
    return out


def apply_link_state(session: Session, records: list[Any]) -> int:
    """Take the ``link-…`` records of a snapshot (after its diary: contacts exist). Every record is
    checked as hostile input; a bad one is skipped. Returns how many were skipped."""
    store = session.store
    invalid = 0
    pending: list[link_store.PendingRow] = []
    with store.write() as conn:
        for op in records:
            try:
                kind = op["o"]
                key = _hex(op.get("key"), _HEX64, "key")
                if kind == "link-chain":
                    dev = _hex(op.get("dev"), _HEX16, "device tag")
                    rows = op.get("rows")
                    if not isinstance(rows, list) or len(rows) > CHAIN_ROWS_PER_RECORD:
                        raise LinkAborted("bad chain rows")
                    checked = []
                    for row in rows:
                        if not isinstance(row, list) or len(row) != 3:
                            raise LinkAborted("bad chain row")
                        checked.append(
                            (
                                key,
                                dev,
                                _int(row[0], 0, 2**53, "seq"),
                                _hex(row[1], _HEX64, "digest"),
                                _hex(row[2], _HEX64, "prev"),
                            )
                        )
                    link_store.put_chain_rows(conn, checked)
                elif kind == "link-prekey":
                    if synced_contact(store, key):
                        session.epochs.accept_prekey(key, parse_prekey(op.get("prekey")))
                elif kind == "link-peer":  # (all checked first: a record is taken whole or not at all)
                    announced, routes, sent = op.get("announced"), op.get("routes"), op.get("sent")
                    if not isinstance(routes, dict) or len(routes) > route_store.MAX_PEER_ROUTES:
                        raise LinkAborted("bad routes")
                    if not isinstance(sent, list) or len(sent) > route_store.MAX_PEER_ROUTES:
                        raise LinkAborted("bad routes")
                    epoch: tuple[int, int] | None = None
                    if announced is not None:
                        if not isinstance(announced, list) or len(announced) != 2:
                            raise LinkAborted("bad announced epoch")
                        epoch = (
                            _int(announced[0], 0, 2**31 - 1, "gen"),
                            _int(announced[1], 0, 2**32 - 2, "epoch"),
                        )
                    shards = [
                        (check_relay_url(str(u)), _int(v, 0, 0xFFFF, "seed")) for u, v in routes.items()
                    ]
                    told = []
                    for item in sent:
                        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
                            raise LinkAborted("bad routes")
                        told.append((key, check_relay_url(item[0]), _int(item[1], 0, 0xFFFF, "seed")))
                    if epoch is not None:
                        epoch_store.record_announced(store, key, *epoch)
                    session.routes.learn_card(key, shards)
                    link_store.put_routes_sent(conn, told)
                elif kind == "link-pending":
                    dev = _hex(op.get("dev"), _HEX16, "device tag")
                    target, payload = op.get("target"), op.get("payload")
                    if not isinstance(target, str) or not 0 < len(target) <= 256 or not target.isprintable():
                        raise LinkAborted("bad pending target")
                    if not isinstance(payload, str) or len(payload) > 4 * MAX_BODY // 3 + 4:
                        raise LinkAborted("bad pending payload")
                    when = _optional_time(op.get("received"))
                    if when is None:
                        raise LinkAborted("bad pending time")
                    data = base64.b64decode(payload, validate=True)
                    pending.append((key, dev, _int(op.get("seq"), 0, 2**53, "seq"), target, data, when))
                elif kind == "link-request":
                    card, note, received = op.get("card"), op.get("note"), op.get("received")
                    if (
                        not isinstance(card, str)
                        or len(card) > MAX_CARD_TEXT
                        or decode_card(card).public_key != key
                    ):
                        raise LinkAborted("bad request card")
                    check_note(note if isinstance(note, str) else "\x00", MAX_NOTE)
                    when = _optional_time(received)
                    if when is None:
                        raise LinkAborted("bad request time")
                    if not synced_contact(store, key):
                        request_store.save_request(store, key, card, str(note), when, MAX_PENDING_REQUESTS)
            except (LinkAborted, InvalidInput, ValueError, CardError, KeyError, TypeError):
                invalid += 1
        invalid += link_store.put_pending_rows(conn, pending, MAX_PENDING)
    return invalid


def synced_contact(store: Any, key: bytes) -> bool:
    """Is ``key`` one of my contacts in ``store``?"""
    return contact_store.contact_by_key(store, key) is not None


# -- A: the device that has the identity ---------------------------------------------------------------


@dataclass
class Hello:
    """The first valid HELLO: the new device's name, its devid and the string to compare."""

    name: str
    devid: bytes
    device_key: bytes
    sas: str

    @property
    def sas_shown(self) -> str:
        return show_sas(self.sas)


class LinkHost:
    """A's side (§9.3): make the code and OFFER; answer the first HELLO with REVEAL; after the
    person's confirmation, WELCOME and the snapshot."""

    def __init__(
        self,
        session: Session,
        relays: list[tuple[str, str | None]],
        timeout: int = DEFAULT_TIMEOUT,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not 1 <= timeout <= MAX_TIMEOUT:
            raise InvalidInput("the link timeout is 1 second to 1 day")
        self.session = session
        self.relays = relays
        self.rng = rng
        self.code: LinkCode | None = LinkCode.generate(rng)
        self._a, self.offer_public = ephemeral(rng)
        self.expires = clock.now_unix() + timeout
        self.hello: Hello | None = None
        self._hello_public: bytes | None = None
        self.ignored_hellos = 0
        self.done = False

    def _code(self) -> LinkCode:
        if self.code is None:
            raise LinkAborted("the link code was erased: start again with a new code")
        return self.code

    def expired(self) -> bool:
        return clock.now_unix() >= self.expires

    def offer(self, *, reveal: bool = False) -> bytes:
        """The OFFER envelope (push it to the relay named in the code). ``reveal``: the air-gapped path's
        OFFER (§9.4), which goes in the welcome file after HELLO was seen, so it carries ``a`` itself."""
        code = self._code()
        payload: dict[str, Any] = {
            "type": "link-offer",
            "commit": code.commitment(self.offer_public).hex(),
            "expires": self.expires,
            "relays": [{"url": u, "credential": c} for u, c in self.relays],
        }
        if reveal:
            payload["a"] = self.offer_public.hex()
        return seal_link(code.key, _encode(payload), sender=self.session.identity.public, rng=self.rng).data

    def on_envelope(self, data: bytes) -> bytes | None:
        """Look at one envelope from the relay. Returns the REVEAL envelope to push when ``data`` is the
        first valid HELLO (then :attr:`hello` is set); None otherwise (not a link message, A's own, a
        later HELLO — counted in :attr:`ignored_hellos` — or anything after expiry)."""
        if self.code is None or self.done or self.expired():
            return None
        try:
            opened = open_link(self.code.key, data)
        except CryptoError:
            return None
        if opened is None:
            return None
        obj = _json(opened.payload)
        if obj is None or obj.get("type") != "link-hello":
            return None
        if self.hello is not None:
            self.ignored_hellos += 1
            return None
        try:
            b = _hex(obj.get("b"), _HEX64, "ephemeral key")
            dev_key = _hex(obj.get("dev_key"), _HEX64, "device key")
            name = obj.get("name")
            check_display_name(name if isinstance(name, str) else "", "the device's")
            x25519_base(b)  # shape only; a low-order B fails in session_key below
            self.code.session_key(self._a, b, self.offer_public, b)
        except (LinkAborted, InvalidInput, InvalidPublicKey, ValueError):
            return None
        devid = device_id(dev_key)
        self._hello_public = b
        self.hello = Hello(str(name), devid, dev_key, self.code.sas(self.offer_public, b, devid))
        reveal = {"type": "link-reveal", "a": self.offer_public.hex()}
        return seal_link(
            self.code.key, _encode(reveal), sender=self.session.identity.public, rng=self.rng
        ).data

    def _abort(self, reason: str) -> bytes:
        payload = {"type": "link-abort", "reason": reason}
        return seal_link(
            self._code().key, _encode(payload), sender=self.session.identity.public, rng=self.rng
        ).data

    def refuse(self) -> bytes:
        """The person said the strings differ (or did not confirm): erase the code. Returns the ABORT
        envelope to push (``{"type":"link-abort","reason":"refused"}`` under ``Kl``), which ends every
        joiner that holds the code at once instead of at its timeout."""
        abort = self._abort("refused")
        self.code = None
        self._a = b""
        return abort

    def give_up(self) -> bytes:
        """Nobody joined in time: erase the code; returns the ABORT (reason ``expired``) to push."""
        abort = self._abort("expired")
        self.code = None
        self._a = b""
        return abort

    def welcome(self) -> list[bytes]:
        """After the person confirmed the string: WELCOME and the snapshot envelopes (under ``Ks``),
        and the new device added to my device list (an op for my other devices). Erases the code."""
        code = self._code()
        if self.hello is None or self._hello_public is None:
            raise LinkAborted("no device asked to join")
        if self.expired():
            raise LinkExpired("the link code expired: start again with a new code")
        ks = code.session_key(self._a, self._hello_public, self.offer_public, self._hello_public)
        session = self.session
        devices = session.devices
        devices.this_device()
        seeds, live = device_store.epoch_state(session.store)
        settings = device_store.meta_values(
            session.store, ("epoch_length", "epoch_grace", "require_forward_secrecy")
        )
        # read in this order: my cursors, then the chain positions, then the diary. An envelope that
        # arrives meanwhile is then either in the diary (and, read again by B, a silent replay or a
        # duplicate) or after B's cursor: B opens everything A opens from the moment of linking.
        cursors = {r.url: relay_store.get_state(session.store, r.url).cursor for r in session.relays.list()}
        ops = link_state(session) + devices.snapshot()
        # my shard seed per relay (design-sharding §8), drawn now where none was yet: both devices must
        # read the shard my contacts will tag for me, whichever device gives out the card
        seeds_by_url = {r.url: session.routes.seed(r.url) for r in session.relays.list()}
        # one JSON array of every op, cut into pieces: an op may be larger than an envelope (an entry
        # of 64 KiB with its readers), so the pieces are bytes, not whole ops
        stream = json.dumps(ops, separators=(",", ":"), ensure_ascii=False).encode()
        pieces = [stream[i : i + SNAPSHOT_PIECE] for i in range(0, len(stream), SNAPSHOT_PIECE)] or [b""]
        if len(pieces) > MAX_SNAPSHOT_ENVELOPES:
            raise LinkAborted("this diary is too large to link in one go")
        welcome = {
            "type": "link-welcome",
            "identity": {"secret": session.identity.secret.hex(), "name": session.name},
            "seeds": [
                {"gen": s.gen, "epoch": s.epoch, "seed": s.seed.hex(), "commitment": s.commitment.hex()}
                for s in seeds
            ],
            "live": [
                {
                    "kind": k.kind,
                    "kid": k.kid,
                    "gen": k.gen,
                    "epoch": k.epoch,
                    "secret": k.secret.hex(),
                    "public": None if k.public_key is None else k.public_key.hex(),
                    "start": k.start,
                    "end": k.end,
                    "delete": k.delete_at,
                }
                for k in live
            ],
            "settings": settings,
            "relays": [
                {"url": r.url, "credential": r.credential, "cursor": cursors.get(r.url, 0)}
                | ({"shard": seeds_by_url[r.url]} if r.url in seeds_by_url else {})
                for r in session.relays.list()
            ],
            "first_card_at": get_meta(session.store, FIRST_CARD_AT),
            "lc": devices.lamport(),
            "snapshot": {"envelopes": len(pieces)},
        }
        me = session.identity.public
        out = [seal_link(ks, _encode(welcome), sender=me, rng=self.rng).data]
        for index, piece in enumerate(pieces):
            payload = {"type": "link-snapshot", "index": index, "data": base64.b64encode(piece).decode()}
            out.append(seal_link(ks, _encode(payload), sender=me, rng=self.rng).data)
        # the code is used: any other device that holds it stops at once (§9.3 "link-closed")
        closed = {"type": "link-closed", "b": self._hello_public.hex()}
        out.append(seal_link(code.key, _encode(closed), sender=me, rng=self.rng).data)
        hello = self.hello
        devices.add_device(hello.devid, hello.device_key, hello.name)
        self.code, self._a, self.done = None, b"", True
        return out


# -- B: the new device -----------------------------------------------------------------------------


@dataclass
class Welcome:
    """What WELCOME and the snapshot carried, checked."""

    secret: bytes = field(repr=False)
    name: str
    seeds: list[SeedRow]
    live: list[LiveKey]
    settings: dict[str, str]
    relays: list[tuple[str, str | None]]
    shard_seeds: dict[str, int]  # my shard seed per relay, so contacts' tags reach this device too
    cursors: dict[str, int]  # where the other device had read each relay: this one goes on from there
    first_card_at: str | None
    lc: int
    chunks: dict[int, bytes]  # the snapshot's pieces by index
    expected: int


@dataclass
class SnapshotReport:
    """What applying the snapshot did on the new device: ops ``applied``, ``invalid`` (failed validation),
    ``pending`` (still waiting for their target), ``skipped`` by kind (kinds this version does not apply)
    and local ``renamed`` names. A complete snapshot from a device of the same version has no invalid,
    pending or skipped op; :meth:`problems` says in a sentence what was not taken."""

    applied: int = 0
    invalid: int = 0
    pending: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    renamed: list[tuple[str, str]] = field(default_factory=list)

    def add(self, report: SyncReport) -> None:
        self.applied += report.applied + report.stale
        self.invalid += report.invalid
        self.pending += report.pending
        self.skipped.update(report.skipped)
        self.renamed.extend(report.renamed)

    def problems(self) -> str | None:
        parts = []
        if self.invalid:
            parts.append(f"{self.invalid} invalid")
        if self.pending:
            parts.append(f"{self.pending} waiting for an object that did not come")
        for kind, n in sorted(self.skipped.items()):
            parts.append(f"{n} of kind {kind!r} (not applied by this version)")
        if not parts:
            return None
        return "Of the other device's diary, some items were not taken: " + "; ".join(parts) + "."


class LinkJoiner:
    """B's side (§9.3): find the OFFER; answer with HELLO; check REVEAL against the commitment;
    compute ``Ks`` and the string; collect WELCOME and the snapshot."""

    def __init__(self, code: LinkCode, name: str, rng: Callable[[int], bytes] = os.urandom) -> None:
        check_display_name(name, "the device's")
        self.code = code
        self.name = name
        self.rng = rng
        self._b, self.hello_public = ephemeral(rng)
        self.device_secret = rng(32)
        self.device_public = x25519_base(self.device_secret)
        self.devid = device_id(self.device_public)
        self.offer: dict[str, Any] | None = None
        self.identity_key: bytes | None = None
        self.relays: list[tuple[str, str | None]] = []
        self.expires = 0
        self.sas: str | None = None
        self._ks: bytes | None = None
        self.welcome: Welcome | None = None
        self.report = SnapshotReport()

    def expired(self) -> bool:
        return self.offer is not None and clock.now_unix() >= self.expires

    def file_hello(self) -> bytes:
        """The air-gapped path's HELLO (§9.4): written to a file before any OFFER is seen."""
        hello = {
            "type": "link-hello",
            "b": self.hello_public.hex(),
            "name": self.name,
            "dev_key": self.device_public.hex(),
        }
        return seal_link(self.code.key, _encode(hello), rng=self.rng).data

    def on_file(self, envelopes: list[bytes]) -> None:
        """The welcome file (§9.4): its first envelope is the OFFER carrying ``a`` (under ``Kl``), then
        WELCOME and the snapshot (under ``Ks``). Sets :attr:`sas`; :attr:`complete` when all arrived.
        Raises LinkError: not made with this code ("does not open"), expired, a broken commitment,
        or made for another device / damaged (the OFFER opens, the rest does not)."""
        if not envelopes:
            raise LinkAborted("the welcome file is empty")
        if self.offer is None:
            try:
                opened = open_link(self.code.key, envelopes[0])
            except CryptoError:
                opened = None
            obj = _json(opened.payload) if opened is not None else None
            if opened is None or obj is None or obj.get("type") != "link-offer":
                raise LinkAborted("the welcome file was not made with this code (an old file, or damaged)")
            expires = _int(obj.get("expires"), 0, 2**40, "expiry")
            if clock.now_unix() >= expires:
                raise LinkExpired("the link code expired: nothing was linked; ask for a new one")
            a = _hex(obj.get("a"), _HEX64, "ephemeral key")
            if self.code.commitment(a).hex() != obj.get("commit"):
                raise LinkAborted("the welcome file's key does not match its offer: nothing was linked")
            try:
                self._ks = self.code.session_key(self._b, a, a, self.hello_public)
            except InvalidPublicKey as exc:
                raise LinkAborted("the welcome file carries an unusable key") from exc
            self.relays = _relays(obj.get("relays", []))
            self.offer, self.expires, self.identity_key = obj, expires, opened.sender
            self.sas = self.code.sas(a, self.hello_public, self.devid)
        for data in envelopes[1:]:
            assert self._ks is not None
            try:
                opened = open_link(self._ks, data)
            except CryptoError:
                opened = None
            if opened is None:
                try:
                    other = open_link(self.code.key, data)
                except CryptoError:
                    other = None
                if other is not None:
                    continue  # (the CLOSED message, under the code)
                raise LinkAborted(
                    "the welcome file was made for another device, or already used, or damaged: "
                    "nothing was linked; start again with a new code"
                )
            if opened.sender == self.identity_key:
                self._on_session(opened.payload)

    def on_envelope(self, data: bytes) -> bytes | None:
        """Look at one envelope. Returns HELLO to push when ``data`` is the OFFER; raises LinkExpired
        (an OFFER past its time), LinkAborted (a REVEAL that does not match the commitment; a bad
        WELCOME). After REVEAL, :attr:`sas` is set; after the whole snapshot, :attr:`complete`."""
        try:
            if self._ks is not None:
                opened = open_link(self._ks, data)
                if opened is not None:
                    if opened.sender == self.identity_key:
                        self._on_session(opened.payload)
                    return None
            opened = open_link(self.code.key, data)
        except CryptoError:
            return None
        if opened is None:
            return None
        obj = _json(opened.payload)
        if obj is None:
            return None
        kind = obj.get("type")
        if kind in ("link-abort", "link-closed") and self.offer is not None:
            if opened.sender == self.identity_key and self.welcome is None:
                self._on_abort(obj)
            return None
        if self._ks is not None:
            return None
        if kind == "link-offer" and self.offer is None:
            expires = _int(obj.get("expires"), 0, 2**40, "expiry")
            if clock.now_unix() >= expires:
                raise LinkExpired("the link code expired or was already used: ask for a new one")
            _hex(obj.get("commit"), _HEX64, "commitment")
            self.relays = _relays(obj.get("relays", []))
            self.offer, self.expires, self.identity_key = obj, expires, opened.sender
            hello = {
                "type": "link-hello",
                "b": self.hello_public.hex(),
                "name": self.name,
                "dev_key": self.device_public.hex(),
            }
            return seal_link(self.code.key, _encode(hello), rng=self.rng).data
        if kind == "link-reveal" and self.offer is not None and self.sas is None:
            if opened.sender != self.identity_key:
                return None
            a = _hex(obj.get("a"), _HEX64, "ephemeral key")
            if self.code.commitment(a).hex() != self.offer["commit"]:
                raise LinkAborted(
                    "the other device's key does not match its offer: someone else may know the code. "
                    "Nothing was linked; start again with a new code"
                )
            try:
                self._ks = self.code.session_key(self._b, a, a, self.hello_public)
            except InvalidPublicKey as exc:
                raise LinkAborted("the other device sent an unusable key") from exc
            self.sas = self.code.sas(a, self.hello_public, self.devid)
        return None

    def _on_abort(self, obj: dict[str, Any]) -> None:
        """ABORT or CLOSED from the device that made the offer (§9.3): end the join with its reason."""
        if obj.get("type") == "link-closed":
            if obj.get("b") == self.hello_public.hex():
                return  # my own link completed: the snapshot is what counts
            raise LinkExpired(
                "the link code was already used by another device: nothing was linked here; "
                "ask for a new code (tui-sns devices link)"
            )
        if obj.get("reason") == "expired":
            raise LinkExpired("the link code expired: nothing was linked; ask for a new one")
        raise LinkAborted(
            "the other device refused the link (the 6-digit strings differed, or nobody confirmed them): "
            "nothing was linked; start again with a new code"
        )

    def _on_session(self, payload: bytes) -> None:
        obj = _json(payload)
        if obj is None:
            return
        if obj.get("type") == "link-welcome" and self.welcome is None:
            self.welcome = self._check_welcome(obj)
        elif obj.get("type") == "link-snapshot" and self.welcome is not None:
            index = _int(obj.get("index"), 0, self.welcome.expected - 1, "snapshot index")
            data = obj.get("data")
            if not isinstance(data, str) or len(data) > 4 * SNAPSHOT_PIECE // 3 + 4:
                raise LinkAborted("a snapshot envelope carries no data")
            try:
                self.welcome.chunks[index] = base64.b64decode(data, validate=True)
            except ValueError as exc:
                raise LinkAborted("a snapshot envelope carries bad data") from exc

    def _check_welcome(self, obj: dict[str, Any]) -> Welcome:
        ident = obj.get("identity")
        if not isinstance(ident, dict):
            raise LinkAborted("the welcome carries no identity")
        secret = _hex(ident.get("secret"), _HEX64, "identity")
        if Identity(secret=secret).public != self.identity_key:
            raise LinkAborted("the welcome's identity is not the one that made the offer")
        name = ident.get("name")
        try:
            check_display_name(name if isinstance(name, str) else "", "your display")
        except InvalidInput as exc:
            raise LinkAborted(str(exc)) from exc
        seeds_raw, live_raw = obj.get("seeds"), obj.get("live")
        if not isinstance(seeds_raw, list) or not isinstance(live_raw, list) or len(live_raw) > MAX_LIVE_KEYS:
            raise LinkAborted("the welcome's epoch keys are malformed")
        if len(seeds_raw) > MAX_LIVE_KEYS:
            raise LinkAborted("the welcome's epoch keys are malformed")
        seeds = []
        for s in seeds_raw:
            if not isinstance(s, dict):
                raise LinkAborted("the welcome's epoch keys are malformed")
            seeds.append(
                SeedRow(
                    _int(s.get("gen"), 0, 2**31 - 1, "generation"),
                    _int(s.get("epoch"), 0, 2**32 - 2, "epoch"),
                    _hex(s.get("seed"), _HEX64, "seed"),
                    _hex(s.get("commitment"), _HEX32, "commitment"),
                )
            )
        live = []
        for k in live_raw:
            if not isinstance(k, dict) or k.get("kind") not in ("prekey", "self"):
                raise LinkAborted("the welcome's epoch keys are malformed")
            public = k.get("public")
            start = _int(k.get("start"), 0, 2**40, "schedule")
            end = _int(k.get("end"), start, 2**40, "schedule")
            live.append(
                LiveKey(
                    str(k["kind"]),
                    _int(k.get("kid"), 0, 2**32 - 1, "key id"),
                    _int(k.get("gen"), 0, 2**31 - 1, "generation"),
                    _int(k.get("epoch"), 0, 2**32 - 2, "epoch"),
                    _hex(k.get("secret"), _HEX64, "key"),
                    None if public is None else _hex(public, _HEX64, "public key"),
                    start,
                    end,
                    _int(k.get("delete"), end, 2**40, "schedule"),
                )
            )
        settings_raw = obj.get("settings", {})
        if not isinstance(settings_raw, dict) or len(settings_raw) > 16:
            raise LinkAborted("the welcome's settings are malformed")
        settings = {}
        for key in ("epoch_length", "epoch_grace", "require_forward_secrecy"):
            if key in settings_raw:
                value = settings_raw[key]
                # ASCII digits only (str.isdigit takes "²", which int() refuses when the setting is read)
                if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,12}", value):
                    raise LinkAborted("the welcome's settings are malformed")
                settings[key] = value
        snapshot = obj.get("snapshot")
        if not isinstance(snapshot, dict):
            raise LinkAborted("the welcome names no snapshot")
        return Welcome(
            secret=secret,
            name=str(name),
            seeds=seeds,
            live=live,
            settings=settings,
            relays=_relays(obj.get("relays", [])),
            shard_seeds=_seeds(obj.get("relays", [])),
            cursors=_cursors(obj.get("relays", [])),
            first_card_at=_optional_time(obj.get("first_card_at")),
            lc=_int(obj.get("lc"), 0, 2**53, "Lamport time"),
            chunks={},
            expected=_int(snapshot.get("envelopes"), 1, MAX_SNAPSHOT_ENVELOPES, "snapshot size"),
        )

    @property
    def complete(self) -> bool:
        return self.welcome is not None and len(self.welcome.chunks) == self.welcome.expected

    def _snapshot_ops(self) -> list[Any]:
        """The snapshot's ops: its pieces joined in order, one JSON array (checked: a list)."""
        assert self.welcome is not None
        stream = b"".join(self.welcome.chunks[i] for i in range(self.welcome.expected))
        try:
            ops = json.loads(stream) if stream else []
        except (ValueError, RecursionError) as exc:
            raise LinkAborted("the snapshot is not readable") from exc
        if not isinstance(ops, list):
            raise LinkAborted("the snapshot is not a list of ops")
        return ops

    def create_store(self, home: Path, passphrase: str, kdf: Any = None) -> Session:
        """Make the new device's store in ``home`` from WELCOME and the snapshot: the identity, the
        identity's epoch keys, this device (its key from HELLO), my relays, then the diary. Refuses if
        ``home`` has an identity."""
        from tui_sns.core.session import Session

        welcome = self.welcome
        if welcome is None or not self.complete:
            raise LinkAborted("the welcome or part of the snapshot did not arrive")
        ops = self._snapshot_ops()  # (read before anything is written: a bad snapshot leaves no store)

        def setup(conn_store: Any) -> None:
            with conn_store.write() as conn:
                device_store.replace_epoch_state(conn, welcome.seeds, welcome.live)
                device_store.set_meta_values(
                    conn, {**welcome.settings, "devid": self.devid.hex(), "devtag_key": os.urandom(32).hex()}
                )

        session = Session.create_linked(home, welcome.name, welcome.secret, passphrase, setup=setup, kdf=kdf)
        try:
            session.devices.this_device(self.name, device_secret=self.device_secret)
            for url, credential in welcome.relays:
                if credential:
                    session.relays.add_known(url, credential)
            for url, seed in welcome.shard_seeds.items():
                route_store.ensure_seed(session.store, url, _constant(seed), clock.now_iso())
            for url, cursor in welcome.cursors.items():
                if cursor and url in session.relays.urls():
                    relay_store.set_cursor(session.store, url, cursor)
            if welcome.first_card_at is not None:
                set_meta(session.store, FIRST_CARD_AT, welcome.first_card_at)
            session.devices.observe(welcome.lc)
            diary = [op for op in ops if not _is_state(op)]
            for start in range(0, len(diary), APPLY_BATCH):
                self.report.add(session.devices.apply_ops(diary[start : start + APPLY_BATCH]))
            self.report.invalid += apply_link_state(session, [op for op in ops if _is_state(op)])
            # §9.3: B tells my devices about itself in a device-sync op (its name and key); their
            # device lists get it, and its last_seen there moves when the envelope opens
            me = session.devices.this_device()
            session.devices.record(
                "device",
                {"devid": me.devid.hex()},
                {"key": me.public_key.hex(), "name": me.name, "added": me.created, "removed": None},
            )
        except BaseException:
            session.close()
            raise
        self._b, self._ks, self.device_secret = b"", None, b""
        return session


# -- over a relay ----------------------------------------------------------------------------------


def parse_join_code(text: str) -> tuple[LinkCode, str | None, str | None]:
    """A typed code (``tsl1-…``) or the QR's text (``tuisns-link:1:…``): (code, relay, credential)."""
    if text.strip().startswith("tuisns-link:"):
        uri = parse_qr(text.strip())
        return uri.code, uri.relay, uri.credential
    return parse_code(text), None, None


async def _pages(client: Any, cursor: int) -> tuple[list[Any], int]:
    page = await client.page(cursor)
    out = list(page.envelopes)
    cursor = page.next if page.envelopes else cursor
    while page.more and len(out) < 5000:
        page = await client.page(cursor)
        out.extend(page.envelopes)
        cursor = page.next if page.envelopes else cursor
    return out, cursor


def host_link(
    session: Session,
    relay: str,
    credential: str | None,
    timeout: int,
    show_code: Callable[[LinkCode, str], None],
    confirm: Callable[[Hello], bool],
    transport: Any = None,
) -> Hello:
    """Run A's side over ``relay``: push OFFER, show the code, wait for HELLO (≤ ``timeout``), push
    REVEAL, ask ``confirm``, push WELCOME and the snapshot. Returns the linked device's HELLO; raises
    LinkExpired (nobody came in time) or LinkAborted (the person said no)."""
    from tui_sns.net.transport import RelayClient

    host = LinkHost(session, [(relay, credential)], timeout)
    code = host._code()

    async def run() -> Hello:
        async with RelayClient(relay, credential, transport=transport) as client:
            cursor = 0
            first = await client.page(0)
            cursor = first.next
            while first.more:
                first = await client.page(cursor)
                cursor = first.next
            await client.put(host.offer(), expires=host.expires + RELAY_MARGIN)
            show_code(code, code.qr_text(relay, credential))
            while not host.expired():
                envelopes, cursor = await _pages(client, cursor)
                for envelope in envelopes:
                    reveal = host.on_envelope(envelope.data)
                    if reveal is not None:
                        await client.put(reveal, expires=host.expires + RELAY_MARGIN)
                        assert host.hello is not None
                        refusal: LinkError | None = None
                        try:
                            confirmed = confirm(host.hello)
                        except LinkError as exc:  # e.g. no answer: a refusal with its own sentence
                            confirmed, refusal = False, exc
                        if not confirmed:
                            await client.put(host.refuse(), expires=host.expires + RELAY_MARGIN)
                            raise refusal or LinkAborted(
                                "you said the strings differ: nothing was linked (the code is erased)"
                            )
                        for data in host.welcome():
                            await client.put(data, expires=clock.now_unix() + 3600)
                        return host.hello
                await asyncio.sleep(POLL_SECONDS)
            await client.put(host.give_up(), expires=clock.now_unix() + RELAY_MARGIN)
            raise LinkExpired("the link code expired: nobody joined in time, nothing was linked")

    return asyncio.run(run())


async def _start_cursor(client: Any) -> int:
    """Where B starts reading for the OFFER (§9.3: a cursor before the code was made): the relay's
    cursor for one day and an hour ago (a code works at most a day; the relay rounds to the hour), so a
    long relay log is not downloaded; 0 (the whole log) from a relay that cannot say."""
    from tui_sns.core.errors import NetworkError

    try:
        answer = await client.cursor_at(clock.now_unix() - MAX_TIMEOUT - 3600)
    except NetworkError:
        return 0
    return answer or 0


def join_link(
    home: Path,
    passphrase: str,
    code: LinkCode,
    relay: str,
    credential: str | None,
    name: str,
    show_sas_text: Callable[[str], None],
    timeout: int = DEFAULT_TIMEOUT,
    kdf: Any = None,
    transport: Any = None,
    on_report: Callable[[SnapshotReport], None] | None = None,
) -> Session:
    """Run B's side over ``relay``: read from the start of the relay's log for the OFFER, push HELLO,
    wait for REVEAL (show the string), WELCOME and the snapshot; then make the store in ``home``.
    ``on_report`` gets what applying the snapshot did (:class:`SnapshotReport`)."""
    from tui_sns.net.transport import RelayClient

    joiner = LinkJoiner(code, name)
    deadline = time.monotonic() + timeout

    async def run() -> None:
        async with RelayClient(relay, credential, transport=transport) as reader:
            cursor = await _start_cursor(reader)
            shown = False
            while time.monotonic() < deadline and not joiner.expired():
                envelopes, cursor = await _pages(reader, cursor)
                for envelope in envelopes:
                    hello = joiner.on_envelope(envelope.data)
                    if hello is not None:
                        writer_cred = next(
                            (c for u, c in joiner.relays if u.rstrip("/") == relay.rstrip("/")), None
                        )
                        async with RelayClient(
                            relay, writer_cred or credential, transport=transport
                        ) as writer:
                            await writer.put(hello, expires=joiner.expires + RELAY_MARGIN)
                    if joiner.sas is not None and not shown:
                        show_sas_text(show_sas(joiner.sas))
                        shown = True
                    if joiner.complete:
                        return
                await asyncio.sleep(POLL_SECONDS)
            raise LinkExpired("the link code expired or was already used: ask for a new one")

    asyncio.run(run())
    session = joiner.create_store(home, passphrase, kdf)
    if on_report is not None:
        on_report(joiner.report)
    return session


# -- air-gapped: two files carried by hand (§9.4) -------------------------------------------------

MAX_FILE_BYTES = (MAX_SNAPSHOT_ENVELOPES + 2) * (MAX_BODY + 2048)


def _read_bundle(path: Path) -> list[bytes] | None:
    """The envelopes of a bundle file, or None while it is missing or incomplete (still being copied)."""
    from tui_sns.core.exchange import unpack_bundle

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise LinkAborted(f"{path} is far larger than a link file")
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return unpack_bundle(data)
    except InvalidInput:
        return None


def _write_bundle(path: Path, envelopes: list[bytes]) -> None:
    from tui_sns.core.exchange import pack_bundle
    from tui_sns.store.atomic import write_atomic

    write_atomic(path, pack_bundle(envelopes), mode=0o600)


def host_link_files(
    session: Session,
    hello_in: Path,
    welcome_out: Path,
    timeout: int,
    show_code: Callable[[LinkCode], None],
    confirm: Callable[[Hello], bool],
    note: Callable[[str], None] = lambda text: None,
) -> Hello:
    """A's side without a network: show the code, wait (≤ ``timeout``) for ``hello_in`` (the new
    device's HELLO, carried by hand), ask ``confirm`` with the 6-digit string, then write
    ``welcome_out``: the OFFER carrying ``a`` (under ``Kl``), WELCOME and the snapshot (under ``Ks``),
    sealed, mode 0600. A refusal writes nothing. Raises LinkExpired, LinkAborted."""
    relays: list[tuple[str, str | None]] = [(r.url, r.credential) for r in session.relays.list()]
    host = LinkHost(session, relays[:MAX_RELAYS_OFFERED], timeout)
    show_code(host._code())
    noted = False
    while not host.expired():
        envelopes = _read_bundle(hello_in)
        for data in envelopes or []:
            host.on_envelope(data)
        if host.hello is not None:
            break
        if envelopes is not None and not noted:
            note(f"{hello_in} is not a hello for this code (an old file?): waiting for the new one")
            noted = True
        time.sleep(POLL_SECONDS)
    else:
        host.give_up()
        raise LinkExpired("the link code expired: no hello file came in time")
    refusal: LinkError | None = None
    try:
        confirmed = confirm(host.hello)
    except LinkError as exc:
        confirmed, refusal = False, exc
    if not confirmed:
        host.refuse()
        raise refusal or LinkAborted("you said the strings differ: nothing was linked (the code is erased)")
    offer = host.offer(reveal=True)
    hello = host.hello
    _write_bundle(welcome_out, [offer, *host.welcome()])
    return hello


def join_link_files(
    home: Path,
    passphrase: str,
    code: LinkCode,
    hello_out: Path,
    welcome_in: Path,
    name: str,
    confirm_sas: Callable[[str], bool],
    timeout: int = DEFAULT_TIMEOUT,
    kdf: Any = None,
    note: Callable[[str], None] = lambda text: None,
    on_report: Callable[[SnapshotReport], None] | None = None,
) -> Session:
    """B's side without a network: write ``hello_out`` (HELLO under ``Kl``: public keys only, 0600),
    wait (≤ ``timeout``) for ``welcome_in``, check it, ask ``confirm_sas`` with the 6-digit string the
    other device showed, and only then make the store in ``home``. Nothing secret is written before
    the store; ``b`` lives in memory only, so a copy of the welcome file is useless afterwards."""
    joiner = LinkJoiner(code, name)
    _write_bundle(hello_out, [joiner.file_hello()])
    deadline = time.monotonic() + timeout
    noted = False
    while True:
        envelopes = _read_bundle(welcome_in)
        if envelopes:
            try:
                joiner.on_file(envelopes)
            except LinkAborted:
                if joiner.offer is not None:
                    raise  # made with this code, but not for this device, or damaged
                if not noted:  # (an old file, or a copy still under way: wait for the right one)
                    note(
                        f"{welcome_in} is not a welcome for this code (an old file?): waiting for the new one"
                    )
                    noted = True
            if joiner.complete:
                break
        if time.monotonic() >= deadline:
            raise LinkExpired("the link code expired: no welcome file came in time; ask for a new code")
        time.sleep(POLL_SECONDS)
    assert joiner.sas is not None
    if not confirm_sas(show_sas(joiner.sas)):
        raise LinkAborted("the strings were not confirmed the same: nothing was linked")
    session = joiner.create_store(home, passphrase, kdf)
    if on_report is not None:
        on_report(joiner.report)
    return session


__all__ = [
    "DEFAULT_TIMEOUT",
    "Hello",
    "LinkAborted",
    "LinkError",
    "LinkExpired",
    "LinkHost",
    "LinkJoiner",
    "host_link",
    "host_link_files",
    "join_link",
    "join_link_files",
    "parse_join_code",
]
