"""The required properties of envelope v1, one (or more) test each. Every test can fail."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest
import salamander
from crypto_helpers import X25519Counter, identity
from envelope_builders import SlotSpec, build, build_with_body, honest_slot, pad, read_my_slot, split

from tui_sns.crypto.envelope import (
    HEADER_BYTES,
    HINT_BYTES,
    LABEL_COMMIT,
    MAX_RECIPIENTS,
    NO_PREV,
    SLOT_BOX_BYTES,
    SLOT_BYTES,
    Opened,
    Recipient,
    envelope_size,
    open_envelope,
    seal,
    slot_bucket,
)
from tui_sns.crypto.errors import ForgedEnvelope, SealError
from tui_sns.crypto.keys import Identity
from tui_sns.crypto.primitives import aead_decrypt, aead_encrypt, kdf, x25519, x25519_base

PAYLOAD = b'{"type":"post","id":"a1","title":"t","body":"dear diary","created":"2024-01-01T00:00:00Z"}'


def to(*people: Identity, seq: int = 1) -> list[Recipient]:
    return [Recipient(p.public, seq) for p in people]


# -- 1. only recipients (and the author) can read; others learn only the padded size -----------


def test_every_recipient_and_the_author_read_it(alice: Identity, pool: list[Identity]) -> None:
    readers = pool[:5]
    sealed = seal(alice, to(*readers), PAYLOAD)
    for reader in readers:
        opened = open_envelope(reader, sealed.data)
        assert opened is not None
        assert opened.payload == PAYLOAD
        assert opened.sender == alice.public
        assert not opened.from_self
    mine = open_envelope(alice, sealed.data)
    assert mine is not None and mine.from_self and mine.payload == PAYLOAD and mine.sender == alice.public


def test_non_recipients_get_none(alice: Identity, pool: list[Identity]) -> None:
    sealed = seal(alice, to(*pool[:5]), PAYLOAD)
    for outsider in pool[5:25]:
        assert open_envelope(outsider, sealed.data) is None
    # an identity holding the same public key list but another secret is an outsider too
    assert open_envelope(Identity.generate(), sealed.data) is None


def test_only_the_padded_size_is_visible(alice: Identity, bob: Identity) -> None:
    sealed = seal(alice, to(bob), PAYLOAD)
    assert len(sealed.data) == envelope_size(1 + 1, len(PAYLOAD))
    assert PAYLOAD not in sealed.data
    for i in range(0, len(PAYLOAD) - 8):  # no 8-byte piece of the plaintext either
        assert PAYLOAD[i : i + 8] not in sealed.data
    short, long = seal(alice, to(bob), b"x"), seal(alice, to(bob), b"y" * 252)
    assert len(short.data) == len(long.data)  # 5 and 256 bytes padded: the same bucket


# -- 2. sender authentication: static-static, deniable, not transferable between recipients ------


def test_recipient_can_compute_the_same_authenticator(alice: Identity, bob: Identity) -> None:
    """Deniability: everything that convinces Bob the post is from Alice, Bob could have made himself.

    Bob builds, from his own secret and Alice's public key only, a fresh envelope "from Alice" that his
    client accepts exactly like a genuine one, so the envelope proves nothing to a third party.
    """
    genuine = open_envelope(bob, seal(alice, to(bob), PAYLOAD).data)
    assert genuine is not None and genuine.sender == alice.public
    assert bob.shared(alice.public) == alice.shared(bob.public)  # the mac key is symmetric
    eph_secret, payload_key = os.urandom(32), os.urandom(32)
    eph = x25519_base(eph_secret)
    slot = SlotSpec(
        addressee=bob.public,
        dh=x25519(eph_secret, bob.public),
        auth=x25519(bob.secret, alice.public),  # computed by Bob alone
        payload_key=payload_key,
        sender=alice.public,
        seq=genuine.seq,
    )
    made_by_bob = build(eph, payload_key, payload_key, pad(b"words Alice never wrote"), [slot], n=4)
    opened = open_envelope(bob, made_by_bob)
    assert opened is not None
    assert opened.sender == alice.public and opened.payload == b"words Alice never wrote"


def _forgeries_by_bob(alice: Identity, bob: Identity, carol: Identity, original: bytes) -> dict[str, bytes]:
    """Every way Bob, holding K and E from a genuine envelope addressed to him and Carol, tries to
    make Carol accept a post "from Alice" that Alice did not write."""
    eph, payload_key, sender = read_my_slot(bob, original)
    assert sender == alice.public
    forged = b"Alice says: send Bob money"
    out: dict[str, bytes] = {}
    # a) same E, K and commitment; Bob cannot compute X25519(e, C): he uses what he can compute
    for name, guess in {
        "same-E, dh=X25519(b,C)": x25519(bob.secret, carol.public),
        "same-E, dh=X25519(b,E)": x25519(bob.secret, eph),
    }.items():
        slot = SlotSpec(carol.public, guess, bob.shared(carol.public), payload_key, alice.public)
        out[name] = build(eph, payload_key, payload_key, pad(forged), [slot], n=4)
    # b) a fresh E' (so Carol finds the slot), K reused, mac under every key Bob can compute
    eph_secret = os.urandom(32)
    fresh = x25519_base(eph_secret)
    for name, auth in {
        "fresh-E, mac=X25519(b,C)": bob.shared(carol.public),
        "fresh-E, mac=X25519(b,A)": bob.shared(alice.public),
        "fresh-E, mac=K": payload_key,
    }.items():
        slot = SlotSpec(carol.public, x25519(eph_secret, carol.public), auth, payload_key, alice.public)
        out[name] = build(fresh, payload_key, payload_key, pad(forged), [slot], n=4)
    # c) splice: keep every slot of the genuine envelope (Carol's included), swap the body for a
    #    new one under K (the commitment still matches K)
    from tui_sns.crypto.primitives import aead_encrypt

    prefix, hints, boxes, _ = split(original)
    out["splice new body under K"] = (
        prefix + b"".join(hints) + b"".join(boxes) + aead_encrypt(payload_key, pad(forged), prefix)
    )
    return out


def test_recipient_cannot_forge_a_post_from_the_sender_to_another_recipient(
    alice: Identity, bob: Identity, carol: Identity
) -> None:
    original = seal(alice, to(bob, carol), PAYLOAD).data
    assert open_envelope(carol, original) is not None
    for name, forged in _forgeries_by_bob(alice, bob, carol, original).items():
        try:
            result = open_envelope(carol, forged)
        except ForgedEnvelope:
            continue
        assert result is None, f"Carol accepted a forgery: {name}"


def test_wrong_static_key_is_a_forgery_not_silence(alice: Identity, bob: Identity, mallory: Identity) -> None:
    """A slot that opens but names Alice while authenticated with Mallory's key is ForgedEnvelope."""
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = dataclasses.replace(honest_slot(mallory, eph_secret, bob.public, k), sender=alice.public)
    with pytest.raises(ForgedEnvelope):
        open_envelope(bob, build(x25519_base(eph_secret), k, k, pad(b"hi"), [slot], n=4))


