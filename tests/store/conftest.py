"""Every test here runs with TUI_SNS_HOME pointed into tmp_path and a known TUI_SNS_PASSPHRASE."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement run on connections the store opens from now on, in order."""
    from tui_sns.store.database import Store

    statements: list[str] = []
    original = Store._connect

    def connect(path: object, db_key: bytes) -> object:
        conn = original(path, db_key)  # type: ignore[arg-type]
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(Store, "_connect", staticmethod(connect))
    return statements
