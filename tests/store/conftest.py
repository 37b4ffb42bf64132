"""Every test here runs with TUI_SNS_HOME pointed into tmp_path and a known TUI_SNS_PASSPHRASE."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass
