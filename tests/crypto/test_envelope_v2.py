"""The required properties of envelope v2 (docs/design-v2.md §4): v1's, re-run where they apply, plus
forward secrecy by epochs, key selectors and the version dispatch. Every test can fail."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest
from crypto_helpers import X25519Counter, identity
from v2_helpers import (
    Person,
    SlotV2,
    build_v2,
    honest_slot_v2,
    pad,
    person,
    self_slot_v2,
    split_v2,
)

from tui_sns.crypto.envelope import Opened, Recipient, open_envelope, seal
from tui_sns.crypto.envelope_v2 import (
    MAX_RECIPIENTS,
    SLOT_BYTES,
    Keyring,
    OpenedV2,
    RecipientV2,
    SelfKey,
    Unopenable,
    open_v2,
    seal_v2,
)
from tui_sns.crypto.epochs import device_tag, prekey_id
from tui_sns.crypto.errors import ForgedEnvelope, SealError, UnsupportedVersion
from tui_sns.crypto.primitives import x25519, x25519_base

PAYLOAD = b'{"type":"post","id":"a1","title":"t","body":"dear diary","created":"2024-01-01T00:00:00Z","lc":3}'
POOL = [person(f"v2-pool-{i}") for i in range(40)]


@pytest.fixture
def alice() -> Person:
    return person("alice", epoch=3, live_from=2)


@pytest.fixture
def bob() -> Person:
    return person("bob", epoch=7, live_from=6)


@pytest.fixture
def carol() -> Person:
    return person("carol")


def opened(who: Person, data: bytes) -> OpenedV2:
    result = open_envelope(who.keyring, data)
    assert isinstance(result, OpenedV2), result
    return result


# -- 1. only recipients (and the author) read; others get None ------------------------------------


def test_every_recipient_and_the_author_read_it(alice: Person) -> None:
    readers = POOL[:5]
    sealed = alice.seal([r.recipient(seq=i + 1) for i, r in enumerate(readers)], PAYLOAD, self_seq=9)
    for i, reader in enumerate(readers):
        got = opened(reader, sealed.data)
        assert (got.payload, got.sender, got.from_self, got.seq, got.version) == (
            PAYLOAD,
            alice.identity.public,
            False,
            i + 1,
            2,
        )
        assert got.kid == reader.keys().prekey_id
        assert got.dev == device_tag(alice.devtag_key, reader.identity.public)  # per-reader device tag
        assert got.digest == sealed.digest
    mine = opened(alice, sealed.data)
    assert mine.from_self and mine.payload == PAYLOAD and mine.seq == 9
    assert mine.dev == alice.devid and mine.kid == alice.keys().self_key_id and not mine.from_removed_device


def test_non_recipients_get_none(alice: Person) -> None:
    sealed = alice.seal([r.recipient() for r in POOL[:5]], PAYLOAD)
    for outsider in POOL[5:20]:
        assert open_envelope(outsider.keyring, sealed.data) is None
    # someone holding a reader's prekey but another static secret is an outsider too
    thief = Keyring(identity("thief"))
    thief.add_prekey(POOL[0].keys().prekey_secret)
    assert open_v2(thief, sealed.data) is None


def test_only_the_padded_size_is_visible(alice: Person, bob: Person) -> None:
    sealed = alice.seal([bob.recipient()], PAYLOAD)
    assert len(sealed.data) == 67 + 4 * 172 + 256 + 16
    for i in range(len(PAYLOAD) - 8):
        assert PAYLOAD[i : i + 8] not in sealed.data
    assert len(alice.seal([bob.recipient()], b"x").data) == len(
        alice.seal([bob.recipient()], b"y" * 252).data
    )


def test_self_only_envelope_for_device_sync(alice: Person) -> None:
    """§8.2: an envelope with only a self slot (n = 4) opens on my devices and for nobody else."""
    sealed = alice.seal([], b'{"type":"sync","lc":1,"ops":[]}')
    assert sealed.data[65:67] == (4).to_bytes(2, "big")
    assert opened(alice, sealed.data).from_self
    assert open_envelope(POOL[0].keyring, sealed.data) is None


# -- 2. forward secrecy at the crypto level ----------------------------------------------------


def test_a_dropped_prekey_no_longer_opens_its_epoch(alice: Person, bob: Person) -> None:
    """After the keyring drops epoch 6's prekey secret, the envelope sealed to it gives Unopenable;
    envelopes sealed to the still-live epoch 7 open; the static secret alone opens nothing."""
    old = alice.seal([bob.recipient(epoch=6)], PAYLOAD)
    new = alice.seal([bob.recipient(epoch=7)], PAYLOAD)
    assert opened(bob, old.data).kid == bob.keys(6).prekey_id  # in grace: still opens
    bob.keyring.drop_epoch(bob.keys(6), deleted_at=1_700_000_000)
    assert open_envelope(bob.keyring, old.data) == Unopenable("prekey", bob.keys(6).prekey_id, 1_700_000_000)
    assert opened(bob, new.data).payload == PAYLOAD
    # a keyring with every other key of bob's (static secret, Khself, epoch 7) but not epoch 6's
    assert bob.keys(6).prekey_secret not in [k for ks in bob.keyring.prekeys.values() for k in ks]
    forgetful = Keyring(bob.identity, devices=[bob.devid])
    assert open_v2(forgetful, old.data) is None  # not even remembered: simply not for me


def test_a_dropped_self_key_no_longer_opens_my_own_envelope(alice: Person, bob: Person) -> None:
    sealed = alice.seal([bob.recipient()], PAYLOAD)
    assert opened(alice, sealed.data).from_self
    keys = alice.keys()
    alice.keyring.drop_epoch(keys, deleted_at=42)
    assert open_envelope(alice.keyring, sealed.data) == Unopenable("self", keys.self_key_id, 42)
    assert opened(bob, sealed.data).payload == PAYLOAD  # the reader's epoch is still live


def test_grace_keeps_the_previous_epoch_open(alice: Person, bob: Person) -> None:
    for epoch in (6, 7):
        assert opened(bob, alice.seal([bob.recipient(epoch=epoch)], PAYLOAD).data).payload == PAYLOAD
    too_old = alice.seal([bob.recipient(epoch=5)], PAYLOAD)  # epoch 5 was never live in this keyring
    assert open_envelope(bob.keyring, too_old.data) is None


def test_two_live_keys_with_one_id_are_both_tried(alice: Person, bob: Person) -> None:
    """A 4-byte id collides with probability 2^-32 per pair: the keyring keeps both keys under it."""
    sealed = alice.seal([bob.recipient()], PAYLOAD)
    kid = bob.keys().prekey_id
    bob.keyring.prekeys[kid].insert(0, os.urandom(32))  # a colliding key, tried first
    assert opened(bob, sealed.data).payload == PAYLOAD


def test_an_unknown_key_id_is_not_for_me(alice: Person, bob: Person) -> None:
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = dataclasses.replace(honest_slot_v2(alice, eph_secret, bob, k), written_kid=12345)
    assert open_v2(bob.keyring, build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4)) is None


def test_a_selector_naming_another_live_key_does_not_open(alice: Person, bob: Person) -> None:
    """The slot key covers kid: pointing the selector at epoch 6 (live) while the slot is epoch 7's fails."""
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = dataclasses.replace(honest_slot_v2(alice, eph_secret, bob, k), written_kid=bob.keys(6).prekey_id)
    assert open_v2(bob.keyring, build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4)) is None


