"""Device linking, the two state machines without a relay (docs/design-v2.md §9.3, §9.4; §17 step 9):
a complete link gives the new device the same identity and diary; an expired code, a second HELLO, a
REVEAL that breaks the commitment, a refused string and a forged WELCOME all stop it."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core import clock
from tui_sns.core.linking import (
    LinkAborted,
    LinkExpired,
    LinkHost,
    LinkJoiner,
    host_link_files,
    join_link_files,
    parse_join_code,
)
from tui_sns.core.session import Session
from tui_sns.crypto.envelope_v2 import open_link, seal_link
from tui_sns.crypto.errors import LinkCodeMistyped
from tui_sns.crypto.linking import LinkCode
from tui_sns.store import KdfParams

PASSPHRASE = "correct horse battery staple"
RELAY = "https://relay.example"


@pytest.fixture
def fake_clock() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(1_767_225_600)
    with clock.use_source(fake):
        yield fake


@pytest.fixture
def ana(tmp_path: Path, fake_clock: clock.FakeClock) -> Iterator[Session]:
    with Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as s:
        with Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as k:
            s.contacts.add(k.contacts.my_card())
        s.contacts.mark_verified("kenji")
        s.circles.create("close")
        s.circles.add("close", ["kenji"])
        s.diary.post("only for me", title="private")
        s.diary.post("for kenji", to=["close"])
        s.drafts.save("half", "a thought", draft_id="notes")
        yield s


def run_link(host: LinkHost, joiner: LinkJoiner) -> None:
    hello = joiner.on_envelope(host.offer())
    assert hello is not None
    reveal = host.on_envelope(hello)
    assert reveal is not None and joiner.on_envelope(reveal) is None


def test_a_link_gives_the_new_device_the_identity_and_the_diary(ana: Session, tmp_path: Path) -> None:
    host = LinkHost(ana, [(RELAY, "cred")])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(host, joiner)
    assert host.hello is not None and host.hello.name == "laptop"
    assert joiner.sas == host.hello.sas and len(joiner.sas) == 6  # both show the same string
    for data in host.welcome():
        joiner.on_envelope(data)
    assert joiner.complete and host.code is None  # the code is erased once used
    with joiner.create_store(tmp_path / "laptop", PASSPHRASE, KdfParams.insecure_for_tests()) as b:
        assert b.identity.public == ana.identity.public and b.name == "ana"
        assert sorted((p.title, p.body) for p in b.diary.timeline()) == sorted(
            (p.title, p.body) for p in ana.diary.timeline()
        )
        assert [(c.name, c.verified, c.circles) for c in b.contacts.list()] == [("kenji", True, ("close",))]
        assert b.drafts.load("notes").body == "a thought"
        mine = {d.name: d for d in b.devices.list()}
        assert mine["laptop"].this and mine["laptop"].devid == joiner.devid.hex()
        assert {d.name for d in ana.devices.list()} >= {"laptop"}  # A added B to its list
        # the same epoch keys: B's current self key is A's
        assert [
            r[:4]
            for r in b.store.fetchall("SELECT kind, kid, gen, epoch FROM epoch_keys WHERE secret IS NOT NULL")
        ] == [
            r[:4]
            for r in ana.store.fetchall(
                "SELECT kind, kid, gen, epoch FROM epoch_keys WHERE secret IS NOT NULL"
            )
        ]
        assert b.relays.urls() == ()  # A had joined no relay


def test_an_expired_code_is_refused_on_both_sides(ana: Session, fake_clock: clock.FakeClock) -> None:
    host = LinkHost(ana, [(RELAY, None)], timeout=600)
    offer = host.offer()
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    fake_clock.advance(601)
    with pytest.raises(LinkExpired, match="expired"):
        joiner.on_envelope(offer)
    # a HELLO that arrives late is not answered
    late = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    fake_clock.advance(-601)
    hello = late.on_envelope(offer)
    fake_clock.advance(601)
    assert hello is not None and host.on_envelope(hello) is None and host.hello is None


def test_a_second_hello_is_ignored(ana: Session) -> None:
    host = LinkHost(ana, [(RELAY, None)])
    code = LinkCode(host.code.secret)  # type: ignore[union-attr]
    first, second = LinkJoiner(code, "laptop"), LinkJoiner(code, "intruder")
    offer = host.offer()
    hello1, hello2 = first.on_envelope(offer), second.on_envelope(offer)
    assert hello1 is not None and hello2 is not None
    assert host.on_envelope(hello1) is not None
    assert host.on_envelope(hello2) is None and host.ignored_hellos == 1
    assert host.hello is not None and host.hello.name == "laptop"


def test_a_reveal_that_breaks_the_commitment_aborts(ana: Session) -> None:
    host = LinkHost(ana, [(RELAY, None)])
    code = LinkCode(host.code.secret)  # type: ignore[union-attr]
    joiner = LinkJoiner(code, "laptop")
    joiner.on_envelope(host.offer())
    # someone who saw the code answers first with an ephemeral of its own
    forged = seal_link(
        code.key, json.dumps({"type": "link-reveal", "a": "42" * 32}).encode(), sender=ana.identity.public
    ).data
    with pytest.raises(LinkAborted, match="does not match its offer"):
        joiner.on_envelope(forged)
    assert joiner.sas is None


def test_a_man_in_the_middle_shows_different_strings_and_a_refusal_links_nothing(ana: Session) -> None:
    host = LinkHost(ana, [(RELAY, None)])
    code = LinkCode(host.code.secret)  # type: ignore[union-attr]
    victim, intruder = LinkJoiner(code, "laptop"), LinkJoiner(code, "laptop")
    offer = host.offer()
    victim_hello, intruder_hello = victim.on_envelope(offer), intruder.on_envelope(offer)
    assert victim_hello is not None and intruder_hello is not None
    reveal = host.on_envelope(intruder_hello)  # the intruder's HELLO reached A first
    assert reveal is not None
    victim.on_envelope(reveal)
    assert host.hello is not None and victim.sas != host.hello.sas  # the person sees two strings
    host.refuse()
    with pytest.raises(LinkAborted):
        host.welcome()
    assert host.on_envelope(victim_hello) is None
    assert [d.name for d in ana.devices.list()] == [ana.devices.this_device().name]


def test_a_welcome_for_another_identity_aborts(ana: Session, tmp_path: Path) -> None:
    host = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(host, joiner)
    welcome, *_ = host.welcome()
    assert joiner._ks is not None
    opened = open_link(joiner._ks, welcome)
    assert opened is not None
    obj = json.loads(opened.payload)
    obj["identity"]["secret"] = "11" * 32
    forged = seal_link(joiner._ks, json.dumps(obj).encode(), sender=ana.identity.public).data
    with pytest.raises(LinkAborted, match="not the one that made the offer"):
        joiner.on_envelope(forged)


@pytest.mark.parametrize(
    ("field", "value"),
    [("live", [{"kind": "prekey"}] * 2), ("seeds", "x"), ("snapshot", {"envelopes": 10**9}), ("lc", -1)],
)
def test_a_malformed_welcome_aborts(ana: Session, field: str, value: Any) -> None:
    host = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(host, joiner)
    welcome, *_ = host.welcome()
    assert joiner._ks is not None
    opened = open_link(joiner._ks, welcome)
    assert opened is not None
    obj = json.loads(opened.payload)
    obj[field] = value
    with pytest.raises(LinkAborted):
        joiner.on_envelope(seal_link(joiner._ks, json.dumps(obj).encode(), sender=ana.identity.public).data)


def test_join_codes_typed_or_from_the_qr() -> None:
    code = LinkCode.generate()
    assert parse_join_code(code.text) == (code, None, None)
    assert parse_join_code(code.qr_text("https://r.example", "tok")) == (code, "https://r.example", "tok")
    with pytest.raises(LinkCodeMistyped, match="mistyped"):
        parse_join_code(code.text[:-1] + ("0" if code.text[-1] != "0" else "1"))


def link_to(host: LinkHost, tmp_path: Path, name: str = "laptop") -> Session:
    joiner = LinkJoiner(LinkCode(host.code.secret), name)  # type: ignore[union-attr]
    run_link(host, joiner)
    for data in host.welcome():
        joiner.on_envelope(data)
    assert joiner.complete
    session = joiner.create_store(tmp_path / name, PASSPHRASE, KdfParams.insecure_for_tests())
    assert (joiner.report.invalid, joiner.report.pending) == (0, 0)  # every op of the snapshot taken
    return session


def test_objects_changed_after_their_creation_reach_the_new_device(
    ana: Session, tmp_path: Path, fake_clock: clock.FakeClock
) -> None:
    """A contact whose newer card was taken after it was verified, a renamed circle and an edited entry:
    each has fields stamped at different times, and the snapshot must still create it on the new device
    (the trial's missing first contact and its circle membership)."""
    with Session.create(tmp_path / "mio", "mio", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as mio:
        ana.contacts.add(mio.contacts.my_card(), "mio")
        ana.contacts.mark_verified("mio")
        fake_clock.advance(60)
        ana.contacts.add(mio.contacts.my_card(display_name="Mio M"))  # a newer card: card_name changes
    ana.circles.add("close", ["mio"])
    ana.circles.rename("close", "closest")
    post = ana.diary.post("first words", title="draft-ish")
    ana.diary.edit(post.id, body="second words")
    want = sorted((c.name, c.card_name, c.verified, c.circles) for c in ana.contacts.list())
    with link_to(LinkHost(ana, [(RELAY, None)]), tmp_path) as b:
        assert sorted((c.name, c.card_name, c.verified, c.circles) for c in b.contacts.list()) == want
        assert [(c.name, sorted(c.members)) for c in b.circles.list()] == [("closest", ["kenji", "mio"])]
        assert b.diary.get(post.id).body == "second words"
        # and the clocks are the first device's: a later change from either side compares the same
        for obj in ("contact", "circle", "entry"):
            mine = ana.store.fetchall(
                "SELECT object, field, lamport, devid FROM sync_clock WHERE object LIKE ? ORDER BY 1, 2",
                (obj + ":%",),
            )
            theirs = b.store.fetchall(
                "SELECT object, field, lamport, devid FROM sync_clock WHERE object LIKE ? ORDER BY 1, 2",
                (obj + ":%",),
            )
            # (fields the first device never stamped get the lowest stamp, (1, its devid), on the new one)
            assert set(mine) <= set(theirs) and all(r[2] == 1 for r in set(theirs) - set(mine))


def test_aborts_from_the_first_device_end_the_join(ana: Session, tmp_path: Path) -> None:
    """§9.3 ABORT and CLOSED: a refusal, a code given up at its expiry (B's clock may lag A's), and a
    code that linked another device each end a waiting joiner with its own sentence; a CLOSED naming
    the joiner itself (its own link completed) changes nothing."""
    refused = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(refused.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(refused, joiner)
    with pytest.raises(LinkAborted, match="refused the link"):
        joiner.on_envelope(refused.refuse())
    expired = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(expired.code.secret), "laptop")  # type: ignore[union-attr]
    assert joiner.on_envelope(expired.offer()) is not None
    with pytest.raises(LinkExpired, match="expired: nothing was linked"):
        joiner.on_envelope(expired.give_up())
    used = LinkHost(ana, [(RELAY, None)])
    code = LinkCode(used.code.secret)  # type: ignore[union-attr]
    first, second = LinkJoiner(code, "laptop"), LinkJoiner(code, "phone")
    offer = used.offer()
    hello = first.on_envelope(offer)
    assert hello is not None and second.on_envelope(offer) is not None
    reveal = used.on_envelope(hello)
    assert reveal is not None
    first.on_envelope(reveal)
    second.on_envelope(reveal)
    *session, closed = used.welcome()
    for data in session:
        first.on_envelope(data)
        second.on_envelope(data)
    assert first.on_envelope(closed) is None and first.complete
    with pytest.raises(LinkExpired, match="already used by another device"):
        second.on_envelope(closed)
    # an ABORT naming another sender than the offer's is ignored (link slots do not authenticate the
    # sender: whoever holds the code can end the link, as it can by racing a HELLO — §9.3)
    stranger = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(stranger.code.secret), "laptop")  # type: ignore[union-attr]
    joiner.on_envelope(stranger.offer())
    forged = seal_link(
        LinkCode(stranger.code.secret).key,  # type: ignore[union-attr]
        json.dumps({"type": "link-abort", "reason": "refused"}).encode(),
        sender=b"\x09" * 32,
    ).data
    assert joiner.on_envelope(forged) is None


def test_what_i_received_before_linking_is_on_the_new_device(
    tmp_path: Path, fake_clock: clock.FakeClock, deliver: Any
) -> None:
    """§9.4: the snapshot carries the entries I received (with their read state and comments, mine
    and others') and what the new device needs to go on where I stopped: my relay cursors, received
    chain positions (no false gap), my contacts' prekeys (it seals v2 to them at once)."""
    kdf = KdfParams.insecure_for_tests()
    with (
        Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=kdf) as ana,
        Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=kdf) as kenji,
    ):
        ana.contacts.add(kenji.contacts.my_card())
        kenji.contacts.add(ana.contacts.my_card())
        for title in ("one", "two", "three"):
            kenji.diary.post(f"{title} for ana", title=title, to=["ana"])
        deliver(kenji, ana)
        got = {p.title: p for p in ana.diary.timeline() if not p.mine}
        ana.diary.mark_read([got["one"].id])
        ana.comments.add(got["two"].id, "nice")
        mine = ana.diary.post("for kenji", title="mine", to=["kenji"])
        deliver(ana, kenji)
        (seen,) = [p for p in kenji.diary.timeline() if not p.mine]
        kenji.comments.add(seen.id, "thanks")
        deliver(kenji, ana)
        # an edit that reached me before its entry waits on my device (issue 10): it travels too
        late = kenji.diary.post("first words", title="late", to=["ana"])
        kenji.exchange.export_outbox(tmp_path / "post.tsns")
        kenji.diary.edit(late.id, body="second words")
        deliver(kenji, ana)
        assert "late" not in {p.title for p in ana.diary.timeline()}
        with link_to(LinkHost(ana, [(RELAY, None)]), tmp_path) as b:
            assert sorted((p.title, p.body, p.unread) for p in b.diary.timeline() if not p.mine) == sorted(
                (p.title, p.body, p.unread) for p in ana.diary.timeline() if not p.mine
            )
            b_two = next(p for p in b.diary.timeline() if p.title == "two")
            assert [(c.body, c.mine) for c in b.comments.list(b_two.id)] == [("nice", True)]
            assert [c.body for c in b.comments.list(mine.id)] == ["thanks"]
            assert (
                b.diary.missing() == ana.diary.missing() and not b.diary.chain_breaks()
            )  # (the held-back post)
            assert b.store.fetchall("SELECT count(*) FROM peer_prekeys") == ana.store.fetchall(
                "SELECT count(*) FROM peer_prekeys"
            )
            assert b.diary.not_forward_secret(b.contacts.get("kenji") for _ in [0]) == []
            b.exchange.import_inbox(tmp_path / "post.tsns")  # the entry comes: the edit that waited applies
            assert {p.title: p.body for p in b.diary.timeline()}["late"] == "second words"


