"""The tui-sns application: unlock (or onboarding), then the diary."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.content import Content
from textual.markup import MarkupError
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.theme import Theme

from tui_sns import paths
from tui_sns.core.display import safe_line, safe_text
from tui_sns.core.errors import TuiSnsError
from tui_sns.core.session import DEFAULT_KDF, KdfParams, Session
from tui_sns.screens.actions import bindings
from tui_sns.screens.settings import load_keymap, load_notify_new_entries, load_theme, save_theme

if TYPE_CHECKING:
    from textual.command import Provider

    from tui_sns.screens.syncing import SyncController

log = logging.getLogger(__name__)


def base_of(home: Path) -> Path:
    """The base home of a persona's home (``BASE/personas/NAME``), else the home itself."""
    if home.parent.name == "personas" and paths.PERSONA_RE.match(home.name):
        return home.parent.parent
    return home


def _actions_provider() -> type[Provider]:
    from tui_sns.screens.help import ActionsProvider  # imported when the palette first opens

    return ActionsProvider


class TuiSnsApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tui-sns"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {_actions_provider}

    def __init__(
        self,
        home: Path,
        session: Session | None = None,
        *,
        config_dir: Path | None = None,
        kdf: KdfParams = DEFAULT_KDF,
        sync: bool = True,
        base: Path | None = None,
    ) -> None:
        super().__init__()
        self.home = home
        self.base = base if base is not None else base_of(home)  # where the personas live
        self.session = session
        self._owns_session = False
        self.config_dir = config_dir if config_dir is not None else paths.config_dir()
        self.kdf = kdf
        self.sync = sync
        self.keymap, self._keymap_problems = load_keymap(self.config_dir)
        self.notify_new_entries = load_notify_new_entries(self.config_dir)
        self.syncer: SyncController | None = None  # the open session's sync lifecycle
        self._crash_line: str | None = None  # set when the app stops on an unexpected error
        self._worker_failures: set[tuple[str, str]] = set()  # reported once each
        self._held: list[dict[str, Any]] = []  # toasts raised while a dialog was up

    # -- others' text never drives the terminal: the title bar and every toast pass through here ----

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header's title: both parts as one safe line each (a persona's or contact's name may
        hold anything), never markup."""
        return super().format_title(safe_line(title, 200), safe_line(sub_title, 200))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast: control characters made visible (``safe_text``), and markup that does not
        parse (someone's ``[/x]``) shown as written instead of crashing the app. Not over a dialog:
        a toast there would cover the very text (a safety number, a question) the person is
        reading; those wait, and appear when the dialog closes."""
        if self._screen_stack and isinstance(self.screen, ModalScreen):
            self._held.append(
                {
                    "message": message,
                    "title": title,
                    "severity": severity,
                    "timeout": timeout,
                    "markup": markup,
                }
            )
            return
        message, title = safe_text(message), safe_line(title, 200)
        if markup:
            try:
                Content.from_markup(message)
            except MarkupError:
                markup = False
        kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        super().notify(message, title=title, severity=severity, markup=markup, **kwargs)

    # -- failures: one line for the person, a report without secrets for the log --------------------

    def _handle_exception(self, error: Exception) -> None:
        """Textual's default prints the traceback with every frame's local variables (the passphrase,
        the database key, the entry being saved). Here: a worker's failure becomes one notice and
        the app keeps running; anything else stops the app with one line naming a crash log that
        holds the traceback without locals (tui_sns.core.crashlog)."""
        from textual.worker import WorkerFailed

        from tui_sns.core.crashlog import notice

        if isinstance(error, WorkerFailed) and self.is_running and self._crash_line is None:
            seen = (type(error.error).__name__, str(error.error))
            if seen in self._worker_failures:  # a poll failing every 2 s: said (and logged) once
                return
            self._worker_failures.add(seen)
            self.notify(
                notice(self.home, error.error, "Something failed")
                + " The app keeps running; try again, or restart it if something looks wrong.",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        self._return_code = 1
        if self._exception is None:  # as Textual does: a test run re-raises it
            self._exception = error
            self._exception_event.set()
        line = notice(self.home, error.error if isinstance(error, WorkerFailed) else error, "tui-sns stopped")
        self._crash_line = line
        self.panic()  # exits; the line is printed once the terminal is restored

    def _print_error_renderables(self) -> None:
        """After the app left the terminal: the crash line, written whole (not cropped to the
        terminal's width, so the log's path can be copied)."""
        super()._print_error_renderables()
        if self._crash_line is not None:
            sys.stderr.write(safe_line(self._crash_line) + "\n")
            sys.stderr.flush()
            self._crash_line = None

    def _show_held(self, screen: Screen[Any]) -> None:
        if self._held and not isinstance(screen, ModalScreen):
            held, self._held = self._held, []
            for note in held:
                self.notify(**note)

    def on_mount(self) -> None:
        theme = load_theme(self.config_dir)
        if theme and theme in self.available_themes:
            self.theme = theme
        self.set_keymap(self.keymap)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.screen_change_signal.subscribe(self, self._show_held)
        for problem in self._keymap_problems:
            self.notify(problem, title="Keymap", severity="warning")
        if self.session is not None:
            self.open_session(self.session)
        elif Session.exists(self.home):
            from tui_sns.screens.onboarding import UnlockScreen

            self.push_screen(UnlockScreen(self.home), self._unlocked)
        else:
            from tui_sns.screens.onboarding import OnboardingScreen

            self.push_screen(OnboardingScreen(self.home, self.kdf), self._unlocked)

    def _unlocked(self, session: Session | None) -> None:
        if session is None:
            self.exit()
            return
        self._owns_session = True
        self.open_session(session)

    def open_session(self, session: Session) -> None:
        from tui_sns.core.editing import remove_stale
        from tui_sns.screens.main import MainScreen
        from tui_sns.screens.syncing import SyncController

        remove_stale(session.store.home)  # $EDITOR files an earlier run left behind hold plaintext
        self.session = session
        self.syncer = SyncController(self, session, enabled=self.sync)
        self.push_screen(MainScreen(session, self.syncer))

    def announce_new_entries(self, count: int) -> None:
        """Beyond the in-app toast, if the settings ask for it: the terminal bell, or a desktop
        notification (``notify-send``, where present; else the bell). It says how many, never who or
        what: a desktop notification can be seen, and logged, outside the app."""
        if self.notify_new_entries == "off":
            return
        if self.notify_new_entries == "desktop":
            import shutil
            import subprocess

            program = shutil.which("notify-send")
            if program is not None:
                noun = "entry" if count == 1 else "entries"
                try:
                    subprocess.Popen(
                        [program, "--app-name=tui-sns", "tui-sns", f"{count} new {noun}"],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                    return
                except OSError as exc:
                    log.warning("notify-send failed: %s", exc)
        self.bell()

    # -- personas -------------------------------------------------------------------------------

    def choose_persona(self) -> None:
        from tui_sns.screens.personas import PersonaScreen

        self.push_screen(PersonaScreen(self.base, self.home), self._persona_chosen)

    def _persona_chosen(self, home: Path | None) -> None:
        from tui_sns.screens.onboarding import OnboardingScreen, UnlockScreen

        if home is None:
            return
        if home == self.home:
            self.notify("That persona is already open.")
            return
        if Session.exists(home):
            label = home.name if home != self.base else "main identity"
            screen: Any = UnlockScreen(home, label=label, cancellable=True)
        else:
            screen = OnboardingScreen(home, self.kdf, cancellable=True)

        def unlocked(session: Session | None) -> None:
            self._switch_to(home, session)

        self.push_screen(screen, unlocked)

    @work(exclusive=True, group="persona")
    async def _switch_to(self, home: Path, session: Session | None) -> None:
        """Leave the open persona (its screens, sync and store) and open ``session``."""
        if session is None:
            return
        old, owned = self.session, self._owns_session
        syncer = self.syncer
        if syncer is not None:
            syncer.stop()
        while len(self.screen_stack) > 1:
            screen = self.screen
            await self.pop_screen()
            # its thread workers may still be reading the old store: let them finish first
            left = [w for w in self.workers if w.node is screen and w.is_running]
            if left:
                await self.workers.wait_for_complete(left)
        if syncer is not None:
            await asyncio.to_thread(syncer.join)  # its threads may still be reading the old store
        if owned and old is not None:
            old.close()
        self.home = home
        self._owns_session = True
        self.open_session(session)
        self.notify(f"Now writing as {session.name}.", title="Persona")

    def _remember_theme(self, theme: Theme) -> None:
        try:
            save_theme(self.config_dir, theme.name)
        except OSError as exc:
            log.warning("cannot remember the theme: %s", exc)

    def action_show_help(self) -> None:
        from tui_sns.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        if self.syncer is not None:
            self.syncer.stop()
            self.syncer.join(timeout=3.0)  # as long as the watcher was always given to stop
        if self.session is not None:
            with contextlib.suppress(TuiSnsError):
                self.session.reads.flush()  # read state not written yet: before the store closes
            if self._owns_session:
                self.session.close()


def run_app(home: Path, *, base: Path | None = None, **kwargs: Any) -> int:
    """Run the app on ``home``; ``base`` is where the personas live (default: derived from home)."""
    app = TuiSnsApp(home, base=base, **kwargs)
    app.run()
    return app.return_code or 0
