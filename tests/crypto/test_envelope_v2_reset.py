"""Reset envelopes (docs/design-v2.md §4.2 device slots, §10.1): sealed to my remaining devices' device
keys, found through the reset marker, authenticated by the sending *device* key (not by ``s``), and
unreadable by a device that only holds the identity and the old self key (a removed one)."""

from __future__ import annotations

import os

import pytest
from crypto_helpers import identity

from tui_sns.crypto.envelope_v2 import Keyring, OpenedReset, SelfKey, open_v2, seal_reset
from tui_sns.crypto.epochs import EpochKeys
from tui_sns.crypto.errors import ForgedEnvelope, SealError
from tui_sns.crypto.primitives import x25519_base

ANA = identity("reset-ana")
DEVID_A = b"\x01" * 8
PAYLOAD = b'{"type":"reset","gen":1}'


def _device() -> tuple[bytes, bytes]:
    secret = os.urandom(32)
    return secret, x25519_base(secret)


def _ring(*device_secrets: bytes) -> Keyring:
    ring = Keyring(ANA, devices=[DEVID_A])
    ring.add_epoch(
        EpochKeys.derive(b"\x07" * 32, 0, 0)
    )  # the old generation's keys (a removed device has them)
    ring.device_keys = list(device_secrets)
    return ring


def test_each_remaining_device_opens_it_and_learns_the_sending_device_key() -> None:
    a, b, c = _device(), _device(), _device()
    sealed = seal_reset(ANA, [a[0]], DEVID_A, [b[1], c[1]], PAYLOAD)
    for secret, public in (b, c):
        opened = open_v2(_ring(secret), sealed.data)
        assert isinstance(opened, OpenedReset)
        assert opened.payload == PAYLOAD and opened.from_self and opened.sender == ANA.public
        assert opened.device_key == a[1] and opened.device_keys == (a[1],) and opened.to_device_key == public
        assert opened.dev == DEVID_A


def test_a_device_left_out_opens_nothing_though_it_holds_s_and_the_old_self_key() -> None:
    a, b, removed = _device(), _device(), _device()
    sealed = seal_reset(ANA, [a[0]], DEVID_A, [b[1]], PAYLOAD)
    assert open_v2(_ring(removed[0]), sealed.data) is None
    assert open_v2(_ring(), sealed.data) is None  # no device key at all


def test_two_sending_keys_both_verify() -> None:
    old, new, b = _device(), _device(), _device()
    sealed = seal_reset(ANA, [new[0], old[0]], DEVID_A, [b[1]], PAYLOAD)
    opened = open_v2(_ring(b[0]), sealed.data)
    assert isinstance(opened, OpenedReset) and set(opened.device_keys) == {old[1], new[1]}


def test_a_slot_whose_mac_was_keyed_otherwise_is_forged() -> None:
    """The mac is keyed with X25519(d_sender, D): a slot naming a device key its sealer does not hold fails."""
    import tui_sns.crypto.envelope_v2 as ev2

    a, b, other = _device(), _device(), _device()
    real = ev2.x25519_base
    try:  # claim ``other``'s public key in the slot while keying the mac with ``a``'s secret
        ev2.x25519_base = lambda s: other[1] if s == a[0] else real(s)  # type: ignore[assignment]
        sealed = seal_reset(ANA, [a[0]], DEVID_A, [b[1]], PAYLOAD)
    finally:
        ev2.x25519_base = real  # type: ignore[assignment]
    with pytest.raises(ForgedEnvelope):
        open_v2(_ring(b[0]), sealed.data)


def test_an_ordinary_self_slot_never_takes_the_device_path() -> None:
    from tui_sns.crypto.envelope_v2 import seal_v2

    keys = EpochKeys.derive(b"\x07" * 32, 0, 0)
    sealed = seal_v2(ANA, [], b"{}", self_key=SelfKey.of(keys), devid=DEVID_A, devtag_key=b"\x02" * 32)
    opened = open_v2(_ring(_device()[0]), sealed.data)
    assert opened is not None and not isinstance(opened, OpenedReset)


def test_bad_arguments_are_refused() -> None:
    a, b = _device(), _device()
    with pytest.raises(SealError):
        seal_reset(ANA, [a[0]], DEVID_A, [b[1], b[1]], PAYLOAD)
    with pytest.raises(SealError):
        seal_reset(ANA, [a[0]], b"\x01", [b[1]], PAYLOAD)
    with pytest.raises(SealError):
        seal_reset(ANA, [], DEVID_A, [b[1]], PAYLOAD)


def test_the_marker_is_seen_without_x25519_and_only_by_the_identity() -> None:
    from tui_sns.crypto.envelope_v2 import has_reset_marker, seal_v2

    a, b = _device(), _device()
    sealed = seal_reset(ANA, [a[0]], DEVID_A, [b[1]], PAYLOAD)
    assert has_reset_marker(_ring(), sealed.data)  # a device left out still sees that a reset happened
    assert not has_reset_marker(Keyring(identity("reset-other")), sealed.data)
    keys = EpochKeys.derive(b"\x07" * 32, 0, 0)
    ordinary = seal_v2(ANA, [], b"{}", self_key=SelfKey.of(keys), devid=DEVID_A, devtag_key=b"\x02" * 32)
    assert not has_reset_marker(_ring(), ordinary.data)
    assert not has_reset_marker(_ring(), b"\x02" + bytes(10))  # malformed: no marker, no exception


def test_with_no_device_left_the_marker_alone_tells_the_removed_one() -> None:
    """Removing my only other device: the reset goes to no device, yet is sealed, so the removed
    device finds the marker (it was left out) and opens nothing; the same size as a reset to one."""
    from tui_sns.crypto.envelope_v2 import has_reset_marker

    a, removed = _device(), _device()
    alone = seal_reset(ANA, [a[0]], DEVID_A, [], PAYLOAD)
    assert has_reset_marker(_ring(removed[0]), alone.data)
    assert open_v2(_ring(removed[0]), alone.data) is None
    assert open_v2(_ring(a[0]), alone.data) is None  # not even the sender's own device key
    assert len(alone.data) == len(seal_reset(ANA, [a[0]], DEVID_A, [removed[1]], PAYLOAD).data)
