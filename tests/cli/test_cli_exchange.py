"""Carrying envelopes in bundle files: who receives what, replays, withholding, bad files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.exchange import pack_bundle, unpack_bundle
from tui_sns.core.messages import PostMessage
from tui_sns.crypto.envelope import NO_PREV, Recipient, seal
from tui_sns.store import mailbox

CLI = Callable[..., Any]


def _ok(r: Any) -> Any:
    assert r.code == 0, r.err
    return r


def _timeline(cli: CLI, home: Path, *args: str) -> list[dict[str, Any]]:
    return list(_ok(cli(home, "timeline", "--json", *args)).json())


def _bodies(cli: CLI, home: Path) -> list[str]:
    return [e["body"] for e in _timeline(cli, home)]


def _imported(r: Any) -> int:
    """The count from "Imported N new entries (...)"."""
    _ok(r)
    words = r.out.split()
    assert words[0] == "Imported", r.out
    return int(words[1])


@pytest.fixture
def world(make_identity: Callable[..., Path], befriend: Callable[..., None], cli: CLI) -> dict[str, Path]:
    homes = {name: make_identity(name) for name in ("alice", "bob", "carol", "dave")}
    befriend(homes["alice"], homes["bob"])
    befriend(homes["alice"], homes["carol"])
    # dave has alice's card, but alice never added dave
    _ok(cli(homes["dave"], "contacts", "add", _ok(cli(homes["alice"], "card")).out.strip()))
    return homes


@pytest.mark.slow
def test_end_to_end_exchange(world: dict[str, Path], cli: CLI, tmp_path: Path) -> None:
    alice, bob, carol, dave = (world[n] for n in ("alice", "bob", "carol", "dave"))
    _ok(cli(alice, "circles", "create", "close"))
    _ok(cli(alice, "circles", "add", "close", "bob"))
    _ok(cli(alice, "post", "--to", "close", "--title", "For close", "--body", "close body"))
    _ok(cli(alice, "post", "--title", "Private", "--body", "private body"))

    bundle = tmp_path / "alice.bundle"
    assert "Exported 1 envelope " in _ok(cli(alice, "outbox", "export", str(bundle))).out
    assert len(unpack_bundle(bundle.read_bytes())) == 1  # the private entry sealed nothing

    assert _imported(cli(bob, "inbox", "import", str(bundle))) == 1
    [received] = _timeline(cli, bob)
    assert received["author"] == "alice"
    assert (received["title"], received["body"]) == ("For close", "close body")
    assert received["audience"] is None
    datetime.fromisoformat(received["created"])
    show = _ok(cli(bob, "show", received["id"]))
    assert "by alice" in show.out and "Readable by" not in show.out

    assert _imported(cli(carol, "inbox", "import", str(bundle))) == 0
    assert _timeline(cli, carol) == []

    # importing the same file again stores nothing twice
    again = cli(bob, "inbox", "import", str(bundle))
    assert _imported(again) == 0 and "duplicate" in again.out
    assert _bodies(cli, bob) == ["close body"]
    # nobody ever gets the private entry; a second export has nothing new
    assert "Exported 0 envelopes" in _ok(cli(alice, "outbox", "export", str(tmp_path / "again"))).out
    assert "private body" not in _bodies(cli, bob) + _bodies(cli, carol)

    # bob answers; alice sees it, and her circle filter includes what its members wrote
    _ok(cli(bob, "post", "--to", "alice", "--body", "reply from bob"))
    _ok(cli(bob, "outbox", "export", str(tmp_path / "bob.bundle")))
    assert _imported(cli(alice, "inbox", "import", str(tmp_path / "bob.bundle"))) == 1
    in_close = {(e["author"], e["body"]) for e in _timeline(cli, alice, "--circle", "close")}
    assert in_close == {("me", "close body"), ("bob", "reply from bob")}
    # alice's own envelope coming back to her is not stored again
    assert _imported(cli(alice, "inbox", "import", str(bundle))) == 0

    # a stranger's envelope to alice is dropped unseen
    _ok(cli(dave, "post", "--to", "alice", "--body", "from a stranger"))
    _ok(cli(dave, "outbox", "export", str(tmp_path / "dave.bundle")))
    stranger = cli(alice, "inbox", "import", str(tmp_path / "dave.bundle"))
    assert _imported(stranger) == 0 and "stranger" in stranger.out
    assert "from a stranger" not in _bodies(cli, alice)
    assert sorted(_bodies(cli, alice)) == ["close body", "private body", "reply from bob"]


def _write_bundle(path: Path, envelopes: list[bytes]) -> str:
    path.write_bytes(pack_bundle(envelopes))
    return str(path)


def test_withholding_is_detected_and_replays_are_ignored(
    world: dict[str, Path], cli: CLI, tmp_path: Path, open_session: Callable[..., Any]
) -> None:
    alice, bob = world["alice"], world["bob"]
    with open_session(alice) as session:
        # v1 envelopes, so that the forged v1 one below claims a place in the same chain: chains are
        # per (author device, reader), and a v1 envelope is on the device tag 0⁸ (design-v2 §8.1)
        session.epochs.disable_v2_for_tests()
        for n in (1, 2, 3):
            session.diary.post(f"entry {n}", to=["bob"])
        envelopes = [data for _, data in mailbox.unexported(session.store)]
        alice_identity = session.identity
    with open_session(bob) as session:
        bob_key = session.identity.public
    assert len(envelopes) == 3

    first_and_third = _write_bundle(tmp_path / "withheld", [envelopes[0], envelopes[2]])
    assert _imported(cli(bob, "inbox", "import", first_and_third)) == 2
    timeline = cli(bob, "timeline")
    assert timeline.code == 0
    assert "1 entry from alice has not arrived" in timeline.err
    with open_session(bob) as session:
        assert session.diary.missing() == [("alice", 1)]

    # the same bytes again
    assert _imported(cli(bob, "inbox", "import", _write_bundle(tmp_path / "same", [envelopes[0]]))) == 0
    # the same sequence number, sealed anew with different content
    forged = seal(
        alice_identity,
        [Recipient(bob_key, 1, NO_PREV)],
        PostMessage("feedfeedfeedfeed", "", "replayed seq 1", "2030-01-01T00:00:00+00:00").encode(),
    )
    replay = cli(bob, "inbox", "import", _write_bundle(tmp_path / "replay", [forged.data]))
    assert _imported(replay) == 0 and "replay" in replay.out
    assert sorted(_bodies(cli, bob)) == ["entry 1", "entry 3"]

    # the withheld one arrives late: nothing is missing any more
    assert _imported(cli(bob, "inbox", "import", _write_bundle(tmp_path / "late", [envelopes[1]]))) == 1
    assert sorted(_bodies(cli, bob)) == ["entry 1", "entry 2", "entry 3"]
    with open_session(bob) as session:
        assert session.diary.missing() == []
    assert "not arrived" not in cli(bob, "timeline").err


def test_bad_bundle_files_lose_nothing(
    world: dict[str, Path], cli: CLI, tmp_path: Path, open_session: Callable[..., Any]
) -> None:
    alice, bob = world["alice"], world["bob"]
    for n in (1, 2):
        _ok(cli(alice, "post", "--to", "bob", "--body", f"entry {n}"))
    good = tmp_path / "good.bundle"
    _ok(cli(alice, "outbox", "export", str(good)))
    data = good.read_bytes()
    env1, env2 = unpack_bundle(data)

    def fails(path: Path) -> None:
        r = cli(bob, "inbox", "import", str(path))
        assert r.code == 1, r.out
        assert len(r.err_lines) == 1
        assert _timeline(cli, bob) == []

    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not a bundle at all")
    fails(garbage)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[:-7])
    fails(truncated)
    fails(tmp_path / "does-not-exist")
    huge_length = tmp_path / "huge"
    huge_length.write_bytes(data[:8] + b"\xff\xff\xff\xff" + data[12:])
    fails(huge_length)

    # a damaged envelope among good ones: the good one is stored, the damaged one rejected...
    damaged = bytearray(env1)
    damaged[-5] ^= 0x01  # in the body's authentication tag
    mixed = cli(bob, "inbox", "import", _write_bundle(tmp_path / "mixed", [bytes(damaged), env2]))
    assert _imported(mixed) == 1 and "rejected" in mixed.out
    assert _bodies(cli, bob) == ["entry 2"]
    # ...and the intact copy of it still gets in afterwards
    assert _imported(cli(bob, "inbox", "import", str(good))) == 1
    assert sorted(_bodies(cli, bob)) == ["entry 1", "entry 2"]


def test_an_unwritable_export_target_is_one_line_and_loses_nothing(
    world: dict[str, Path], cli: CLI, tmp_path: Path
) -> None:
    alice, bob = world["alice"], world["bob"]
    _ok(cli(alice, "post", "--to", "bob", "--body", "kept"))
    r = cli(alice, "outbox", "export", str(tmp_path / "no-such-dir" / "out.bundle"))
    assert r.code == 1 and len(r.err_lines) == 1, r.err
    assert "no-such-dir" in r.err
    good = tmp_path / "out.bundle"
    assert "Exported 1 envelope " in _ok(cli(alice, "outbox", "export", str(good))).out
    assert _imported(cli(bob, "inbox", "import", str(good))) == 1
    directory = cli(bob, "inbox", "import", str(tmp_path))
    assert directory.code == 1 and len(directory.err_lines) == 1