# -- 3. no key, name or stable identifier in clear ---------------------------------------------


def _encodings(raw: bytes) -> list[bytes]:
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode, base64.b32encode):
        text = enc(raw)
        forms += [text, text.rstrip(b"=")]
    return forms


def test_no_public_key_in_clear(alice: Identity, pool: list[Identity]) -> None:
    readers = pool[:6]
    sealed = seal(alice, to(*readers), PAYLOAD)
    for who in [alice, *readers]:
        secrets = [who.public, who.self_key] + [who.shared(r.public) for r in readers if r is not who]
        for value in secrets:
            for form in _encodings(value):
                assert form not in sealed.data
            for i in range(len(value) - 8 + 1):  # not even an 8-byte piece of the raw key
                assert value[i : i + 8] not in sealed.data


def _windows(data: bytes, size: int = 8) -> set[bytes]:
    return {data[i : i + size] for i in range(len(data) - size + 1)}


def test_two_envelopes_share_no_stable_identifier(alice: Identity, pool: list[Identity]) -> None:
    readers = to(*pool[:3])
    one, two = seal(alice, readers, PAYLOAD), seal(alice, readers, PAYLOAD)
    common = _windows(one.data) & _windows(two.data)
    assert not common  # version byte and slot count are shorter than 8 bytes
    assert one.data[0] == two.data[0] and one.data[65:67] == two.data[65:67]


