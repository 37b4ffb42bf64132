"""The persona switcher: the main identity and each persona under BASE/personas, or a new one.

Each persona is a separate identity with its own store and passphrase (``tui_sns.paths``). Choosing
one dismisses with its home; the app then unlocks it (or runs onboarding for a new one) and reloads
the diary.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ListItem, Static

from tui_sns import paths
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import Ask, VimListView

MAIN = ""  # the default persona lives in BASE itself


class PersonaItem(ListItem):
    def __init__(self, name: str, current: bool) -> None:
        label = "main identity" if name == MAIN else name
        mark = "  [dim](open now)[/dim]" if current else ""
        super().__init__(Label(f"{escape(label)}{mark}"))
        self.persona = name


class PersonaScreen(ModalScreen["Path | None"]):
    """Lists the personas; dismisses with the home to switch to, or None."""

    BINDINGS = bindings("personas")

    def __init__(self, base: Path, current: Path) -> None:
        super().__init__()
        self.base = base
        self.current = current

    def names(self) -> list[str]:
        return [MAIN, *paths.list_personas(self.base)]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="personas"):
            yield Label("[b]Switch persona[/b]", classes="dialog-text")
            yield VimListView(
                *(PersonaItem(n, paths.persona_home(self.base, n) == self.current) for n in self.names()),
                id="persona-list",
            )
            yield Static(
                "Each persona is a separate identity with its own passphrase: they share no key. "
                "enter switches, n creates one, escape stays.",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one("#persona-list").focus()

    @on(VimListView.Selected, "#persona-list")
    def chosen(self, event: VimListView.Selected) -> None:
        item = event.item
        if isinstance(item, PersonaItem):
            self.dismiss(paths.persona_home(self.base, item.persona))

    def action_new_persona(self) -> None:
        taken = set(self.names())

        def check(name: str) -> None:
            if not name.strip():
                raise ValueError("Give the persona a name.")
            paths.persona_home(self.base, name.strip())  # raises BadPersonaName with the rules
            if name.strip() in taken:
                raise ValueError(f"There is already a persona named {name.strip()!r}.")

        def done(name: str | None) -> None:
            if name:
                self.dismiss(paths.persona_home(self.base, name.strip()))

        self.app.push_screen(Ask("Name of the new persona (letters, digits, - and _):", check=check), done)

    def action_cancel(self) -> None:
        self.dismiss(None)
