"""A damaged page, a database of another store, and salvaging what is readable (issue 11, items 3 and 5)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from resilience_helpers import PAGE, flip, raw

from tui_sns.core.session import Session
from tui_sns.store import KdfParams, Store
from tui_sns.store.backup import restore_backup
from tui_sns.store.errors import StoreDamaged, WrongKey
from tui_sns.store.salvage import salvage

CHEAP = KdfParams.insecure_for_tests()
CLI = Callable[..., Any]
ENTRIES = 240
PASSPHRASE = "correct horse battery staple"  # tests/conftest.py's (a module fixture cannot ask for it)


@pytest.fixture(scope="module")
def diary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A closed store (everything checkpointed into store.db) with ENTRIES entries and a contact."""
    base = tmp_path_factory.mktemp("damage")
    home = base / "alice"
    with Session.create(base / "bob", "bob", PASSPHRASE, CHEAP) as bob:
        bob_card = bob.contacts.my_card()
    bodies: dict[str, str] = {}
    with Session.create(home, "alice", PASSPHRASE, CHEAP) as session:
        session.contacts.add(bob_card)
        for i in range(ENTRIES):
            body = f"entry {i:04d} " + "abcdefghij" * 60
            bodies[session.diary.post(body, title=f"t{i}").id] = body
    assert not (home / "store.db-wal").exists()
    return home, bodies


def _copy(diary: tuple[Path, dict[str, str]], to: Path) -> Path:
    shutil.copytree(diary[0], to)
    return to


def _readable_posts(home: Path, passphrase: str) -> set[str]:
    """The oracle: which entries a point lookup of each can read (independent of salvage's scan)."""
    ids = []
    for rowid in range(1, ENTRIES + 1):
        # a fresh connection each time: SQLCipher leaves one in an error state after a bad page
        conn = raw(home / "store.db", home, passphrase, "mode=ro")
        try:
            row = conn.execute("SELECT id, body FROM posts WHERE rowid = ?", (rowid,)).fetchone()
        except Exception:
            continue
        finally:
            conn.close()
        if row is not None:
            ids.append(str(row[0]))
    return set(ids)


