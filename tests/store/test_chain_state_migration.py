"""The chain-state migration moves sending and received positions from contact rows to public keys and
records how existing entries chose their readers (no schema number is hard-coded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_sns.store import KdfParams, Store
from tui_sns.store import contacts as contact_store
from tui_sns.store import database as database_module
from tui_sns.store import posts as post_store
from tui_sns.store import schema as schema_module


def test_chain_state_survives_the_migration(
    tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = next(i for i, m in enumerate(schema_module.MIGRATIONS) if "CREATE TABLE chain_send" in m)
    home = tmp_path / "old"
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS[:before])
        m.setattr(database_module, "LATEST", before)
        store = Store.create(home, passphrase, KdfParams.insecure_for_tests())
        with store, store.write() as conn:
            for cid, name, key in ((1, "bob", b"\x01" * 32), (2, "dave", b"\x02" * 32)):
                conn.execute(
                    "INSERT INTO contacts (id, name, card_name, public_key, shared_key, added, send_seq, send_prev) "
                    "VALUES (?, ?, ?, ?, x'00', '2026', ?, ?)",
                    (cid, name, name, key, 6 + cid, bytes([cid]) * 32),
                )
            conn.execute("INSERT INTO received_seq VALUES (1, 3, x'aa', x'bb')")
            conn.execute("INSERT INTO circles (id, name, created) VALUES (5, 'close', '2026')")
            conn.execute("INSERT INTO circle_members VALUES (5, 1), (5, 2)")
            conn.execute(
                "INSERT INTO posts (id, remote_id, author_id, body, created, received, audience) "
                "VALUES ('p1', 'p1', NULL, 'x', '2026', '2026', '{\"circles\":[\"close\"],\"contacts\":[\"dave\"]}')"
            )
            conn.execute("INSERT INTO post_readers VALUES ('p1', 1, 'bob'), ('p1', 2, 'dave')")
    with Store.open(home, passphrase) as store:
        assert store.schema_version == schema_module.LATEST
        bob = contact_store.get_contact(store, "bob")
        assert (bob.send_seq, bob.send_prev) == (7, b"\x01" * 32)
        assert store.fetchall("SELECT public_key, seq FROM chain_received") == [(b"\x01" * 32, 3)]
        with store.write() as conn:
            conn.execute("DELETE FROM circle_members WHERE contact_id IN (1, 2)")
        # dave was named directly: still a reader; bob only through the circle he left
        assert post_store.current_reader_ids(store, "p1") == [2]
        contact_store.remove_contact(store, "bob")
        assert store.fetchone("SELECT seq FROM chain_send WHERE public_key = ?", (b"\x01" * 32,)) == (7,)
