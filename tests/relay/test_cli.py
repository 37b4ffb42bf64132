"""The ``tui-sns-relay`` admin CLI."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_sns.sync.relay.cli import main
from tui_sns.sync.relay.storage import open_storage, token_hash


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_invite_create_prints_code_last(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    status, out, _ = run(capsys, "invite", "create", "--db", db_url, "--uses", "3", "--expires", "7d")
    assert status == 0
    code = out.strip().splitlines()[-1]
    assert len(code) == 32 and " " not in code
    storage = open_storage(db_url)
    try:
        [invite] = storage.list_invites()
        assert invite.short_id == token_hash(code)[:8]
        assert invite.uses_left == 3
        assert invite.expires_at is not None and 6 * 86400 < invite.expires_at - time.time() <= 7 * 86400
    finally:
        storage.close()


def test_invite_list_and_revoke(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    code = run(capsys, "invite", "create", "--db", db_url)[1].splitlines()[-1]
    other = run(capsys, "invite", "create", "--db", db_url)[1].splitlines()[-1]
    status, out, _ = run(capsys, "invite", "list", "--db", db_url)
    assert status == 0 and token_hash(code)[:8] in out and code not in out
    assert run(capsys, "invite", "revoke", code, "--db", db_url)[0] == 0
    assert run(capsys, "invite", "revoke", token_hash(other)[:8], "--db", db_url)[0] == 0
    listed = json.loads(run(capsys, "invite", "list", "--json", "--db", db_url)[1])
    assert [i["revoked"] for i in listed] == [True, True]
    status, _, err = run(capsys, "invite", "revoke", "00000000", "--db", db_url)
    assert status == 2 and "no invite matches" in err


def test_credentials_list_and_revoke(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    storage = open_storage(db_url)
    try:
        storage.migrate()
        storage.create_invite(token_hash("code"), 2, None, time.time())
        storage.redeem_invite(token_hash("code"), token_hash("cred-one"), time.time())
        storage.redeem_invite(token_hash("code"), token_hash("cred-two"), time.time())
        status, out, _ = run(capsys, "credential", "list", "--db", db_url)
        assert status == 0 and token_hash("cred-one")[:8] in out and "cred-one" not in out
        assert run(capsys, "credential", "revoke", token_hash("cred-one")[:8], "--db", db_url)[0] == 0
        assert run(capsys, "credential", "revoke", "cred-two", "--db", db_url)[0] == 0
        assert not storage.credential_valid(token_hash("cred-one"))
        assert not storage.credential_valid(token_hash("cred-two"))
    finally:
        storage.close()


def test_stats_json_and_prune(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    storage = open_storage(db_url)
    try:
        storage.migrate()
        storage.store_envelope(b"abc", time.time() - 10 * 86400, None)
        storage.store_envelope(b"defg", time.time(), None)
    finally:
        storage.close()
    status, out, _ = run(capsys, "stats", "--json", "--db", db_url)
    assert status == 0
    assert json.loads(out) == {
        "envelopes": 2,
        "bytes": 7,
        "credentials": 0,
        "active_credentials": 0,
        "invites": 0,
        "usable_invites": 0,
    }
    assert run(capsys, "prune", "--older-than", "7d", "--db", db_url)[1].strip() == "deleted 1 envelope(s)"
    assert "envelopes:   1 (4 bytes)" in run(capsys, "stats", "--db", db_url)[1]


@pytest.mark.parametrize("duration", ["3x", "0d", "soon", "-1h", ""])
def test_bad_duration_exits_2(capsys: pytest.CaptureFixture[str], sqlite_url: str, duration: str) -> None:
    status, out, err = run(capsys, "prune", f"--older-than={duration}", "--db", sqlite_url)
    assert status == 2
    assert err.count("\n") == 1 and "bad duration" in err and "Traceback" not in err
    assert run(capsys, "invite", "create", f"--expires={duration}", "--db", sqlite_url)[0] == 2


def test_unreachable_db_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "stats", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert status == 2 and err.startswith("tui-sns-relay: error:") and err.count("\n") == 1
    status, _, err = run(capsys, "stats", "--db", "mysql://x")
    assert status == 2 and "bad database URL" in err
    status, _, err = run(capsys, "stats", "--db", "sqlite:////proc/forbidden/relay.db")
    assert status == 2 and err.count("\n") == 1


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite"]) == 2
    assert main(["nope"]) == 2
    assert main(["invite", "create", "--uses", "0", "--db", "sqlite:////tmp/never-created/x.db"]) == 2
    capsys.readouterr()


def test_tokens_never_look_like_options() -> None:
    # The codes go on command lines: `invite revoke CODE`, `tui-sns relay add --invite CODE`.
    from tui_sns.sync.relay.storage import new_token

    assert not any(new_token().startswith("-") for _ in range(2000))


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    # Seen: "serving on http://127.0.0.1:P", then uvicorn's log with "[Errno 98] ... address
    # already in use", exit 3; and the database was created before the bind failed.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = tmp_path / "relay.db"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tui_sns.sync.relay.cli",
                "serve",
                "--db",
                f"sqlite:///{db}",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stderr == f"tui-sns-relay: error: port {port} on 127.0.0.1 is in use\n"
    assert not db.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["stats"],
        ["stats", "--json"],
        ["invite", "list"],
        ["invite", "revoke", "00000000"],
        ["credential", "list"],
        ["credential", "revoke", "00000000"],
        ["prune", "--older-than", "7d"],
    ],
)
def test_admin_commands_never_create_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    # Seen: `stats --db sqlite:////tmp/nonexist/x.db` created the directory and an empty database.
    db = tmp_path / "nonexist" / "x.db"
    status, out, err = run(capsys, *argv, "--db", f"sqlite:///{db}")
    assert status == 2 and out == ""
    assert err == f"tui-sns-relay: error: no relay database at {db} (serve or invite create makes one)\n"
    assert not db.parent.exists()


def test_relay_database_files_are_private(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Seen: relay.db created mode 0644.
    db = tmp_path / "new" / "relay.db"
    assert run(capsys, "invite", "create", "--db", f"sqlite:///{db}")[0] == 0
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    for path in db.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert run(capsys, "stats", "--db", f"sqlite:///{db}")[0] == 0
