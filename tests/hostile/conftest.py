"""Fixtures for the hostile-input tests: in-process people (cheap KDF), bundle delivery, hostile strings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated(isolated_env: None) -> None:
    pass


# -- the app ------------------------------------------------------------------------------------------


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Any]:
    import os

    from tui_sns.screens.app import TuiSnsApp
    from tui_sns.store import KdfParams

    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

    def make(home: Path, session: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("sync", False)
        kwargs.setdefault("kdf", KdfParams.insecure_for_tests())
        return TuiSnsApp(home, session, config_dir=tmp_path / "config", **kwargs)

    return make
