"""Property-based tests of envelope v2: random audiences (sizes, epochs, chain positions) and
random mutations."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from v2_helpers import person

from tui_sns.crypto.envelope import open_envelope
from tui_sns.crypto.envelope_v2 import OpenedV2, Unopenable
from tui_sns.crypto.errors import EnvelopeError

POOL_SIZE = 160
POOL = [person(f"hyp-v2-{i}", epoch=1, live_from=0) for i in range(POOL_SIZE)]  # epochs 0 and 1 live
AUTHOR = person("hyp-v2-author", epoch=4)
for _reader in POOL:  # warm the static-static caches: these tests are about correctness
    AUTHOR.identity.shared(_reader.identity.public)

COMMON = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(
    circle=st.integers(min_value=0, max_value=POOL_SIZE - 1),
    seed=st.integers(min_value=0, max_value=2**32),
    payload=st.binary(max_size=3000),
)
def test_random_audiences(circle: int, seed: int, payload: bytes) -> None:
    rnd = random.Random(seed)
    members = rnd.sample(range(POOL_SIZE), circle)
    outsiders = [i for i in range(POOL_SIZE) if i not in set(members)]
    epoch_of = {i: rnd.choice((0, 1)) for i in members}  # senders may hold either live prekey
    seq_of = {i: rnd.randrange(2**64) for i in members}
    sealed = AUTHOR.seal([POOL[i].recipient(seq=seq_of[i], epoch=epoch_of[i]) for i in members], payload)
    n = int.from_bytes(sealed.data[65:67], "big")
    assert n >= circle + 1 and n >= 4 and n & (n - 1) == 0 and (n == 4 or n < 2 * (circle + 1))
    for i in members if circle <= 30 else rnd.sample(members, 30):
        got = open_envelope(POOL[i].keyring, sealed.data)
        assert isinstance(got, OpenedV2)
        assert (got.payload, got.sender, got.seq) == (payload, AUTHOR.identity.public, seq_of[i])
        assert got.kid == POOL[i].keys(epoch_of[i]).prekey_id
    mine = open_envelope(AUTHOR.keyring, sealed.data)
    assert isinstance(mine, OpenedV2) and mine.from_self and mine.payload == payload
    if outsiders:
        assert open_envelope(POOL[rnd.choice(outsiders)].keyring, sealed.data) is None
    if members:  # the forward-secrecy property on a random member
        who = POOL[rnd.choice(members)]
        dropped = person(who.name, epoch=1, live_from=0)
        dropped.keyring.drop_epoch(dropped.keys(0), 1)
        dropped.keyring.drop_epoch(dropped.keys(1), 2)
        assert isinstance(open_envelope(dropped.keyring, sealed.data), Unopenable)


SMALL = AUTHOR.seal([POOL[i].recipient(seq=3) for i in range(3)], b"the original post").data
MEDIUM = AUTHOR.seal([POOL[i].recipient(seq=3, epoch=0) for i in range(9)], b"x" * 700).data
ORIGINALS = {SMALL: b"the original post", MEDIUM: b"x" * 700}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(sorted(ORIGINALS))))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "extend"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=300))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 300))]
        elif kind == "truncate":
            del data[pos:]
        else:
            data += draw(st.binary(min_size=1, max_size=300))
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(data=mutated(), who=st.sampled_from([0, 1, 2, 5, POOL_SIZE - 1, -1]))
def test_mutations_never_yield_another_payload(data: bytes, who: int) -> None:
    me = AUTHOR if who == -1 else POOL[who]
    try:
        got = open_envelope(me.keyring, data)
    except EnvelopeError:
        return
    assert not isinstance(got, Unopenable)  # no key was deleted
    if got is not None:
        assert got.payload in ORIGINALS.values()
        assert got.sender == AUTHOR.identity.public
