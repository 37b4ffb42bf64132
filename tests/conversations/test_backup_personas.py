"""Backups through the CLI (round trip with the relay cursor, refusals, damage, wrong passphrase) and
persona unlinkability."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.session import Session
from tui_sns.crypto.card import decode_card
from tui_sns.paths import persona_home
from tui_sns.store import KdfParams, Store
from tui_sns.store.backup import write_backup
from tui_sns.sync.engine import SyncEngine

PASS = "correct horse battery staple"


@pytest.mark.slow
def test_backup_restore_round_trip_keeps_the_relay_cursor(
    make_identity: Callable[..., Path],
    befriend: Callable[..., None],
    cli: Callable[..., Any],
    spawn_relay: Callable[..., Any],
    file_snapshot: Callable[[Path], Any],
    tmp_path: Path,
) -> None:
    relay = spawn_relay()
    alice, bob = make_identity("alice"), make_identity("bob")
    for home in (alice, bob):
        with Session.unlock(home, PASS) as s:
            s.relays.add(relay.url, relay.invite())
    befriend(alice, bob)
    with Session.unlock(bob, PASS) as s:
        s.diary.post("one", to=["alice"])
        s.diary.post("two", to=["alice"])
        SyncEngine(s).sync_once()
    assert "fetched 2" in cli(alice, "sync").out
    backup = tmp_path / "alice.backup"
    assert cli(alice, "backup", str(backup)).code == 0

    restored = tmp_path / "restored"
    assert cli(restored, "restore", str(backup)).code == 0
    with Session.unlock(bob, PASS) as s:
        s.diary.post("three", to=["alice"])
        SyncEngine(s).sync_once()
    synced = cli(restored, "sync")
    # the cursor came back: nothing read twice — "three" and the restored store's own announcement of
    # its new keys. A backup carries no epoch keys (design-v2 §15.4): "three", sealed to the old
    # prekey, is lost, and the sync says so; bob's next entry uses the new generation.
    assert "Sent 1, fetched 2, 0 new entries" in synced.out
    assert "Up to 1 envelope addressed to you could not be opened" in synced.err
    with Session.unlock(bob, PASS) as s:
        SyncEngine(s).sync_once()  # the announcement
        s.diary.post("four", to=["alice"])
        SyncEngine(s).sync_once()
    assert "fetched 1, 1 new entry" in cli(restored, "sync").out
    bodies = sorted(p["body"] for p in cli(restored, "timeline", "--json").json())
    assert bodies == ["four", "one", "two"]

    # restoring over an existing identity refuses and changes nothing
    before = file_snapshot(alice)
    refused = cli(alice, "restore", str(backup))
    assert refused.code == 1 and "already exists" in refused.err
    assert file_snapshot(alice) == before


def test_damaged_backup_and_wrong_passphrase(
    make_identity: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    alice = make_identity("alice")
    backup = tmp_path / "alice.backup"
    with Session.unlock(alice, PASS) as s:
        write_backup(s.store, backup, PASS, KdfParams.insecure_for_tests())
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(bytes(data))
    target = tmp_path / "new-home"
    result = cli(target, "restore", str(damaged))
    assert result.code == 1 and "tui-sns:" in result.err and len(result.err_lines) == 1
    assert not Store.exists(target) and not any(target.glob("store.*"))

    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    result = cli(target, "--passphrase-file", str(wrong), "restore", str(backup))
    assert result.code == 2 and "wrong passphrase" in result.err
    assert not Store.exists(target)


def _windows(key: bytes) -> list[bytes]:
    return [key[i : i + 8] for i in range(len(key) - 7)]


def test_personas_share_no_key_or_identifier(tmp_path: Path, cli: Callable[..., Any]) -> None:
    base = tmp_path / "base"
    sessions = {}
    for persona, display in ((None, "Dana"), ("work", "D. Smith")):
        sessions[persona] = Session.create(
            persona_home(base, persona), display, PASS, kdf=KdfParams.insecure_for_tests()
        )
    friend = Session.create(tmp_path / "friend", "friend", PASS, kdf=KdfParams.insecure_for_tests())
    try:
        main, work = sessions[None], sessions["work"]
        assert main.identity.public != work.identity.public
        card_main, card_work = decode_card(main.contacts.my_card()), decode_card(work.contacts.my_card())
        assert card_main.public_key != card_work.public_key and card_main.name != card_work.name
        assert main.contacts.my_card() != work.contacts.my_card()
        envelopes: dict[str | None, bytes] = {}
        for persona, s in sessions.items():
            s.contacts.add(friend.contacts.my_card())
            s.diary.post("same words", to=["friend"])
            s.comments.add(s.diary.timeline()[0].id, "a comment")
            envelopes[persona] = b"".join(row[0] for row in s.store.fetchall("SELECT data FROM outbox"))
        for mine, other in ((None, "work"), ("work", None)):
            key = sessions[mine].identity.public
            for needle in [*_windows(key), key.hex().encode()]:
                assert needle not in envelopes[other]
        # the CLI lists both, and each persona answers with its own key only
        assert cli(base, "personas").out.split() == ["(main)", "work"]
        who = cli(base, "--persona", "work", "whoami", "--json").json()
        assert who["public_keys"] == [work.identity.public.hex()]
    finally:
        for s in (*sessions.values(), friend):
            s.close()
