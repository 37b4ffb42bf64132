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


def test_a_request_with_a_card_over_4096_characters_arrives_through_a_relay(
    relay: RelayServer, person: Callable[..., Any]
) -> None:
    """Seen: a request whose card was over 4096 characters (a card naming 8 relays with long URLs,
    their shards and a prekey) was refused by its recipient. Here through a real relay: ann's card
    names the relay she shares with bob and 7 long URLs nobody serves (their syncs fail alone)."""
    from tui_sns.core.inbox import ReceiveReport

    ann, bob = person("ann", relay), person("bob", relay)
    for i in range(7):
        prefix = f"https://relay-{i}.no-such-name.invalid/"
        relay_store.add_relay(ann.store, prefix + "a" * (256 - len(prefix)), "c", "2026-01-01T00:00:00+00:00")
    card = ann.contacts.my_card()
    assert len(card) > 4096
    ann.contacts.request(bob.contacts.my_card(), note="from the choir")

    async def push_and_pull() -> ReceiveReport:
        from tui_sns.sync.engine import SyncEngine

        credential = next(r.credential for r in relay_store.list_relays(ann.store) if r.url == relay.url)
        async with RelayClient(relay.url, credential) as client:
            await SyncEngine(ann).push(client, honor_backoff=False)
        received = ReceiveReport()
        async with RelayClient(relay.url) as client:
            await SyncEngine(bob).pull(client, received)
        return received

    received = asyncio.run(push_and_pull())
    assert received.kinds["requests"] == 1 and received.kinds["refused_requests"] == 0
    (request,) = bob.requests.list()
    assert request.card_name == "ann" and len(request.relays) == 8
