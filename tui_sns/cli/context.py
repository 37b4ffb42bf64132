"""What every command gets: the parsed options, the home directory, and a way to unlock."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
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
    base: Path = field(init=False)
    home: Path = field(init=False)
    _session: Session | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        from tui_sns.cli.errors import CliError
        from tui_sns.paths import BadPersonaName, persona_home

        self.base = resolve_home(self.args.home)
        try:
            self.home = persona_home(self.base, getattr(self.args, "persona", None))
        except BadPersonaName as exc:
            raise CliError(str(exc)) from exc

    def session(self, passphrase: str | None = None) -> Session:
        if self._session is None:
            from tui_sns.core.session import Session

            Session.check_present(self.home)
            if passphrase is None:
                passphrase = read_passphrase(self.args.passphrase_file)
            self._session = Session.unlock(self.home, passphrase)
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

    @staticmethod
    def json_array(items: Iterable[Any]) -> None:
        """Write a JSON array item by item as ``items`` yields them (memory flat in their number); the
        bytes are those :meth:`json` writes for the whole list."""
        empty = True
        for item in items:
            text = json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            sys.stdout.write(("[\n  " if empty else ",\n  ") + text)
            empty = False
        sys.stdout.write("[]\n" if empty else "\n]\n")