# -- the air-gapped path: a hello file and a welcome file carried by hand (§9.4) -----------------------


def file_link(host: LinkHost, joiner: LinkJoiner) -> list[bytes]:
    """The two files' envelopes, made by the state machines: HELLO, then [OFFER with a, WELCOME, …]."""
    assert host.on_envelope(joiner.file_hello()) is not None and host.hello is not None
    return [host.offer(reveal=True), *host.welcome()]


def test_a_welcome_file_links_its_device_once(ana: Session, tmp_path: Path) -> None:
    host = LinkHost(ana, [(RELAY, "cred")])
    code = LinkCode(host.code.secret)  # type: ignore[union-attr]
    joiner = LinkJoiner(code, "laptop")
    welcome = file_link(host, joiner)
    assert host.code is None  # single use: A erased the code
    joiner.on_file(welcome)
    assert joiner.complete and joiner.sas == host.hello.sas  # type: ignore[union-attr]
    with joiner.create_store(tmp_path / "laptop", PASSPHRASE, KdfParams.insecure_for_tests()) as b:
        assert b.identity.public == ana.identity.public
        assert sorted(p.title for p in b.diary.timeline()) == sorted(p.title for p in ana.diary.timeline())
    # the same file for another device (it holds the code too): refused, nothing opens
    with pytest.raises(LinkAborted, match="another device, or already used, or damaged"):
        LinkJoiner(code, "phone").on_file(welcome)


