"""Epochs (docs/design-v2.md §5, §6): rotation and deletion with a fake clock, announcements sent and
received (every validation rule of §6.1 a hostile case), prekey conflicts, the card's prekey."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tui_sns.core import clock
from tui_sns.core.inbox import Outcome
from tui_sns.core.outgoing import send
from tui_sns.core.session import Session
from tui_sns.crypto.envelope_v2 import OpenedV2
from tui_sns.crypto.epochs import EpochKeys, prekey_id, walk
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import KdfParams, mailbox
from tui_sns.store import epochs as epoch_store

HOUR, DAY = 3600, 86400
T0 = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def fake() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(T0)
    with clock.use_source(fake):
        yield fake


@pytest.fixture
def make(tmp_path: Any, fake: clock.FakeClock) -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def create(name: str) -> Session:
        session = Session.create(tmp_path / name, name, "pw", kdf=KdfParams.insecure_for_tests())
        opened.append(session)
        return session

    yield create
    for session in opened:
        with contextlib.suppress(Exception):  # closed by the test
            session.close()


def take(session: Session) -> list[bytes]:
    """The session's new outbox envelopes (marked exported)."""
    rows = mailbox.unexported(session.store)
    mailbox.mark_exported(session.store, [i for i, _ in rows])
    return [d for _, d in rows]


def befriend(a: Session, b: Session) -> None:
    a.contacts.add(b.contacts.my_card())
    b.contacts.add(a.contacts.my_card())


def seed_of(session: Session) -> tuple[int, int, bytes]:
    held = epoch_store.current_seed(session.store)
    assert held is not None
    return held


# -- rotation and deletion -------------------------------------------------------------------------


def test_a_new_identity_has_epoch_0_from_its_creation(make: Callable[..., Session]) -> None:
    ana = make("ana")
    keys = ana.epochs.current()
    assert keys is not None and (keys.generation, keys.epoch) == (0, 0)
    card = ana.epochs.card_prekey()
    assert card is not None and (card.start, card.end, card.delete) == (T0, T0 + 7 * DAY, T0 + 14 * DAY)
    assert keys.prekey_id in ana.epochs.keyring().prekeys


def test_tick_walks_the_ratchet_erases_the_old_seed_and_deletes_keys_after_grace(
    make: Callable[..., Session], fake: clock.FakeClock
) -> None:
    ana = make("ana")
    ana.epochs.set_schedule(length=HOUR, grace=HOUR)  # from the next epoch on
    _, _, seed0 = seed_of(ana)
    epoch0 = EpochKeys.derive(seed0, 0, 0)
    fake.advance(7 * DAY)  # epoch 0 (7 days, set at creation) ends; epoch 1 (1 hour) starts
    report = ana.epochs.tick()
    assert report.advanced == 1 and report.erased == 0
    assert seed_of(ana) == (0, 1, walk(seed0, 0, 1))
    assert epoch0.prekey_id in ana.epochs.keyring().prekeys  # in grace: still opens
    fake.advance(7 * DAY)  # epoch 0's deletion time (end + its 7-day grace)
    report = ana.epochs.tick()
    assert report.erased >= 1
    ring = ana.epochs.keyring()
    assert epoch0.prekey_id not in ring.prekeys and epoch0.self_key_id not in ring.self_keys
    assert ring.deleted_prekeys[epoch0.prekey_id] == clock.now_unix()
    gen, epoch, seed = seed_of(ana)
    assert seed == walk(seed0, 0, epoch) and epoch == 1 + 7 * 24  # one-hour epochs since
    live = [r for r in epoch_store.epoch_key_rows(ana.store) if r.secret is not None]
    assert all(r.delete_at > clock.now_unix() for r in live)
    # every erased or live epoch key matches the ratchet; nothing before the current seed is held
    held = {r.secret for r in live}
    assert epoch0.prekey_secret not in held and seed0 not in held


def test_an_idle_tick_writes_nothing(make: Callable[..., Session]) -> None:
    ana = make("ana")
    ana.epochs.tick()
    counter = ana.store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'")
    assert ana.epochs.tick().advanced == 0
    assert ana.store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'") == counter


