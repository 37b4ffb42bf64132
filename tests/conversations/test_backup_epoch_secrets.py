"""Backups without epoch secrets (docs/design-v2.md §15.4): a backup carries no seed, prekey or self
key, so forward secrecy does not end at the oldest backup; a restored store starts a new generation
and announces it, and the conversation goes on forward-secret."""

from __future__ import annotations

from pathlib import Path

from tui_sns.core.inbox import Outcome
from tui_sns.core.session import Session
from tui_sns.crypto.epochs import EpochKeys
from tui_sns.store import KdfParams, Store, mailbox
from tui_sns.store import epochs as epoch_store
from tui_sns.store.backup import open_backup, write_backup

PASSPHRASE = "pw"


def take(session: Session) -> list[bytes]:
    session.epochs.tick()
    rows = mailbox.unexported(session.store)
    mailbox.mark_exported(session.store, [i for i, _ in rows])
    return [d for _, d in rows]


def test_a_backup_holds_no_epoch_secret(tmp_path: Path) -> None:
    """On a plaintext test store the backup's bytes can be searched: the seed and the epoch keys are
    in the live database and absent from the backup (nothing left in free pages either)."""
    store = Store.plaintext_for_tests(tmp_path / "plain", now=lambda: 1_800_000_000)
    with store:
        gen, epoch, seed = epoch_store.current_seed(store) or (0, 0, b"")
        keys = EpochKeys.derive(seed, gen, epoch)
        secrets = {"seed": seed, "prekey": keys.prekey_secret, "self": keys.self_key}
        store.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        assert all(v in (tmp_path / "plain" / "store.db").read_bytes() for v in secrets.values())
        write_backup(store, tmp_path / "backup.tsb", PASSPHRASE, KdfParams.insecure_for_tests())
    copy = open_backup((tmp_path / "backup.tsb").read_bytes(), PASSPHRASE)
    assert [name for name, v in secrets.items() if v in copy] == []
    assert keys.prekey_public in copy  # the public half stays: the copy is the real database


def test_a_restored_store_starts_a_new_generation_and_stays_forward_secret(tmp_path: Path) -> None:
    kdf = KdfParams.insecure_for_tests()
    ana = Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=kdf)
    kenji = Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=kdf)
    ana.contacts.add(kenji.contacts.my_card())
    kenji.contacts.add(ana.contacts.my_card())
    old = ana.epochs.current()
    assert old is not None
    ana.backup(tmp_path / "ana.tsb", PASSPHRASE)
    ana.close()

    Session.restore(tmp_path / "restored", tmp_path / "ana.tsb", PASSPHRASE)
    with Store.open(tmp_path / "restored", PASSPHRASE) as raw:  # as restored, before any unlock
        assert epoch_store.current_seed(raw) is None
        assert all(r.secret is None for r in epoch_store.epoch_key_rows(raw))
    ana = Session.unlock(tmp_path / "restored", PASSPHRASE)
    new = ana.epochs.current()
    assert new is not None and new.generation == old.generation + 1
    announcement = take(ana)
    assert [e[0] for e in announcement] == [2]
    assert kenji.inbox.receive(announcement).outcomes[Outcome.APPLIED] == 1
    used = kenji.epochs.usable_prekeys([ana.identity.public])[ana.identity.public]
    assert (used.gen, used.kid) == (new.generation, new.prekey_id)
    kenji.diary.post("welcome back", to=["ana"])
    assert ana.inbox.receive(take(kenji)).stored == 1
    ana.close()
    kenji.close()
