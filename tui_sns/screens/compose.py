"""The composer: title, body, audience (closed by default), a live line saying who can read it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Static, TextArea
from textual.widgets.selection_list import Selection

from tui_sns.core.crashlog import cause, notice
from tui_sns.core.diary import not_forward_secret_sentence
from tui_sns.core.display import safe_line
from tui_sns.core.editing import editor_command, new_edit_file, read_edit_file
from tui_sns.core.errors import InvalidInput, TuiSnsError
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import VimSelectionList, plain, plain_text

if TYPE_CHECKING:
    from tui_sns.core.diary import PostResult
    from tui_sns.core.session import Session


class ComposeScreen(Screen["PostResult | None"]):
    BINDINGS = bindings("compose")
    CSS_PATH = "compose.tcss"
    AUTOSAVE_SECONDS = 2.0

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.chosen: set[str] = set()  # closed by default: nothing chosen means "only me"
        self._options: list[tuple[str, str]] = []  # (value, prompt)
        self._dirty = False
        self._sealing = False
        self._leaving = False  # saving the draft on the way out
        self._unsaved_ok = False  # the draft could not be saved: Esc again leaves without it
        self._not_fs: list[str] = []  # chosen readers who would get the v1 fallback (design-v2 §7)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compose"):
            with Vertical(id="write"):
                yield Input(placeholder="Title (optional)", id="title", max_length=200)
                yield TextArea(id="body", language="markdown", soft_wrap=True, show_line_numbers=False)
                yield Static("", id="draft-state")
            with Vertical(id="audience-pane"):
                yield Label("Who can read it", classes="pane-title")
                yield Input(placeholder="Type to filter circles and contacts", id="filter")
                yield VimSelectionList(id="audience")
                yield Static("Nothing chosen: only you.", id="audience-hint")
        yield Static("", id="readable")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "New entry"
        self.sub_title = "closed by default"
        options: list[tuple[str, str]] = []
        for circle in self.session.circles.list():
            size = len(circle.members)
            options.append((circle.name, f"◎ {circle.name}  ({size} {'person' if size == 1 else 'people'})"))
        for contact in self.session.contacts.list():
            mark = " ✓" if contact.verified else ""
            options.append((contact.name, f"  {contact.name}{mark}"))
        self._options = options
        self._fill_options("")
        draft = self.session.drafts.load()
        if draft is not None:
            self.query_one("#title", Input).value = draft.title
            self.query_one("#body", TextArea).text = draft.body
            self._dirty = False
            note = f"Draft restored (saved {draft.updated[:16].replace('T', ' ')} UTC)."
            if draft.audience:
                note += " Choose its audience again: it is only you until you do."
            self.query_one("#draft-state", Static).update(note)
            self.notify("Your unsent draft is back.", title="Draft")
        self.update_readable()
        self.query_one("#title", Input).focus()
        self.set_interval(self.AUTOSAVE_SECONDS, self.autosave)

    # -- audience -------------------------------------------------------------------------------

    def _fill_options(self, needle: str) -> None:
        picker = self.query_one("#audience", VimSelectionList)
        picker.clear_options()
        needle = needle.casefold().strip()
        picker.add_options(
            Selection(plain(prompt), value, value in self.chosen)
            for value, prompt in self._options
            if not needle or needle in value.casefold()
        )
        if not self._options:
            self.query_one("#audience-hint", Static).update(
                "No circles or contacts yet: this entry will be readable by you alone."
            )

    @on(Input.Submitted, "#title")
    def title_submitted(self) -> None:
        self.query_one("#body", TextArea).focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self._fill_options(event.value)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.query_one("#audience").focus()

    @on(VimSelectionList.SelectionToggled, "#audience")
    def toggled(self, event: VimSelectionList.SelectionToggled[str]) -> None:
        value = event.selection.value
        if value in event.selection_list.selected:
            self.chosen.add(value)
        else:
            self.chosen.discard(value)
        self._dirty = True
        self.update_readable()

    def update_readable(self) -> None:
        line = self.query_one("#readable", Static)
        try:
            audience = self.session.diary.audience(sorted(self.chosen))
        except TuiSnsError as exc:
            line.update(plain(f"⚠ {exc}"))
            return
        lines = [("🔒 " if audience.only_me else "👁 ") + audience.describe()]
        self._not_fs = [] if audience.only_me else self.session.diary.not_forward_secret(audience.readers)
        if self._not_fs:  # design-v2 §7: said under the audience line
            lines.append(not_forward_secret_sentence(self._not_fs))
            if self.session.epochs.require_forward_secrecy:
                lines[-1] += " Send is off: require_forward_secrecy is on."
            elif later := self.session.diary.handed_over_sentence(self._not_fs):
                lines.append(later)  # my v1 sender device seals for them
        # each line made safe on its own, so the breaks between them stay breaks (not "␤")
        line.update(plain_text("\n".join(safe_line(part) for part in lines)))
        line.set_class(audience.only_me, "-only-me")
        hint = "Nothing chosen: only you." if not self.chosen else "Chosen: " + ", ".join(sorted(self.chosen))
        if self._options:
            self.query_one("#audience-hint", Static).update(plain(hint))

    # -- drafts ---------------------------------------------------------------------------------

    @on(Input.Changed, "#title")
    @on(TextArea.Changed, "#body")
    def edited(self) -> None:
        self._dirty = True

    def _content(self) -> tuple[str, str]:
        return self.query_one("#title", Input).value, self.query_one("#body", TextArea).text

    def autosave(self) -> None:
        if self._dirty and not self._sealing:
            self._dirty = False
            title, body = self._content()
            self.save_draft(title, body, sorted(self.chosen))

    @work(thread=True, group="draft")
    def save_draft(self, title: str, body: str, audience: list[str]) -> None:
        try:
            self.session.drafts.save(title, body, audience)
        except TuiSnsError as exc:  # keep typing even if the store is unhappy; say so
            self.app.call_from_thread(self.notify, f"Draft not saved: {exc}", severity="warning")
            return
        self.app.call_from_thread(self.query_one("#draft-state", Static).update, "Draft saved.")

    # -- actions --------------------------------------------------------------------------------

    def action_focus_audience(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_back(self) -> None:
        if self._sealing or self._leaving:
            return
        if self._unsaved_ok:  # the draft could not be saved and the person chose to leave anyway
            self.dismiss(None)
            return
        self._leaving = True
        title, body = self._content()
        self.leave(title, body, sorted(self.chosen))

    @work(thread=True, exclusive=True, group="leave")
    def leave(self, title: str, body: str, audience: list[str]) -> None:
        """Save the draft off the UI thread, then close. If it cannot be saved (a full disk, a
        read-only store), the composer stays open with its text; Esc again leaves without it."""
        try:
            self.session.drafts.save(title, body, audience)
        except TuiSnsError as exc:
            self.app.call_from_thread(self._not_left, str(exc))
            return
        self.app.call_from_thread(self.dismiss, None)

    def _not_left(self, error: str) -> None:
        self._leaving = False
        self._unsaved_ok = True
        self.notify(
            f"Draft not saved: {error}. Your text is still here; Esc again leaves without saving it.",
            severity="warning",
            markup=False,
        )

    def action_seal(self) -> None:
        if self._sealing:
            return
        title, body = self._content()
        if not title.strip() and not body.strip():
            self.notify("Write a title or a body first.", severity="warning")
            return
        if self._not_fs and self.session.epochs.require_forward_secrecy:
            self.notify(not_forward_secret_sentence(self._not_fs), title="Not sealed", severity="warning")
            return
        self._sealing = True
        self.query_one("#draft-state", Static).update("Sealing…")
        self.seal(title, body, sorted(self.chosen))

    @work(thread=True, exclusive=True, group="seal")
    def seal(self, title: str, body: str, to: list[str]) -> None:
        try:
            result = self.session.diary.post(body, title=title, to=to)
        except TuiSnsError as exc:  # e.g. a full disk: the text stays on screen
            self.app.call_from_thread(self._seal_failed, str(exc))
            return
        except Exception as exc:  # a full disk, a damaged store: the text stays here, never in a log
            self.app.call_from_thread(self._seal_failed, notice(self.session.store.home, exc, "Not sealed"))
            return
        with contextlib.suppress(TuiSnsError):  # sealed; a draft left behind is only a stale draft
            self.session.drafts.delete()
        self.app.call_from_thread(self._sealed, result)

    def _seal_failed(self, error: str) -> None:
        self._sealing = False
        self.query_one("#draft-state", Static).update(plain(f"⚠ {error}"))
        self.notify(error, title="Not sealed", severity="error")

    def _sealed(self, result: PostResult) -> None:
        if result.audience.only_me:
            self.app.notify("Saved. Readable by you alone.", title="Entry")
        else:
            self.app.notify(f"Sealed and queued. {result.audience.describe()}", title="Entry")
        self.dismiss(result)

    def action_external_editor(self) -> None:
        """Edit the body in ``$VISUAL``/``$EDITOR``. The file lives in the home directory (0600) and is
        removed only once its text is in the draft; a bad ``$EDITOR`` or an editor that saved bytes
        that are not UTF-8 is one notice, never a crash (tui_sns.core.editing)."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        body = self.query_one("#body", TextArea)
        if not editor:
            self.notify("$EDITOR is not set: keep writing here.", title="Editor")
            return
        try:
            argv = editor_command(editor)
        except InvalidInput as exc:
            self.notify(str(exc), title="Editor", severity="warning", markup=False)
            return
        home = self.session.store.home
        try:
            path = new_edit_file(home, body.text)
        except OSError as exc:
            self.notify(
                f"Cannot hand the text to $EDITOR: {exc.strerror}", title="Editor", severity="warning"
            )
            return
        keep = False
        try:
            try:
                with self.app.suspend():
                    code = subprocess.call([*argv, str(path)])
            except SuspendNotSupported:
                self.notify("Cannot hand the terminal to $EDITOR here: keep writing here.", title="Editor")
                return
            except OSError as exc:
                self.notify(f"Cannot start {argv[0]}: {exc.strerror}", title="Editor", severity="warning")
                return
            if code != 0:
                self.notify(f"{argv[0]} exited with status {code}; the text was not changed.", title="Editor")
                return
            try:
                text, clean = read_edit_file(path)
            except OSError as exc:
                keep = True
                self.notify(
                    f"Cannot read {path}: {exc.strerror}", title="Editor", severity="error", markup=False
                )
                return
            body.text = text
            self._dirty = True
            title = self.query_one("#title", Input).value
            try:
                self.session.drafts.save(title, text, sorted(self.chosen))  # safe before the file goes
                self._dirty = False
            except Exception as exc:
                keep = True
                self.notify(
                    f"Draft not saved ({cause(exc)}): the editor's text is still in {path}",
                    title="Editor",
                    severity="error",
                    markup=False,
                )
                return
            if not clean:
                self.notify(
                    "The editor saved bytes that are not UTF-8 (another encoding?): they show as �. "
                    "Check the text before sealing.",
                    title="Editor",
                    severity="warning",
                )
        finally:
            if not keep:
                path.unlink(missing_ok=True)
