"""The forward-secrecy property of protocol v2, through the core API (docs/design-v2.md §12.2, plan
step 7: one device per person).

After an epoch's grace has passed (and ``tick`` ran), an attacker holding **every value of Ana's and
Kenji's stores** (the database decrypted, the key file, the database key) plus **every envelope ever
sent** opens none of that epoch's envelopes — except the v1 fallbacks, which are counted. Entries
that expired or were deleted are gone from every store and their envelopes stay closed.

The archive is the union of every outbox (each envelope captured as it is queued, before any
delivery, expiry or deletion): a superset of what any relay could have kept, so no relay is needed
to play the archivist (design-v2 §12.2 step 1 used a recording relay for the same purpose).

Watched failing first: with every reader sealed v1 (the code before plan step 6) the attacker opens
every envelope to Ana or Kenji with their static secrets; with key erasure switched off, the v2
envelopes open with the harvested prekeys and self keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core import clock
from tui_sns.core.session import Session
from tui_sns.crypto import envelope as v1
from tui_sns.crypto import envelope_v2 as v2
from tui_sns.crypto.envelope import Opened, envelope_id, open_envelope
from tui_sns.crypto.epochs import self_hint_key
from tui_sns.crypto.errors import EnvelopeError, InvalidPublicKey
from tui_sns.crypto.primitives import AeadFailure, aead_decrypt, x25519, x25519_base
from tui_sns.store import KdfParams, forensics, mailbox
from tui_sns.store import epochs as epoch_store

HOUR = 3600
T0 = datetime(2026, 12, 1, tzinfo=UTC)


class World:
    """Ana, Kenji (v2) and Lee (an older app); every queued envelope is archived before delivery."""

    def __init__(self, tmp_path: Path) -> None:
        self.people = {
            name: Session.create(tmp_path / name, name, "pw", kdf=KdfParams.insecure_for_tests())
            for name in ("ana", "kenji", "lee")
        }
        self.archive: dict[str, bytes] = {}
        self.sealed_by: dict[str, str] = {}

    def __getitem__(self, name: str) -> Session:
        return self.people[name]

    def sync(self) -> None:
        """Everyone ticks, then every new envelope reaches everyone (in both directions, twice)."""
        for _ in range(2):
            for name, session in self.people.items():
                session.epochs.tick()
                rows = mailbox.unexported(session.store)
                mailbox.mark_exported(session.store, [i for i, _ in rows])
                for eid, data in rows:
                    self.archive[eid] = data
                    self.sealed_by[eid] = name
                for other in self.people.values():
                    if other is not session and rows:
                        other.inbox.receive([d for _, d in rows])

    def close(self) -> None:
        for session in self.people.values():
            session.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    fake = clock.FakeClock(T0)
    with clock.use_source(fake):
        w = World(tmp_path)
        w.fake = fake  # type: ignore[attr-defined]
        try:
            yield w
        finally:
            w.close()


def _candidates(session: Session) -> set[bytes]:
    """Every 32-byte value the store gives away: bytes, hex or base64 text decoding to 32 bytes (in
    any column, or in the key file), and the database key itself."""
    found: set[bytes] = set()
    texts: list[str] = []
    for _, _, value in forensics.all_values(session.store):
        if isinstance(value, bytes):
            if len(value) == 32:
                found.add(value)
        elif isinstance(value, str):
            texts.append(value)
    keyfile = json.loads((session.store.home / "store.key").read_text())
    texts += [str(v) for v in _leaves(keyfile)]
    found.add(session.store.database_key)
    for text in texts:
        for piece in [text, *text.replace('"', " ").replace(",", " ").split()]:
            for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
                try:
                    raw = decode(piece)
                except (ValueError, binascii.Error):
                    continue
                if len(raw) == 32:
                    found.add(raw)
    return found


def _leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


def _try_box(key: bytes, box: bytes, prefix: bytes) -> bool:
    try:
        aead_decrypt(key, box, prefix)
        return True
    except AeadFailure:
        return False


def attack(data: bytes, candidates: set[bytes], statics: set[bytes]) -> bool:
    """Everything the attacker tries on one archived envelope with the harvested values."""
    version = data[0]
    slot_bytes = v1.SLOT_BYTES if version == 1 else v2.SLOT_BYTES
    box_bytes = v1.SLOT_BOX_BYTES if version == 1 else v2.SLOT_BOX_BYTES
    eph, _, prefix, n = v1.check_layout(data, version=version, slot_bytes=slot_bytes)
    body = data[v1.HEADER_BYTES + n * slot_bytes :]
    hints_end = v1.HEADER_BYTES + n * 8
    boxes_start = hints_end + (0 if version == 1 else 4 * n)
    boxes = [data[boxes_start + i * box_bytes : boxes_start + (i + 1) * box_bytes] for i in range(n)]
    # each candidate as the payload key on the body, and as a slot key on every box
    for c in candidates:
        if _try_box(c, body, prefix) or any(_try_box(c, box, prefix) for box in boxes):
            return True
    table = data[v1.HEADER_BYTES : hints_end]
    for r in statics:
        me = x25519_base(r)
        try:
            ds = x25519(r, eph)
        except InvalidPublicKey:
            continue
        context = eph + me
        if version == 1:
            for h in (ds, r):  # v1 recipient slot, and v1 self slot (self key from s)
                from tui_sns.crypto.keys import Identity

                key = h if h is ds else Identity(secret=r, public=me).self_key
                hint = blake2b(context, digest_size=8, key=key, person=v1.LABEL_HINT).digest()
                slot_key = blake2b(context, digest_size=32, key=key, person=v1.LABEL_SLOT).digest()
                for i in range(n):
                    if table[i * 8 : i * 8 + 8] == hint and _try_box(slot_key, boxes[i], prefix):
                        return True
            continue
        # v2: locate with the static key (recipient) or the self hint, then try every candidate
        for hint_key, is_self in ((ds, False), (self_hint_key(r), True), *((c, True) for c in candidates)):
            hm = blake2b(context, digest_size=12, key=hint_key, person=v2.LABEL_HINT).digest()
            for i in range(n):
                if table[i * 8 : i * 8 + 8] != hm[:8]:
                    continue
                sel = int.from_bytes(data[hints_end + 4 * i : hints_end + 4 * i + 4], "big")
                kid = (sel ^ int.from_bytes(hm[8:], "big")).to_bytes(4, "big")
                for c in candidates:
                    if is_self:
                        k = c
                    else:
                        try:
                            k = ds + x25519(c, eph)
                        except InvalidPublicKey:
                            continue
                    slot_key = blake2b(context + kid, digest_size=32, key=k, person=v2.LABEL_SLOT).digest()
                    if _try_box(slot_key, boxes[i], prefix):
                        return True
    return False


def test_an_attacker_with_every_secret_of_the_stores_opens_no_envelope_of_an_expired_epoch(
    world: World,
) -> None:
    fake: clock.FakeClock = world.fake  # type: ignore[attr-defined]
    ana, kenji, lee = world["ana"], world["kenji"], world["lee"]
    lee.epochs.disable_v2_for_tests()
    for s in (ana, kenji, lee):
        s.epochs.set_schedule(length=HOUR, grace=HOUR)
    fake.advance(15 * 86400)  # past epoch 0 (7 days at creation): one-hour epochs from here on
    for a, b in ((ana, kenji), (ana, lee)):
        a.contacts.add(b.contacts.my_card())
        b.contacts.add(a.contacts.my_card())
    world.sync()

    # -- one epoch of life --------------------------------------------------------------------------
    both = ana.diary.post("to kenji and lee", to=["kenji", "lee"])
    ana.diary.post("only me")
    short = ana.diary.post("gone in 30 minutes", to=["kenji"], expires=timedelta(minutes=30))
    doomed = ana.diary.post("deleted later", to=["kenji", "lee"])
    world.sync()
    from tui_sns.core.inbox import local_post_id

    at_kenji = local_post_id(ana.identity.public, both.id)
    kenji.comments.add(at_kenji, "a comment from kenji")
    kenji.diary.post("kenji to ana", to=["ana"])
    lee.diary.post("lee to ana", to=["ana"])
    world.sync()
    [comment] = ana.comments.list(both.id)
    ana.comments.hide(both.id, comment.id)
    ana.diary.edit(both.id, body="to kenji and lee, edited")
    ana.diary.delete(doomed.id)
    ana.diary.mark_all_read()
    ana.drafts.save("a draft", "draft body", ["kenji"])
    ana.circles.create("close")
    ana.circles.add("close", ["kenji"])
    world.sync()
    before = set(world.archive)
    assert len(before) >= 10
    fallbacks = epoch_store.fallback_total(ana.store)

    # -- the epoch and its grace pass ---------------------------------------------------------------
    fake.advance(2 * HOUR + 60)  # epoch + grace + 1 minute
    world.sync()
    after = set(world.archive) - before  # sealed with the current epoch's keys (announcements)

    # expired and deleted entries are gone from every store
    for s in (ana, kenji, lee):
        bodies = {p.body for p in s.diary.timeline()}
        assert "gone in 30 minutes" not in bodies and "deleted later" not in bodies
    assert short.envelope_id in before and doomed.envelope_id in before

    # -- the attacker -------------------------------------------------------------------------------
    candidates: set[bytes] = set()
    publics: set[bytes] = set()
    for s in (ana, kenji):
        candidates |= _candidates(s)
    for s in (ana, kenji):
        for _, _, value in forensics.all_values(s.store):
            if isinstance(value, bytes) and len(value) == 32:
                publics.add(value)
    statics = {c for c in candidates if x25519_base(c) in publics}
    assert ana.identity.secret in statics and kenji.identity.secret in statics  # the harvest works

    opened: set[str] = set()
    for eid, data in world.archive.items():
        real = [open_envelope(s.epochs.keyring(), data) for s in (ana, kenji)]
        if any(isinstance(r, Opened) for r in real) or attack(data, candidates, statics):
            opened.add(eid)

    lee_to_ana = {eid for eid in before if world.sealed_by[eid] == "lee"}
    # what the core API counts as received without forward secrecy: Lee's entry to Ana, v1
    received_v1 = {
        row[0]
        for row in ana.store.fetchall(
            "SELECT envelope_id FROM posts WHERE author_id IS NOT NULL AND envelope_version = 1"
        )
    }
    assert received_v1 <= lee_to_ana and received_v1
    assert opened & before == lee_to_ana  # nothing else of the expired epoch opens
    assert short.envelope_id not in opened and doomed.envelope_id not in opened
    assert (
        fallbacks == 1
    )  # Lee got the kept entry as a v1 fallback (counted; the deleted one went with its row)
    assert after <= opened or not after  # the current epoch's envelopes: held keys open them


def test_envelope_ids_match_the_archive(world: World) -> None:
    """The archive keys envelopes by their relay id (what a relay would have stored them under)."""
    ana, kenji = world["ana"], world["kenji"]
    ana.contacts.add(kenji.contacts.my_card())
    kenji.contacts.add(ana.contacts.my_card())
    ana.diary.post("x", to=["kenji"])
    world.sync()
    assert world.archive and all(envelope_id(d) == eid for eid, d in world.archive.items())
    assert all(isinstance(d, bytes) and d[0] in (1, 2) for d in world.archive.values())
    with pytest.raises(EnvelopeError):
        open_envelope(ana.identity, b"\x03" + bytes(400))
