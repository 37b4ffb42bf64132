"""Where tui-sns keeps things: the one place that knows about platformdirs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from tui_sns.errors import TuiSnsError

APP_NAME = "tui-sns"
HOME_ENV = "TUI_SNS_HOME"


def default_home() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--home beats TUI_SNS_HOME beats the platform's user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return default_home()


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


PERSONA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


class BadPersonaName(TuiSnsError, ValueError):
    pass


def persona_home(base: Path, persona: str | None) -> Path:
    """Each persona is a separate identity with its own store: ``BASE/personas/NAME``.

    The default persona (no name) lives in BASE itself. Separate key pairs and stores mean two
    personas share no key or identifier (docs/threat-model.md, "Personas").
    """
    if not persona:
        return base
    if not PERSONA_RE.match(persona):
        raise BadPersonaName(
            f"persona names are 1-40 letters, digits, '-' or '_' (starting with a letter or digit): {persona!r}"
        )
    return base / "personas" / persona


def list_personas(base: Path) -> list[str]:
    folder = base / "personas"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if PERSONA_RE.match(p.name) and (p / "store.key").exists())
