"""The tui-sns application: unlock (or onboarding), then the diary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.theme import Theme

from tui_sns import paths
from tui_sns.core.session import DEFAULT_KDF, KdfParams, Session
from tui_sns.screens.actions import bindings
from tui_sns.screens.settings import load_keymap, load_theme, save_theme

if TYPE_CHECKING:
    from textual.command import Provider

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

    def on_mount(self) -> None:
        theme = load_theme(self.config_dir)
        if theme and theme in self.available_themes:
            self.theme = theme
        self.set_keymap(self.keymap)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
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
        from tui_sns.screens.main import MainScreen

        self.session = session
        self.push_screen(MainScreen(session, sync=self.sync))

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
        while len(self.screen_stack) > 1:
            screen = self.screen
            stop = getattr(screen, "stop_watching", None)
            if stop is not None:
                stop()
            await self.pop_screen()
            # its thread workers may still be reading the old store: let them finish first
            left = [w for w in self.workers if w.node is screen and w.is_running]
            if left:
                await self.workers.wait_for_complete(left)
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
        for screen in self.screen_stack:
            stop = getattr(screen, "stop_watching", None)
            if stop is not None:
                stop()
            flush = getattr(screen, "flush_reads_now", None)
            if flush is not None:
                flush()  # read state not written yet: before the store closes
        if self._owns_session and self.session is not None:
            self.session.close()


def run_app(home: Path, *, base: Path | None = None, **kwargs: Any) -> int:
    """Run the app on ``home``; ``base`` is where the personas live (default: derived from home)."""
    app = TuiSnsApp(home, base=base, **kwargs)
    app.run()
    return app.return_code or 0