# -- 3. sender authentication, deniability, key commitment ------------------------------------


def test_recipient_can_compute_the_same_authenticator(alice: Person, bob: Person) -> None:
    """Deniability as in v1: Bob alone builds an envelope "from Alice" that his client accepts."""
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = dataclasses.replace(
        honest_slot_v2(alice, eph_secret, bob, k), auth=x25519(bob.identity.secret, alice.identity.public)
    )
    got = opened(bob, build_v2(x25519_base(eph_secret), k, k, pad(b"never written"), [slot], n=4))
    assert got.sender == alice.identity.public and got.payload == b"never written"


def test_wrong_static_key_is_a_forgery(alice: Person, bob: Person) -> None:
    mallory = person("mallory")
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = dataclasses.replace(honest_slot_v2(mallory, eph_secret, bob, k), sender=alice.identity.public)
    with pytest.raises(ForgedEnvelope):
        open_v2(bob.keyring, build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4))


def test_recipients_given_different_payload_keys_reject(alice: Person, bob: Person, carol: Person) -> None:
    eph_secret = os.urandom(32)
    k1, k2 = os.urandom(32), os.urandom(32)
    slots = [honest_slot_v2(alice, eph_secret, bob, k1), honest_slot_v2(alice, eph_secret, carol, k2)]
    data = build_v2(x25519_base(eph_secret), k1, k1, pad(PAYLOAD), slots, n=4)
    assert opened(bob, data).payload == PAYLOAD
    with pytest.raises(ForgedEnvelope, match="commitment"):
        open_v2(carol.keyring, data)


