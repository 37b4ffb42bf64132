"""Property-based tests: random circles and random mutations."""

from __future__ import annotations

import random

from crypto_helpers import POOL_SIZE, identity_pool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_sns.crypto.envelope import Recipient, open_envelope, seal
from tui_sns.crypto.errors import EnvelopeError

POOL = identity_pool()
AUTHOR = POOL[-1]
for _reader in POOL[:-1]:  # warm caches once: the tests are about correctness, not the first DH
    AUTHOR.shared(_reader.public)

COMMON = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(
    circle=st.integers(min_value=1, max_value=300),
    seed=st.integers(min_value=0, max_value=2**32),
    payload=st.binary(max_size=3000),
)
def test_random_circles(circle: int, seed: int, payload: bytes) -> None:
    rnd = random.Random(seed)
    members = rnd.sample(range(POOL_SIZE - 1), circle)
    outsiders = [i for i in range(POOL_SIZE - 1) if i not in set(members)]
    sealed = seal(AUTHOR, [Recipient(POOL[i].public, rnd.randrange(2**64)) for i in members], payload)
    readers = members if circle <= 40 else rnd.sample(members, 40)  # keep the runtime bounded
    for i in readers:
        opened = open_envelope(POOL[i], sealed.data)
        assert opened is not None and opened.payload == payload and opened.sender == AUTHOR.public
    mine = open_envelope(AUTHOR, sealed.data)
    assert mine is not None and mine.from_self and mine.payload == payload
    if outsiders:
        assert open_envelope(POOL[rnd.choice(outsiders)], sealed.data) is None


SMALL = seal(AUTHOR, [Recipient(POOL[i].public, 3) for i in range(3)], b"the original post").data
MEDIUM = seal(AUTHOR, [Recipient(POOL[i].public, 3) for i in range(9)], b"x" * 700).data
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
@given(data=mutated(), who=st.sampled_from([0, 1, 2, 5, POOL_SIZE - 1]))
def test_mutations_never_yield_another_payload(data: bytes, who: int) -> None:
    try:
        opened = open_envelope(POOL[who], data)
    except EnvelopeError:
        return
    if opened is not None:
        assert opened.payload in ORIGINALS.values()
        assert opened.sender == AUTHOR.public
