"""``tui-sns settings`` (list, ``--json``) and ``tui-sns settings set KEY VALUE``: the settings of the
identity's store (docs/design-v2.md: ``require_forward_secrecy``, ``epoch_length``, ``epoch_grace``),
changed through the core setters (which also tell my other devices)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WEEK = 7 * 86400


def test_settings_list_defaults(home: Path, cli: Callable[..., Any]) -> None:
    result = cli(home, "settings", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"require_forward_secrecy": False, "epoch_length": WEEK, "epoch_grace": WEEK}
    text = cli(home, "settings")
    assert text.code == 0
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in text.out.splitlines()}
    assert rows == {"require_forward_secrecy": "false", "epoch_length": "1w", "epoch_grace": "1w"}


def test_settings_set_goes_through_the_core(
    home: Path, cli: Callable[..., Any], open_session: Callable[..., Any]
) -> None:
    assert cli(home, "settings", "set", "require_forward_secrecy", "true").code == 0
    assert cli(home, "settings", "set", "epoch_length", "3d").code == 0
    result = cli(home, "settings", "set", "epoch_grace", "36h")
    assert result.code == 0 and "epoch_grace" in result.out
    assert cli(home, "settings", "--json").json() == {
        "require_forward_secrecy": True,
        "epoch_length": 3 * 86400,
        "epoch_grace": 36 * 3600,
    }
    with open_session(home) as session:
        assert session.epochs.require_forward_secrecy is True
        assert session.epochs.schedule() == (3 * 86400, 36 * 3600)
    text = cli(home, "settings").out
    assert "epoch_grace\t36h" in text and "require_forward_secrecy\ttrue" in text
    assert cli(home, "settings", "set", "require_forward_secrecy", "False").code == 0
    assert cli(home, "settings", "--json").json()["require_forward_secrecy"] is False


def test_settings_set_through_the_core_setter(
    home: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI calls the core setters (they record the change for my other devices): never the store."""
    from tui_sns.core.epochs import Epochs

    calls: list[tuple[str, Any]] = []
    real_fs, real_schedule = Epochs.set_require_forward_secrecy, Epochs.set_schedule

    def fs(self: Any, value: bool) -> None:
        calls.append(("fs", value))
        real_fs(self, value)

    def schedule(self: Any, **kw: Any) -> None:
        calls.append(("schedule", kw))
        real_schedule(self, **kw)

    monkeypatch.setattr(Epochs, "set_require_forward_secrecy", fs)
    monkeypatch.setattr(Epochs, "set_schedule", schedule)
    cli(home, "settings", "set", "require_forward_secrecy", "true")
    cli(home, "settings", "set", "epoch_length", "90d")
    cli(home, "settings", "set", "epoch_grace", "1h")
    assert calls == [
        ("fs", True),
        ("schedule", {"length": 90 * 86400}),
        ("schedule", {"grace": 3600}),
    ]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("colour", "blue", "unknown setting"),
        ("require_forward_secrecy", "maybe", "true or false"),
        ("require_forward_secrecy", "1", "true or false"),
        ("epoch_length", "30m", "1 hour to 90 days"),
        ("epoch_length", "91d", "1 hour to 90 days"),
        ("epoch_grace", "14w", "1 hour to 90 days"),
        ("epoch_grace", "soon", "not a duration"),
        ("epoch_grace", "0h", "1 hour to 90 days"),
        ("epoch_length", "-5d", "1 hour to 90 days"),  # seen: "the following arguments are required: VALUE"
        ("epoch_length", "99999999999999d", "1 hour to 90 days"),  # seen: "not a duration"
    ],
)
def test_settings_set_bad_key_or_value_is_a_usage_error(
    key: str, value: str, words: str, home: Path, cli: Callable[..., Any]
) -> None:
    before = cli(home, "settings", "--json").json()
    result = cli(home, "settings", "set", key, value)
    assert result.code == 2, result.err
    assert result.out == "" and len(result.err_lines) == 1 and words in result.err
    assert cli(home, "settings", "--json").json() == before


def test_settings_get_prints_one_value(home: Path, cli: Callable[..., Any]) -> None:
    # Seen: `settings get epoch_length` -> "invalid choice: 'get'".
    assert cli(home, "settings", "set", "epoch_length", "2w").code == 0
    result = cli(home, "settings", "get", "epoch_length")
    assert (result.code, result.out, result.err) == (0, "2w\n", "")
    result = cli(home, "settings", "get", "epoch_length", "--json")
    assert result.code == 0 and result.json() == 2 * WEEK
    result = cli(home, "settings", "get", "require_forward_secrecy", "--json")
    assert result.code == 0 and result.json() is False
    result = cli(home, "settings", "get", "colour")
    assert result.code == 2 and result.out == "" and "unknown setting 'colour'" in result.err