def test_body_under_another_key_than_committed_rejected(alice: Person, bob: Person) -> None:
    eph_secret, k1, k2 = os.urandom(32), os.urandom(32), os.urandom(32)
    data = build_v2(
        x25519_base(eph_secret), k1, k2, pad(PAYLOAD), [honest_slot_v2(alice, eph_secret, bob, k1)]
    )
    with pytest.raises(ForgedEnvelope):
        open_v2(bob.keyring, data)


@pytest.mark.parametrize("field", ["seq", "dev"])
def test_chain_position_and_device_tag_are_authenticated(alice: Person, bob: Person, field: str) -> None:
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = honest_slot_v2(alice, eph_secret, bob, k, seq=5)
    assert opened(bob, build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4)).seq == 5
    if field == "dev":
        tampered = dataclasses.replace(slot, written_dev=b"\x01" * 8)
        data = build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [tampered], n=4)
    else:  # the mac covers seq: write another seq under the same mac
        good = build_v2(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4)
        data = _rewrite_my_slot(bob, good, lambda p: p.__setitem__(79, p[79] ^ 1))
    with pytest.raises(ForgedEnvelope):
        open_v2(bob.keyring, data)


def _rewrite_my_slot(me: Person, data: bytes, change: object) -> bytes:
    """Decrypt ``me``'s recipient slot, apply ``change`` to its plaintext, re-encrypt it in place."""
    import struct

    from tui_sns.crypto.envelope_v2 import LABEL_HINT, LABEL_SLOT, SLOT_BOX_BYTES
    from tui_sns.crypto.primitives import aead_decrypt, aead_encrypt, kdf

    eph, n = data[1:33], struct.unpack_from(">H", data, 65)[0]
    ds = x25519(me.identity.secret, eph)
    keys = me.keys()
    context = eph + me.identity.public
    hint = kdf(LABEL_HINT, ds, context, 12)[:8]
    _, hints, _, _, _ = split_v2(data)
    index = hints.index(hint)
    slot_key = kdf(
        LABEL_SLOT, ds + x25519(keys.prekey_secret, eph), context + struct.pack(">I", keys.prekey_id)
    )
    start = 67 + 12 * n + index * SLOT_BOX_BYTES
    plain = bytearray(aead_decrypt(slot_key, data[start : start + SLOT_BOX_BYTES], data[:67]))
    change(plain)  # type: ignore[operator]
    return data[:start] + aead_encrypt(slot_key, bytes(plain), data[:67]) + data[start + SLOT_BOX_BYTES :]


def test_self_slot_naming_someone_else_is_forged(alice: Person, bob: Person) -> None:
    k = os.urandom(32)
    slot = self_slot_v2(alice, k, sender=bob.identity.public)
    with pytest.raises(ForgedEnvelope, match="another sender"):
        open_v2(alice.keyring, build_v2(x25519_base(os.urandom(32)), k, k, pad(PAYLOAD), [slot], n=4))