def test_the_next_epoch_is_pre_derived_in_the_first_half_and_announced(
    make: Callable[..., Session], fake: clock.FakeClock
) -> None:
    ana = make("ana")
    ana.epochs.tick()
    row = next(r for r in epoch_store.epoch_key_rows(ana.store) if r.kind == "prekey" and r.epoch == 0)
    assert (
        row.announce_at is not None and row.start <= row.announce_at < row.start + (row.end - row.start) // 2
    )
    fake.set(row.announce_at)
    ana.epochs.tick()
    payload = json.loads(ana.epochs.announce_payload() or b"{}")
    _, _, seed = seed_of(ana)
    nxt = EpochKeys.derive(walk(seed, 0, 1), 0, 1)
    assert [p["id"] for p in payload["prekeys"]] == [
        f"{EpochKeys.derive(seed, 0, 0).prekey_id:08x}",
        f"{nxt.prekey_id:08x}",
    ]
    assert payload["prekeys"][1]["start"] == row.end


def test_settings_are_bounded(make: Callable[..., Session]) -> None:
    from tui_sns.core.errors import InvalidInput

    ana = make("ana")
    for bad in (HOUR - 1, 90 * DAY + 1):
        with pytest.raises(InvalidInput):
            ana.epochs.set_schedule(length=bad)
        with pytest.raises(InvalidInput):
            ana.epochs.set_schedule(grace=bad)
    ana.epochs.set_schedule(length=HOUR, grace=2 * HOUR)
    assert ana.epochs.schedule() == (HOUR, 2 * HOUR)
    assert ana.epochs.require_forward_secrecy is False
    ana.epochs.set_require_forward_secrecy(True)
    assert ana.epochs.require_forward_secrecy is True


# -- cards and announcements -------------------------------------------------------------------------