def test_a_tampered_expired_or_foreign_welcome_file_links_nothing(
    ana: Session, fake_clock: clock.FakeClock
) -> None:
    host = LinkHost(ana, [(RELAY, None)], timeout=600)
    code = LinkCode(host.code.secret)  # type: ignore[union-attr]
    joiner = LinkJoiner(code, "laptop")
    welcome = file_link(host, joiner)
    tampered = list(welcome)
    body = bytearray(tampered[1])
    body[-5] ^= 1
    tampered[1] = bytes(body)
    with pytest.raises(LinkAborted, match="damaged"):
        joiner.on_file(tampered)
    assert joiner.welcome is None
    with pytest.raises(LinkAborted, match="not made with this code"):
        LinkJoiner(LinkCode.generate(), "laptop").on_file(welcome)
    late = LinkJoiner(code, "laptop")
    fake_clock.advance(601)
    with pytest.raises(LinkExpired, match="expired"):
        late.on_file(welcome)


def test_the_file_path_end_to_end(ana: Session, tmp_path: Path) -> None:
    """host_link_files and join_link_files, each waiting for the other's file (two trips): the files
    are 0600, hold no secret in clear, and a refusal of the string on the new device makes nothing."""
    hello_path, welcome_path = tmp_path / "usb" / "hello.tsb", tmp_path / "usb" / "welcome.tsb"
    hello_path.parent.mkdir()
    result: dict[str, Any] = {}
    ready = threading.Event()

    def show(code: LinkCode) -> None:
        result["code"] = code
        ready.set()

    def host() -> None:
        try:
            result["hello"] = host_link_files(ana, hello_path, welcome_path, 60, show, lambda h: True)
        except BaseException as exc:  # looked at below
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    try:
        assert ready.wait(30) and "code" in result
        shown: list[str] = []
        with pytest.raises(LinkAborted, match="not confirmed the same"):
            join_link_files(
                tmp_path / "laptop",
                PASSPHRASE,
                result["code"],
                hello_path,
                welcome_path,
                "laptop",
                lambda sas: shown.append(sas) is not None,  # says no
                timeout=30,
                kdf=KdfParams.insecure_for_tests(),
            )
    finally:
        thread.join(30)
    assert "error" not in result, result.get("error")
    assert shown == [result["hello"].sas_shown]
    assert not (tmp_path / "laptop" / "store.key").exists()
    for path in (hello_path, welcome_path):
        assert path.stat().st_mode & 0o777 == 0o600
        data = path.read_bytes()
        assert ana.identity.secret not in data and ana.identity.secret.hex().encode() not in data
        assert b"only for me" not in data and b"kenji" not in data