@pytest.fixture(scope="module")
def posts_pages(diary: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> list[int]:
    """Pages whose damage breaks a scan of the entries (found by flipping each in a scratch copy)."""
    home = diary[0]
    pages = (home / "store.db").stat().st_size // PAGE
    scratch = tmp_path_factory.mktemp("scratch") / "home"
    found = []
    for page in range(2, pages + 1):
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(home, scratch)
        flip(scratch / "store.db", (page - 1) * PAGE + PAGE // 2)
        conn = raw(scratch / "store.db", scratch, PASSPHRASE, "mode=ro")
        try:
            conn.execute("SELECT count(*), sum(length(body)) FROM posts").fetchone()
        except Exception:
            found.append(page)
        finally:
            conn.close()
    return found


def test_a_flipped_byte_names_damage_and_salvage_brings_back_the_rest(
    diary: tuple[Path, dict[str, str]], posts_pages: list[int], tmp_path: Path, passphrase: str, cli: CLI
) -> None:
    """Seen: one flipped byte made `timeline` and `backup` end in a DatabaseError traceback."""
    pages = posts_pages
    assert len(pages) >= 10, pages
    # early, middle and late pages of the entries' table (leaves: a few entries each)
    candidates = [
        pages[1],
        pages[2],
        pages[len(pages) // 2],
        pages[len(pages) // 2 + 1],
        pages[-2],
        pages[-3],
    ]
    done = 0
    for n, page in enumerate(candidates):
        if done == 3:
            break
        for offset in ((page - 1) * PAGE + 17, (page - 1) * PAGE + PAGE - 40):  # two places in the page
            home = _copy(diary, tmp_path / f"h{n}-{offset}")
            flip(home / "store.db", offset)
            expected = _readable_posts(home, passphrase)
            if not ENTRIES * 3 // 4 < len(expected) < ENTRIES:
                break  # not a leaf of the entries' table (an index or interior page): try another
            for args in (["timeline"], ["backup", str(tmp_path / f"b{n}-{offset}.bak")]):
                r = cli(home, *args)
                assert r.code == 5, (args, r.code, r.err)
                assert len(r.err_lines) == 1 and "Traceback" not in r.err
                assert "damaged" in r.err and "--salvage" in r.err and "key file" not in r.err
            with pytest.raises(StoreDamaged), Session.unlock(home, passphrase) as session:
                session.diary.timeline()
            out = tmp_path / f"salvaged{n}-{offset}.bak"
            report = salvage(home, passphrase, out, CHEAP)
            assert report.entries == len(expected)
            with restore_backup(tmp_path / f"restored{n}-{offset}", out, passphrase, CHEAP) as store:
                session = Session(store)
                got = {p.id: p.body for p in session.diary.timeline()}
                assert set(got) == expected  # every readable entry, nothing else
                assert all(got[i] == diary[1][i] for i in got)
                # the search index was rebuilt from the salvaged entries (by the migrations' triggers)
                assert {p.id for p in session.diary.search("abcdefghij")} == expected
                assert [c.name for c in session.contacts.list()] == ["bob"]
                assert store.fetchone("PRAGMA integrity_check") == ("ok",)
        else:
            done += 1
    assert done == 3, "fewer than three leaf pages of the entries' table were found"


def test_salvage_from_the_command_line(
    diary: tuple[Path, dict[str, str]], posts_pages: list[int], tmp_path: Path, passphrase: str, cli: CLI
) -> None:
    pages = posts_pages
    home = _copy(diary, tmp_path / "home")
    flip(home / "store.db", (pages[len(pages) // 2] - 1) * PAGE + 1000)
    expected = _readable_posts(home, passphrase)
    before = (home / "store.db").read_bytes()
    r = cli(home, "backup", "--salvage", str(tmp_path / "saved.bak"))
    assert r.code == 0, r.err
    assert f"Salvaged {len(expected)} entries" in r.out and "restore" in r.out
    assert (home / "store.db").read_bytes() == before  # the damaged store is left as it was
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tui-sns-salvage-")]
    r = cli(tmp_path / "new-home", "restore", str(tmp_path / "saved.bak"))
    assert r.code == 0, r.err
    r = cli(tmp_path / "new-home", "timeline", "--json")
    assert r.code == 0 and {p["id"] for p in r.json()} == expected


def test_a_damaged_first_page_is_damage_not_a_wrong_key(
    diary: tuple[Path, dict[str, str]], tmp_path: Path, passphrase: str, cli: CLI
) -> None:
    home = _copy(diary, tmp_path / "home")
    flip(home / "store.db", 200)
    with pytest.raises(StoreDamaged, match="damaged"):
        Store.open(home, passphrase)
    r = cli(home, "timeline")
    assert r.code == 5 and "damaged" in r.err and "key file" not in r.err, r.err
    with pytest.raises(StoreDamaged, match="table of contents"):
        salvage(home, passphrase, tmp_path / "nothing.bak", CHEAP)
    assert not (tmp_path / "nothing.bak").exists()


def test_another_stores_database_is_a_wrong_key(
    make_identity: Callable[..., Path], passphrase: str, cli: CLI
) -> None:
    alice, bob = make_identity("alice"), make_identity("bob")
    shutil.copy2(bob / "store.db", alice / "store.db")
    with pytest.raises(WrongKey, match="cannot be opened with this key file"):
        Store.open(alice, passphrase)
    r = cli(alice, "timeline")
    assert r.code == 6 and len(r.err_lines) == 1 and "key file" in r.err and "damaged" not in r.err


def test_a_damaged_page_of_a_table_without_rowids_loses_only_that_page(
    make_identity: Callable[..., Path], tmp_path: Path, passphrase: str
) -> None:
    """WITHOUT ROWID tables (bookkeeping: seen envelopes, chains, readers) are read from both ends."""
    home = make_identity("alice")
    ids = [f"{i:064x}" for i in range(3000)]
    with Store.open(home, passphrase) as store, store.write() as conn:
        conn.executemany("INSERT INTO seen_envelopes (envelope_id) VALUES (?)", [(i,) for i in ids])
    pages = (home / "store.db").stat().st_size // PAGE
    candidates = []
    for page in range(2, pages + 1):
        scratch = tmp_path / f"scan{page}"
        shutil.copytree(home, scratch)
        flip(scratch / "store.db", (page - 1) * PAGE + PAGE // 2)
        conn = raw(scratch / "store.db", scratch, passphrase, "immutable=1")
        try:
            conn.execute("SELECT count(*) FROM seen_envelopes").fetchone()
        except Exception:
            candidates.append(page)
        finally:
            conn.close()
        shutil.rmtree(scratch)
    assert len(candidates) > 10, candidates
    damaged = _copy((home, {}), tmp_path / "damaged")
    flip(damaged / "store.db", (candidates[len(candidates) // 2] - 1) * PAGE + 300)
    readable = set()
    for envelope_id in ids:  # the oracle: a point lookup of each key, each on a fresh connection
        conn = raw(damaged / "store.db", damaged, passphrase, "immutable=1")
        try:
            if conn.execute("SELECT 1 FROM seen_envelopes WHERE envelope_id = ?", (envelope_id,)).fetchone():
                readable.add(envelope_id)
        except Exception:
            pass
        finally:
            conn.close()
    assert 2000 < len(readable) < len(ids)
    salvage(damaged, passphrase, tmp_path / "s.bak", CHEAP)
    with restore_backup(tmp_path / "restored", tmp_path / "s.bak", passphrase, CHEAP) as store:
        got = {str(r[0]) for r in store.fetchall("SELECT envelope_id FROM seen_envelopes")}
    # every key a point lookup reads comes back; beyond those, at most the divider keys that live in
    # the (intact) interior page above the damaged leaf, which a scan reads and a lookup does not
    assert readable <= got <= set(ids)
    assert len(got - readable) <= 2
