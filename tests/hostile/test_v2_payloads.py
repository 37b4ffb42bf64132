"""Protocol v2's new surfaces as hostile input (the project's rule: every byte from another person, a
relay, a card, a file or the disk is hostile until checked). Property tests feed arbitrary and
structurally mutated JSON through each entry point — device-sync ops and payloads (core/devices.py),
linking messages (core/linking.py, crypto/linking.py), reset payloads (core/resets.py), ``announce``
(core/epochs.py), ``routes`` (core/messages.py) and the card's ``prekey``/``shards`` (crypto/card.py)
— and check that:

- only the documented exception types escape (or the op is counted as skipped/invalid/rejected);
- nothing is applied in part: when an op is refused the store is unchanged (a digest of every table,
  the Lamport clock and the write counter aside);
- the work is bounded: counts of what was applied/skipped add up to what was sent, never more;
- names that reach a display path are clean one-line text (core/display.py's ``is_safe_line``).

Example counts are kept small (the whole file runs in seconds). Each failure these tests found is also
kept as an explicit regression test below (``test_seen_…``)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_sns.core.devices import MAX_OPS, BadOp, parse_op
from tui_sns.core.display import is_safe_line
from tui_sns.core.session import Session
from tui_sns.crypto.card import Card, CardError, decode_card
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import KdfParams

PASSPHRASE = "correct horse battery staple"
FEW = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SOME = settings(FEW, max_examples=120)

T = "2026-12-01T00:00:00+00:00"
DEV = "0123456789abcdef"  # a sibling's devid
KENJI = x25519_base(b"\x07" * 32).hex()  # a contact (made by a contact op in the fixture)
LEE = x25519_base(b"\x09" * 32).hex()  # a key nobody knows
CIRCLE = "ab" * 16

# -- hostile values ------------------------------------------------------------------------------------


class _Shown(list):  # type: ignore[type-arg]
    """A list that Hypothesis can name without walking it (a report of a 5000-deep list would recurse)."""

    def __init__(self, items: Any, name: str) -> None:
        super().__init__(items)
        self.name = name

    def __repr__(self) -> str:
        return self.name


_deep: list[Any] = [0]
for _ in range(5000):  # deeper than Python's recursion limit
    _deep = [_deep]
DEEP = _Shown(_deep, "DEEP")
BIG_LIST = _Shown(range(10**5), "BIG_LIST")
HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**53,
    2**53 + 1,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**40,
    math.nan,
    math.inf,
    -math.inf,
    0.5,
    1e308,
    "",
    " ",
    "x" * 70_000,
    "\x1b]0;pwned\x07",
    "\u202egnp.exe\u202c",
    "\x00",
    "\x85https://relay.example.org",
    "\x1chttps://relay.example.org",
    "١٢٣",  # Arabic-Indic digits: isdigit() but not ASCII
    "²",  # isdigit() and not int()-able
    "0x123456",
    "-1234567",
    "ab" * 16,
    "cd" * 32,
    KENJI,
    T,
    "2026-12-01T00:00:00",  # no zone
    "9999-99-99T99:99:99+99:99",
    [],
    {},
    [None],
    {"": None},
    BIG_LIST,
    DEEP,
]
hostile_value = (
    st.sampled_from(HOSTILE_SCALARS)
    | st.text(max_size=40)
    | st.integers()
    | st.floats()
    | st.lists(st.text(max_size=5), max_size=4)
    | st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)
)

# a valid op of each kind (applied for real in the fixture's store; the mutations start from these)
TEMPLATES: dict[str, dict[str, Any]] = {
    "contact": {"o": "contact", "key": KENJI, "name": "kenji", "card_name": "Kenji", "relays": []},
    "circle": {"o": "circle", "uid": CIRCLE, "name": "friends"},
    "member": {"o": "member", "circle": CIRCLE, "key": KENJI, "in": True},
    "draft": {"o": "draft", "id": "d1", "title": "t", "body": "b", "audience": ["friends"]},
    "read": {"o": "read", "author": KENJI, "id": "e1", "read": True},
    "request": {"o": "request", "key": LEE, "state": "rejected"},
    "device": {"o": "device", "devid": DEV, "key": "11" * 32, "name": "phone", "added": T, "removed": None},
    "entry": {
        "o": "entry",
        "id": "e1",
        "title": "title",
        "body": "body",
        "created": T,
        "audience": {"circles": [], "contacts": []},
        "readers": [],
    },
    "comment": {
        "o": "comment",
        "author": KENJI,
        "post": "r1",
        "id": "c1",
        "body": "hi",
        "created": T,
        "label": "K",
    },
    "received": {
        "o": "received",
        "author": KENJI,
        "id": "r1",
        "title": "t",
        "body": "b",
        "created": T,
        "received": T,
        "version": 2,
    },
    "setting": {"o": "setting", "name": "epoch_length", "value": 86400},
    "forwarded": {"o": "forwarded", "post": "e1", "id": "c1", "sent": True},
    "v1-send": {
        "o": "v1-send",
        "id": "ef" * 16,
        "payload": base64.b64encode(b'{"type":"post"}').decode(),
        "readers": [LEE],
    },
    "v1-chain": {"o": "v1-chain", "key": KENJI, "seq": 3, "prev": "cd" * 32},
    "relay": {"o": "relay", "url": "https://relay.example.org", "credential": "abc", "shard": 5},
}
KINDS = sorted(TEMPLATES)
_clock = iter(range(10, 10**9))


def stamped(op: dict[str, Any]) -> dict[str, Any]:
    """The op with a fresh (increasing) Lamport time from the sibling DEV."""
    return {**op, "t": [next(_clock), DEV]}


@st.composite
def mutated_op(draw: st.DrawFn) -> Any:
    """A valid op with one to three structural mutations: a field dropped, a field (or ``o``/``t``)
    set to a hostile value, an unknown field or kind, or the whole op replaced."""
    op = stamped(TEMPLATES[draw(st.sampled_from(KINDS))])
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "set", "set", "set", "unknown", "kind", "whole"]))
        if how == "drop" and op:
            op.pop(draw(st.sampled_from(sorted(op))))
        elif how == "set":
            op[draw(st.sampled_from(sorted(op) or ["o"]))] = draw(hostile_value)
        elif how == "unknown":
            op[draw(st.text(max_size=8))] = draw(hostile_value)
        elif how == "kind":
            op["o"] = draw(
                st.sampled_from(["catchup", "x" * 40, "Contact", "", "\x1b[2J"]) | st.text(max_size=10)
            )
        else:
            return draw(hostile_value)
    return op


# -- a store to apply into, and its digest ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ana(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    home = tmp_path_factory.mktemp("v2") / "ana"
    with Session.create(home, "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as session:
        session.devices.this_device("desktop")
        report = session.devices.apply_ops([stamped(TEMPLATES[k]) for k in ("device", "contact", "circle")])
        assert report.applied == 3, report
        yield session


def digest(session: Session) -> str:
    """Every table's rows, sorted (the Lamport clock, ``last_seen`` and the write counter left out:
    they move on any accepted payload, even one whose ops are all refused)."""
    h = hashlib.sha256()
    with session.store.read() as conn:
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        for table in tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            keep = [c for c in cols if not (table == "device" and c in ("lamport", "last_seen"))]
            rows = conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in keep)} FROM "{table}"')
            lines = sorted(repr(tuple(r)) for r in rows)
            if table == "meta":
                lines = [line for line in lines if "write_counter" not in line]
            h.update(table.encode() + b"\x00" + "\n".join(lines).encode() + b"\x01")
    return h.hexdigest()


def shown_names(session: Session) -> list[str]:
    """Names a screen or ``list`` command prints: devices, contacts, circles."""
    return (
        [d.name for d in session.devices.list()]
        + [c.name for c in session.contacts.list()]
        + [c.name for c in session.circles.list()]
    )


def total(report: Any) -> int:
    return report.applied + report.stale + report.pending + report.invalid + sum(report.skipped.values())


# -- device-sync ops ------------------------------------------------------------------------------------


@SOME
@given(op=mutated_op())
def test_parse_op_raises_only_badop_or_keyerror(op: Any) -> None:
    try:
        kind, obj, _, stamp, fields = parse_op(op)
    except BadOp as exc:
        assert is_safe_line(str(exc)) and not re.search(r"\{[A-Za-z_]+\}", str(exc)), str(exc)[:200]
        return
    except KeyError:
        return
    assert kind in TEMPLATES and obj.startswith(kind + ":") and fields
    assert type(stamp[0]) is int and 0 < stamp[0] <= 2**53


@SOME
@given(op=mutated_op())
def test_an_op_is_applied_whole_or_not_at_all(ana: Session, op: Any) -> None:
    before = digest(ana)
    report = ana.devices.apply_ops([op])
    assert report.rejected is None
    assert total(report) >= 1
    if total(report) == 1 and (report.invalid or report.skipped):  # (more: ops that waited for it ran)
        assert digest(ana) == before, f"a refused op changed the store: {report}"
    assert all(is_safe_line(name) for name in shown_names(ana))


@FEW
@given(ops=st.lists(mutated_op(), max_size=30))
def test_a_payload_counts_every_op_once(ana: Session, ops: list[Any]) -> None:
    try:
        data = json.dumps({"type": "sync", "lc": 5, "ops": ops}).encode()  # NaN/Infinity as JSON allows
    except RecursionError:
        return  # (not JSON a sibling could write: the payload test below covers deep nesting)
    report = ana.devices.apply_payload(data, None)
    if len(data) > 65536:
        assert report.rejected
        return
    assert report.rejected is None
    assert total(report) >= len(ops)
    assert report.invalid + sum(report.skipped.values()) <= len(ops)


HOSTILE_PAYLOADS = [
    b"",
    b"\xff\xfe",
    b"[" * 60_000,
    b'{"type":"sync","ops":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    b'{"type":"sync","lc":' + b"9" * 5000 + b',"ops":[]}',
    b'{"type":"sync","lc":1e999,"ops":[]}',
    b'{"type":"sync","lc":NaN,"ops":[]}',
    b'{"type":"sync","lc":-Infinity,"ops":[]}',
    b'{"type":"sync","ops":[],"type":"x"}',  # duplicate keys: the last one counts
    b'{"type":"x","ops":[],"type":"sync"}',
    b'{"type":"sync","ops":{}}',
    b'{"type":"sync"}',
    b"null",
    b"[]",
    json.dumps({"type": "sync", "ops": [{"o": "contact"}] * (MAX_OPS + 1)}).encode(),
]


@pytest.mark.parametrize("data", HOSTILE_PAYLOADS, ids=range(len(HOSTILE_PAYLOADS)))
def test_hostile_payload_bytes(ana: Session, data: bytes) -> None:
    before = digest(ana)
    report = ana.devices.apply_payload(data, None)
    assert total(report) == 0 or report.rejected is None
    assert digest(ana) == before


@pytest.mark.parametrize(
    ("op", "number"),
    [
        ({"o": "contact", "key": KENJI, "relays": ["https://relay.example.org"] * 99}, "MAX_RELAYS"),
        ({"o": "v1-send", "id": "ef" * 16, "payload": "AA==", "readers": []}, "MAX_RECIPIENTS"),
    ],
    ids=["relays", "v1-readers"],
)
def test_seen_badop_messages_name_their_bound(op: dict[str, Any], number: str) -> None:
    """Seen: two BadOp messages lacked their f prefix and said "{MAX_RELAYS}" literally."""
    from tui_sns.core import devices

    with pytest.raises(BadOp) as caught:
        parse_op(stamped(op))
    assert str(getattr(devices, number)) in str(caught.value) and "{M" not in str(caught.value)


def test_work_is_bounded_by_the_op_count(ana: Session) -> None:
    """4096 refused ops are 4096 counted refusals (not a retry per op, not a quadratic walk); 10^5 ops
    are refused whole without looking at one; a 10^5-element list in a field is refused at its length."""
    report = ana.devices.apply_ops([{"o": "contact", "t": [1, DEV]}] * MAX_OPS)
    assert report.invalid == MAX_OPS and total(report) == MAX_OPS
    report = ana.devices.apply_ops([{"o": "no-such-kind"}] * MAX_OPS)  # (catchup is a kind now)
    assert report.skipped == {"no-such-kind": MAX_OPS}
    report = ana.devices.apply_ops([{"o": "catchup"}] * MAX_OPS)
    assert report.invalid == MAX_OPS and total(report) == MAX_OPS
    report = ana.devices.apply_ops([None] * 10**5)
    assert report.rejected and total(report) == 0
    for kind, name in (
        ("contact", "relays"),
        ("entry", "readers"),
        ("draft", "audience"),
        ("v1-send", "readers"),
    ):
        report = ana.devices.apply_ops([stamped({**TEMPLATES[kind], name: BIG_LIST})])
        assert report.invalid == 1, (kind, report)


# -- reset, announce, routes, card, link codes (pure parsers) ---------------------------------------------


def json_like() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=20)
        | st.sampled_from(HOSTILE_SCALARS)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


def mutate(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        obj = json.loads(json.dumps(base))
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(sorted(obj) + ["extra"]))
            if draw(st.booleans()) and key in obj:
                obj.pop(key)
            else:
                obj[key] = draw(json_like())
        return obj

    return build()


def as_bytes(obj: Any) -> bytes:
    try:
        return json.dumps(obj).encode()
    except (ValueError, RecursionError):
        return b"{}"


PREKEY_SECRET = b"\x05" * 32


def valid_prekey(with_gen: bool = True) -> dict[str, Any]:
    from tui_sns.crypto.epochs import prekey_id

    public = x25519_base(PREKEY_SECRET)
    obj: dict[str, Any] = {
        "id": f"{prekey_id(public):08x}",
        "x25519": public.hex(),
        "start": 1_700_000_000,
        "end": 1_700_086_400,
        "delete": 1_700_172_800,
    }
    return {"gen": 0, **obj} if with_gen else obj


@SOME
@given(
    obj=json_like()
    | st.builds(lambda: None).flatmap(
        lambda _: mutate(
            {
                "type": "reset",
                "gen": 1,
                "seed": "00" * 32,
                "start": 1,
                "end": 2,
                "delete": 3,
                "commit": "00" * 16,
                "removed": [DEV],
                "lc": 1,
            }
        )
    )
)
def test_reset_payload_raises_only_valueerror(obj: Any) -> None:
    from tui_sns.core.resets import parse_reset

    with pytest.raises(ValueError) as caught:
        parse_reset(as_bytes(obj))
    assert is_safe_line(str(caught.value))


@SOME
@given(
    obj=json_like()
    | st.builds(lambda: None).flatmap(
        lambda _: mutate(
            {
                "type": "announce",
                "gen": 0,
                "prekeys": [valid_prekey(False)],
                "routes": [],
                "supersedes": [],
                "lc": 1,
            }
        )
    )
)
def test_announce_raises_only_valueerror(obj: Any) -> None:
    from tui_sns.core.epochs import parse_announce

    try:
        prekeys, supersedes = parse_announce(as_bytes(obj), 1_600_000_000)
    except ValueError as exc:
        assert is_safe_line(str(exc))
        return
    assert 1 <= len(prekeys) <= 3 and all(0 <= kid < 2**32 for kid in supersedes)


@pytest.mark.parametrize(
    "data",
    [b"[" * 60_000, b'{"type":"announce","gen":' + b"[" * 5000 + b"]" * 5000 + b"}"],
    ids=["nested", "nested-gen"],
)
def test_seen_announce_deep_nesting_is_a_valueerror(data: bytes) -> None:
    """Seen: a deeply nested announce payload raised RecursionError out of parse_announce."""
    from tui_sns.core.epochs import parse_announce, payload_type

    with pytest.raises(ValueError):
        parse_announce(data, 0)
    assert payload_type(data) is None


@pytest.mark.parametrize("kid", ["0x123456", "-1234567", "+1234567", "1_234567", " 1234567"])
def test_seen_announce_superseded_kid_is_hex_only(kid: str) -> None:
    """Seen: a superseded key id "0x123456" or "-1234567" passed (int(kid, 16) takes prefixes, signs
    and underscores): 8 lowercase hex digits only."""
    from tui_sns.core.epochs import parse_announce

    obj = {"type": "announce", "gen": 0, "prekeys": [valid_prekey(False)], "supersedes": [kid]}
    with pytest.raises(ValueError, match="superseded"):
        parse_announce(json.dumps(obj).encode(), 0)


@SOME
@given(
    obj=json_like()
    | st.builds(lambda: None).flatmap(
        lambda _: mutate({"type": "routes", "routes": [{"relay": "https://relay.example.org", "shard": 3}]})
    )
)
def test_routes_decode_to_a_message_or_none(obj: Any) -> None:
    from tui_sns.core.messages import RoutesMessage, decode_message

    message = decode_message(as_bytes(obj))
    if isinstance(message, RoutesMessage):
        assert 1 <= len(message.routes) <= 16
        for url, seed in message.routes:
            assert is_safe_line(url) and url == url.strip()
            assert seed is None or (type(seed) is int and 0 <= seed <= 65535)


def card_text(obj: Any) -> str:
    """A card whose checksum matches whatever it holds (the checksum guards typos, not hostility)."""
    from tui_sns.crypto import card as card_module

    body = as_bytes(obj)
    return card_module.PREFIX + card_module._b64(body) + "." + card_module._b64(card_module._checksum(body))


CARD = {"v": 1, "name": "Kenji", "x25519": KENJI, "relays": ["https://relay.example.org"]}


@SOME
@given(
    obj=st.builds(lambda: None).flatmap(
        lambda _: mutate({**CARD, "prekey": valid_prekey(), "shards": {"https://relay.example.org": 7}})
    )
    | json_like()
)
def test_card_prekey_and_shards_raise_only_carderror(obj: Any) -> None:
    try:
        card = decode_card(card_text(obj))
    except CardError as exc:
        assert is_safe_line(str(exc)), str(exc)[:200]
        return
    assert isinstance(card, Card)
    assert is_safe_line(card.name)
    assert all(is_safe_line(url) and url == url.strip() for url in card.relays)
    assert all(is_safe_line(url) and 0 <= seed <= 65535 for url, seed in card.shards)


@pytest.mark.parametrize("nest", [b"[" * 5000, b"{" + b'"a":{' * 3000], ids=["list", "object"])
def test_seen_card_deep_nesting_is_a_carderror(nest: bytes) -> None:
    """Seen: a card holding deeply nested JSON (checksum matching) raised RecursionError."""
    from tui_sns.crypto import card as card_module

    text = card_module.PREFIX + card_module._b64(nest) + "." + card_module._b64(card_module._checksum(nest))
    with pytest.raises(CardError):
        decode_card(text)


@SOME
@given(text=st.text(max_size=80) | st.sampled_from(HOSTILE_SCALARS).map(str))
def test_link_codes_raise_only_mistyped(text: str) -> None:
    from tui_sns.crypto.linking import LinkCodeMistyped, parse_code, parse_qr

    for parse in (parse_code, parse_qr):
        try:
            parse(text)
        except LinkCodeMistyped as exc:
            assert is_safe_line(str(exc)), str(exc)[:200]


# -- linking messages --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def link_pair(ana: Session) -> Any:
    """A host with its OFFER and a joiner that has read it and sent HELLO (REVEAL read too)."""
    from tui_sns.core.linking import LinkHost, LinkJoiner

    host = LinkHost(ana, [("https://relay.example.org", "cred")])
    joiner = LinkJoiner(host.code, "laptop")  # type: ignore[arg-type]
    hello = joiner.on_envelope(host.offer())
    assert hello is not None
    return host, joiner


WELCOME = {
    "type": "link-welcome",
    "identity": {"secret": None, "name": "ana"},
    "seeds": [{"gen": 0, "epoch": 1, "seed": "00" * 32, "commitment": "00" * 16}],
    "live": [
        {
            "kind": "prekey",
            "kid": 1,
            "gen": 0,
            "epoch": 1,
            "secret": "00" * 32,
            "public": "11" * 32,
            "start": 1,
            "end": 2,
            "delete": 3,
        }
    ],
    "settings": {"epoch_length": "86400"},
    "relays": [{"url": "https://relay.example.org", "credential": "cred", "shard": 3}],
    "lc": 5,
    "snapshot": {"envelopes": 1},
}


@SOME
@given(obj=st.builds(lambda: None).flatmap(lambda _: mutate(WELCOME)))
def test_welcome_raises_only_linkaborted(ana: Session, link_pair: Any, obj: dict[str, Any]) -> None:
    from tui_sns.core.linking import LinkAborted

    _, joiner = link_pair
    ident = obj.get("identity")
    if isinstance(ident, dict) and ident.get("secret") is None:
        ident["secret"] = ana.identity.secret.hex()
    try:
        welcome = joiner._check_welcome(obj)
    except LinkAborted as exc:
        assert is_safe_line(str(exc)), str(exc)[:200]
        return
    assert is_safe_line(welcome.name)
    for value in welcome.settings.values():
        assert value.isascii() and value.isdigit()
    for url, credential in welcome.relays:
        assert url == url.strip() and (credential is None or is_safe_line(credential))


@pytest.mark.parametrize("value", ["²", "١٢٣", "¹⁰"])
def test_seen_welcome_setting_digits_are_ascii(ana: Session, link_pair: Any, value: str) -> None:
    """Seen: a WELCOME setting "²" passed (str.isdigit) and was stored; int("²") then failed."""
    from tui_sns.core.linking import LinkAborted

    _, joiner = link_pair
    obj = json.loads(json.dumps(WELCOME))
    obj["identity"]["secret"] = ana.identity.secret.hex()
    obj["settings"] = {"epoch_length": value}
    with pytest.raises(LinkAborted):
        joiner._check_welcome(obj)


HELLO = {"type": "link-hello", "b": "22" * 32, "name": "laptop", "dev_key": "33" * 32}


@FEW
@given(obj=st.builds(lambda: None).flatmap(lambda _: mutate(HELLO)) | json_like())
def test_hello_is_answered_or_ignored(ana: Session, obj: Any) -> None:
    """Any HELLO-shaped message under the code's key: a REVEAL (valid) or None; never an exception, and
    a name that reaches the confirmation prompt is a clean line."""
    from tui_sns.core.linking import LinkHost
    from tui_sns.crypto.envelope_v2 import seal_link

    host = LinkHost(ana, [])
    try:
        data = seal_link(host.code.key, as_bytes(obj)).data  # type: ignore[union-attr]
    except Exception:  # a payload over an envelope's size: not a message anyone can send
        return
    host.on_envelope(data)
    if host.hello is not None:
        assert is_safe_line(host.hello.name)


SMUGGLED_URLS = [
    "\x85https://relay.example.org",  # NEL (a C1 control) is whitespace to str.strip()
    "\x1chttps://relay.example.org",  # so are the ASCII separators 0x1C..0x1F
    "https://relay.example.org\u2028",  # and the Unicode line separator
    " https://relay.example.org\n",
]


@pytest.mark.parametrize("url", SMUGGLED_URLS, ids=["nel", "fs", "ls", "spaces"])
def test_seen_relay_urls_smuggle_no_whitespace_or_controls(url: str) -> None:
    """Seen: check_relay_url stripped any Unicode whitespace before checking, and a card's relays (and a
    contact op's, a WELCOME's) are kept as written: "\\x85https://…" was stored with its C1 control."""
    from tui_sns.core.linking import LinkAborted, _relays

    with pytest.raises(CardError):
        decode_card(card_text({**CARD, "relays": [url]}))
    with pytest.raises(CardError):
        decode_card(card_text({**CARD, "shards": {url: 1}}))
    with pytest.raises(BadOp):
        parse_op(stamped({"o": "contact", "key": KENJI, "relays": [url]}))
    with pytest.raises(LinkAborted):
        _relays([{"url": url, "credential": None}])


def test_seen_waiting_ops_of_one_time_are_all_kept(ana: Session) -> None:
    """Seen: ops waiting for their target were kept under (my key, sender devid, Lamport time), so a
    second waiting op with the same ``t`` (every field a snapshot sends unchanged since before linking
    carries (1, devid)) was dropped — yet counted as pending. Two member ops of one time, waiting for
    their circle, both land once it arrives."""
    circle = "cd" * 16
    lee = {"o": "contact", "key": LEE, "name": "lee", "card_name": "Lee", "relays": []}
    assert ana.devices.apply_ops([stamped(lee)]).applied == 1
    when = [next(_clock), DEV]
    waiting = [{"o": "member", "t": when, "circle": circle, "key": key, "in": True} for key in (KENJI, LEE)]
    assert ana.devices.apply_ops(waiting).pending == 2
    report = ana.devices.apply_ops([stamped({"o": "circle", "uid": circle, "name": "book club"})])
    assert report.applied == 3, report  # the circle and both members
    with ana.store.read() as conn:
        (held,) = conn.execute(
            "SELECT count(*) FROM circle_members JOIN circles ON circles.id = circle_id WHERE name = ?",
            ("book club",),
        ).fetchone()
    assert held == 2


# -- valid ops on colliding objects: only counts come out ---------------------------------------------------

NAMES = ["kenji", "lee", "friends", "Kenji", "kenji (2)", "me"]
IDS = ["e1", "e2", "r1", "composer", f"composer:{DEV}", "c1"]
KEYS = [KENJI, LEE, x25519_base(b"\x0b" * 32).hex()]
UIDS = ["ab" * 16, "cd" * 16, "ef" * 16]
DEVIDS = [DEV, "fedcba9876543210"]


@st.composite
def colliding_op(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed op whose ids, names and times come from small pools, so objects collide: a circle
    named like a contact, an entry and a received post of one id, two devices' clocks at one time."""
    kind = draw(st.sampled_from(KINDS))
    op = dict(TEMPLATES[kind])
    pick = {
        "key": KEYS,
        "author": KEYS,
        "uid": UIDS,
        "circle": UIDS,
        "id": IDS if kind not in ("v1-send",) else ["ef" * 16, "01" * 16],
        "post": IDS,
        "name": NAMES if kind in ("contact", "circle") else [op.get("name")],
        "devid": DEVIDS,
    }
    for field, pool in pick.items():
        if field in op and draw(st.booleans()):
            op[field] = draw(st.sampled_from(pool))
    for flag in ("removed", "deleted", "hidden", "in", "read"):
        if flag in TEMPLATES[kind] or (flag in ("removed", "deleted") and draw(st.booleans())):
            op[flag] = draw(st.booleans())
    if kind == "device" and op.get("removed") is True:
        op["removed"] = T
    if draw(st.booleans()):  # drop one field (a later op of the object carries only what changed)
        droppable = [
            k
            for k in op
            if k not in ("o", "key", "uid", "circle", "id", "author", "post", "devid", "url", "name")
        ]
        if droppable:
            op.pop(draw(st.sampled_from(droppable)))
    op["t"] = [draw(st.integers(1, 40)), draw(st.sampled_from(DEVIDS))]
    return op


