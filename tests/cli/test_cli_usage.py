"""Bad invocations are usage errors (exit 2, before anything is done or printed), every numeric option
and every relay URL on the command line alike; an error comes before any output.

Seen: ``timeline --limit -1`` exited 1, ``requests accept 99999999999999999999`` crashed
(OverflowError), ``post --expires 0m`` exited 1, ``devices join CODE`` without ``--relay`` exited 1,
``relay add ftp://x`` exited 1, ``contacts verify Nobody`` printed its heading before the error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HUGE = "9" * 30


def usage_error(result: Any) -> None:
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err and "unexpected error" not in result.err


@pytest.mark.parametrize("value", ["-1", "0", HUGE, "abc", "1.5", ""])
def test_timeline_limit_out_of_range_is_a_usage_error(
    value: str, home: Path, cli: Callable[..., Any]
) -> None:
    result = cli(home, "timeline", f"--limit={value}")
    usage_error(result)
    assert "--limit" in result.err


def test_timeline_limit_in_range_works(home: Path, cli: Callable[..., Any]) -> None:
    assert cli(home, "timeline", "--limit", "1").code == 0


@pytest.mark.parametrize("action", ["accept", "reject"])
@pytest.mark.parametrize("value", ["-1", "0", HUGE, "abc"])
def test_request_ids_out_of_range_are_usage_errors(
    action: str, value: str, home: Path, cli: Callable[..., Any]
) -> None:
    result = cli(home, "requests", action, "--", value)
    usage_error(result)


@pytest.mark.parametrize("value", ["0m", "-3d", "99999999d", "abc", "400d"])
def test_post_expires_out_of_range_is_a_usage_error(value: str, home: Path, cli: Callable[..., Any]) -> None:
    result = cli(home, "post", "--body", "x", f"--expires={value}")
    usage_error(result)
    assert "--expires" in result.err
    assert cli(home, "timeline", "--json").json() == []  # nothing was written


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("-1d", "out of range: '-1d' (1 minute to 1 year"),
        ("0m", "out of range: '0m' (1 minute to 1 year"),
        ("99999999999999d", "out of range: '99999999999999d' (1 minute to 1 year"),
        ("400d", "out of range: '400d' (1 minute to 1 year"),
        ("soon", "not a duration: 'soon'"),
    ],
)
def test_post_expires_says_what_is_wrong(value: str, words: str, home: Path, cli: Callable[..., Any]) -> None:
    # Seen: `post --expires -1d` -> "expected one argument"; 0m and 99999999999999d -> "not a duration".
    result = cli(home, "post", "--body", "x", "--expires", value)
    usage_error(result)
    assert "--expires" in result.err and words in result.err, result.err


@pytest.mark.parametrize("value", ["0m", "2d", "abc", HUGE + "m"])
def test_link_timeout_out_of_range_is_a_usage_error(value: str, home: Path, cli: Callable[..., Any]) -> None:
    result = cli(home, "devices", "link", "--relay", "http://127.0.0.1:9", f"--timeout={value}")
    usage_error(result)
    assert "--timeout" in result.err


def test_join_without_a_relay_is_a_usage_error(tmp_path: Path, cli: Callable[..., Any]) -> None:
    from tui_sns.crypto.linking import LinkCode

    new = tmp_path / "new"
    result = cli(new, "devices", "join", LinkCode.generate().text)
    usage_error(result)
    assert "--relay" in result.err and len(result.err_lines) == 1
    assert not (new / "store.key").exists()


BAD_URLS = ["ftp://relay.example", "http://exa mple.org", "https://", "relay.example", "http://x\x1b[2J"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_malformed_relay_url_anywhere_is_one_sentence_and_exit_2(
    url: str, home: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    from tui_sns.crypto.linking import LinkCode

    for home_dir, args in (
        (home, ["relay", "add", url, "--invite", "code"]),
        (home, ["devices", "link", "--relay", url]),
        (tmp_path / "new", ["devices", "join", LinkCode.generate().text, "--relay", url]),
    ):
        result = cli(home_dir, *args)
        usage_error(result)
        assert len(result.err_lines) == 1 and "not a valid relay URL" in result.err, args
        assert "\x1b" not in result.err
    assert not (tmp_path / "new" / "store.key").exists()
    assert cli(home, "relay", "list", "--json").json() == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://relay.example:-1", "its port must be 1 to 65535"),
        ("http://relay.example:99999", "its port must be 1 to 65535"),
        ("http://relay.example:8o", "its port must be 1 to 65535"),
        ("http://relay.example:0", "its port must be 1 to 65535"),
        ("http://[::1", "its IPv6 address is not valid"),
        ("http://[nope]:80", "its IPv6 address is not valid"),
    ],
)
def test_a_bad_port_or_ipv6_address_is_said_in_project_words(
    url: str, reason: str, home: Path, cli: Callable[..., Any]
) -> None:
    # Seen: "Port could not be cast to integer value as '-1'", "Invalid IPv6 URL" (the library's words).
    result = cli(home, "relay", "add", url, "--invite", "code")
    usage_error(result)
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"tui-sns: not a valid relay URL {url!r}: {reason}")


def test_a_malformed_proxy_is_one_sentence_and_exit_2(home: Path, cli: Callable[..., Any]) -> None:
    result = cli(None, "--home", str(home), "--proxy", "foo://bar", "status")
    usage_error(result)
    assert len(result.err_lines) == 1 and "proxy" in result.err


def test_verify_an_unknown_contact_prints_nothing_before_the_error(
    home: Path, cli: Callable[..., Any]
) -> None:
    result = cli(home, "contacts", "verify", "Nobody")
    assert result.code == 1 and result.out == ""
    assert "Nobody" in result.err
    result = cli(home, "contacts", "verify", "Nobody", "--mark")
    assert result.code == 1 and result.out == ""


def relay_cli(*args: str) -> tuple[int, str]:
    import contextlib
    import io

    from tui_sns.sync.relay.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["invite", "create", "--uses", "-1"],
        ["invite", "create", "--uses", HUGE],
        ["invite", "create", "--expires", "99999999d"],
        ["invite", "create", "--expires", "0m"],
        ["prune", "--older-than", "99999999999d"],
        ["prune", "--older-than", "abc"],
        ["prune", "--older-than", "-1d"],
        ["invite", "create", "--expires", "-1d"],
    ],
)
def test_relay_cli_numeric_options_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    code, err = relay_cli(*args, "--db", f"sqlite:///{tmp_path / 'relay.db'}")
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "expected one argument" not in err  # seen for `prune --older-than -1d`
    if "-1d" in args:
        assert "must be greater than zero" in err


def test_show_reads_everything_before_printing_or_marking_read(
    home: Path,
    make_identity: Callable[..., Path],
    befriend: Callable[..., None],
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error reading the comments comes before any line of the entry, and leaves it unread."""
    from tui_sns.core.comments import Comments
    from tui_sns.core.errors import StoreDamaged

    bob = make_identity("bob")
    befriend(home, bob)
    assert cli(bob, "post", "--to", "alice", "--body", "hello").code == 0
    assert cli(bob, "outbox", "export", str(tmp_path / "b.bin")).code == 0
    assert cli(home, "inbox", "import", str(tmp_path / "b.bin")).code == 0
    (received,) = cli(home, "timeline", "--json").json()
    entry = received["id"]

    def broken(self: Any, post_id: str) -> Any:
        raise StoreDamaged("store.db is damaged")

    with monkeypatch.context() as m:
        m.setattr(Comments, "list", broken)
        for args in ([], ["--json"]):
            result = cli(home, "show", entry, *args)
            assert result.code == 5 and result.out == "", result
    (listed,) = cli(home, "timeline", "--json").json()
    assert listed["unread"] is True
    assert cli(home, "show", entry).code == 0


