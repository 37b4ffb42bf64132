"""The linked-devices migration (docs/design-v2.md §15.1, device parts): chain positions and waiting
operations become per (key, dev) with existing rows on dev = 8 zero bytes, circles get a unique random
uid, and the new tables exist (no schema number is hard-coded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_sns.store import KdfParams, Store, mailbox
from tui_sns.store import database as database_module
from tui_sns.store import devices as device_store
from tui_sns.store import schema as schema_module

ZERO_DEV = bytes(8)


def test_existing_chains_move_to_dev_zero(
    tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = next(i for i, m in enumerate(schema_module.MIGRATIONS) if "CREATE TABLE devices" in m)
    home = tmp_path / "old"
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS[:before])
        m.setattr(database_module, "LATEST", before)
        store = Store.create(home, passphrase, KdfParams.insecure_for_tests())
        with store, store.write() as conn:
            conn.execute(
                "INSERT INTO contacts (id, name, card_name, public_key, shared_key, added) "
                "VALUES (1, 'bob', 'bob', ?, x'00', '2026')",
                (b"\x01" * 32,),
            )
            conn.execute(
                "INSERT INTO chain_received VALUES (?, 1, x'aa', x'00'), (?, 3, x'cc', x'bb')",
                (b"\x01" * 32,) * 2,
            )
            conn.execute("INSERT INTO pending_ops VALUES (?, 4, 'r1', x'7b7d', '2026')", (b"\x01" * 32,))
            conn.execute(
                "INSERT INTO circles (id, name, created) VALUES (5, 'close', '2026'), (6, 'far', '2026')"
            )
            conn.execute("INSERT INTO drafts (id, updated) VALUES ('composer', '2026')")
    with Store.open(home, passphrase) as store:
        assert store.schema_version == schema_module.LATEST
        assert store.fetchall("SELECT public_key, dev, seq FROM chain_received ORDER BY seq") == [
            (b"\x01" * 32, ZERO_DEV, 1),
            (b"\x01" * 32, ZERO_DEV, 3),
        ]
        assert mailbox.missing_counts(store) == [("bob", 1)]
        assert store.fetchall("SELECT dev, seq, remote_id FROM pending_ops") == [(ZERO_DEV, 4, "r1")]
        uids = [bytes(r[0]) for r in store.fetchall("SELECT uid FROM circles")]
        assert len(uids) == 2 and len(set(uids)) == 2 and all(len(u) == 16 for u in uids)
        assert store.fetchone("SELECT device FROM drafts") == (None,)
        assert device_store.load_device(store) is None  # made by the core on first use
        assert device_store.list_devices(store) == []
        with store.write() as conn:
            # a second device of bob's: its own chain, starting at 1, is no replay and no gap
            assert mailbox.record_received_seq(conn, b"\x01" * 32, 1, b"\xdd", bytes(32), b"\x02" * 8)
            assert not mailbox.record_received_seq(conn, b"\x01" * 32, 1, b"\xdd", bytes(32), b"\x02" * 8)
            assert not mailbox.record_received_seq(conn, b"\x01" * 32, 1, b"\xdd", bytes(32))
        assert mailbox.missing_counts(store) == [("bob", 1)]
