"""init, the passphrase, whoami, card, passwd; and the console entry points."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_sns.crypto.card import decode_card
from tui_sns.store import KdfParams, Store, WrongPassphrase

CLI = Callable[..., Any]
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- init (the only tests that pay the production Argon2id cost: keep them few) ----------------


@pytest.mark.usefixtures("umask0")
def test_init_creates_a_private_home_and_prints_a_card(tmp_path: Path, cli: CLI) -> None:
    home = tmp_path / "new" / "alice"
    pw_file = tmp_path / "pw"
    pw_file.write_text("init passphrase\n")
    r = cli(home, "--passphrase-file", str(pw_file), "init", "--name", "alice")
    assert r.code == 0, r.err
    card_line = next(line for line in r.out.splitlines() if line.startswith("tuisns1:"))
    card = decode_card(card_line)
    assert card.name == "alice"
    assert _mode(home) == 0o700
    for path in home.iterdir():
        assert _mode(path) == 0o600, path.name
    assert {"store.db", "store.key"} <= {p.name for p in home.iterdir()}
    with Store.open(home, "init passphrase") as store:  # the trailing newline is not part of it
        assert store.fetchone("SELECT name FROM identity") == ("alice",)
        assert store.fetchone("SELECT public_key FROM identity") == (card.public_key,)


def test_init_over_an_existing_identity_refuses_and_changes_nothing(
    home: Path, cli: CLI, file_snapshot: Callable[[Path], Any]
) -> None:
    before = file_snapshot(home)
    r = cli(home, "init", "--name", "mallory")
    assert r.code != 0
    assert len(r.err_lines) == 1 and "already exists" in r.err
    assert file_snapshot(home) == before


def test_init_with_a_too_long_name_creates_nothing(tmp_path: Path, cli: CLI) -> None:
    home = tmp_path / "never"
    r = cli(home, "init", "--name", "n" * 101)
    assert r.code == 2  # a bad invocation (README's exit table)
    assert len(r.err_lines) == 1 and "100" in r.err
    assert not home.exists() or not any(home.iterdir())


# -- before init ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["whoami"],
        ["card"],
        ["passwd"],
        ["contacts", "list"],
        ["circles", "create", "close"],
        ["post", "--body", "hello"],
        ["timeline"],
        ["show", "abcd"],
        ["outbox", "export", "out.bundle"],
        ["inbox", "import", "in.bundle"],
    ],
)
def test_any_command_before_init_says_to_run_init(tmp_path: Path, cli: CLI, args: list[str]) -> None:
    home = tmp_path / "nobody"
    r = cli(home, *args)
    assert r.code != 0
    assert len(r.err_lines) == 1
    assert "tui-sns init" in r.err
    assert not home.exists()  # nothing was created on the way


def test_home_from_the_environment(home: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_SNS_HOME", str(home))
    r = cli(None, "whoami", "--json")
    assert r.code == 0, r.err
    assert r.json()["name"] == "alice"


# -- the passphrase ---------------------------------------------------------------------------


def test_wrong_passphrase_one_line_status_2_nothing_changed(
    home: Path,
    cli: CLI,
    file_snapshot: Callable[[Path], Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    before = file_snapshot(home)
    key_mtime = (home / "store.key").stat().st_mtime_ns
    monkeypatch.setenv("TUI_SNS_PASSPHRASE", "wrong")
    for args in (["whoami"], ["post", "--body", "x"], ["contacts", "list", "--json"], ["timeline"]):
        r = cli(home, *args)
        assert r.code == 2, (args, r.err)
        assert len(r.err_lines) == 1 and "wrong passphrase" in r.err
        assert r.out == ""
    wrong_file = tmp_path / "wrong-pw"
    wrong_file.write_text("also wrong")
    r = cli(home, "--passphrase-file", str(wrong_file), "whoami")
    assert r.code == 2 and len(r.err_lines) == 1 and "wrong passphrase" in r.err
    assert file_snapshot(home) == before
    assert (home / "store.key").stat().st_mtime_ns == key_mtime


def test_missing_passphrase_file_is_a_clear_error(home: Path, cli: CLI, tmp_path: Path) -> None:
    r = cli(home, "--passphrase-file", str(tmp_path / "absent"), "whoami")
    assert r.code == 2  # a bad invocation (README's exit table), like a wrong passphrase
    assert len(r.err_lines) == 1 and "passphrase file" in r.err


@pytest.mark.parametrize(
    "args, env",
    [
        (["--passphrase-file", "{tmp}/absent", "whoami"], {}),  # the seen case
        (["--passphrase-file", "{tmp}", "whoami"], {}),  # a directory
        (["--passphrase-file", "{tmp}/empty", "whoami"], {}),  # an empty passphrase
        (["--passphrase-file", "{tmp}/latin1", "whoami"], {}),  # not UTF-8
        (["whoami"], {"TUI_SNS_PASSPHRASE": None}),  # none given, and no terminal to ask on
        (["passwd", "--new-passphrase-file", "{tmp}/absent"], {}),
        (["passwd"], {"TUI_SNS_NEW_PASSPHRASE": ""}),
        (["--persona", "../escape", "whoami"], {}),  # a persona name that is not one
        (["whoami", "--persona", "a/b"], {}),
    ],
)
def test_every_bad_invocation_exits_2_with_one_line(
    home: Path,
    cli: CLI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    file_snapshot: Callable[[Path], Any],
    args: list[str],
    env: dict[str, str | None],
) -> None:
    (tmp_path / "empty").write_text("")
    (tmp_path / "latin1").write_bytes("caf\u00e9".encode("latin-1"))
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    before = file_snapshot(home)
    r = cli(home, *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert r.code == 2, (r.code, r.err)
    assert len(r.err_lines) == 1 and r.out == "", r.err
    assert file_snapshot(home) == before


# -- whoami and card --------------------------------------------------------------------------


def test_whoami_json(home: Path, cli: CLI, open_session: Callable[..., Any]) -> None:
    r = cli(home, "whoami", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert set(data) == {"name", "public_keys"}
    assert data["name"] == "alice"
    assert isinstance(data["public_keys"], list) and data["public_keys"]
    assert all(isinstance(k, str) and HEX64.match(k) for k in data["public_keys"])
    with open_session(home) as session:
        assert data["public_keys"][0] == session.identity.public.hex()


def test_card_and_card_with_another_name(home: Path, cli: CLI) -> None:
    key = cli(home, "whoami", "--json").json()["public_keys"][0]
    plain = cli(home, "card")
    assert plain.code == 0, plain.err
    card = decode_card(plain.out.strip())
    assert card.name == "alice" and card.public_key.hex() == key
    persona = cli(home, "card", "--name", "K. from the choir")
    assert persona.code == 0, persona.err
    card = decode_card(persona.out.strip())
    assert card.name == "K. from the choir" and card.public_key.hex() == key
    too_long = cli(home, "card", "--name", "x" * 101)
    assert too_long.code == 2 and len(too_long.err_lines) == 1  # a bad invocation (README exit table)


# -- passwd -----------------------------------------------------------------------------------


@pytest.fixture
def cheap_passwd(monkeypatch: pytest.MonkeyPatch) -> None:
    """`passwd` re-wraps with the production cost by default; make it cheap for the test."""
    monkeypatch.setattr(Store.change_passphrase, "__defaults__", (KdfParams.insecure_for_tests(),))


@pytest.mark.usefixtures("cheap_passwd")
def test_passwd_from_the_environment(
    home: Path, cli: CLI, passphrase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUI_SNS_NEW_PASSPHRASE", "brand new")
    r = cli(home, "passwd")
    assert r.code == 0, r.err
    monkeypatch.delenv("TUI_SNS_NEW_PASSPHRASE")
    assert cli(home, "whoami").code == 2  # the old one (still in TUI_SNS_PASSPHRASE) fails
    with pytest.raises(WrongPassphrase):
        Store.open(home, passphrase)
    monkeypatch.setenv("TUI_SNS_PASSPHRASE", "brand new")
    assert cli(home, "whoami").code == 0


@pytest.mark.usefixtures("cheap_passwd")
def test_passwd_from_files(home: Path, cli: CLI, passphrase: str, tmp_path: Path) -> None:
    old_file, new_file = tmp_path / "old", tmp_path / "new"
    old_file.write_text(passphrase + "\n")
    new_file.write_text("from a file\n")
    r = cli(home, "--passphrase-file", str(old_file), "passwd", "--new-passphrase-file", str(new_file))
    assert r.code == 0, r.err
    assert cli(home, "--passphrase-file", str(old_file), "whoami").code == 2
    assert cli(home, "--passphrase-file", str(new_file), "whoami").code == 0
    with Store.open(home, "from a file"):
        pass


@pytest.mark.usefixtures("cheap_passwd")
def test_passwd_refuses_an_empty_new_passphrase(
    home: Path, cli: CLI, file_snapshot: Callable[[Path], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = file_snapshot(home)
    monkeypatch.setenv("TUI_SNS_NEW_PASSPHRASE", "")
    r = cli(home, "passwd")
    assert r.code == 2 and len(r.err_lines) == 1
    assert file_snapshot(home) == before


# -- entry points (real processes) ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [[str(Path(sys.executable).with_name("tui-sns")), "--help"], [sys.executable, "-m", "tui_sns", "--help"]],
    ids=["console-script", "python-m"],
)
def test_help_exits_0(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "TUI_SNS_HOME": str(tmp_path / "h")}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "usage: tui-sns" in done.stdout
    assert "timeline" in done.stdout