def test_self_slot_from_an_unknown_device_is_forged_and_a_removed_one_flagged(alice: Person) -> None:
    k = os.urandom(32)
    stranger_dev = bytes.fromhex("0102030405060708")
    data = build_v2(
        x25519_base(os.urandom(32)), k, k, pad(PAYLOAD), [self_slot_v2(alice, k, dev=stranger_dev)]
    )
    with pytest.raises(ForgedEnvelope, match="device"):
        open_v2(alice.keyring, data)
    alice.keyring.removed_devices.add(stranger_dev)
    got = open_v2(alice.keyring, data)
    assert isinstance(got, OpenedV2) and got.from_removed_device and got.dev == stranger_dev


# -- 4. no key, name or stable identifier in clear ---------------------------------------------


def _encodings(raw: bytes) -> list[bytes]:
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode, base64.b32encode):
        text = enc(raw)
        forms += [text, text.rstrip(b"=")]
    return forms


def test_no_key_in_clear_in_any_encoding(alice: Person) -> None:
    readers = POOL[:6]
    sealed = alice.seal([r.recipient() for r in readers], PAYLOAD)
    values: list[bytes] = []
    for who in [alice, *readers]:
        keys = who.keys()
        values += [
            who.identity.public,
            who.identity.secret,
            who.keyring.self_hint_key,
            keys.prekey_public,
            keys.prekey_secret,
            keys.self_key,
            keys.prekey_id.to_bytes(4, "big"),
            keys.self_key_id.to_bytes(4, "big"),
            who.devid,
            who.devtag_key,
        ]
        values += [who.identity.shared(r.identity.public) for r in readers if r is not who]
    values += [device_tag(alice.devtag_key, r.identity.public) for r in readers]
    for value in values:
        for form in _encodings(value):
            if len(form) >= 8:
                assert form not in sealed.data
        for i in range(max(len(value) - 8 + 1, 0)):
            assert value[i : i + 8] not in sealed.data
        if len(value) == 4:  # a key id is 4 bytes: in clear it would be a stable identifier
            assert value not in sealed.data[65:]  # (not in the 2-byte header fields either; ids are masked)


def _windows(data: bytes, size: int = 8) -> set[bytes]:
    return {data[i : i + size] for i in range(len(data) - size + 1)}


def test_two_envelopes_share_no_stable_identifier(alice: Person) -> None:
    readers = [r.recipient() for r in POOL[:3]]
    one, two = alice.seal(readers, PAYLOAD), alice.seal(readers, PAYLOAD)
    assert not _windows(one.data) & _windows(two.data)
    _, _, sels_one, _, _ = split_v2(one.data)
    _, _, sels_two, _, _ = split_v2(two.data)
    assert not set(sels_one) & set(sels_two)  # the same key ids, masked differently every time


def test_audience_size_hidden_up_to_the_slot_bucket(alice: Person) -> None:
    lengths = {len(alice.seal([r.recipient() for r in POOL[:k]], PAYLOAD).data) for k in (0, 1, 3)}
    assert len(lengths) == 1
    assert len(alice.seal([r.recipient() for r in POOL[:4]], PAYLOAD).data) == lengths.pop() + 4 * SLOT_BYTES


def test_all_slots_have_the_same_shape_and_order_varies(alice: Person) -> None:
    sealed = alice.seal([r.recipient() for r in POOL[:5]], PAYLOAD)
    _, hints, sels, boxes, _ = split_v2(sealed.data)
    assert len(hints) == len(sels) == len(boxes) == 8 and len(set(hints)) == len(set(boxes)) == 8
    from tui_sns.crypto.envelope_v2 import LABEL_HINT
    from tui_sns.crypto.primitives import kdf

    positions = set()
    for _ in range(30):
        data = alice.seal([r.recipient() for r in POOL[:2]], PAYLOAD).data
        mine = kdf(LABEL_HINT, alice.keyring.self_hint_key, data[1:33] + alice.identity.public, 12)[:8]
        positions.add(split_v2(data)[1].index(mine))
    assert len(positions) >= 3


