"""Migration "v2 keys" (docs/design-v2.md §15.1) and the migration runner's Python data steps.

No schema number is hard-coded: the migration is found by what it creates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui_sns.crypto.epochs import EpochKeys, next_seed
from tui_sns.store import KdfParams, Store, forensics
from tui_sns.store import database as database_module
from tui_sns.store import epochs as epoch_store
from tui_sns.store import schema as schema_module
from tui_sns.store.schema import MigrationContext

V2_KEYS = next(i for i, m in enumerate(schema_module.MIGRATIONS) if "CREATE TABLE epoch_seed" in m) + 1


def _old_store(home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch, before: int) -> None:
    with monkeypatch.context() as m:
        m.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS[:before])
        m.setattr(database_module, "LATEST", before)
        store = Store.create(home, passphrase, KdfParams.insecure_for_tests())
        with store, store.write() as conn:
            for cid, name, key in ((1, "kenji", b"\x01" * 32), (2, "lee", b"\x02" * 32)):
                conn.execute(
                    "INSERT INTO contacts (id, name, card_name, public_key, shared_key, added) "
                    "VALUES (?, ?, ?, ?, x'00', '2026')",
                    (cid, name, name, key),
                )
            conn.execute(
                "INSERT INTO posts (id, remote_id, author_id, body, created, received) "
                "VALUES ('p1', 'p1', NULL, 'x', '2026', '2026')"
            )
            conn.execute("INSERT INTO post_readers (post_id, contact_id, name) VALUES ('p1', 1, 'kenji')")


def test_v2_keys_migration_creates_generation_0_and_owes_every_contact_an_announcement(
    tmp_path: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "old"
    _old_store(home, passphrase, monkeypatch, V2_KEYS - 1)
    with Store.open(home, passphrase, now=lambda: 1_800_000_000) as store:
        assert store.schema_version == schema_module.LATEST
        gen, epoch, seed = epoch_store.current_seed(store) or (None, None, b"")
        assert (gen, epoch, len(seed)) == (0, 0, 32)
        rows = epoch_store.epoch_key_rows(store)
        assert sorted(r.kind for r in rows) == ["prekey", "self"]
        keys = EpochKeys.derive(seed, 0, 0)
        prekey = next(r for r in rows if r.kind == "prekey")
        assert (prekey.secret, prekey.public_key, prekey.kid) == (
            keys.prekey_secret,
            keys.prekey_public,
            keys.prekey_id,
        )
        week = 7 * 86400
        assert (prekey.start, prekey.end, prekey.delete_at) == (
            1_800_000_000,
            1_800_000_000 + week,
            1_800_000_000 + 2 * week,
        )
        caps = epoch_store.all_peer_caps(store)
        assert {k: c.announce_owed for k, c in caps.items()} == {b"\x01" * 32: True, b"\x02" * 32: True}
        assert epoch_store.sealed_versions(store, "p1") == (1, 0, [("kenji", 1)])


def test_each_store_gets_its_own_random_seed(tmp_path: Path, passphrase: str) -> None:
    seeds = set()
    for name in ("a", "b"):
        with Store.create(tmp_path / name, passphrase, KdfParams.insecure_for_tests()) as store:
            seeds.add((epoch_store.current_seed(store) or (0, 0, b""))[2])
    assert len(seeds) == 2


def _with_data_step(monkeypatch: pytest.MonkeyPatch, script: str, step: Any) -> int:
    migrations = [*schema_module.MIGRATIONS, script]
    number = len(migrations)
    monkeypatch.setattr(database_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(database_module, "LATEST", number)
    monkeypatch.setattr(database_module, "DATA_STEPS", {**schema_module.DATA_STEPS, number: step})
    return number


def test_a_data_step_runs_after_its_script_with_the_callers_time(
    home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[MigrationContext] = []

    def step(conn: Any, context: MigrationContext) -> None:
        seen.append(context)
        conn.execute("INSERT INTO extra (x) VALUES (?)", (context.now,))

    number = _with_data_step(monkeypatch, "CREATE TABLE extra (x INTEGER NOT NULL)", step)
    with Store.open(home, passphrase, now=lambda: 1234) as store:
        assert store.schema_version == number
        assert store.fetchall("SELECT x FROM extra") == [(1234,)]
    assert [c.now for c in seen] == [1234]


def test_a_failing_data_step_rolls_back_its_script(
    home: Path, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def step(conn: Any, context: MigrationContext) -> None:
        conn.execute("INSERT INTO extra (x) VALUES (1)")
        raise RuntimeError("boom")

    number = _with_data_step(monkeypatch, "CREATE TABLE extra (x INTEGER NOT NULL)", step)
    with pytest.raises(RuntimeError):
        Store.open(home, passphrase)
    monkeypatch.setattr(database_module, "DATA_STEPS", schema_module.DATA_STEPS)
    monkeypatch.setattr(database_module, "MIGRATIONS", schema_module.MIGRATIONS)
    monkeypatch.setattr(database_module, "LATEST", schema_module.LATEST)
    with Store.open(home, passphrase) as store:
        assert store.schema_version == number - 1
        assert store.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'extra'") is None


def _raw(home: Path) -> bytes:
    out = b""
    for name in ("store.db", "store.db-wal", "store.db-shm"):
        path = home / name
        if path.exists():
            out += path.read_bytes()
    return out


def test_erased_epoch_keys_leave_no_trace_in_the_database_files(tmp_path: Path) -> None:
    """§12.2 step 9: on a plaintext test store, the raw bytes of the database, its write-ahead log and
    its index hold the seed and epoch keys before erasure, and none of them after (secure_delete and
    the checkpoint at work). Freed pages are what a logical harvest cannot see."""
    home = tmp_path / "plain"
    store = Store.plaintext_for_tests(home, now=lambda: 1_800_000_000)
    with store:
        gen, epoch, seed = epoch_store.current_seed(store) or (0, 0, b"")
        keys = EpochKeys.derive(seed, gen, epoch)
        secrets = {"seed": seed, "prekey": keys.prekey_secret, "self": keys.self_key}
        store.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = _raw(home)
        assert all(value in raw for value in secrets.values())  # the search can find them
        epoch_store.advance_seed(store, gen, epoch + 1, next_seed(seed, epoch))
        epoch_store.erase_epoch(store, gen, epoch, 1_800_000_001)
        raw = _raw(home)
        assert [name for name, value in secrets.items() if value in raw] == []
        values = [v for _, _, v in forensics.all_values(store)]
        assert not any(v in values for v in secrets.values())
        erased = [r for r in epoch_store.epoch_key_rows(store) if r.epoch == epoch]
        assert {(r.secret, r.deleted_at) for r in erased} == {(None, 1_800_000_001)}


def test_forensics_yields_every_value_of_every_table(tmp_path: Path, passphrase: str) -> None:
    with Store.create(tmp_path / "h", passphrase, KdfParams.insecure_for_tests()) as store:
        seed = (epoch_store.current_seed(store) or (0, 0, b""))[2]
        found = {(t, c) for t, c, v in forensics.all_values(store) if v == seed}
        assert found == {("epoch_seed", "seed")}
        assert "post_search_content" in forensics.tables(store)  # FTS shadow tables too


def test_the_migration_gives_the_device_a_stand_in_devid_and_devtag_key(
    tmp_path: Path, passphrase: str
) -> None:
    with Store.create(tmp_path / "h", passphrase, KdfParams.insecure_for_tests()) as store:
        values = dict(store.fetchall("SELECT key, value FROM meta WHERE key IN ('devid', 'devtag_key')"))
        assert {k: len(bytes.fromhex(v)) for k, v in values.items()} == {"devid": 8, "devtag_key": 32}
