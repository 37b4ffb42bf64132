"""Contacts: the list, adding by card, my card (text and QR), safety numbers, removal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Footer,
    Header,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from tui_sns.core.display import safe_line
from tui_sns.core.errors import TuiSnsError
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import Ask, Confirm, VimDataTable, local_time, plain, qr_text
from tui_sns.screens.writes import write

if TYPE_CHECKING:
    from tui_sns.core.contacts import ContactView
    from tui_sns.core.records import Contact
    from tui_sns.core.requests import RequestView
    from tui_sns.core.session import Session


class SafetyNumber(ModalScreen[bool]):
    """Show the safety number; the person confirms they compared it (in person or on a call).

    Cancel has the focus, so enter or space never marks anyone verified: that takes ``V`` (named in
    the dialog) or a click on the button. The 60 digits are drawn as a 3 × 4 grid of 5-digit groups,
    so no group is ever cut at the dialog's edge.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("V", "match", "They match", show=False),
    ]

    def __init__(self, name: str, number: str, verified: bool) -> None:
        super().__init__()
        self.contact = name
        self.number = number
        self.verified = verified

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="safety-dialog"):
            yield Static(
                Text.assemble("Safety number with ", (safe_line(self.contact), "bold")), classes="dialog-text"
            )
            yield Static(grid_of(self.number), id="safety-number", markup=False)
            yield Static(
                Text.assemble(
                    "Compare it with the one their app shows, in person or on a call you trust. "
                    "If every digit matches, nobody is in between: then press ",
                    ("V", "bold"),
                    f" (shift+v) to mark {safe_line(self.contact)} verified. Escape or Cancel leaves "
                    "them as they are.",
                ),
                classes="dialog-text",
            )
            if self.verified:
                yield Static("✓ Already verified.", classes="ok")
            with Horizontal(classes="dialog-buttons"):
                yield Button("They match: mark verified (V)", variant="success", id="match")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "match")

    def action_match(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


def grid_of(number: str, per_line: int = 4) -> str:
    """A safety number's groups, ``per_line`` to a line (12 groups of 5 digits: 3 lines of 23 cells)."""
    groups = number.split()
    return "\n".join(" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line))


class ContactsScreen(Screen[None]):
    BINDINGS = bindings("contacts")
    CSS_PATH = "contacts.tcss"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.contacts: list[ContactView] = []
        self.requests: list[RequestView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs", initial="list"):
            with TabPane("Contacts", id="list"), Horizontal():
                yield VimDataTable(id="contacts", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="contact-detail"):
                    yield Static("", id="detail")
            with TabPane("Add a contact", id="add"), VerticalScroll():
                yield Label("Paste their contact card (it starts with tuisns1:):")
                yield TextArea(id="card-text", soft_wrap=True, show_line_numbers=False)
                yield Label("What you call them (optional; default: the name on the card):")
                yield Input(placeholder="e.g. Bob from climbing", id="local-name")
                yield Static("", id="add-error", classes="error")
                yield Button("Add contact", variant="primary", id="add-button")
            with TabPane("Requests", id="requests"), Horizontal():
                yield VimDataTable(id="request-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="request-detail"):
                    yield Static("", id="request-info")
            with TabPane("My card", id="card"), VerticalScroll():
                yield Label("The name this card shows (a pseudonym is fine; each card can differ):")
                yield Input(self.session.name, id="card-name")
                yield Static("", id="card-error", classes="error")
                yield Static("", id="my-card", classes="card-text")
                yield Static("", id="my-qr", classes="qr")
                yield Static(
                    "Share the text (message, email) or let them scan the QR code. A card holds no "
                    "secret: it lets someone seal entries to you. Compare safety numbers to be sure.",
                    classes="hint",
                )
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Contacts"
        self.sub_title = safe_line(self.session.name)
        table = self.query_one("#contacts", VimDataTable)
        table.add_columns("Name", "Verified", "Circles", "Status")
        self.query_one("#request-table", VimDataTable).add_columns("Name on card", "Note", "Received")
        self.reload()
        self.reload_requests()
        self.show_card(self.session.name)
        table.focus()

    def reload(self) -> None:
        self.contacts = self.session.contacts.list()
        table = self.query_one("#contacts", VimDataTable)
        row = table.cursor_row
        table.clear()
        for c in self.contacts:
            table.add_row(  # cells as Text: a name is never parsed as markup
                plain(c.name),
                "✓ verified" if c.verified else "not yet",
                plain(", ".join(c.circles) or "—"),
                status_of(c),
                key=c.name,
            )
        if self.contacts:
            table.move_cursor(row=min(row, len(self.contacts) - 1))
        self.show_detail()

    @property
    def selected(self) -> ContactView | None:
        table = self.query_one("#contacts", VimDataTable)
        if not self.contacts or table.cursor_row < 0 or table.cursor_row >= len(self.contacts):
            return None
        return self.contacts[table.cursor_row]

    @on(VimDataTable.RowHighlighted, "#contacts")
    def show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        c = self.selected
        if c is None:
            detail.update("No contacts yet. Press [b]n[/b] to add one from their card.")
            return
        relays = ", ".join(c.relays) or "none"
        status: list[str | tuple[str, str]] = (
            [("✓ verified", "green")]
            if c.verified
            else [("not verified", "yellow"), " — press ", ("v", "bold"), " to compare"]
        )
        defenses: list[str | tuple[str, str]] = []
        if c.blocked:
            defenses = [
                "\n",
                ("Blocked", "red"),
                ": nothing from them is opened, nothing is sealed to them (b unblocks)",
            ]
        elif c.muted:
            defenses = ["\n", ("Muted", "yellow"), ": their entries stay out of your timeline (u unmutes)"]
        # Built from parts, never parsed: names, card names and relays are others' text.
        detail.update(
            Content.assemble(
                (safe_line(c.name), "bold"),
                "\nTheir card says: ",
                safe_line(c.card_name),
                "\n",
                *status,
                "\nCircles: ",
                safe_line(", ".join(c.circles) or "—"),
                "\nRelays: ",
                safe_line(relays),
                *defenses,
            )
        )

    # -- adding ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#add-button")
    @on(Input.Submitted, "#local-name")
    def add_pressed(self) -> None:
        text = self.query_one("#card-text", TextArea).text.strip()
        local = self.query_one("#local-name", Input).value.strip() or None
        error = self.query_one("#add-error", Static)
        if not text:
            error.update("Paste a card first.")
            return
        error.update("Adding…")
        self._add_contact(text, local)

    @work(thread=True, exclusive=True, group="add-contact")
    def _add_contact(self, text: str, local: str | None) -> None:
        """Adding writes the store: on a worker thread, the result back on the UI thread."""
        try:
            contact = self.session.contacts.add(text, local)
        except TuiSnsError as exc:
            self.app.call_from_thread(self.query_one("#add-error", Static).update, plain(f"⚠ {exc}"))
            return
        self.app.call_from_thread(self._added, contact)

    def _added(self, contact: Contact) -> None:
        self.query_one("#add-error", Static).update("")
        self.query_one("#card-text", TextArea).text = ""
        self.query_one("#local-name", Input).value = ""
        self.notify(
            f"Added {contact.name}. Compare safety numbers to verify them (v).",
            title="Contacts",
            markup=False,
        )
        self.reload()
        self.query_one("#tabs", TabbedContent).active = "list"
        self.query_one("#contacts", VimDataTable).move_cursor(
            row=[c.name for c in self.contacts].index(contact.name)
        )
        self.query_one("#contacts").focus()

    # -- my card --------------------------------------------------------------------------------

    @on(Input.Changed, "#card-name")
    def card_name_changed(self, event: Input.Changed) -> None:
        self.show_card(event.value)

    def show_card(self, display_name: str) -> None:
        relays = self._my_relays()
        try:
            card = self.session.contacts.my_card(display_name, relays=relays)
        except TuiSnsError as exc:
            self.query_one("#card-error", Static).update(plain(f"⚠ {exc}"))
            return
        self.query_one("#card-error", Static).update("")
        self.query_one("#my-card", Static).update(card)
        self.query_one("#my-qr", Static).update(qr_text(card))

    def _my_relays(self) -> tuple[str, ...]:
        relays = getattr(self.session, "relays", None)
        try:
            return tuple(relays.urls()) if relays is not None else ()
        except TuiSnsError:
            return ()

    # -- actions --------------------------------------------------------------------------------

    def action_add_contact(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "add"
        self.query_one("#card-text", TextArea).focus()

    def action_my_card(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "card"
        self.query_one("#card-name", Input).focus()

    def action_verify(self) -> None:
        c = self.selected
        if c is None:
            self.notify("Choose a contact first.")
            return
        number = self.session.contacts.safety_number(c.name)

        def done(match: bool | None) -> None:
            if match:
                write(
                    self,
                    lambda: self.session.contacts.mark_verified(c.name),
                    done=f"{c.name} is verified.",
                    title="Contacts",
                    then=lambda _: self.reload(),
                )

        self.app.push_screen(SafetyNumber(c.name, number, c.verified), done)

    def action_remove_contact(self) -> None:
        c = self.selected
        if c is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                write(
                    self,
                    lambda: self.session.contacts.remove(c.name),
                    done=f"Removed {c.name}.",
                    title="Contacts",
                    then=lambda _: self.reload(),
                )

        self.app.push_screen(
            Confirm(
                f"Remove {c.name}? Their entries on this device go too, and you will not seal new "
                "entries to them. Entries they already received stay with them.",
                yes="Remove",
            ),
            done,
        )

    def action_toggle_block(self) -> None:
        c = self.selected
        if c is None:
            return
        if c.blocked:
            self._defend(self.session.contacts.unblock, c.name, f"Unblocked {c.name}.")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._defend(self.session.contacts.block, c.name, f"Blocked {c.name}.")

        self.app.push_screen(
            Confirm(
                f"Block {c.name}? Their envelopes are dropped unopened, they leave every circle and "
                "nothing you write is sealed to them any more.",
                yes="Block",
            ),
            done,
        )

    def action_toggle_mute(self) -> None:
        c = self.selected
        if c is None:
            return
        if c.muted:
            self._defend(self.session.contacts.unmute, c.name, f"Unmuted {c.name}.")
        else:
            self._defend(
                self.session.contacts.mute,
                c.name,
                f"Muted {c.name}: their entries leave your timeline (they still read yours).",
            )

    def _defend(self, change: Callable[[str], None], name: str, done: str) -> None:
        try:
            change(name)
        except TuiSnsError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(done, title="Contacts", markup=False)
        self.reload()

    # -- requests -------------------------------------------------------------------------------

    def reload_requests(self) -> None:
        self.requests = self.session.requests.list()
        table = self.query_one("#request-table", VimDataTable)
        row = table.cursor_row
        table.clear()
        for r in self.requests:
            table.add_row(
                plain(r.card_name),
                plain(_one_line(r.note) or "—"),
                plain(local_time(r.received)),
                key=str(r.id),
            )
        if self.requests:
            table.move_cursor(row=min(max(row, 0), len(self.requests) - 1))
        count = len(self.requests)
        tab = self.query_one("#tabs", TabbedContent).get_tab("requests")
        tab.label = f"Requests ({count})" if count else "Requests"
        self.show_request()

    @property
    def selected_request(self) -> RequestView | None:
        table = self.query_one("#request-table", VimDataTable)
        if not self.requests or not 0 <= table.cursor_row < len(self.requests):
            return None
        return self.requests[table.cursor_row]

    @on(VimDataTable.RowHighlighted, "#request-table")
    def show_request(self) -> None:
        info = self.query_one("#request-info", Static)
        r = self.selected_request
        if r is None:
            info.update("No contact requests. Someone who has your card can ask you to add them.")
            return
        # Built from parts, never parsed: a stranger's "[" before our own "[b]" broke markup escaping.
        info.update(
            Content.assemble(
                (safe_line(r.card_name), "bold"),
                " asks you to add them.\nNote: ",
                safe_line(r.note) or "—",
                f"\nKey: {r.public_key[:16]}…\nRelays: ",
                safe_line(", ".join(r.relays) or "none"),
                "\n\n",
                ("a", "bold"),
                " accepts (under a name you choose), ",
                ("x", "bold"),
                " rejects. Compare safety numbers after accepting to be sure who it is.",
            )
        )

    def action_requests(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "requests"
        self.query_one("#request-table").focus()

    def action_accept_request(self) -> None:
        r = self.selected_request
        if r is None or self.query_one("#tabs", TabbedContent).active != "requests":
            self.action_requests()
            return

        def done(name: str | None) -> None:
            if name is None:
                return

            def accepted(_: Contact) -> None:
                self.reload_requests()
                self.reload()

            write(
                self,
                lambda: self.session.requests.accept(r.id, name.strip() or None),
                done=lambda contact: f"Added {contact.name}. Compare safety numbers to verify them (v).",
                title="Contacts",
                then=accepted,
            )

        def check(name: str) -> None:
            if name.strip():
                self.session.contacts.ensure_name_free(name.strip())

        self.app.push_screen(
            Ask(f"Add {r.card_name} as (the name you will call them):", r.card_name, check, ok="Accept"),
            done,
        )

    def action_reject_request(self) -> None:
        r = self.selected_request
        if r is None or self.query_one("#tabs", TabbedContent).active != "requests":
            self.action_requests()
            return

        def done(yes: bool | None) -> None:
            if yes:
                write(
                    self,
                    lambda: self.session.requests.reject(r.id),
                    done=f"Rejected {r.card_name}'s request.",
                    title="Contacts",
                    then=lambda _: self.reload_requests(),
                )

        self.app.push_screen(Confirm(f"Reject {r.card_name}'s request?", yes="Reject"), done)

    def action_back(self) -> None:
        self.dismiss(None)


def status_of(c: ContactView) -> str:
    if c.blocked:
        return "blocked"
    if c.muted:
        return "muted"
    return ""


def _one_line(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