def test_opening_reveals_nothing_about_other_slots(alice: Person) -> None:
    reader = POOL[0]
    alone = opened(reader, alice.seal([reader.recipient()], PAYLOAD).data)
    crowd = opened(reader, alice.seal([r.recipient() for r in POOL[:3]], PAYLOAD).data)
    view = lambda o: (o.sender, o.payload, o.seq, o.prev, o.from_self, o.dev, o.kid)  # noqa: E731
    assert view(alone) == view(crowd)
    assert {f.name for f in dataclasses.fields(OpenedV2)} == {
        *(f.name for f in dataclasses.fields(Opened)),
        "version",
        "dev",
        "kid",
        "from_removed_device",
    }


# -- 5. cost: X25519 counted ---------------------------------------------------------------------


@pytest.mark.parametrize("circle", [1, 10, 40])
def test_open_costs_one_x25519_for_a_stranger_two_for_a_recipient(
    alice: Person, circle: int, x25519_calls: X25519Counter
) -> None:
    readers = POOL[:circle]
    sealed = alice.seal([r.recipient() for r in readers], PAYLOAD)
    for reader in (readers[0], readers[-1]):
        reader.identity.shared(alice.identity.public)  # cache warm, as after unlocking the store
        x25519_calls.reset()
        assert opened(reader, sealed.data).payload == PAYLOAD
        assert (x25519_calls.scalarmult, x25519_calls.base) == (2, 0)  # ds and dp
    outsider = person("v2-outsider")
    x25519_calls.reset()
    assert open_envelope(outsider.keyring, sealed.data) is None
    assert (x25519_calls.scalarmult, x25519_calls.base) == (1, 0)
    x25519_calls.reset()
    assert opened(alice, sealed.data).from_self
    assert (x25519_calls.scalarmult, x25519_calls.base) == (0, 0)  # the author: no X25519


def test_open_from_an_unknown_sender_costs_one_more(alice: Person, x25519_calls: X25519Counter) -> None:
    reader = person("v2-cold-reader")
    sealed = alice.seal([reader.recipient()], PAYLOAD)
    x25519_calls.reset()
    opened(reader, sealed.data)
    assert x25519_calls.scalarmult == 3  # ds, dp, and the static-static secret, then cached
    x25519_calls.reset()
    opened(reader, sealed.data)
    assert x25519_calls.scalarmult == 2


def test_a_deleted_key_costs_no_more_than_a_stranger(
    alice: Person, bob: Person, x25519_calls: X25519Counter
) -> None:
    sealed = alice.seal([bob.recipient()], PAYLOAD)
    bob.keyring.drop_epoch(bob.keys(), 1)
    x25519_calls.reset()
    assert isinstance(open_v2(bob.keyring, sealed.data), Unopenable)
    assert x25519_calls.scalarmult == 1


@pytest.mark.parametrize("circle", [0, 1, 10, 100])
def test_seal_costs_two_x25519_per_reader(alice: Person, circle: int, x25519_calls: X25519Counter) -> None:
    readers = [person(f"v2-seal-{i}") for i in range(circle)]
    for r in readers:
        alice.identity.shared(r.identity.public)
    recipients = [r.recipient() for r in readers]
    x25519_calls.reset()
    alice.seal(recipients, PAYLOAD)
    assert (x25519_calls.scalarmult, x25519_calls.base) == (2 * circle, 1)


# -- 6. version dispatch ------------------------------------------------------------------------


def test_v1_envelopes_open_with_a_keyring_exactly_as_with_the_identity(alice: Person, bob: Person) -> None:
    data = seal(alice.identity, [Recipient(bob.identity.public, 4)], PAYLOAD).data
    with_identity, with_keyring = open_envelope(bob.identity, data), open_envelope(bob.keyring, data)
    assert type(with_identity) is type(with_keyring) is Opened
    assert with_identity == with_keyring
    assert open_envelope(alice.keyring, data) == open_envelope(alice.identity, data)