def test_link_and_join_with_files_from_the_cli(
    ana: Session, tmp_path: Path, cli: Any, isolated_env: None
) -> None:
    """``devices join CODE --hello-out F --welcome-in G`` against A's ``host_link_files``: linked, the
    string asked on both devices; ``--hello-out`` alone is a usage error."""
    hello_path, welcome_path = tmp_path / "hello.tsb", tmp_path / "welcome.tsb"
    result: dict[str, Any] = {}
    ready = threading.Event()

    def show(code: LinkCode) -> None:
        result["code"] = code
        ready.set()

    def host() -> None:
        try:
            result["hello"] = host_link_files(ana, hello_path, welcome_path, 60, show, lambda h: True)
        except BaseException as exc:  # looked at below
            result["error"] = exc
            ready.set()

    lone = cli(tmp_path / "x", "devices", "join", LinkCode.generate().text, "--hello-out", str(hello_path))
    assert lone.code == 2 and "go together" in lone.err
    thread = threading.Thread(target=host)
    thread.start()
    try:
        assert ready.wait(30) and "code" in result
        done = cli(
            tmp_path / "laptop",
            "devices",
            "join",
            result["code"].text,
            "--hello-out",
            str(hello_path),
            "--welcome-in",
            str(welcome_path),
            "--name",
            "laptop",
            stdin="y\n",
        )
    finally:
        thread.join(30)
    assert "error" not in result, result.get("error")
    assert done.code == 0, done.err
    assert result["hello"].sas_shown in done.out and "a device of 'ana'" in done.out
    assert {d.name for d in ana.devices.list()} >= {"laptop"}


