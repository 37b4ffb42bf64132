"""What every command gets: the parsed options, the home directory, and a way to unlock."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sns.cli.passphrase import read_passphrase
from tui_sns.paths import resolve_home

if TYPE_CHECKING:
    from tui_sns.core.session import Session


@dataclass
class Context:
    args: argparse.Namespace
    home: Path = field(init=False)
    _session: Session | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.home = resolve_home(self.args.home)

    def session(self) -> Session:
        if self._session is None:
            from tui_sns.core.session import Session
            from tui_sns.store import Store
            from tui_sns.store.errors import NoIdentity

            if not Store.exists(self.home):
                raise NoIdentity(f"no identity in {self.home}: run `tui-sns init --name NAME` first")
            self._session = Session.unlock(self.home, read_passphrase(self.args.passphrase_file))
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    @staticmethod
    def out(text: str = "") -> None:
        sys.stdout.write(text + "\n")

    @staticmethod
    def json(value: Any) -> None:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
