"""Transactions, WAL and crash durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tui_sns.store import KdfParams, Store
from tui_sns.store.keyfile import KeyFile

WRITER = Path(__file__).with_name("kill_writer.py")
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _check_all_writes_in_transactions(statements: list[str]) -> int:
    in_tx = False
    writes = 0
    for raw in statements:
        s = raw.strip().upper()
        if s.startswith("BEGIN"):
            assert not in_tx, "nested BEGIN"
            in_tx = True
        elif s.startswith(("COMMIT", "ROLLBACK", "END")):
            in_tx = False
        elif s.startswith(WRITE_VERBS) or (s.startswith("PRAGMA USER_VERSION") and "=" in s):
            assert in_tx, f"write outside a transaction: {raw}"
            writes += 1
    return writes


def test_every_write_runs_in_a_transaction(
    tmp_path: Path, traced: list[str], passphrase: str, card_of: Callable[..., str]
) -> None:
    from tui_sns.core.session import Session

    cheap = KdfParams.insecure_for_tests()
    bob_home = tmp_path / "bob"
    with (
        Session.create(tmp_path / "alice", "alice", passphrase, cheap) as alice,
        Session.create(bob_home, "bob", passphrase, cheap) as bob,
    ):
        alice.contacts.add(bob.contacts.my_card())
        bob.contacts.add(alice.contacts.my_card())
        alice.contacts.mark_verified("bob")
        alice.circles.create("close")
        alice.circles.add("close", ["bob"])
        alice.circles.rename("close", "closer")
        alice.diary.post("to bob", to=["closer"])
        alice.diary.post("to me")
        alice.exchange.export_outbox(tmp_path / "bundle")
        bob.exchange.import_inbox(tmp_path / "bundle")
        alice.circles.remove("closer", ["bob"])
        alice.circles.delete("closer")
        alice.store.change_passphrase("other", cheap)
        bob.contacts.remove("alice")
    assert _check_all_writes_in_transactions(traced) > 20


def test_a_failing_write_rolls_back_everything_it_did(home: Path, passphrase: str) -> None:
    with Store.open(home, passphrase) as store:
        before = store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'")
        counter = KeyFile.load(home / "store.key").counter
        with pytest.raises(RuntimeError), store.write() as conn:
            conn.execute("INSERT INTO circles (name, created) VALUES ('half', 'now')")
            with store.write() as inner:  # nested writes join the outer transaction
                inner.execute("INSERT INTO circles (name, created) VALUES ('done', 'now')")
            raise RuntimeError("boom")
        assert store.fetchone("SELECT count(*) FROM circles") == (0,)
        assert store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'") == before
    assert KeyFile.load(home / "store.key").counter == counter


def test_wal_and_synchronous_full(home: Path, passphrase: str) -> None:
    with Store.open(home, passphrase) as store:
        assert store.fetchone("PRAGMA journal_mode") == ("wal",)
        assert store.fetchone("PRAGMA synchronous") == (2,)  # FULL
        assert store.fetchone("PRAGMA foreign_keys") == (1,)


@pytest.mark.slow
def test_sigkill_loses_no_reported_commit(home: Path, passphrase: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reported: list[str] = []
    for round_, kill_after in enumerate([1, 7, 23, 3]):
        child = subprocess.Popen(
            [sys.executable, str(WRITER), str(home), passphrase, f"round{round_}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert child.stdout is not None
        try:
            for _ in range(kill_after):
                line = child.stdout.readline()
                assert line, f"writer died early: {child.stderr.read() if child.stderr else ''}"
                reported.append(line.strip())
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        # lines that were flushed before the kill also count as reported commits
        reported.extend(line.strip() for line in child.stdout.read().splitlines() if line.strip())
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
        with Store.open(home, passphrase) as store:  # opens cleanly (counter healed if needed)
            assert store.fetchone("PRAGMA integrity_check") == ("ok",)
            stored = {str(r[0]) for r in store.fetchall("SELECT id FROM posts")}
            missing = [i for i in reported if i not in stored]
            assert not missing, f"round {round_}: reported but lost: {missing}"
            assert KeyFile.load(home / "store.key").counter == int(
                store.fetchone("SELECT value FROM meta WHERE key = 'write_counter'")[0]  # type: ignore[index]
            )
    assert len(reported) >= 34