def test_no_hello_file_in_time(ana: Session, tmp_path: Path, fake_clock: clock.FakeClock) -> None:
    """The code expires while A waits for the hello file: LinkExpired, nothing written."""
    with pytest.raises(LinkExpired, match="no hello file came in time"):
        host_link_files(
            ana,
            tmp_path / "hello.tsb",
            tmp_path / "welcome.tsb",
            600,
            lambda code: fake_clock.advance(601),
            lambda hello: True,
        )
    assert not (tmp_path / "welcome.tsb").exists()


def test_the_new_device_seals_forward_secret_and_keeps_requests(
    ana: Session, tmp_path: Path, deliver: Any
) -> None:
    """The link records (§9.4 as built): my contacts' prekeys travel, so the new device seals v2 to them
    at once (not the not-forward-secret fallback); a contact request waiting on the first device waits
    on the new one too; the snapshot is taken whole (nothing invalid, pending or skipped)."""
    with Session.create(tmp_path / "aiko", "aiko", PASSPHRASE, kdf=KdfParams.insecure_for_tests()) as aiko:
        aiko.contacts.request(ana.contacts.my_card(), note="hi, it's Aiko")
        deliver(aiko, ana)
    assert [r.card_name for r in ana.requests.list()] == ["aiko"]
    kenji = ana.contacts.get("kenji")
    assert ana.diary.not_forward_secret([kenji]) == []
    host = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(host, joiner)
    for data in host.welcome():
        joiner.on_envelope(data)
    with joiner.create_store(tmp_path / "laptop", PASSPHRASE, KdfParams.insecure_for_tests()) as b:
        assert joiner.report.problems() is None
        assert b.diary.not_forward_secret([b.contacts.get("kenji")]) == []
        assert [(r.card_name, r.note) for r in b.requests.list()] == [("aiko", "hi, it's Aiko")]