# -- 4. recipients cannot tell who else received it ---------------------------------------------


def test_audience_size_hidden_up_to_the_slot_bucket(alice: Identity, pool: list[Identity]) -> None:
    only_me = seal(alice, [], PAYLOAD)
    one = seal(alice, to(pool[0]), PAYLOAD)
    three = seal(alice, to(*pool[:3]), PAYLOAD)
    assert len(only_me.data) == len(one.data) == len(three.data)
    assert one.data[65:67] == three.data[65:67] == (4).to_bytes(2, "big")
    assert len(seal(alice, to(*pool[:4]), PAYLOAD).data) == len(one.data) + 4 * SLOT_BYTES


def test_all_slots_have_the_same_shape(alice: Identity, pool: list[Identity]) -> None:
    sealed = seal(alice, to(*pool[:5]), PAYLOAD)  # 6 real slots, 2 decoys
    prefix, hints, boxes, body = split(sealed.data)
    assert len(hints) == len(boxes) == 8
    assert {len(h) for h in hints} == {HINT_BYTES} and {len(b) for b in boxes} == {SLOT_BOX_BYTES}
    assert len(set(hints)) == 8 and len(set(boxes)) == 8
    assert len(prefix) + 8 * SLOT_BYTES + len(body) == len(sealed.data)


def test_opening_reveals_nothing_about_other_slots(alice: Identity, pool: list[Identity]) -> None:
    fields = {f.name for f in dataclasses.fields(Opened)}
    assert fields == {"sender", "payload", "seq", "prev", "digest", "from_self"}
    bob = pool[0]
    alone = open_envelope(bob, seal(alice, to(bob), PAYLOAD).data)
    crowd = open_envelope(bob, seal(alice, to(*pool[:3]), PAYLOAD).data)
    assert alone is not None and crowd is not None
    view = lambda o: (o.sender, o.payload, o.seq, o.prev, o.from_self)  # noqa: E731
    assert view(alone) == view(crowd)  # the same view whether alone or with two others


def test_slot_order_is_shuffled(alice: Identity, pool: list[Identity]) -> None:
    """The author's slot is not always first: its position varies across envelopes."""
    positions = set()
    for _ in range(30):
        data = seal(alice, to(*pool[:2]), PAYLOAD).data
        _, hints, _, _ = split(data)
        from tui_sns.crypto.envelope import LABEL_HINT
        from tui_sns.crypto.primitives import kdf

        mine = kdf(LABEL_HINT, alice.self_key, data[1:33] + alice.public, HINT_BYTES)
        positions.add(hints.index(mine))
    assert len(positions) >= 3


# -- 5. body padding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "audiences"),
    [((0, 1, 100, 252), (0, 1, 3)), ((253, 400, 508), (4, 5, 7)), ((1021, 2000), (8, 15))],
)
def test_same_buckets_same_length(
    alice: Identity, pool: list[Identity], sizes: tuple[int, ...], audiences: tuple[int, ...]
) -> None:
    lengths = {len(seal(alice, to(*pool[:a]), os.urandom(s)).data) for s in sizes for a in audiences}
    assert len(lengths) == 1
    (length,) = lengths
    assert length == envelope_size(audiences[0] + 1, sizes[0])


def test_crossing_a_bucket_changes_the_length(alice: Identity, bob: Identity) -> None:
    assert len(seal(alice, to(bob), bytes(252)).data) < len(seal(alice, to(bob), bytes(253)).data)


# -- 6. O(1) X25519 per open, N per seal --------------------------------------------------------


