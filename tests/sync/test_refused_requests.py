"""A stranger's contact request that is refused (a card naming another key, a note or name not allowed,
too many pending) is dropped, and said: "1 contact request refused" in `sync`, `sync --watch` and
`inbox import`, never silently."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relay_server import RelayServer

from tui_sns.core.exchange import pack_bundle
from tui_sns.core.inbox import refused_requests_line
from tui_sns.core.messages import RequestMessage
from tui_sns.crypto.card import Card
from tui_sns.crypto.envelope import Recipient, seal
from tui_sns.crypto.keys import Identity
from tui_sns.net.transport import RelayClient
from tui_sns.store import relays as relay_store


def request_envelope(to: bytes, note: str = "hi", *, name: str = "stranger", liar: bool = False) -> bytes:
    stranger = Identity.generate()
    key = Identity.generate().public if liar else stranger.public
    card = Card(name=name, public_key=key).encode()
    return seal(stranger, [Recipient(to, 0)], RequestMessage(card, note).encode()).data


def hostile(to: bytes) -> list[bytes]:
    return [
        request_envelope(to, liar=True),  # the card names someone else's key
        request_envelope(to, "x" * 501),  # a note longer than allowed
        request_envelope(to, name="\u202eevil"),  # a name the contact book refuses
    ]


def test_the_inbox_counts_refused_requests(person: Callable[..., Any]) -> None:
    alice = person("alice")
    me = alice.identity.public
    report = alice.inbox.receive([*hostile(me), request_envelope(me, "a fair one")])
    assert report.kinds["requests"] == 1 and report.kinds["refused_requests"] == 3
    assert len(alice.requests.list()) == 1
    assert (
        refused_requests_line(report.kinds) == "3 contact requests refused (malformed, or too many waiting)"
    )
    assert refused_requests_line(alice.inbox.receive([]).kinds) is None


def test_sync_and_import_say_how_many_requests_were_refused(
    relay: RelayServer, person: Callable[..., Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    alice, eve = person("alice", relay), person("eve", relay)
    me = alice.identity.public
    bundle = tmp_path / "letters.bin"
    bundle.write_bytes(pack_bundle([request_envelope(me, liar=True)]))
    credential = relay_store.list_relays(eve.store)[0].credential

    async def upload() -> None:
        async with RelayClient(relay.url, credential) as client:
            for data in hostile(me):
                await client.put(data)

    asyncio.run(upload())
    home = alice.store.home
    alice.close()
    synced = cli(home, "sync")
    assert synced.code == 0, synced.err
    assert "3 contact requests refused (malformed, or too many waiting)" in synced.out
    imported = cli(home, "inbox", "import", str(bundle))
    assert imported.code == 0, imported.err
    assert "1 contact request refused" in imported.out + imported.err
