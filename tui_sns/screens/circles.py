"""Circles: create, rename, delete, and who is in each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static
from textual.widgets.selection_list import Selection

from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import Ask, VimDataTable, VimSelectionList, plain
from tui_sns.screens.writes import write

if TYPE_CHECKING:
    from tui_sns.core.records import Circle
    from tui_sns.core.session import Session

FUTURE_ONLY = "Removing someone affects future entries only: what they could already read stays readable."


class CirclesScreen(Screen[None]):
    BINDINGS = bindings("circles")
    CSS_PATH = "circles.tcss"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.circles: list[Circle] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="circles-pane"):
            with Vertical(id="circle-list"):
                yield Label("Circles", classes="pane-title")
                yield VimDataTable(id="circles", cursor_type="row", zebra_stripes=True)
            with Vertical(id="members-pane"):
                yield Label("Members", id="members-title", classes="pane-title")
                yield VimSelectionList(id="members")
                yield Static(FUTURE_ONLY, id="future-only", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Circles"
        self.sub_title = "circles never leave this device"
        table = self.query_one("#circles", VimDataTable)
        table.add_columns("Circle", "People")
        self.reload()
        table.focus()

    def reload(self, select: str | None = None) -> None:
        table = self.query_one("#circles", VimDataTable)
        current = self.selected.name if self.selected else None
        self.circles = self.session.circles.list()
        table.clear()
        for c in self.circles:
            table.add_row(plain(c.name), str(len(c.members)), key=c.name)
        names = [c.name for c in self.circles]
        target = select or current
        if target in names:
            table.move_cursor(row=names.index(target))
        self.show_members()

    @property
    def selected(self) -> Circle | None:
        table = self.query_one("#circles", VimDataTable)
        row = table.cursor_row
        return self.circles[row] if self.circles and 0 <= row < len(self.circles) else None

    @on(VimDataTable.RowHighlighted, "#circles")
    def show_members(self) -> None:
        picker = self.query_one("#members", VimSelectionList)
        picker.clear_options()
        circle = self.selected
        title = self.query_one("#members-title", Label)
        if circle is None:
            title.update("Members")
            picker.disabled = True
            return
        picker.disabled = False
        title.update(plain(f"Members of {circle.name} (space toggles)"))
        members = set(circle.members)
        picker.add_options(
            Selection(plain(f"{c.name}{' ✓' if c.verified else ''}"), c.name, c.name in members)
            for c in self.session.contacts.list()
        )

    @on(VimSelectionList.SelectionToggled, "#members")
    def member_toggled(self, event: VimSelectionList.SelectionToggled[str]) -> None:
        circle = self.selected
        if circle is None:
            return
        name = event.selection.value
        if name in event.selection_list.selected:
            write(
                self,
                lambda: self.session.circles.add(circle.name, [name]),
                done=f"{name} is in {circle.name}: they can read your future entries to it.",
                title="Circles",
                then=lambda _: self._refresh_sizes(circle.name),
            )
        else:
            write(
                self,
                lambda: self.session.circles.remove(circle.name, [name]),
                done=f"{name} left {circle.name}. This affects future entries only.",
                title="Circles",
                then=lambda _: self._refresh_sizes(circle.name),
            )

    def _refresh_sizes(self, name: str) -> None:
        self.circles = self.session.circles.list()
        table = self.query_one("#circles", VimDataTable)
        for c in self.circles:
            if c.name == name:
                table.update_cell(c.name, table.ordered_columns[1].key, str(len(c.members)))

    # -- actions --------------------------------------------------------------------------------

    def action_new_circle(self) -> None:
        def done(name: str | None) -> None:
            if name is not None:
                self.notify(f"Created {name}.", title="Circles")
                self.reload(select=name)
                self.query_one("#members").focus()

        self.app.push_screen(
            Ask("Name of the new circle:", check=self.session.circles.create, ok="Create"), done
        )

    def action_rename_circle(self) -> None:
        circle = self.selected
        if circle is None:
            return

        def check(new: str) -> None:
            self.session.circles.rename(circle.name, new)

        def done(name: str | None) -> None:
            if name is not None:
                self.reload(select=name)

        self.app.push_screen(Ask(f"Rename {circle.name} to:", circle.name, check, ok="Rename"), done)

    def action_delete_circle(self) -> None:
        circle = self.selected
        if circle is None:
            return

        size = len(circle.members)
        write(
            self,
            lambda: self.session.circles.delete(circle.name),
            confirm=f"Delete the circle {circle.name} ({size} {'person' if size == 1 else 'people'})? "
            "Its members stay your contacts. Entries already sealed to it stay readable by them.",
            yes="Delete",
            done=f"Deleted {circle.name}.",
            title="Circles",
            then=lambda _: self.reload(),
        )

    def action_edit_members(self) -> None:
        if self.selected is None:
            self.notify("Create a circle first (n).")
            return
        self.query_one("#members").focus()

    def action_back(self) -> None:
        self.dismiss(None)
