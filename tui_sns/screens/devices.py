"""Linking devices in the app (docs/design-v2.md §9.5): on a device that has the diary, a screen shows
a one-time code and its QR code and asks the person to compare the 6-digit string; on a new device,
the first run's "Link to an existing diary" takes the code and makes this device part of the diary.
The Devices screen lists my devices and removes one or resets the keys (§10), each after a question.

Both run the core's linking (``tui_sns.core.linking``) on a thread worker: the screen never waits
on a relay.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, LoadingIndicator, Static

from tui_sns.core.crashlog import notice
from tui_sns.core.display import safe_line
from tui_sns.core.errors import TuiSnsError
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import Confirm, VimDataTable, local_time, plain, qr_text

if TYPE_CHECKING:
    from tui_sns.core.session import KdfParams, Session


class LinkDeviceScreen(Screen[bool]):
    """Show a link code and its QR code, wait for the new device, ask to compare the string.
    Dismisses with True once a device was linked."""

    BINDINGS = bindings("link-device")

    def __init__(self, session: Session, relay: str, credential: str | None, timeout: int = 600) -> None:
        super().__init__()
        self.session = session
        self.relay = relay
        self.credential = credential
        self.timeout = timeout
        self.linked = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="link-device"):
            yield Static("Link a new device to this diary", classes="lead")
            yield Static("Making a code…", id="link-status", markup=False)
            yield Static("", id="link-code", classes="card-text", markup=False)
            yield Static("", id="link-qr", classes="qr")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Link a device"
        self.sub_title = self.session.name
        self.run_link()

    def _status(self, text: str) -> None:
        self.query_one("#link-status", Static).update(text)

    def _show_code(self, text: str, qr: str) -> None:
        self.query_one("#link-code", Static).update(text)
        self.query_one("#link-qr", Static).update(qr_text(qr))
        self._status(
            "On the new device choose “Link to an existing diary” and type this code (or scan the QR "
            f"code), with the relay {self.relay}. It works once, for {self.timeout // 60} minutes."
        )

    @work(thread=True, exclusive=True, group="link-device")
    def run_link(self) -> None:
        from tui_sns.core.linking import LinkAborted, host_link

        def show(code: Any, qr: str) -> None:
            self.app.call_from_thread(self._show_code, code.text, qr)

        def confirm(hello: Any) -> bool:
            answer: list[bool | None] = []
            done = threading.Event()

            def ask() -> None:
                question = (
                    f"{safe_line(hello.name)!r} wants to join this diary; it shows {hello.sas_shown}. "
                    "Is that the same string?"
                )

                def answered(yes: bool | None) -> None:
                    answer.append(yes)
                    done.set()

                self.app.push_screen(Confirm(question, yes="Same: link it"), answered)

            self.app.call_from_thread(ask)
            done.wait(self.timeout)
            if not answer or answer[0] is None:  # closed unanswered, or the code ran out meanwhile
                raise LinkAborted("not confirmed: nothing was linked; the code is erased")
            return answer[0]

        try:
            hello = host_link(self.session, self.relay, self.credential, self.timeout, show, confirm)
        except TuiSnsError as exc:
            text = str(exc)  # (each says that nothing was linked, and why)
            self.app.call_from_thread(self._ended, text[:1].upper() + text[1:])
            return
        except Exception as exc:  # one line, a report without secrets
            self.app.call_from_thread(self._ended, notice(self.session.store.home, exc, "Linking failed"))
            return
        self.linked = True
        self.app.call_from_thread(self._ended, f"Linked {safe_line(hello.name)!r}: it now has this diary.")

    def _ended(self, text: str) -> None:
        self.query_one("#link-code", Static).update("")
        self.query_one("#link-qr", Static).update("")
        self._status(text)

    def action_cancel(self) -> None:
        self.dismiss(self.linked)


class JoinDeviceScreen(Screen["Session | None"]):
    """First run, "Link to an existing diary": the code, the relay, this device's name and a passphrase
    for this device's store. Dismisses with the new Session, or None (escape)."""

    BINDINGS = bindings("join-device")
    CSS_PATH = "onboarding.tcss"

    def __init__(self, home: Path, kdf: KdfParams) -> None:
        super().__init__()
        self.home = home
        self.kdf = kdf

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="onboarding"), Vertical(id="form", classes="card-box"):
            yield Static(
                "[b]Link to an existing diary[/b] — on the device that has it, open Relays and press "
                "the key for “Link device” (or run `tui-sns devices link`): it shows a code.",
                classes="lead",
            )
            yield Label("The code (tsl1-…), or the text of its QR code:")
            yield Input(id="join-code")
            yield Label("The relay it names (not needed with the QR text):")
            with Horizontal(id="relay-row"):
                yield Input(placeholder="https://relay.example", id="join-relay")
                yield Input(placeholder="credential (only if the relay asks)", id="join-credential")
            yield Label("This device's name:")
            yield Input(id="join-name", max_length=100)
            yield Label("A passphrase for this device (it unlocks the diary here):")
            yield Input(password=True, id="join-pass1")
            yield Label("The same passphrase again:")
            yield Input(password=True, id="join-pass2")
            yield Static("", id="join-sas", classes="lead", markup=False)
            yield Static("", id="join-error", classes="error")
            yield LoadingIndicator(id="joining")
            yield Button("Link this device", variant="primary", id="join")
        yield Footer()

    def on_mount(self) -> None:
        from tui_sns.core.devices import default_device_name

        self.title = "tui-sns"
        self.sub_title = "link to an existing diary"
        self.query_one("#joining").display = False
        self.query_one("#join-name", Input).value = default_device_name()
        self.query_one("#join-code", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#join")
    def join(self) -> None:
        from tui_sns.core.linking import parse_join_code

        value = {
            i: self.query_one(f"#{i}", Input).value.strip()
            for i in ("join-code", "join-relay", "join-credential", "join-name")
        }
        p1 = self.query_one("#join-pass1", Input).value
        p2 = self.query_one("#join-pass2", Input).value
        error = self.query_one("#join-error", Static)
        try:
            code, qr_relay, qr_credential = parse_join_code(value["join-code"])
        except TuiSnsError as exc:
            error.update(plain(f"⚠ {exc}"))
            return
        relay = value["join-relay"] or qr_relay
        if not relay:
            error.update("Give the relay the other device named.")
        elif not value["join-name"]:
            error.update("Give this device a name.")
        elif not p1:
            error.update("Choose a passphrase.")
        elif p1 != p2:
            error.update("The two passphrases differ. Type them again.")
        else:
            error.update("")
            self.query_one("#joining").display = True
            self.query_one("#join", Button).disabled = True
            self.run_join(code, relay, value["join-credential"] or qr_credential, value["join-name"], p1)

    @work(thread=True, exclusive=True, group="join-device")
    def run_join(self, code: Any, relay: str, credential: str | None, name: str, passphrase: str) -> None:
        from tui_sns.core.linking import join_link

        def show(sas: str) -> None:
            self.app.call_from_thread(
                self.query_one("#join-sas", Static).update,
                f"This device shows {sas}. Check that the other device shows the same, and confirm there.",
            )

        problems: list[str] = []

        def report(taken: Any) -> None:
            text = taken.problems()
            if text:
                problems.append(text)

        try:
            session = join_link(
                self.home, passphrase, code, relay, credential, name, show, kdf=self.kdf, on_report=report
            )
        except TuiSnsError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # one line, a report without secrets (never the passphrase)
            self.app.call_from_thread(self._failed, notice(self.home, exc, "Could not link this device"))
            return
        for text in problems:  # what of the other device's diary was not taken, in words
            self.app.call_from_thread(self.app.notify, text, title="Linked", timeout=10, markup=False)
        self.app.call_from_thread(self.dismiss, session)

    def _failed(self, text: str) -> None:
        self.query_one("#joining").display = False
        self.query_one("#join", Button).disabled = False
        self.query_one("#join-error", Static).update(plain(f"⚠ {text}"))


class DevicesScreen(Screen[None]):
    """My devices (design-v2 §10): name, added, last seen, removed. ``d`` removes the selected device
    and ``r`` resets the keys, each after a question; the lost-device advice follows a removal. A
    standing conflict between two resets (§10.2) is shown as its question."""

    BINDINGS = bindings("devices")
    DEFAULT_CSS = """
    #devices-pane { height: 1fr; }
    #devices { height: auto; max-height: 1fr; }
    #devices-note { height: auto; padding: 1 1 0 1; }
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.rows: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="devices-pane"):
            yield Label("My devices", classes="pane-title")
            yield VimDataTable(id="devices", cursor_type="row", zebra_stripes=True)
            yield Static("", id="devices-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "My devices"
        self.sub_title = self.session.name
        table = self.query_one("#devices", VimDataTable)
        table.add_columns("Device", "Added", "Last seen", "State")
        self.refresh_rows()
        table.focus()

    def refresh_rows(self, note: str | None = None) -> None:
        table = self.query_one("#devices", VimDataTable)
        try:
            self.rows = self.session.devices.list()
            conflict = self.session.resets.conflict()
        except TuiSnsError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        table.clear()
        for d in self.rows:
            state = "this device" if d.this else (f"removed {local_time(d.removed)}" if d.removed else "")
            seen = local_time(d.last_seen) if d.last_seen and not d.this else ""
            table.add_row(safe_line(d.name), local_time(d.added), seen, state)
        lines = [note] if note else []
        if conflict is not None:
            lines.append(conflict.question())
        self.query_one("#devices-note", Static).update("\n\n".join(lines))

    def _selected(self) -> Any:
        table = self.query_one("#devices", VimDataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_remove_device(self) -> None:
        device = self._selected()
        if device is None:
            return
        if device.this:
            self.notify(
                "This is the device you are using: remove it from another of your devices.",
                severity="warning",
                markup=False,
            )
            return
        question = (
            f"Remove {safe_line(device.name)!r}? It will read nothing written from now on, and every "
            "other device of yours switches to new keys."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._reset(device.devid)

        self.app.push_screen(Confirm(question, yes="Remove it"), answered)

    def action_reset_keys(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._reset(None)

        self.app.push_screen(
            Confirm("Start a new generation of keys on every device of yours?", yes="Reset the keys"),
            answered,
        )

    def _reset(self, devid: str | None) -> None:
        from tui_sns.core.resets import LOST_DEVICE_ADVICE

        try:
            result = self.session.resets.remove(devid) if devid else self.session.resets.reset_keys()
        except TuiSnsError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        done = (
            f"Keys reset (generation {result.generation}); they reach your other devices and your "
            "contacts at the next sync."
        )
        if result.removed:
            done = f"Removed {safe_line(', '.join(result.removed))!r}. {done} {LOST_DEVICE_ADVICE}"
        self.refresh_rows(done)
        self.notify(done.split(". ")[0] + ".", markup=False)

    def action_back(self) -> None:
        self.dismiss(None)
