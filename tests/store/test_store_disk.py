"""What the store leaves on disk: file modes, and no plaintext anywhere."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_sns.store import KdfParams, Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(home: Path) -> list[str]:
    assert _mode(home) == 0o700, f"{home} is {oct(_mode(home))}"
    names = []
    for path in home.iterdir():
        names.append(path.name)
        assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}"
    return names


@pytest.mark.usefixtures("umask0")
def test_home_is_0700_and_files_0600_even_with_umask_0(
    tmp_path: Path, make_identity: Callable[..., Path], open_session: Callable[..., Any]
) -> None:
    home = make_identity("alice", home=tmp_path / "deep" / "alice")
    names = _assert_private(home)
    assert {"store.db", "store.key"} <= set(names)
    with open_session(home) as session:  # while open, WAL side files exist: they are private too
        session.diary.post("hello")
        present = _assert_private(home)
        assert "store.db-wal" in present
    _assert_private(home)


@pytest.mark.usefixtures("umask0")
def test_existing_world_readable_home_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "loose"
    home.mkdir(mode=0o755)
    Store.create(home, "pw", KdfParams.insecure_for_tests()).close()
    _assert_private(home)


def test_journal_mode_is_wal(home: Path, passphrase: str) -> None:
    with Store.open(home, passphrase) as store:
        assert str(store.fetchone("PRAGMA journal_mode")[0]).lower() == "wal"  # type: ignore[index]


MARKERS = [
    "TitleMarker-7f3a9c",
    "BodyMarker-c0ffee-42",
    "ContactMarker-Zyx",
    "CircleMarker-Qwv",
    "CardNameMarker-Plk",
    "IdentityMarker-Hgf",
]


def test_no_plaintext_on_disk(
    tmp_path: Path,
    make_identity: Callable[..., Path],
    open_session: Callable[..., Any],
    card_of: Callable[..., str],
) -> None:
    alice = make_identity(MARKERS[5])
    bob = make_identity("bob")
    bob_card = card_of(bob, MARKERS[4])
    with open_session(alice) as session:
        public = session.identity.public
        session.contacts.add(bob_card, MARKERS[2])
        session.circles.create(MARKERS[3])
        session.circles.add(MARKERS[3], [MARKERS[2]])
        session.diary.post(MARKERS[1] + " sealed", title=MARKERS[0], to=[MARKERS[3]])
        session.diary.post(MARKERS[1] + " private", title=MARKERS[0])
        # also check while open: the write-ahead log must be encrypted as well
        raw_open = {p.name: p.read_bytes() for p in alice.iterdir() if p.is_file()}
    raw_closed = {p.name: p.read_bytes() for p in alice.iterdir() if p.is_file()}
    assert "store.db-wal" in raw_open
    needles = [m.encode("utf-8") for m in MARKERS] + [m.encode("utf-16-le") for m in MARKERS]
    needles += [public, public.hex().encode(), public.hex().upper().encode()]
    assert not raw_closed["store.db"].startswith(b"SQLite format 3")
    for where in (raw_open, raw_closed):
        for name, data in where.items():
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {name}"
    # the test would notice plaintext: the needles are really what was written
    with open_session(alice) as session:
        assert session.diary.timeline()[0].title == MARKERS[0]