def test_cards_carry_the_prekey_and_contacts_become_forward_secret(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    assert [c.forward_secret for c in ana.contacts.list()] == [True]
    assert ana.contacts.list()[0].as_json()["forward_secret"] is True
    ana.diary.post("hello", to=["kenji"])
    envelopes = take(ana)
    # the tick at the end of post? no: announcements are owed to the new contact until the next tick
    assert [e[0] for e in envelopes] == [2]
    report = kenji.inbox.receive(envelopes)
    assert report.stored == 1


def test_a_card_exchange_costs_no_announcement(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    assert ana.epochs.tick().announced == 0 and take(ana) == []


def test_a_contact_holding_an_old_card_of_mine_gets_an_announcement_and_turns_v2(
    make: Callable[..., Session],
) -> None:
    """Kenji added a card of Ana's without a usable prekey (an old one): he seals v1 to her; her
    inbox sees a v1 envelope from a v2-capable contact and her next tick announces her prekey."""
    from tui_sns.crypto.card import Card, decode_card
    from tui_sns.crypto.envelope import open_envelope

    ana, kenji = make("ana"), make("kenji")
    ana.contacts.add(kenji.contacts.my_card())
    old = decode_card(ana.contacts.my_card())
    kenji.contacts.add(Card(old.name, old.public_key, old.relays).encode())  # no prekey on it
    kenji.diary.post("hello", to=["ana"])
    first = take(kenji)
    assert [e[0] for e in first] == [1]
    assert ana.inbox.receive(first).stored == 1
    assert ana.epochs.tick().announced == 1
    envelopes = take(ana)
    result = open_envelope(kenji.epochs.keyring(), envelopes[0])
    assert isinstance(result, OpenedV2) and json.loads(result.payload)["type"] == "announce"
    report = kenji.inbox.receive(envelopes)
    assert report.outcomes[Outcome.APPLIED] == 1
    assert ana.epochs.tick().announced == 0  # nothing owed any more
    kenji.diary.post("now forward-secret", to=["ana"])
    assert [e[0] for e in take(kenji)] == [2]


def test_the_migration_announces_to_every_existing_contact(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    epoch_store.owe_announcement(ana.store, kenji.identity.public)  # what migration 9 leaves owed
    assert ana.epochs.tick().announced == 1
    assert kenji.inbox.receive(take(ana)).outcomes[Outcome.APPLIED] == 1


def prekey_json(
    secret: bytes | None = None, start: int = T0, end: int = T0 + DAY, delete: int = T0 + 2 * DAY
) -> dict[str, Any]:
    public = x25519_base(secret or os.urandom(32))
    return {
        "id": f"{prekey_id(public):08x}",
        "x25519": public.hex(),
        "start": start,
        "end": end,
        "delete": delete,
    }


def announce(gen: Any = 0, prekeys: Any = None, **extra: Any) -> bytes:
    obj: dict[str, Any] = {
        "type": "announce",
        "gen": gen,
        "prekeys": [prekey_json()] if prekeys is None else prekeys,
    }
    obj.update(extra)
    return json.dumps(obj).encode()


def _upper(p: dict[str, Any]) -> dict[str, Any]:
    return p | {"x25519": p["x25519"].upper()}


HOSTILE: dict[str, Callable[[], bytes]] = {
    "gen not an integer": lambda: announce(gen="0"),
    "gen a boolean": lambda: announce(gen=True),
    "gen negative": lambda: announce(gen=-1),
    "gen too large": lambda: announce(gen=2**31),
    "prekeys empty": lambda: announce(prekeys=[]),
    "prekeys four": lambda: announce(prekeys=[prekey_json() for _ in range(4)]),
    "prekeys not a list": lambda: announce(prekeys=prekey_json()),
    "prekey not an object": lambda: announce(prekeys=["x"]),
    "id of another key": lambda: announce(prekeys=[prekey_json() | {"id": prekey_json()["id"]}]),
    "id uppercase": lambda: announce(
        prekeys=[
            (lambda p: p | {"id": p["id"].upper() if p["id"] != p["id"].upper() else "ABCDEFGH"})(
                prekey_json()
            )
        ]
    ),
    "id too short": lambda: announce(prekeys=[(lambda p: p | {"id": p["id"][:6]})(prekey_json())]),
    "key uppercase hex": lambda: announce(prekeys=[_upper(prekey_json())]),
    "key low-order": lambda: announce(
        prekeys=[
            {
                "id": f"{prekey_id(bytes(32)):08x}",
                "x25519": "00" * 32,
                "start": T0,
                "end": T0 + DAY,
                "delete": T0 + 2 * DAY,
            }
        ]
    ),
    "key not hex": lambda: announce(prekeys=[prekey_json() | {"x25519": "zz" * 32}]),
    "start not before end": lambda: announce(prekeys=[prekey_json(start=T0 + DAY, end=T0 + DAY)]),
    "end after delete": lambda: announce(prekeys=[prekey_json(end=T0 + 3 * DAY, delete=T0 + 2 * DAY)]),
    "epoch over 90 days": lambda: announce(
        prekeys=[prekey_json(start=T0 - 91 * DAY, end=T0 + 1, delete=T0 + 2)]
    ),
    "grace over 90 days": lambda: announce(prekeys=[prekey_json(delete=T0 + DAY + 91 * DAY)]),
    "delete already passed": lambda: announce(
        prekeys=[prekey_json(start=T0 - 3 * DAY, end=T0 - 2 * DAY, delete=T0)]
    ),
    "times not integers": lambda: announce(prekeys=[prekey_json() | {"start": str(T0)}]),
    "same key twice": lambda: (lambda p: announce(prekeys=[p, p]))(prekey_json()),
    "routes too many": lambda: announce(routes=[{}] * 17),
    "routes not objects": lambda: announce(routes=["https://relay.example"]),
    "supersedes too many": lambda: announce(supersedes=["00000000"] * 5),
    "supersedes not ids": lambda: announce(supersedes=["xyz"]),
    "lc not an integer": lambda: announce(lc="1"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_invalid_announcement_is_ignored_and_stores_nothing(
    make: Callable[..., Session], case: str
) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    take(ana)
    before = epoch_store.peer_prekeys(kenji.store, ana.identity.public)
    contact = ana.contacts.get("kenji")
    send(ana, [contact], HOSTILE[case]())
    report = kenji.inbox.receive(take(ana))
    assert report.outcomes[Outcome.IGNORED] == 1, report.outcomes
    assert epoch_store.peer_prekeys(kenji.store, ana.identity.public) == before


def test_a_valid_announcement_is_stored_and_bounded_to_six_per_contact(
    make: Callable[..., Session], fake: clock.FakeClock
) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    take(ana)
    contact = ana.contacts.get("kenji")
    for i in range(8):  # later epochs of a higher generation each time (no conflict)
        start = T0 + i * DAY
        send(
            ana,
            [contact],
            announce(
                gen=1 + i,
                prekeys=[prekey_json(start=start, end=start + DAY, delete=start + 2 * DAY)],
                routes=[{"relay": "x"}],
                lc=3,
            ),
        )
    report = kenji.inbox.receive(take(ana))
    assert report.outcomes[Outcome.APPLIED] == 8
    held = epoch_store.peer_prekeys(kenji.store, ana.identity.public)
    assert len(held) == 6 and min(p.start for p in held) == T0 + 2 * DAY


def test_an_announcement_from_a_stranger_is_dropped(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    ana.contacts.add(kenji.contacts.my_card())  # kenji does not know ana
    take(ana)
    send(ana, [ana.contacts.get("kenji")], announce())
    report = kenji.inbox.receive(take(ana))
    assert report.outcomes[Outcome.STRANGER] == 1
    assert epoch_store.peer_prekeys(kenji.store, ana.identity.public) == []


def test_a_prekey_conflict_flags_the_contact_and_supersedes_clears_it(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    take(ana)
    card = ana.epochs.card_prekey()
    assert card is not None
    thief = prekey_json(start=card.start, end=card.end, delete=card.delete)  # same gen, overlapping
    send(ana, [ana.contacts.get("kenji")], announce(gen=card.gen, prekeys=[thief]))
    kenji.inbox.receive(take(ana))
    assert kenji.epochs.conflict(ana.identity.public)
    # the conflicting key is kept out of sealing: the one held before it is still the one used
    assert thief["id"] not in {
        f"{p.kid:08x}" for p in epoch_store.peer_prekeys(kenji.store, ana.identity.public)
    }
    used = kenji.epochs.usable_prekeys([ana.identity.public])[ana.identity.public]
    assert (used.gen, used.kid) == (card.gen, card.kid)
    [view] = kenji.contacts.list()
    assert view.prekey_conflict and view.as_json()["prekey_conflict"] is True
    from tui_sns.core.epochs import conflict_sentence

    assert conflict_sentence("ana") == (
        "Two different keys were announced for ana — a device of ana's may be in other hands; "
        "compare safety numbers."
    )
    send(
        ana,
        [ana.contacts.get("kenji")],
        announce(gen=card.gen + 1, prekeys=[prekey_json()], supersedes=[thief["id"]]),
    )
    kenji.inbox.receive(take(ana))
    assert not kenji.epochs.conflict(ana.identity.public)


def test_a_lower_generation_announcing_a_later_epoch_is_a_conflict(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    take(ana)
    contact = ana.contacts.get("kenji")
    send(ana, [contact], announce(gen=5, prekeys=[prekey_json(start=T0, end=T0 + DAY)]))
    send(ana, [contact], announce(gen=4, prekeys=[prekey_json(start=T0 + HOUR, end=T0 + DAY)]))
    kenji.inbox.receive(take(ana))
    assert kenji.epochs.conflict(ana.identity.public)


def test_an_old_announcement_arriving_late_is_stored_but_not_used(make: Callable[..., Session]) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    take(ana)
    contact = ana.contacts.get("kenji")
    new = prekey_json(start=T0, end=T0 + DAY)
    send(ana, [contact], announce(gen=5, prekeys=[new]))
    send(ana, [contact], announce(gen=4, prekeys=[prekey_json(start=T0 - DAY, end=T0 + DAY)]))
    kenji.inbox.receive(take(ana))
    assert not kenji.epochs.conflict(ana.identity.public)
    used = kenji.epochs.usable_prekeys([ana.identity.public])[ana.identity.public]
    assert f"{used.kid:08x}" == new["id"]


def test_a_prekey_near_its_deletion_is_not_used(make: Callable[..., Session], fake: clock.FakeClock) -> None:
    ana, kenji = make("ana"), make("kenji")
    befriend(ana, kenji)
    card = ana.epochs.card_prekey()
    assert card is not None
    fake.set(card.delete - DAY)  # within the margin (min(1 day, grace / 2))
    assert not kenji.epochs.forward_secret(ana.identity.public)
    fake.set(card.delete - DAY - 1)
    assert kenji.epochs.forward_secret(ana.identity.public)