@FEW
@given(ops=st.lists(colliding_op(), min_size=1, max_size=25))
def test_colliding_valid_ops_only_count(ana: Session, ops: list[dict[str, Any]]) -> None:
    report = ana.devices.apply_ops(ops)
    assert report.rejected is None and total(report) >= len(ops)
    assert all(is_safe_line(name) for name in shown_names(ana))


def test_seen_one_op_at_the_lamport_bound_does_not_wedge_my_ops(tmp_path: Path) -> None:
    """Seen: one op (or payload ``lc``) at t = 2^53, the largest a sibling may send, moved my Lamport
    clock there; my next op then carried 2^53 + 1, which every sibling refuses (BadOp): nothing I
    changed reached my other devices again, and no device could be linked (WELCOME's lc > 2^53)."""
    with Session.create(tmp_path / "wedge", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as s:
        s.devices.this_device("desktop")
        s.devices.apply_ops([{**TEMPLATES["circle"], "t": [2**53, DEV]}])
        s.devices.apply_payload(json.dumps({"type": "sync", "lc": 2**53, "ops": []}).encode(), None)
        op = s.devices.record(
            "draft", {"id": "d9"}, {"title": "t", "body": "b", "audience": [], "deleted": False}
        )
        parse_op(op)  # a sibling takes it
        assert s.devices.lamport() < 2**53


# -- a snapshot's link-… state records (core/linking.py apply_link_state) -------------------------------------

LINK_STATE = [
    {"o": "link-chain", "key": KENJI, "dev": DEV, "rows": [[1, "aa" * 32, "bb" * 32]]},
    {"o": "link-prekey", "key": KENJI, "prekey": valid_prekey()},
    {
        "o": "link-peer",
        "key": KENJI,
        "announced": [0, 1],
        "routes": {"https://relay.example.org": 3},
        "sent": [["https://relay.example.org", 3]],
    },
    {
        "o": "link-pending",
        "key": KENJI,
        "dev": DEV,
        "target": "post:x",
        "payload": "AA==",
        "received": T,
        "seq": 1,
    },
    {"o": "link-request", "key": LEE, "card": None, "note": "hi", "received": T},
]


@FEW
@given(records=st.lists(st.sampled_from(LINK_STATE).flatmap(mutate) | json_like(), max_size=6))
def test_link_state_records_are_counted_never_raised(ana: Session, records: list[Any]) -> None:
    from tui_sns.core.linking import apply_link_state

    invalid = apply_link_state(ana, records)
    assert 0 <= invalid <= len(records)
    assert all(is_safe_line(name) for name in shown_names(ana))


def test_seen_link_request_card_deeply_nested_is_skipped(ana: Session) -> None:
    """A snapshot's waiting contact request whose card holds deep JSON: skipped (decode_card raised
    RecursionError before, out of apply_link_state and the whole join)."""
    from tui_sns.core.linking import apply_link_state

    nest = b"[" * 5000
    from tui_sns.crypto import card as card_module

    card = card_module.PREFIX + card_module._b64(nest) + "." + card_module._b64(card_module._checksum(nest))
    record = {"o": "link-request", "key": LEE, "card": card, "note": "hi", "received": T}
    assert apply_link_state(ana, [record]) == 1


def test_seen_name_collisions_cost_linear_lookups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen: n contact ops of one name (each a new key) made "x (2)", "x (3)", … by asking the store for
    each candidate from 2 up: n²/2 lookups (4096 ops in one payload: 8 million queries). Now the taken
    names are read once per collision."""
    from tui_sns.store import synced

    lookups = [0]
    for name in ("name_owner", "names_from"):
        if hasattr(synced, name):
            real = getattr(synced, name)

            def counted(*args: Any, _real: Any = real) -> Any:
                lookups[0] += 1
                return _real(*args)

            monkeypatch.setattr(synced, name, counted)
    n = 200
    with Session.create(tmp_path / "names", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as s:
        s.devices.this_device("desktop")
        ops = [
            stamped({**TEMPLATES["contact"], "key": x25519_base(i.to_bytes(4, "big") * 8).hex(), "name": "x"})
            for i in range(1, n + 1)
        ]
        assert s.devices.apply_ops(ops).applied == n
        names = {c.name for c in s.contacts.list()}
    assert names == {"x"} | {f"x ({i})" for i in range(2, n + 1)}
    assert lookups[0] <= 3 * n, lookups[0]


EDGE_TIMES = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]


@pytest.mark.parametrize("when", EDGE_TIMES, ids=["year-1-east", "year-9999-west"])
def test_seen_times_at_the_calendar_edge_are_refused(ana: Session, when: str) -> None:
    """Seen: a time whose UTC form falls outside years 1..9999 raised OverflowError out of
    normalize_time — through every parser that checks a time: a device-sync op (the whole payload
    failed), a post from a contact, a snapshot's waiting request."""
    from tui_sns.core.messages import decode_message, normalize_time

    assert normalize_time(when) is None
    with pytest.raises(BadOp):
        parse_op(stamped({**TEMPLATES["entry"], "created": when}))
    report = ana.devices.apply_payload(
        json.dumps({"type": "sync", "ops": [stamped({**TEMPLATES["received"], "received": when})]}).encode()
    )
    assert report.invalid == 1
    post = {"type": "post", "id": "p1", "title": "t", "body": "b", "created": when}
    decode_message(json.dumps(post).encode())  # None or a message: never an exception


@pytest.mark.parametrize(
    "extra",
    ["&a=1&b=2&c=3&d=4", "&cred=%E2%80%AEgnp", "&cred=a%1B%5B2Jb", "&cred=1&cred=2", "&cred=" + "x" * 600],
    ids=["fields", "bidi-cred", "esc-cred", "two-creds", "long-cred"],
)
def test_seen_link_qr_text_is_checked_whole(extra: str) -> None:
    """Seen: a link QR text with more than 4 query fields raised ValueError (parse_qs's own limit) out
    of parse_qr, whose only error is LinkCodeMistyped; its credential was taken as any text (a bidi
    override, an escape sequence), where a relay credential is printable ASCII."""
    from tui_sns.crypto.linking import LinkCode, LinkCodeMistyped, parse_qr

    text = LinkCode.generate().qr_text("https://relay.example.org") + extra
    with pytest.raises(LinkCodeMistyped) as caught:
        parse_qr(text)
    assert is_safe_line(str(caught.value))


def test_zz_what_a_snapshot_sends_a_sibling_takes(ana: Session) -> None:
    """After every hostile op above: each op of this store's snapshot (what a device linked now would
    receive) passes the checks a sibling applies — nothing accepted here is refused there."""
    ops = ana.devices.snapshot()
    assert ops
    for op in ops:
        try:
            parse_op(op)
        except (BadOp, KeyError) as exc:
            pytest.fail(f"the snapshot holds an op a sibling refuses ({exc}): {str(op)[:300]}")


@pytest.mark.parametrize("credential", ["é", "a b", "tab\there", "ｆｕｌｌ"], ids=["latin", "space", "tab", "fullwidth"])
def test_seen_link_relay_credentials_are_printable_ascii(credential: str) -> None:
    """Seen: an OFFER's or WELCOME's relay credential was any printable text (str.isprintable: "é",
    spaces), kept for the relay though no HTTP header can carry it, and then refused by the relay op
    (printable ASCII, no space) — the new device's relay never reached my other devices."""
    from tui_sns.core.linking import LinkAborted, _relays

    with pytest.raises(LinkAborted):
        _relays([{"url": "https://relay.example.org", "credential": credential}])


MESSAGES = [
    {"type": "post", "id": "p1", "title": "t", "body": "b", "created": T, "thread": "aa" * 32, "expires": T},
    {"type": "edit", "id": "p1", "title": "t", "body": "b", "edited": T, "lc": 7},
    {"type": "delete", "id": "p1"},
    {"type": "comment", "post": "p1", "id": "c1", "body": "hi", "created": T, "digest": "bb" * 16},
    {"type": "routes", "routes": [{"relay": "https://relay.example.org", "shard": 3}]},
]


@SOME
@given(obj=st.sampled_from(MESSAGES).flatmap(mutate) | json_like())
def test_messages_decode_or_are_none(obj: Any) -> None:
    """Every payload type a contact sends (v2's ``lc`` on edits and ``routes`` included): a message or
    None, never an exception."""
    from tui_sns.core.messages import decode_message

    decode_message(as_bytes(obj))


@pytest.mark.parametrize(
    "data",
    [b"[" * 60_000, b'{"type":"post","id":' + b"[" * 5000 + b"}", b'{"type":"routes","routes":' + b"{" * 5000],
    ids=["array", "in-post", "in-routes"],
)
def test_seen_deeply_nested_message_is_none(data: bytes) -> None:
    """Seen: any contact's payload of deeply nested JSON (a 60 KB envelope of "[") raised RecursionError
    out of decode_message, the door every contact message comes through."""
    from tui_sns.core.messages import decode_message

    assert decode_message(data) is None


def test_seen_a_contacts_nested_payload_fails_alone(tmp_path: Path) -> None:
    """The same, end to end: Kenji seals 60 KB of "[" to Ana, then a real entry. Ana's inbox raised
    RecursionError on the first and never reached the second; now the first is ignored alone."""
    from tui_sns.core.outgoing import send
    from tui_sns.store import contacts as contact_store
    from tui_sns.store import mailbox

    kdf = KdfParams.insecure_for_tests()
    with (
        Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=kdf) as a,
        Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=kdf) as k,
    ):
        a.contacts.add(k.contacts.my_card())
        k.contacts.add(a.contacts.my_card())
        ana = contact_store.contact_by_key(k.store, a.identity.public)
        assert ana is not None
        send(k, [ana], b"[" * 60_000)
        k.diary.post("a real entry", title="hello", to=["ana"])
        rows = mailbox.unexported(k.store)
        a.inbox.receive([d for _, d in rows])
        assert "hello" in [p.title for p in a.diary.timeline()]
