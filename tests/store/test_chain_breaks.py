"""A recipient notices when an envelope does not follow on from the previous one in a pairwise chain."""

from __future__ import annotations

from pathlib import Path

from tui_sns.core.messages import PostMessage
from tui_sns.core.session import Session
from tui_sns.crypto.envelope import Recipient, seal
from tui_sns.store import KdfParams, mailbox


def _pair(tmp_path: Path) -> tuple[Session, Session]:
    alice = Session.create(tmp_path / "a", "alice", "pw", KdfParams.insecure_for_tests())
    bob = Session.create(tmp_path / "b", "bob", "pw", KdfParams.insecure_for_tests())
    alice.contacts.add(bob.contacts.my_card(), "bob")
    bob.contacts.add(alice.contacts.my_card(), "alice")
    return alice, bob


def _envelope(alice: Session, bob: Session, seq: int, prev: bytes, text: str) -> bytes:
    payload = PostMessage(
        remote_id=f"r{seq}", title=text, body=text, created="2026-01-01T00:00:00+00:00"
    ).encode()
    return seal(alice.identity, [Recipient(bob.identity.public, seq, prev)], payload).data


def test_an_unbroken_chain_has_no_breaks(tmp_path: Path) -> None:
    alice, bob = _pair(tmp_path)
    for text in ("one", "two", "three"):
        alice.diary.post(text, to=["bob"])
    bob.inbox.receive([data for _, data in mailbox.unexported(alice.store)])
    assert len(bob.diary.timeline()) == 3
    assert bob.diary.chain_breaks() == []


def test_an_envelope_naming_the_wrong_predecessor_is_reported(tmp_path: Path) -> None:
    alice, bob = _pair(tmp_path)
    first = seal(
        alice.identity,
        [Recipient(bob.identity.public, 1, bytes(32))],
        PostMessage("r1", "one", "one", "2026-01-01T00:00:00+00:00").encode(),
    )
    forked = _envelope(alice, bob, 2, b"\x01" * 32, "two")  # does not name `first`
    follows = _envelope(alice, bob, 3, b"\x02" * 32, "three")
    bob.inbox.receive([first.data, forked, follows])
    assert bob.diary.chain_breaks() == [("alice", 2), ("alice", 3)]
