"""Settings that apply before unlock (the theme) and the keymap, both in the config directory.

* ``settings.toml``: ``theme = "nord"`` — written by the app when the theme changes;
  ``notify_new_entries = "bell"`` (or ``"desktop"``; default ``"off"``) — how new entries are announced
  beyond the in-app notice.
* ``keymap.toml``: binding id = key, e.g. ``"main.compose" = "w"`` (top level or under ``[keymap]``).
  The ids are listed in the help screen (``?``) and in ``docs/app.md``.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

from tui_sns.core.files import write_atomic

log = logging.getLogger(__name__)

SETTINGS = "settings.toml"
KEYMAP = "keymap.toml"


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}


def load_theme(config_dir: Path) -> str | None:
    theme = _read_toml(config_dir / SETTINGS).get("theme")
    return theme if isinstance(theme, str) else None


NOTIFY_CHOICES = ("off", "bell", "desktop")


def load_notify_new_entries(config_dir: Path) -> str:
    """``notify_new_entries`` in settings.toml: "off" (the default: in-app notices only), "bell" (the
    terminal bell) or "desktop" (``notify-send`` where present, else the bell). Anything else: off."""
    value = _read_toml(config_dir / SETTINGS).get("notify_new_entries", "off")
    if value not in NOTIFY_CHOICES:
        log.warning("ignoring notify_new_entries = %r: use one of %s", value, ", ".join(NOTIFY_CHOICES))
        return "off"
    return str(value)


def save_theme(config_dir: Path, theme: str) -> None:
    data = _read_toml(config_dir / SETTINGS)
    data["theme"] = theme
    lines = [
        f"{key} = {json.dumps(value)}" for key, value in data.items() if isinstance(value, str | int | bool)
    ]
    os.makedirs(config_dir, exist_ok=True)
    write_atomic(config_dir / SETTINGS, ("\n".join(lines) + "\n").encode(), mode=0o600)


def load_keymap(config_dir: Path) -> tuple[dict[str, str], list[str]]:
    """(binding id → key, problems found). Unknown ids are reported, not fatal."""
    from tui_sns.screens.actions import BY_ID

    data = _read_toml(config_dir / KEYMAP)
    table = data.get("keymap", data)
    keymap: dict[str, str] = {}
    problems: list[str] = []
    if not isinstance(table, dict):
        return {}, [f"{KEYMAP}: [keymap] must be a table"]
    for key, value in table.items():
        if key not in BY_ID:
            problems.append(f"{KEYMAP}: unknown action id {key!r}")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{KEYMAP}: the key for {key!r} must be a string")
        else:
            keymap[key] = value.strip()
    for dropped, problem in keymap_conflicts(keymap):
        keymap.pop(dropped, None)
        problems.append(problem)
    return keymap, problems


def _keys(keys: str) -> set[str]:
    return {k.strip() for k in keys.split(",") if k.strip()}


def _overlap(a: str, b: str) -> bool:
    """Can bindings of scopes ``a`` and ``b`` be live at once? The same scope; "app" with any; a
    list's keys with any screen that holds lists (the focused list answers first)."""
    screens_with_lists = {"main", "contacts", "circles", "comments", "personas", "relays", "search"}
    pair = {a, b}
    return a == b or "app" in pair or ("list" in pair and bool(pair & screens_with_lists))


def keymap_conflicts(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(remapped id to ignore, sentence) for every override that gives a key to two actions that can
    be live at once: one of them would silently never run. The override is not applied (its action
    keeps its default key), so remapping loses nothing."""
    from tui_sns.screens.actions import ACTIONS

    out: list[tuple[str, str]] = []
    effective = {a.id: _keys(keymap.get(a.id, a.key)) for a in ACTIONS}
    scope = {a.id: a.scope for a in ACTIONS}
    for changed in keymap:
        for other in effective:
            if other == changed or not _overlap(scope[changed], scope[other]):
                continue
            shared = effective[changed] & effective[other]
            if shared:
                key = sorted(shared)[0]
                out.append(
                    (
                        changed,
                        f"{KEYMAP}: {changed!r} and {other!r} are both bound to {key!r}; "
                        f"{changed!r} keeps its default key",
                    )
                )
                effective[changed] = _keys(next(a.key for a in ACTIONS if a.id == changed))
                break
    return out