@pytest.mark.parametrize("circle", [1, 10, 100, 300])
def test_open_costs_one_x25519_whatever_the_circle(
    alice: Identity, pool: list[Identity], circle: int, x25519_calls: X25519Counter
) -> None:
    readers = pool[:circle]
    sealed = seal(alice, to(*readers), PAYLOAD)
    for reader in (readers[0], readers[-1], readers[circle // 2]):
        reader.shared(alice.public)  # cache warm, as after unlocking the store
        x25519_calls.reset()
        assert open_envelope(reader, sealed.data) is not None
        assert x25519_calls.scalarmult == 1 and x25519_calls.base == 0
    outsider = pool[-1]
    x25519_calls.reset()
    assert open_envelope(outsider, sealed.data) is None
    assert x25519_calls.scalarmult == 1
    x25519_calls.reset()
    assert open_envelope(alice, sealed.data) is not None  # the author: self slot, no X25519
    assert x25519_calls.scalarmult == 0


def test_open_from_an_unknown_sender_costs_one_more(alice: Identity, x25519_calls: X25519Counter) -> None:
    reader = identity("cold-cache-reader")
    sealed = seal(alice, to(reader), PAYLOAD)
    x25519_calls.reset()
    assert open_envelope(reader, sealed.data) is not None
    assert x25519_calls.scalarmult == 2  # ephemeral DH + the static-static secret, then cached
    x25519_calls.reset()
    assert open_envelope(reader, sealed.data) is not None
    assert x25519_calls.scalarmult == 1


@pytest.mark.parametrize("circle", [0, 1, 10, 100, 300])
def test_seal_costs_n_x25519_with_a_warm_cache(
    alice: Identity, pool: list[Identity], circle: int, x25519_calls: X25519Counter
) -> None:
    readers = pool[:circle]
    for r in readers:
        alice.shared(r.public)
    x25519_calls.reset()
    seal(alice, to(*readers), PAYLOAD)
    assert x25519_calls.scalarmult == circle
    assert x25519_calls.base == 1


# -- 7. key commitment ------------------------------------------------------------------------


def test_recipients_given_different_payload_keys_reject(
    alice: Identity, bob: Identity, carol: Identity
) -> None:
    """A malicious author gives Bob K1 and Carol K2 (each slot authentic) to show them different posts."""
    eph_secret = os.urandom(32)
    eph = x25519_base(eph_secret)
    k1, k2 = os.urandom(32), os.urandom(32)
    slots = [honest_slot(alice, eph_secret, bob.public, k1), honest_slot(alice, eph_secret, carol.public, k2)]
    data = build(eph, k1, k1, pad(PAYLOAD), slots, n=4)
    opened = open_envelope(bob, data)
    assert opened is not None and opened.payload == PAYLOAD  # K1 matches the commitment
    with pytest.raises(ForgedEnvelope):
        open_envelope(carol, data)  # K2 does not


def test_key_commitment_stops_a_body_that_decrypts_under_two_keys(
    alice: Identity, bob: Identity, carol: Identity
) -> None:
    """The real "invisible salamanders" attack: Poly1305 is not key-committing, so a malicious author
    can craft ONE body that XChaCha20-Poly1305 accepts under K1 (Bob's slot) and K2 (Carol's slot),
    with valid macs for both. Only the key commitment makes Carol reject it."""
    eph_secret = os.urandom(32)
    eph = x25519_base(eph_secret)
    k1, k2 = os.urandom(32), os.urandom(32)
    slots = [honest_slot(alice, eph_secret, bob.public, k1), honest_slot(alice, eph_secret, carol.public, k2)]
    prefix = bytes([1]) + eph + kdf(LABEL_COMMIT, k1, eph) + (4).to_bytes(2, "big")
    # make Bob's plaintext a well-framed 252-byte payload: length field 252, no padding
    keystream = salamander.xchacha20_keystream(k1, bytes(24), 2)[64:68]
    head = bytes(a ^ b for a, b in zip(keystream, (252).to_bytes(4, "big"), strict=True))
    body = salamander.two_key_ciphertext(k1, k2, prefix, 256, head=head)
    assert aead_decrypt(k1, body, prefix) != aead_decrypt(k2, body, prefix)  # the AEAD accepts both
    data = build_with_body(eph, k1, body, slots, n=4)
    opened = open_envelope(bob, data)
    assert opened is not None and len(opened.payload) == 252
    with pytest.raises(ForgedEnvelope, match="commitment"):
        open_envelope(carol, data)


def test_salamander_helper_matches_libsodium() -> None:
    key, nonce = os.urandom(32), os.urandom(24)
    stream = salamander.xchacha20_keystream(key, nonce, 4)
    assert aead_encrypt(key, bytes(128), b"", nonce)[:128] == stream[64:192]


def test_commitment_over_a_third_key_rejected_by_all(alice: Identity, bob: Identity, carol: Identity) -> None:
    eph_secret = os.urandom(32)
    k1, k2, k3 = (os.urandom(32) for _ in range(3))
    slots = [honest_slot(alice, eph_secret, bob.public, k1), honest_slot(alice, eph_secret, carol.public, k2)]
    data = build(x25519_base(eph_secret), k3, k1, pad(PAYLOAD), slots, n=4)
    for reader in (bob, carol):
        with pytest.raises(ForgedEnvelope):
            open_envelope(reader, data)


def test_body_under_another_key_than_committed_rejected(alice: Identity, bob: Identity) -> None:
    eph_secret = os.urandom(32)
    k1, k2 = os.urandom(32), os.urandom(32)
    data = build(
        x25519_base(eph_secret), k1, k2, pad(PAYLOAD), [honest_slot(alice, eph_secret, bob.public, k1)], n=4
    )
    with pytest.raises(ForgedEnvelope):
        open_envelope(bob, data)


# -- 8. sequence numbers and prev digests, per recipient ---------------------------------------


def test_each_recipient_sees_its_own_chain_position(alice: Identity, pool: list[Identity]) -> None:
    readers = pool[:4]
    chain = [
        Recipient(r.public, seq, os.urandom(32))
        for r, seq in zip(readers, (1, 7, 2**40, 2**64 - 1), strict=True)
    ]
    sealed = seal(alice, chain, PAYLOAD, self_seq=42)
    for reader, position in zip(readers, chain, strict=True):
        opened = open_envelope(reader, sealed.data)
        assert opened is not None
        assert (opened.seq, opened.prev, opened.digest) == (position.seq, position.prev, sealed.digest)
    mine = open_envelope(alice, sealed.data)
    assert mine is not None and (mine.seq, mine.prev) == (42, NO_PREV)


def test_chain_positions_are_authenticated(alice: Identity, bob: Identity) -> None:
    """A slot whose seq or prev differs from what the sender's mac covers fails."""
    eph_secret, k = os.urandom(32), os.urandom(32)
    slot = honest_slot(alice, eph_secret, bob.public, k, seq=5)
    data = build(x25519_base(eph_secret), k, k, pad(PAYLOAD), [slot], n=4)
    assert open_envelope(bob, data) is not None
    for field, value in (("written_seq", 6), ("written_prev", os.urandom(32))):
        tampered = dataclasses.replace(slot, **{field: value})  # type: ignore[arg-type]
        with pytest.raises(ForgedEnvelope):
            open_envelope(bob, build(x25519_base(eph_secret), k, k, pad(PAYLOAD), [tampered], n=4))


def test_digest_chains_envelopes(alice: Identity, bob: Identity) -> None:
    first = seal(alice, [Recipient(bob.public, 1)], PAYLOAD)
    second = seal(alice, [Recipient(bob.public, 2, first.digest)], PAYLOAD)
    a, b = open_envelope(bob, first.data), open_envelope(bob, second.data)
    assert a is not None and b is not None
    assert b.prev == a.digest == first.digest and b.seq == a.seq + 1


# -- seal's own refusals --------------------------------------------------------------------------


def test_seal_refuses_bad_audiences(alice: Identity, bob: Identity, pool: list[Identity]) -> None:
    with pytest.raises(SealError):
        seal(alice, to(bob, bob), PAYLOAD)
    with pytest.raises(SealError):
        seal(alice, to(alice), PAYLOAD)
    with pytest.raises(SealError):
        seal(alice, [Recipient(bob.public, -1)], PAYLOAD)
    with pytest.raises(SealError):
        seal(alice, [Recipient(bob.public, 1, b"short")], PAYLOAD)
    with pytest.raises(SealError):
        seal(alice, [Recipient(bytes(32), 1)], PAYLOAD)  # low-order key
    with pytest.raises(SealError):
        seal(alice, [Recipient(os.urandom(32), 1) for _ in range(MAX_RECIPIENTS + 1)], PAYLOAD)
    with pytest.raises(SealError):
        seal(alice, to(bob), bytes(65536))
    assert slot_bucket(MAX_RECIPIENTS + 1) == 1024
    assert HEADER_BYTES == 67
