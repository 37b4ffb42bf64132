"""Relay configuration: TOML file, ``TUI_SNS_RELAY_*`` environment variables and CLI flags.

Precedence, highest first: command-line flags, environment variables, the
config file (``--config`` or ``TUI_SNS_RELAY_CONFIG``), built-in defaults.
Every option has the environment variable ``TUI_SNS_RELAY_<OPTION NAME IN UPPER CASE>``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir

from .errors import ConfigError

ENV_PREFIX = "TUI_SNS_RELAY_"
DEFAULT_RETENTION = 30 * 86400  # seconds; docs/relay.md "Retention"
MAX_SHARDS = 4096  # docs/design-sharding.md §3.1: shard seeds are 16-bit, S a power of two <= 4096
ReadMode = Literal["anyone", "members"]

_DURATION_RE = re.compile(r"^\s*(-?\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_DAYS = 36_500  # a hundred years


def parse_duration(text: str) -> int:
    """Parse ``30m``, ``12h``, ``7d``, ``2w`` (or ``45s``) into seconds: positive, at most
    ``MAX_DURATION_DAYS`` days (a date that far ahead still fits every clock). Raises ConfigError."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ConfigError(f"bad duration {text!r}: use a number and a unit s, m, h, d or w (e.g. 12h, 7d)")
    if match.group(1).startswith("-"):
        raise ConfigError(f"bad duration {text!r}: must be greater than zero")
    if len(match.group(1)) > 12:  # (read as a number only once it is known to be short)
        raise ConfigError(f"bad duration {text!r}: at most {MAX_DURATION_DAYS:,} days")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"bad duration {text!r}: must be greater than zero")
    if seconds > MAX_DURATION_DAYS * 86400:
        raise ConfigError(f"bad duration {text!r}: at most {MAX_DURATION_DAYS:,} days")
    return seconds


def default_db_url() -> str:
    """``sqlite:///<user data dir>/relay.db``."""
    return f"sqlite:///{Path(user_data_dir('tui-sns-relay')) / 'relay.db'}"


@dataclass(frozen=True)
class RelayConfig:
    """Every relay option; see ``relay.example.toml`` for their meaning."""

    db: str = dataclasses.field(default_factory=default_db_url)
    host: str = "127.0.0.1"
    port: int = 8787
    read: ReadMode = "anyone"
    max_envelope_bytes: int = 262144
    max_batch_bytes: int = 8 * 1024 * 1024
    write_rate: float = 50.0
    write_burst: int = 100
    read_rate: float = 20.0
    read_burst: int = 60
    retention: int | None = DEFAULT_RETENTION
    shards: int = 1
    max_tags: int = 1024
    prune_older_than: int | None = None
    prune_interval: int = 300
    access_log: bool = False
    stream_poll_interval: float = 0.2
    stream_keepalive: float = 15.0
    stream_max_seconds: float = 0.0
    pg_pool_size: int = 10
    sqlite_readers: int = 4
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0
    max_header_bytes: int = 16384
    max_connections: int = 1000
    max_connections_per_address: int = 50
    max_streams: int = 500
    max_streams_per_address: int = 8
    stream_budget_bytes: int = 2 * 1024 * 1024
    trusted_proxies: tuple[str, ...] = ()
    metrics_token: str | None = None
    redeem_rate: float = 1.0
    redeem_burst: int = 30

    @property
    def shard_bits(self) -> int:
        """log2 of ``shards``."""
        return self.shards.bit_length() - 1

    @property
    def effective_retention(self) -> int | None:
        """Seconds an envelope is kept after arrival (None: until it expires); ``prune_older_than`` wins."""
        return self.prune_older_than if self.prune_older_than is not None else self.retention


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RelayConfig))


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    number = int(value)
    if number <= 0 or (isinstance(value, float) and value != number):
        raise ValueError("expected a positive integer")
    return number


def _non_negative_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ValueError("expected a non-negative number")
    return number


def _positive_float(value: Any) -> float:
    number = _non_negative_float(value)
    if number == 0:
        raise ValueError("expected a positive number")
    return number


def _port(value: Any) -> int:
    number = int(value)
    if not 0 <= number <= 65535 or isinstance(value, bool):
        raise ValueError("expected a port number 0..65535")
    return number


