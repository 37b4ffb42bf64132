"""The help screen (? and F1) and the command palette's provider: both read the action registry."""

from __future__ import annotations

import textwrap
from functools import partial
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui_sns.screens.actions import ACTIONS, SCOPES, Action, display_key, effective_key
from tui_sns.screens.widgets import VimDataTable

if TYPE_CHECKING:
    from textual.screen import Screen


def keymap_of(app: object) -> dict[str, str]:
    return dict(getattr(app, "keymap", {}) or {})


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss_help", "Close", id="help.close")]
    wrapped_to: int | None = None  # the width the action texts were last wrapped to (None: not yet)

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog wide"):
            yield Label("[b]Keys[/b] — remap any of them in keymap.toml by its id", classes="dialog-text")
            yield VimDataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            yield Static(
                "Lists also take the arrow keys, j/k, g/G, Home/End and the mouse. Escape backs out. "
                "ctrl+p opens the command palette (every action, and themes).",
                classes="hint",
            )

    def on_mount(self) -> None:
        table = self.query_one(VimDataTable)
        # the id (what keymap.toml remaps) next to the key; the long text last, wrapped to what is left
        self._fill(None)
        table.focus()
        self.call_after_refresh(self._rewrap)

    def on_resize(self) -> None:
        self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        """Fill the table again with the action texts wrapped to the width the Action column has left."""
        table = self.query_one(VimDataTable)
        padding = 2 * table.cell_padding
        others = sum(
            max(cell_len(label), *(cell_len(cells[i]) for cells in self._cells())) + padding
            for i, label in enumerate(("Key", "Id", "Where"))
        )
        self.wrapped_to = max(10, table.scrollable_content_region.width - others - padding)
        self._fill(self.wrapped_to)

    def _cells(self) -> list[tuple[str, str, str, str]]:
        keymap = keymap_of(self.app)
        return [(display_key(effective_key(a, keymap)), a.id, SCOPES[a.scope], a.long) for a in ACTIONS]

    def _fill(self, width: int | None) -> None:
        table = self.query_one(VimDataTable)
        row = table.cursor_row
        table.clear(columns=True)  # (a column keeps its widest content's width otherwise)
        table.add_columns("Key", "Id", "Where", "Action")
        for key, action_id, where, long in self._cells():
            text = long if width is None else "\n".join(textwrap.wrap(long, width))
            table.add_row(key, action_id, where, text, height=None if width is not None else 1)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


def _runnable(screen: Screen[object], action: Action) -> bool:
    if not action.palette:
        return False
    if action.scope == "app":
        return True
    return action.scope == getattr(screen, "SCOPE", None) or any(
        b.id == action.id for bs in [getattr(type(screen), "BINDINGS", [])] for b in bs if hasattr(b, "id")
    )


class ActionsProvider(Provider):
    """Every action that applies to the current screen, with its key."""

    def _hits(self) -> list[tuple[str, str, Action]]:
        keymap = keymap_of(self.app)
        out = []
        for action in ACTIONS:
            if _runnable(self.screen, action):
                key = display_key(effective_key(action, keymap))
                out.append((f"{action.description} ({key})", action.long, action))
        return out

    async def _run(self, action: Action) -> None:
        if action.action.startswith("app."):
            await self.app.run_action(action.action[4:])
        else:
            await self.screen.run_action(action.action)

    async def discover(self) -> Hits:
        for title, help_text, action in self._hits():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._hits():
            score = max(matcher.match(title), matcher.match(help_text))
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=help_text)