def test_the_largest_entry_links(ana: Session, tmp_path: Path) -> None:
    """An entry as large as a post may be (64 KiB of payload, here 2-byte letters) is larger than one
    snapshot envelope as an op: the snapshot is cut in pieces of bytes, not of whole ops."""
    big = ana.diary.post("é" * 32_700, title="long")
    with link_to(LinkHost(ana, [(RELAY, None)]), tmp_path) as b:
        assert b.diary.get(big.id).body == "é" * 32_700


def test_an_unreadable_snapshot_makes_no_store(ana: Session, tmp_path: Path) -> None:
    host = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(host, joiner)
    welcome, *_ = host.welcome()
    joiner.on_envelope(welcome)
    assert joiner._ks is not None and joiner.welcome is not None
    for index in range(joiner.welcome.expected):
        piece = {"type": "link-snapshot", "index": index, "data": base64.b64encode(b"[{").decode()}
        joiner.on_envelope(seal_link(joiner._ks, json.dumps(piece).encode(), sender=ana.identity.public).data)
    assert joiner.complete
    with pytest.raises(LinkAborted, match="not readable"):
        joiner.create_store(tmp_path / "laptop", PASSPHRASE, KdfParams.insecure_for_tests())
    assert not (tmp_path / "laptop" / "store.key").exists()


