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
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sns.core import clock
from tui_sns.core.errors import InvalidInput, TuiSnsError
from tui_sns.core.names import check_display_name
from tui_sns.crypto.card import check_relay_url
from tui_sns.crypto.envelope import MAX_BODY
from tui_sns.crypto.envelope_v2 import open_link, seal_link
from tui_sns.crypto.epochs import device_id
from tui_sns.crypto.errors import CardError, CryptoError, InvalidPublicKey
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.linking import LinkCode, ephemeral, parse_code, parse_qr, show_sas
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import devices as device_store
from tui_sns.store import routes as route_store
from tui_sns.store.devices import LiveKey, SeedRow

if TYPE_CHECKING:
    from tui_sns.core.session import Session

DEFAULT_TIMEOUT = 600  # seconds (§9.3: setting link_timeout, default 10 min)
MAX_TIMEOUT = 86400
SNAPSHOT_CHUNK = MAX_BODY - 4096  # bytes of JSON per snapshot envelope (≤ 64 KiB payload)
MAX_SNAPSHOT_ENVELOPES = 4096  # 4096 × 60 KiB: 240 MiB of diary, far beyond a person's
MAX_RELAYS_OFFERED = 8
MAX_LIVE_KEYS = 64
MAX_CREDENTIAL = 512
POLL_SECONDS = 0.2
RELAY_MARGIN = 300  # seconds a relay keeps a link message past the code's expiry (clocks differ)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


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
            or not credential.isprintable()
        ):
            raise LinkAborted("a link message carries a bad relay credential")
        out.append((str(url), credential or None))
    return out


def _constant(value: int) -> Callable[[], int]:
    return lambda: value


def _seeds(value: object) -> dict[str, int]:
    """The ``shard`` seeds of a WELCOME's relays ({url: 0..65535}); relays were checked by _relays."""
    out: dict[str, int] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and "shard" in item:
            out[str(item.get("url"))] = _int(item["shard"], 0, 0xFFFF, "shard seed")
    return out


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

    def offer(self) -> bytes:
        """The OFFER envelope (push it to the relay named in the code)."""
        code = self._code()
        payload = {
            "type": "link-offer",
            "commit": code.commitment(self.offer_public).hex(),
            "expires": self.expires,
            "relays": [{"url": u, "credential": c} for u, c in self.relays],
        }
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

    def refuse(self) -> None:
        """The person said the strings differ: erase the code (the other device times out)."""
        self.code = None
        self._a = b""

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
        ops = devices.snapshot()
        seeds_by_url = route_store.my_seeds(session.store)  # my shard seed per relay (design-sharding §8)
        chunks: list[list[dict[str, Any]]] = [[]]
        size = 0
        for op in ops:
            n = len(_encode(op)) + 1
            if chunks[-1] and size + n > SNAPSHOT_CHUNK:
                chunks.append([])
                size = 0
            chunks[-1].append(op)
            size += n
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
                {"url": r.url, "credential": r.credential}
                | ({"shard": seeds_by_url[r.url]} if r.url in seeds_by_url else {})
                for r in session.relays.list()
            ],
            "lc": devices.lamport(),
            "snapshot": {"envelopes": len(chunks)},
        }
        me = session.identity.public
        out = [seal_link(ks, _encode(welcome), sender=me, rng=self.rng).data]
        for index, chunk in enumerate(chunks):
            payload = {"type": "link-snapshot", "index": index, "ops": chunk}
            out.append(seal_link(ks, _encode(payload), sender=me, rng=self.rng).data)
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
    lc: int
    chunks: dict[int, list[Any]]
    expected: int


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

    def expired(self) -> bool:
        return self.offer is not None and clock.now_unix() >= self.expires

    def on_envelope(self, data: bytes) -> bytes | None:
        """Look at one envelope. Returns HELLO to push when ``data`` is the OFFER; raises LinkExpired
        (an OFFER past its time), LinkAborted (a REVEAL that does not match the commitment; a bad
        WELCOME). After REVEAL, :attr:`sas` is set; after the whole snapshot, :attr:`complete`."""
        try:
            if self._ks is not None:
                opened = open_link(self._ks, data)
                if opened is not None and opened.sender == self.identity_key:
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

    def _on_session(self, payload: bytes) -> None:
        obj = _json(payload)
        if obj is None:
            return
        if obj.get("type") == "link-welcome" and self.welcome is None:
            self.welcome = self._check_welcome(obj)
        elif obj.get("type") == "link-snapshot" and self.welcome is not None:
            index = _int(obj.get("index"), 0, self.welcome.expected - 1, "snapshot index")
            ops = obj.get("ops")
            if not isinstance(ops, list):
                raise LinkAborted("a snapshot envelope carries no ops")
            self.welcome.chunks[index] = ops

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
            lc=_int(obj.get("lc"), 0, 2**53, "Lamport time"),
            chunks={},
            expected=_int(snapshot.get("envelopes"), 1, MAX_SNAPSHOT_ENVELOPES, "snapshot size"),
        )

    @property
    def complete(self) -> bool:
        return self.welcome is not None and len(self.welcome.chunks) == self.welcome.expected

    def create_store(self, home: Path, passphrase: str, kdf: Any = None) -> Session:
        """Make the new device's store in ``home`` from WELCOME and the snapshot: the identity, the
        identity's epoch keys, this device (its key from HELLO), my relays, then the diary. Refuses if
        ``home`` has an identity."""
        from tui_sns.core.session import Session

        welcome = self.welcome
        if welcome is None or not self.complete:
            raise LinkAborted("the welcome or part of the snapshot did not arrive")

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
            session.devices.observe(welcome.lc)
            for index in range(welcome.expected):
                session.devices.apply_ops(welcome.chunks[index])
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
                        if not confirm(host.hello):
                            host.refuse()
                            raise LinkAborted("not linked: the strings differ (the code is erased)")
                        for data in host.welcome():
                            await client.put(data, expires=clock.now_unix() + 3600)
                        return host.hello
                await asyncio.sleep(POLL_SECONDS)
            host.refuse()
            raise LinkExpired("the link code expired: nobody joined in time")

    return asyncio.run(run())


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
) -> Session:
    """Run B's side over ``relay``: read from the start of the relay's log for the OFFER, push HELLO,
    wait for REVEAL (show the string), WELCOME and the snapshot; then make the store in ``home``."""
    from tui_sns.net.transport import RelayClient

    joiner = LinkJoiner(code, name)
    deadline = time.monotonic() + timeout

    async def run() -> None:
        async with RelayClient(relay, credential, transport=transport) as reader:
            cursor = 0
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
    return joiner.create_store(home, passphrase, kdf)


__all__ = [
    "DEFAULT_TIMEOUT",
    "Hello",
    "LinkAborted",
    "LinkError",
    "LinkExpired",
    "LinkHost",
    "LinkJoiner",
    "host_link",
    "join_link",
    "parse_join_code",
]
