"""Config precedence (flags > env > file > defaults), durations and database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_sns.sync.relay.config import (
    RelayConfig,
    default_db_url,
    load_config,
    parse_db_url,
    parse_duration,
)
from tui_sns.sync.relay.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "relay.toml"
    path.write_text(text)
    return str(path)


def test_defaults() -> None:
    config = load_config(environ={})
    assert config == RelayConfig()
    assert config.host == "127.0.0.1" and config.port == 8787 and config.read == "anyone"
    assert config.max_envelope_bytes == 262144 and config.access_log is False
    assert config.db == default_db_url() and config.db.startswith("sqlite:///")


def test_precedence(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'port = 1111\nread = "members"\nmax_envelope_bytes = 1000\nprune_older_than = "30d"\n'
    )
    from_file = load_config(config_file=path, environ={})
    assert (from_file.port, from_file.read, from_file.max_envelope_bytes) == (1111, "members", 1000)
    assert from_file.prune_older_than == 30 * 86400
    env = {"TUI_SNS_RELAY_PORT": "2222", "TUI_SNS_RELAY_CONFIG": path, "TUI_SNS_RELAY_ACCESS_LOG": "true"}
    from_env = load_config(environ=env)
    assert (from_env.port, from_env.read, from_env.access_log) == (2222, "members", True)
    flagged = load_config({"port": 3333, "read": None}, environ=env)
    assert (flagged.port, flagged.read) == (3333, "members")


def test_relay_table_in_file(tmp_path: Path) -> None:
    assert load_config(config_file=write(tmp_path, "[relay]\nwrite_rate = 5\n"), environ={}).write_rate == 5.0


@pytest.mark.parametrize(
    "text",
    ["port = 'x'\n", "read = 'everyone'\n", "nonsense = 1\n", "max_envelope_bytes = -1\n", "not toml ==\n"],
)
def test_bad_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_config(config_file=write(tmp_path, text), environ={})


def test_bad_env_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TUI_SNS_RELAY_WRITE_RATE"):
        load_config(environ={"TUI_SNS_RELAY_WRITE_RATE": "fast"})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file=str(tmp_path / "missing.toml"), environ={})


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "tui_sns" / "sync" / "relay" / "relay.example.toml"
    config = load_config(config_file=str(example), environ={})
    assert config.read == "anyone"


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "1.5h", "-1d", "0h", "3x", "1 day"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_db_urls() -> None:
    assert parse_db_url("sqlite:///var/lib/relay.db").target == "/var/lib/relay.db"
    assert parse_db_url("sqlite:////var/lib/relay.db").target == "/var/lib/relay.db"
    assert parse_db_url("sqlite:///./data/relay.db").target == "./data/relay.db"
    assert parse_db_url("sqlite://relay.db").target == "relay.db"
    assert parse_db_url("postgres://u@h/db").kind == "postgresql"
    assert parse_db_url("postgresql://u@h/db?options=-csearch_path%3Dx").target.endswith("%3Dx")
    for bad in ("mysql://x", "sqlite://", "relay.db"):
        with pytest.raises(ConfigError):
            parse_db_url(bad)