def test_bad_link_records_are_skipped_whole(ana: Session, tmp_path: Path) -> None:
    """The snapshot's link-… records are hostile input too: each is checked whole before anything of it
    is written, a bad one is skipped and counted, the rest of the link goes on."""
    host = LinkHost(ana, [(RELAY, None)])
    joiner = LinkJoiner(LinkCode(host.code.secret), "laptop")  # type: ignore[union-attr]
    run_link(host, joiner)
    welcome, *_ = host.welcome()
    joiner.on_envelope(welcome)
    assert joiner._ks is not None and joiner.welcome is not None
    key = ana.contacts.get("kenji").public_key.hex()
    records = [
        {"o": "link-chain", "key": "zz", "dev": "00" * 8, "rows": []},
        # a good announced epoch, then a bad route: nothing of the record is taken
        {"o": "link-peer", "key": key, "announced": [0, 0], "routes": {"ftp://x.example": 1}, "sent": []},
        {"o": "link-pending", "key": key, "dev": "00" * 8, "seq": 1, "target": "x", "payload": "!!"},
        {
            "o": "link-request",
            "key": key,
            "card": "tuisns1:nope",
            "note": "",
            "received": "2026-01-01T00:00:00Z",
        },
    ]
    stream = json.dumps(records).encode()
    for index in range(joiner.welcome.expected):
        piece = stream if index == 0 else b""
        payload = {"type": "link-snapshot", "index": index, "data": base64.b64encode(piece).decode()}
        joiner.on_envelope(
            seal_link(joiner._ks, json.dumps(payload).encode(), sender=ana.identity.public).data
        )
    with joiner.create_store(tmp_path / "laptop", PASSPHRASE, KdfParams.insecure_for_tests()) as b:
        assert joiner.report.invalid == 4
        assert b.store.fetchall("SELECT count(*) FROM peer_caps") == [(0,)]
        assert b.store.fetchall("SELECT count(*) FROM pending_ops") == [(0,)]
        assert b.identity.public == ana.identity.public


def test_the_new_device_opens_new_entries_across_epochs(
    tmp_path: Path, fake_clock: clock.FakeClock, deliver: Any
) -> None:
    """After linking, both devices follow the same ratchet: weeks later (new epochs, announced by
    either device), my contact's new entries open on the new device as on the first, with no gap."""
    kdf = KdfParams.insecure_for_tests()
    with (
        Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=kdf) as ana,
        Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=kdf) as kenji,
    ):
        ana.contacts.add(kenji.contacts.my_card())
        kenji.contacts.add(ana.contacts.my_card())
        with link_to(LinkHost(ana, [(RELAY, None)]), tmp_path) as laptop:
            for week in range(1, 5):
                fake_clock.advance(7 * 86400)
                for session in (ana, laptop, kenji):
                    session.epochs.tick()
                deliver(ana, kenji)
                deliver(laptop, kenji)
                kenji.diary.post(f"week {week}", title=f"w{week}", to=["ana"])
                deliver(kenji, ana, laptop)
                assert kenji.diary.not_forward_secret([kenji.contacts.get("ana")]) == []
                for device in (ana, laptop):
                    assert {p.title for p in device.diary.timeline() if not p.mine} == {
                        f"w{i}" for i in range(1, week + 1)
                    }
            assert not laptop.diary.missing() and not laptop.diary.chain_breaks()