@pytest.mark.parametrize("bad", ["a\x01b", "bell\x07", "rtl\u202eevil", " padded", "x" * 101])
@pytest.mark.parametrize(
    "args",
    [
        ["card", "--name", "{}"],
        ["circles", "create", "{}"],
        ["circles", "rename", "Friends", "{}"],
        ["contacts", "add", "CARD", "--name", "{}"],
        ["contacts", "request", "CARD", "--name", "{}"],
        ["requests", "accept", "1", "--name", "{}"],
    ],
)
def test_a_bad_name_on_the_command_line_is_a_usage_error(
    args: list[str],
    bad: str,
    home: Path,
    make_identity: Callable[..., Path],
    card_of: Callable[..., str],
    cli: Callable[..., Any],
) -> None:
    # Seen: control characters in `init --name`, `card --name`, `circles create` exited 1.
    assert cli(home, "circles", "create", "Friends").code == 0
    card = card_of(make_identity("bob"))
    result = cli(home, *[bad if a == "{}" else card if a == "CARD" else a for a in args])
    usage_error(result)
    assert "name" in result.err and "\x07" not in result.err and "\x01" not in result.err
    assert [c["name"] for c in cli(home, "circles", "list", "--json").json()] == ["Friends"]
    assert cli(home, "contacts", "list", "--json").json() == []


@pytest.mark.parametrize("bad", ["a\x01b", "rtl\u202eevil", "x" * 101])
def test_init_with_a_bad_name_is_a_usage_error_and_creates_nothing(
    bad: str, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    result = cli(tmp_path / "new", "init", "--name", bad)
    usage_error(result)
    assert "name" in result.err
    assert not (tmp_path / "new").exists()