def test_a_v2_envelope_is_unsupported_for_a_bare_identity(alice: Person, bob: Person) -> None:
    sealed = alice.seal([bob.recipient()], PAYLOAD)
    with pytest.raises(UnsupportedVersion):
        open_envelope(bob.identity, sealed.data)
    with pytest.raises(UnsupportedVersion):
        open_v2(bob.keyring, b"\x01" + sealed.data[1:])
    for version in (0, 3, 0x7F, 0xFF):
        with pytest.raises(UnsupportedVersion):
            open_envelope(bob.keyring, bytes([version]) + sealed.data[1:])


# -- 7. seal's refusals ----------------------------------------------------------------------------


def test_seal_refuses_bad_audiences(alice: Person, bob: Person) -> None:
    good = bob.recipient()
    low_order = bytes(32)
    bad_sets = [
        [good, good],
        [alice.recipient()],
        [dataclasses.replace(good, seq=-1)],
        [dataclasses.replace(good, seq=2**64)],
        [dataclasses.replace(good, prev=b"short")],
        [dataclasses.replace(good, public_key=low_order)],
        [dataclasses.replace(good, prekey=low_order, kid=prekey_id(low_order))],
        [dataclasses.replace(good, kid=good.kid ^ 1)],  # kid does not name the prekey
        [dataclasses.replace(good, kid=-1)],
        [dataclasses.replace(good, prekey=b"\x09" * 31)],
        [RecipientV2(os.urandom(32), good.prekey, good.kid, 1) for _ in range(MAX_RECIPIENTS + 1)],
    ]
    for recipients in bad_sets:
        with pytest.raises(SealError):
            alice.seal(recipients, PAYLOAD)
    with pytest.raises(SealError):
        alice.seal([good], bytes(65536))
    kw = {"self_key": SelfKey.of(alice.keys()), "devid": alice.devid, "devtag_key": alice.devtag_key}
    for bad in (
        {"devid": bytes(7)},
        {"devtag_key": bytes(31)},
        {"self_key": SelfKey(bytes(31), 1)},
        {"self_key": SelfKey(bytes(32), 2**32)},
        {"self_seq": -1},
        {"self_prev": bytes(5)},
        {"self_hint": bytes(16)},
    ):
        with pytest.raises(SealError):
            seal_v2(alice.identity, [good], PAYLOAD, **{**kw, **bad})  # type: ignore[arg-type]


def test_the_self_hint_can_be_precomputed(alice: Person, bob: Person) -> None:
    """``self_hint`` is Khself given by the caller (the store keeps it); the envelope is the same."""
    from tests_rng import counter_rng

    kw = {"self_key": SelfKey.of(alice.keys()), "devid": alice.devid, "devtag_key": alice.devtag_key}
    one = seal_v2(alice.identity, [bob.recipient()], PAYLOAD, rng=counter_rng("x"), **kw)  # type: ignore[arg-type]
    two = seal_v2(
        alice.identity,
        [bob.recipient()],
        PAYLOAD,
        rng=counter_rng("x"),
        self_hint=alice.keyring.self_hint_key,
        **kw,  # type: ignore[arg-type]
    )
    assert one.data == two.data


def test_slot_spec_is_complete() -> None:
    assert {f.name for f in dataclasses.fields(SlotV2)} >= {"h", "k", "addressee", "kid", "auth"}


def test_the_shuffle_rejects_biased_draws_and_permutes() -> None:
    """Draws in the biased top range of 2^32 are replaced (uniform indices); the result is a permutation."""
    from tui_sns.crypto.envelope_v2 import _shuffle

    calls: list[int] = []

    def rng(size: int) -> bytes:
        calls.append(size)
        return b"\xff" * size if len(calls) == 1 else os.urandom(size)  # every first draw is rejected

    items = [(bytes([i]), b"", b"") for i in range(16)]
    _shuffle(items, rng)
    assert calls[0] == 4 * 15 and calls[1:] == [4] * (len(calls) - 1) and len(calls) >= 2
    assert sorted(items) == [(bytes([i]), b"", b"") for i in range(16)]
    seen = set()
    for _ in range(50):
        order = [(bytes([i]), b"", b"") for i in range(4)]
        _shuffle(order, os.urandom)
        seen.add(tuple(x[0] for x in order))
    assert len(seen) > 6  # 24 permutations of 4; 50 draws see many of them