def _read_mode(value: Any) -> str:
    if value not in ("anyone", "members"):
        raise ValueError('expected "anyone" or "members"')
    return str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _optional_duration(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return parse_duration(str(value))


def _shard_count(value: Any) -> int:
    """A power of two from 1 to MAX_SHARDS (docs/relay.md, *Shards*)."""
    number = _positive_int(value)
    if number > MAX_SHARDS or number & (number - 1):
        raise ValueError(f"expected a power of two from 1 to {MAX_SHARDS}")
    return number


def _max_tags(value: Any) -> int:
    number = _positive_int(value)
    if number > MAX_SHARDS:
        raise ValueError(f"expected 1 to {MAX_SHARDS}")
    return number


def _retention(value: Any) -> int | None:
    """A duration, or ``"forever"`` (None: keep envelopes until they expire)."""
    if isinstance(value, str) and value.strip().lower() == "forever":
        return None
    if value is None or value == "":
        raise ValueError('expected a duration such as "30d", or "forever"')
    return parse_duration(str(value))


def _duration(value: Any) -> int:
    return parse_duration(str(value))


def _optional_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _text(value)


def _proxies(value: Any) -> tuple[str, ...]:
    """A list of IP addresses or networks (TOML array, or comma-separated text), each checked."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a list of IP addresses or networks")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("expected a list of IP addresses or networks")
        text = item.strip()
        if text:
            ipaddress.ip_network(text, strict=False)  # ValueError on a bad address
            out.append(text)
    return tuple(out)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "db": _text,
    "host": _text,
    "port": _port,
    "read": _read_mode,
    "max_envelope_bytes": _positive_int,
    "max_batch_bytes": _positive_int,
    "write_rate": _positive_float,
    "write_burst": _positive_int,
    "read_rate": _positive_float,
    "read_burst": _positive_int,
    "retention": _retention,
    "shards": _shard_count,
    "max_tags": _max_tags,
    "prune_older_than": _optional_duration,
    "prune_interval": _duration,
    "access_log": _bool,
    "stream_poll_interval": _positive_float,
    "stream_keepalive": _positive_float,
    "stream_max_seconds": _non_negative_float,
    "pg_pool_size": _positive_int,
    "sqlite_readers": _positive_int,
    "header_timeout": _positive_float,
    "body_timeout": _positive_float,
    "idle_timeout": _positive_float,
    "max_header_bytes": _positive_int,
    "max_connections": _positive_int,
    "max_connections_per_address": _positive_int,
    "max_streams": _positive_int,
    "max_streams_per_address": _positive_int,
    "stream_budget_bytes": _positive_int,
    "trusted_proxies": _proxies,
    "metrics_token": _optional_text,
    "redeem_rate": _positive_float,
    "redeem_burst": _positive_int,
}


def _parse_option(name: str, value: Any, source: str) -> Any:
    try:
        return _PARSERS[name](value)
    except ConfigError as exc:
        raise ConfigError(f"{source}: option {name}: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{source}: option {name}: bad value {value!r} ({exc})") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file: top-level ``option = value`` pairs (an optional ``[relay]`` table too)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.pop("relay", {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [relay] must be a table")
    data.update(table)
    unknown = sorted(set(data) - set(OPTION_NAMES))
    if unknown:
        raise ConfigError(f"config file {path}: unknown option(s) {', '.join(unknown)}")
    return data


def load_config(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RelayConfig:
    """Merge defaults < config file < environment < flags (``None`` flags are ignored)."""
    env = os.environ if environ is None else environ
    given_flags = {k: v for k, v in (flags or {}).items() if v is not None}
    unknown = sorted(set(given_flags) - set(OPTION_NAMES))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    file_name = config_file or env.get(ENV_PREFIX + "CONFIG")
    if file_name:
        path = Path(file_name).expanduser()
        for name, value in read_config_file(path).items():
            values[name] = _parse_option(name, value, f"config file {path}")
    for name in OPTION_NAMES:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _parse_option(name, raw, f"environment variable {ENV_PREFIX}{name.upper()}")
    for name, value in given_flags.items():
        values[name] = _parse_option(name, value, "command line")
    return RelayConfig(**values)


@dataclass(frozen=True)
class DatabaseLocation:
    """A parsed database URL: ``kind`` is ``"sqlite"`` (``target`` a file path) or ``"postgresql"`` (a DSN)."""

    kind: Literal["sqlite", "postgresql"]
    target: str


def parse_db_url(url: str) -> DatabaseLocation:
    """Parse ``sqlite:///ABS/PATH``, ``sqlite:///./rel/path``, ``sqlite://rel/path`` or ``postgresql://...``.

    ``sqlite:///X`` is the absolute path ``/X`` unless ``X`` starts with ``./`` or ``../``,
    which are relative to the working directory, as is ``sqlite://X`` (two slashes).
    ``postgres://`` is accepted as an alias of ``postgresql://``.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return DatabaseLocation("postgresql", url)
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if rest.startswith(("/./", "/../")):
            rest = rest[1:]
        elif rest.startswith("/"):
            rest = "/" + rest.lstrip("/")
        if not rest.strip("/"):
            raise ConfigError(f"bad database URL {url!r}: no file path")
        return DatabaseLocation("sqlite", rest)
    raise ConfigError(f"bad database URL {url!r}: use sqlite:///PATH or postgresql://...")
