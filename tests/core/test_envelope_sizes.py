"""Every size limit on an envelope's bytes admits the largest envelope a client seals, of either
version: a v2 envelope (172-byte slots) can be 241,747 bytes, more than v1's 229,459.

Seen (while making the card limits coherent): the relay client and bundle import checked envelopes
against v1's limit, so a v2 envelope of an entry near 64 KiB sealed to over 512 readers would have
been refused by every reader — "malformed envelope record", the relay stuck for them — or made a
bundle "truncated or corrupt"."""

from __future__ import annotations

import base64

import pytest

from tui_sns.core.exchange import pack_bundle, unpack_bundle
from tui_sns.crypto import envelope, envelope_v2
from tui_sns.crypto.envelope import envelope_id
from tui_sns.net.transport import RelayGarbage, _parse_envelope

LARGEST = max(envelope.MAX_ENVELOPE_BYTES, envelope_v2.MAX_ENVELOPE_BYTES)


def test_v2_is_the_larger() -> None:
    assert envelope_v2.MAX_ENVELOPE_BYTES > envelope.MAX_ENVELOPE_BYTES


def test_the_largest_envelope_travels_in_a_bundle() -> None:
    data = b"\x02" + bytes(LARGEST - 1)
    assert unpack_bundle(pack_bundle([data])) == [data]


def test_the_largest_envelope_is_taken_from_a_relay_and_one_byte_more_is_not() -> None:
    data = b"\x02" + bytes(LARGEST - 1)
    record = {"seq": 1, "id": envelope_id(data), "data": base64.b64encode(data).decode()}
    assert _parse_envelope("https://relay.example", record).data == data
    bigger = data + bytes(3)
    with pytest.raises(RelayGarbage):
        _parse_envelope(
            "https://relay.example",
            {"seq": 1, "id": envelope_id(bigger), "data": base64.b64encode(bigger).decode()},
        )


def test_a_relay_admits_it_by_default() -> None:
    from tui_sns.sync.relay.config import RelayConfig

    assert RelayConfig().max_envelope_bytes >= LARGEST
