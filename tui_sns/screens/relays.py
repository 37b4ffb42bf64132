"""Relays: the ones I joined and the ones my contacts' cards name, whether each answers, the last
successful sync with each; join one with an invite code, leave one.

Every network step (joining, probing) runs in a thread worker, so the screen never waits on a relay.
The screen talks to the core only: ``session.relays`` to join and leave, the sync engine's
``status()`` for reachability and the last successful sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from tui_sns.core.display import safe_line
from tui_sns.core.errors import TuiSnsError
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import Confirm, VimDataTable, local_time

if TYPE_CHECKING:
    from tui_sns.core.session import Session


class JoinRelay(ModalScreen["tuple[str, str] | None"]):
    """Ask for a relay's address and an invite code; dismisses with both, or None (escape)."""

    BINDINGS = bindings("relay-join")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="join-dialog"):
            yield Label(
                "Join a relay: its address and the invite code its operator gave you.", classes="dialog-text"
            )
            yield Input(placeholder="https://relay.example", id="relay-url")
            yield Input(placeholder="invite code", id="relay-code")
            yield Static("", id="join-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Join", variant="primary", id="join")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#relay-url", Input).focus()

    @on(Input.Submitted, "#relay-url")
    def url_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#relay-code", Input).focus()

    @on(Input.Submitted, "#relay-code")
    def code_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_join()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "join":
            self.action_join()
        else:
            self.dismiss(None)

    def action_join(self) -> None:
        url = self.query_one("#relay-url", Input).value.strip()
        code = self.query_one("#relay-code", Input).value.strip()
        if not url or not code:
            self.query_one("#join-error", Static).update("Give both the relay's address and an invite code.")
            return
        self.dismiss((url, code))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RelaysScreen(Screen[bool]):
    """Dismisses with True when relays were joined or left (the diary then restarts its sync)."""

    BINDINGS = bindings("relays")
    DEFAULT_CSS = """
    #relays-pane { height: 1fr; }
    #relays { height: 1fr; }
    #relay-detail { height: auto; padding: 1 1 0 1; }
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.rows: list[Any] = []  # RelayStatus, in table order
        self.changed = False
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="relays-pane"):
            yield Label("Relays", classes="pane-title")
            yield VimDataTable(id="relays", cursor_type="row", zebra_stripes=True)
            yield Static("", id="relay-detail", markup=False)
            yield Static(
                "A relay stores and serves sealed envelopes only: it never sees names, keys or text. "
                "Relays you joined carry what you send; relays your contacts' cards name are where "
                "their entries come from.",
                classes="hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Relays"
        self.sub_title = self.session.name
        table = self.query_one("#relays", VimDataTable)
        table.add_columns("Relay", "Whose", "Reachable", "Last successful sync")
        self.show_rows(self._status(probe=False))
        table.focus()
        self.probe()

    # -- status ---------------------------------------------------------------------------------

    def _status(self, probe: bool) -> Any:
        from tui_sns.screens.syncing import make_engine

        engine = make_engine(self.session)
        return engine.status(probe=probe) if engine is not None else None

    @work(thread=True, exclusive=True, group="relay-probe")
    def probe(self) -> None:
        """Ask every relay whether it answers (network: on a thread)."""
        try:
            status = self._status(probe=True)
        except Exception as exc:  # a probe must never take the screen down; say what happened
            self.app.call_from_thread(
                self.notify, f"Could not check the relays: {exc}", severity="warning", markup=False
            )
            return
        self.app.call_from_thread(self.show_rows, status)

    def action_link_device(self) -> None:
        """A one-time code (and QR code) that links a new device, through my first relay."""
        from tui_sns.screens.devices import LinkDeviceScreen

        try:
            relays = self.session.relays.list()
        except TuiSnsError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if not relays:
            self.notify("Join a relay first: both devices meet there.", severity="warning", markup=False)
            return
        self.app.push_screen(LinkDeviceScreen(self.session, relays[0].url, relays[0].credential))

    def action_devices(self) -> None:
        """The devices that share this diary (remove one, reset the keys)."""
        from tui_sns.screens.devices import DevicesScreen

        self.app.push_screen(DevicesScreen(self.session))

    def show_rows(self, status: Any) -> None:
        table = self.query_one("#relays", VimDataTable)
        row = table.cursor_row
        self.rows = list(status.relays) if status is not None else []
        table.clear()
        for relay in self.rows:
            whose = "mine" if relay.mine else "named by " + ", ".join(relay.named_by)
            reachable = _reachable(relay)
            last = local_time(relay.last_ok) if relay.last_ok else "never"
            table.add_row(
                Text(safe_line(relay.url)), Text(_cut(safe_line(whose), 30)), reachable, last, key=relay.url
            )
        if self.rows:
            table.move_cursor(row=min(max(row, 0), len(self.rows) - 1))
        self.show_detail()

    @property
    def selected(self) -> Any | None:
        table = self.query_one("#relays", VimDataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(VimDataTable.RowHighlighted, "#relays")
    def show_detail(self) -> None:
        detail = self.query_one("#relay-detail", Static)
        relay = self.selected
        if relay is None:
            detail.update(
                "No relays: your entries stay on this device. Press n to join one with an invite code."
            )
            return
        lines = [safe_line(relay.url)]
        if relay.state == "unreachable" and relay.detail:  # what the probe found just now
            lines.append(f"Unreachable: {safe_line(relay.detail, 300)}")
        if relay.error:  # words a relay sent us may be in it: one safe line
            lines.append(f"Last problem: {safe_line(relay.error, 300)}")
        if not relay.mine:
            lines.append("Named by a contact's card: you read from it; join it (n) to send through it too.")
        detail.update("\n".join(lines))

    # -- join, leave ----------------------------------------------------------------------------

    def action_join_relay(self) -> None:
        def done(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self.notify(f"Joining {answer[0]}…", title="Relays", timeout=3, markup=False)
                self.join(*answer)

        self.app.push_screen(JoinRelay(), done)

    @work(thread=True, exclusive=True, group="relay-join")
    def join(self, url: str, code: str) -> None:
        try:
            joined = self.session.relays.add(url, code)
        except TuiSnsError as exc:
            self.app.call_from_thread(
                self.notify, f"Could not join {url}: {exc}", title="Relays", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self._joined, joined)

    def _joined(self, url: str) -> None:
        self.changed = True
        self.notify(
            f"Joined {url}. New cards you share name it; entries you write go through it.",
            title="Relays",
            markup=False,
        )
        self.show_rows(self._status(probe=False))
        self.probe()

    def action_leave_relay(self) -> None:
        relay = self.selected
        if relay is None:
            return
        if not relay.mine:
            self.notify(
                "You did not join this relay: it is named by a contact's card, so their entries come "
                "from it. It goes away with them.",
                title="Relays",
            )
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.session.relays.remove(relay.url)
            except TuiSnsError as exc:
                self.notify(str(exc), title="Relays", severity="error", markup=False)
                return
            self.changed = True
            self.notify(f"Left {relay.url}. Nothing more is sent through it.", title="Relays", markup=False)
            self.show_rows(self._status(probe=False))

        self.app.push_screen(
            Confirm(
                f"Leave {relay.url}? Entries not yet delivered through it stay queued for your other "
                "relays; cards you share from now on no longer name it.",
                yes="Leave",
            ),
            done,
        )

    def action_probe(self) -> None:
        self.notify("Checking the relays…", title="Relays", timeout=2)
        self.probe()

    def action_back(self) -> None:
        self.dismiss(self.changed)


def _reachable(relay: Any) -> str:
    """The Reachable column: what the probe found (an error answer with its HTTP status, a refused
    credential, a contact's relay at a private address that was not contacted)."""
    if relay.state == "skipped":
        return "– not contacted"
    if relay.state == "error":
        return f"● error {relay.http_status}" if relay.http_status else "● error"
    if relay.state == "refused":
        return "● key refused"
    if relay.state == "unreachable" and relay.reason in _WHY_SHORT:
        return f"● no ({_WHY_SHORT[relay.reason]})"
    return {True: "● yes", False: "● no", None: "○ checking…"}[relay.reachable]


# Why a relay is unreachable, in the Reachable column (the detail pane has the sentence)
_WHY_SHORT = {
    "tls": "TLS",
    "dns": "name not found",
    "refused": "refused",
    "timeout": "timed out",
    "private": "private address",
    "proxy": "proxy",
}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
