"""Comments under an entry (the list in the reading pane), the comment composer, the entry editor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, ListItem, Static, TextArea

from tui_sns.core.display import safe_line, safe_text
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import VimListView, local_time

if TYPE_CHECKING:
    from tui_sns.core.comments import Comment
    from tui_sns.core.records import Post


class CommentItem(ListItem):
    def __init__(self, comment: Comment) -> None:
        who = "me" if comment.mine else comment.author
        text = Text.assemble(  # others' names and text: never markup, never a control character
            (safe_line(who), "bold"),
            (f" · {local_time(comment.created)}", "dim"),
            "\n",
            safe_text(comment.body),
        )
        if comment.warning:
            text.append(f"\n⚠ {safe_line(comment.warning)}", style="bold")
        super().__init__(Static(text, classes="comment-text"), classes="comment")
        self.comment = comment


class CommentList(VimListView):
    """The visible comments of the entry in the reading pane, oldest first. Hidden ones never arrive
    here (``session.comments.list`` leaves them out)."""

    BINDINGS = [*VimListView.BINDINGS, *bindings("comments")]

    def show(self, comments: list[Comment]) -> None:
        self.clear()
        self.extend(CommentItem(c) for c in comments)
        self.display = bool(comments)
        if comments:
            self.index = 0

    @property
    def selected(self) -> Comment | None:
        item = self.highlighted_child
        return item.comment if isinstance(item, CommentItem) else None

    # the screen knows which entry is shown and owns the session
    def action_hide_comment(self) -> None:
        getattr(self.screen, "action_hide_comment", lambda: None)()

    def action_delete_comment(self) -> None:
        getattr(self.screen, "action_delete_comment", lambda: None)()


class CommentComposer(ModalScreen["str | None"]):
    """A small composer for one comment: dismisses with the text (ctrl+s) or None (escape)."""

    BINDINGS = bindings("comment")

    def __init__(self, post: Post) -> None:
        super().__init__()
        self.post = post

    def compose(self) -> ComposeResult:
        about = self.post.title or "this entry"
        who = "me" if self.post.mine else (self.post.author or "?")
        with Vertical(classes="dialog", id="comment-dialog"):
            yield Label(
                Text.assemble("Comment on ", (safe_line(about, 200), "bold"), f" by {safe_line(who)}"),
                classes="dialog-text",
            )
            yield TextArea(id="comment-body", soft_wrap=True, show_line_numbers=False)
            yield Static(
                "Readable by exactly the entry's readers and its author. ctrl+s sends, escape discards.",
                classes="hint",
            )
            yield Static("", id="comment-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#comment-body", TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one("#comment-body", TextArea).text
        if not text.strip():
            self.query_one("#comment-error", Static).update("Write something first (or escape).")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EntryEditor(ModalScreen["tuple[str, str] | None"]):
    """Edit my entry's title and body: dismisses with (title, body) or None. The audience stays."""

    BINDINGS = bindings("edit")

    def __init__(self, post: Post) -> None:
        super().__init__()
        self.post = post

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="edit-dialog"):
            yield Label(
                "Edit the entry — its readers get the new text; the audience stays", classes="dialog-text"
            )
            yield Input(self.post.title, placeholder="Title (optional)", id="edit-title", max_length=200)
            yield TextArea(self.post.body, id="edit-body", soft_wrap=True, show_line_numbers=False)
            yield Static("ctrl+s saves (for every reader) · esc leaves the entry unchanged", classes="hint")
            yield Static("", id="edit-error", classes="error")

    def on_mount(self) -> None:
        body = self.query_one("#edit-body", TextArea)
        body.focus()
        body.move_cursor(body.document.end)  # where one usually goes on writing

    def action_save(self) -> None:
        title = self.query_one("#edit-title", Input).value
        body = self.query_one("#edit-body", TextArea).text
        if not title.strip() and not body.strip():
            self.query_one("#edit-error", Static).update("An entry needs a title or a body.")
            return
        self.dismiss((title, body))

    def action_cancel(self) -> None:
        self.dismiss(None)
