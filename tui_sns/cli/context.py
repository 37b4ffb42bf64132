"""What every command gets: the parsed options, the home directory, and a way to unlock."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sns.cli.passphrase import read_passphrase
from tui_sns.core.display import safe_json, safe_line, safe_text
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
        from tui_sns.cli.errors import UsageError
        from tui_sns.paths import BadPersonaName, persona_home

        self.base = resolve_home(self.args.home)
        try:
            self.home = persona_home(self.base, getattr(self.args, "persona", None))
        except BadPersonaName as exc:
            raise UsageError(str(exc)) from exc

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
        """Print ``text`` and a newline. Fields from others are already ``safe_line``d by the
        printers (one line each); this is the backstop: no other control character ever leaves."""
        sys.stdout.write(safe_text(text) + "\n")

    @staticmethod
    def err(text: str) -> None:
        """One line on stderr (a warning or a relay's error text): never a control character."""
        sys.stderr.write(safe_line(text) + "\n")

    @staticmethod
    def json(value: Any) -> None:
        """``value`` as JSON: strings exact (JSON-escaped), nothing a terminal would act on."""
        sys.stdout.write(safe_json(value) + "\n")

    @staticmethod
    def json_array(items: Iterable[Any]) -> None:
        """Write a JSON array item by item as ``items`` yields them (memory flat in their number); the
        bytes are those :meth:`json` writes for the whole list."""
        empty = True
        for item in items:
            text = safe_json(item).replace("\n", "\n  ")
            sys.stdout.write(("[\n  " if empty else ",\n  ") + text)
            empty = False
        sys.stdout.write("[]\n" if empty else "\n]\n")
