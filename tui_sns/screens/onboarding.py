"""First run (create an identity, optionally join a relay, show my card) and unlocking."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, LoadingIndicator, Static

from tui_sns.core.crashlog import notice
from tui_sns.core.display import safe_line
from tui_sns.core.errors import TuiSnsError, WrongPassphrase
from tui_sns.core.session import KdfParams, Session
from tui_sns.screens.widgets import plain, qr_text

if TYPE_CHECKING:
    pass


def strength(passphrase: str) -> tuple[str, str]:
    """A rough hint (label, css class). Long beats clever: words are fine."""
    n = len(passphrase)
    kinds = sum(
        any(test(ch) for ch in passphrase)
        for test in (str.islower, str.isupper, str.isdigit, lambda ch: not ch.isalnum())
    )
    words = len(passphrase.split())
    if n == 0:
        return "", ""
    if n < 8:
        return "Too short: use at least 12 characters (a few words are easy to remember).", "weak"
    if n < 12 and kinds < 3:
        return "Weak: make it longer.", "weak"
    if n >= 20 or (n >= 14 and (kinds >= 3 or words >= 4)):
        return "Strong.", "strong"
    return "Fair: longer is better (four or more words).", "fair"


class OnboardingScreen(Screen[Session]):
    """Dismisses with the new Session (after the card step)."""

    CSS_PATH = "onboarding.tcss"
    BINDINGS = [Binding("escape", "leave", "Quit", show=True, id="onboarding.quit")]

    def __init__(self, home: Path, kdf: KdfParams, *, cancellable: bool = False) -> None:
        super().__init__()
        self.home = home
        self.kdf = kdf
        self.session: Session | None = None
        self.cancellable = cancellable  # escape dismisses with None (a new persona) instead of quitting

    def action_leave(self) -> None:
        if self.cancellable:
            self.dismiss(None)
        else:
            self.app.exit()

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="onboarding"), Vertical(id="form", classes="card-box"):
            yield Static(
                "[b]Welcome to tui-sns[/b] — a diary whose entries are sealed to exactly "
                "the people you choose. Everything stays encrypted on this device.",
                classes="lead",
            )
            yield Label("Your display name (a pseudonym is fine — it is only what your cards show):")
            yield Input(placeholder="e.g. Ann or night-owl", id="name", max_length=100)
            yield Label("Passphrase (it unlocks your diary; it cannot be recovered):")
            yield Input(password=True, id="pass1")
            yield Static("", id="strength")
            yield Label("The same passphrase again:")
            yield Input(password=True, id="pass2")
            yield Label("Optional — join a relay to exchange entries (leave empty to skip):")
            with Horizontal(id="relay-row"):
                yield Input(placeholder="https://relay.example", id="relay-url")
                yield Input(placeholder="invite code", id="relay-code")
            yield Static("", id="onboarding-error", classes="error")
            yield LoadingIndicator(id="creating")
            with Horizontal(id="create-row"):
                yield Button("Create my diary", variant="primary", id="create")
                yield Button("Link to an existing diary", id="link-existing")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tui-sns"
        self.sub_title = "first run"
        self.query_one("#creating").display = False
        self.query_one("#name", Input).focus()

    @on(Input.Changed, "#pass1")
    def pass_changed(self, event: Input.Changed) -> None:
        label, cls = strength(event.value)
        hint = self.query_one("#strength", Static)
        hint.update(label)
        hint.set_classes(cls)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        order = ["name", "pass1", "pass2", "relay-url", "relay-code"]
        current = event.input.id or ""
        if current in order[:-1]:
            self.query_one(f"#{order[order.index(current) + 1]}", Input).focus()
        else:
            self.create()

    @on(Button.Pressed, "#create")
    def create(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        p1 = self.query_one("#pass1", Input).value
        p2 = self.query_one("#pass2", Input).value
        url = self.query_one("#relay-url", Input).value.strip()
        code = self.query_one("#relay-code", Input).value.strip()
        error = self.query_one("#onboarding-error", Static)
        if not name:
            error.update("Choose a display name.")
        elif not p1:
            error.update("Choose a passphrase.")
        elif p1 != p2:
            error.update("The two passphrases differ. Type them again.")
        elif bool(url) != bool(code):
            error.update("To join a relay give both its address and an invite code (or neither).")
        else:
            error.update("")
            self._busy(True)
            self.create_identity(name, p1, url, code)

    @on(Button.Pressed, "#link-existing")
    def link_existing(self) -> None:
        """This device joins a diary another device has (design-v2 §9.5)."""
        from tui_sns.screens.devices import JoinDeviceScreen

        def joined(session: Session | None) -> None:
            if session is not None:
                self.session = session

                # after the join screen has gone (two screens popped in one callback race the header)
                def finish() -> None:
                    self.dismiss(session)

                self.call_after_refresh(finish)

        self.app.push_screen(JoinDeviceScreen(self.home, self.kdf), joined)

    def _busy(self, busy: bool) -> None:
        self.query_one("#creating").display = busy
        self.query_one("#create", Button).disabled = busy

    @work(thread=True, exclusive=True)
    def create_identity(self, name: str, passphrase: str, url: str, code: str) -> None:
        try:
            session = Session.create(self.home, name, passphrase, self.kdf)
        except TuiSnsError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # one line, a report without secrets (never the passphrase)
            self.app.call_from_thread(self._failed, notice(self.home, exc, "Could not create the diary"))
            return
        relay_note = ""
        if url:
            try:
                session.relays.add(url, code)
                relay_note = f"Joined {url}."
            except TuiSnsError as exc:  # the identity exists; the relay can be joined later
                relay_note = f"Could not join {url}: {exc}. You can join later (tui-sns relay add)."
        self.app.call_from_thread(self._created, session, relay_note)

    def _failed(self, error: str) -> None:
        self._busy(False)
        self.query_one("#onboarding-error", Static).update(plain(f"⚠ {error}"))

    def _created(self, session: Session, relay_note: str) -> None:
        self.session = session
        if relay_note:
            self.notify(
                relay_note,
                title="Relay",
                severity="warning" if "not" in relay_note else "information",
                markup=False,
            )
        self.app.push_screen(CardScreen(session), lambda _: self.dismiss(session))


class CardScreen(Screen[None]):
    """My contact card after onboarding: text first (in view), then the QR code; ``c`` copies it."""

    CSS_PATH = "onboarding.tcss"
    BINDINGS = [
        Binding("c", "copy_card", "Copy card", id="card.copy"),
        Binding("escape,enter", "done", "Continue", id="card.continue"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.card = ""

    def compose(self) -> ComposeResult:
        relays = getattr(self.session, "relays", None)
        urls: tuple[str, ...] = ()
        if relays is not None:
            try:
                urls = tuple(relays.urls())
            except TuiSnsError:
                urls = ()
        card = self.card = self.session.contacts.my_card(relays=urls)
        yield Header()
        with VerticalScroll(id="card-screen"):
            yield Static(
                Text(f"Your contact card, {safe_line(self.session.name)}", style="bold"), classes="lead"
            )
            yield Static(card, id="card-text", classes="card-text", markup=False)
            yield Static(
                "Press [b]c[/b] to copy it. Send it to friends (any channel: it holds no secret), or let "
                "them scan the QR code below. They add it under Contacts (p, then n). Compare safety "
                "numbers afterwards to be sure nobody swapped it. You can see it again under Contacts "
                "→ My card. Enter opens your diary.",
                classes="hint",
            )
            yield Static(qr_text(card), id="card-qr", classes="qr")
            with Center():
                yield Button("Open my diary", variant="primary", id="done")
        yield Footer()

    def on_mount(self) -> None:
        # the card text, not the button at the bottom, is what must be in view
        scroller = self.query_one("#card-screen", VerticalScroll)
        scroller.focus(scroll_visible=False)
        scroller.scroll_home(animate=False)

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_copy_card(self) -> None:
        self.app.copy_to_clipboard(self.card)
        self.notify(
            "Your card is copied to the clipboard (where the terminal allows it). Paste it to a friend.",
            title="Card",
        )

    def action_done(self) -> None:
        self.dismiss(None)


class UnlockScreen(Screen[Session]):
    CSS_PATH = "onboarding.tcss"
    BINDINGS = [Binding("escape", "leave", "Quit", id="unlock.quit")]

    def __init__(self, home: Path, *, label: str = "", cancellable: bool = False) -> None:
        super().__init__()
        self.home = home
        self.attempts = 0
        self.label = label  # which persona, when switching
        self.cancellable = cancellable  # escape dismisses with None instead of quitting

    def action_leave(self) -> None:
        if self.cancellable:
            self.dismiss(None)
        else:
            self.app.exit()

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(id="unlock"), Vertical(classes="card-box"):
            lead = f"Unlock the persona [b]{escape(self.label)}[/b]" if self.label else "Unlock your diary"
            yield Static(f"[b]{lead}[/b]" if not self.label else lead, classes="lead")
            yield Input(password=True, placeholder="passphrase", id="passphrase")
            yield Static("", id="unlock-error", classes="error")
            yield LoadingIndicator(id="unlocking")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tui-sns"
        self.sub_title = "locked"
        self.query_one("#unlocking").display = False
        self.query_one("#passphrase", Input).focus()

    @on(Input.Submitted, "#passphrase")
    def submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            return
        field = self.query_one("#passphrase", Input)
        field.disabled = True
        self.query_one("#unlocking").display = True
        self.query_one("#unlock-error", Static).update("Unlocking…")
        self.unlock(event.value)

    @work(thread=True, exclusive=True)
    def unlock(self, passphrase: str) -> None:
        try:
            session = Session.unlock(self.home, passphrase)
        except WrongPassphrase:
            self.app.call_from_thread(self._failed, "Wrong passphrase. Try again.")
            return
        except TuiSnsError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # a damaged store: one line, a report without secrets, try again
            self.app.call_from_thread(self._failed, notice(self.home, exc, "Could not unlock"))
            return
        self.app.call_from_thread(self.dismiss, session)

    def _failed(self, message: Any) -> None:
        self.attempts += 1
        field = self.query_one("#passphrase", Input)
        field.disabled = False
        field.value = ""
        field.focus()
        self.query_one("#unlocking").display = False
        self.query_one("#unlock-error", Static).update(plain(f"⚠ {message}"))
