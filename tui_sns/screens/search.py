"""Search (``/`` in the diary): entries whose title, body or comments hold the words typed, as a
timeline of the audience the diary shows (a search in "Close friends" finds only what is in it).

The index is SQLite FTS5 inside the encrypted store (``Diary.search``); queries run on a thread
worker, the newest one winning. Enter on a result (or in the results) opens it in the diary's
reading pane; escape goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Markdown

from tui_sns.core.display import safe_line
from tui_sns.core.errors import TuiSnsError
from tui_sns.screens.actions import bindings
from tui_sns.screens.widgets import PAGE, EntryBody, Timeline, entry_markdown

if TYPE_CHECKING:
    from tui_sns.core.records import Post
    from tui_sns.core.session import Session
    from tui_sns.core.timeline import TimelineFilter


def audience_badge(post: Post) -> str:
    """The short audience of my entry ("Close friends, Bob" / "Only me"); nothing for others'."""
    if not post.mine:
        return ""
    audience = post.audience or {}
    names = [*audience.get("circles", []), *audience.get("contacts", [])]
    return ", ".join(names) if names else "Only me"


class SearchResults(Timeline):
    """The results: a timeline whose enter opens the highlighted entry in the diary."""

    def action_select(self) -> None:
        opener = getattr(self.screen, "action_open", None)
        if opener is not None:
            opener()


class SearchScreen(Screen["str | None"]):
    """Dismisses with the id of the entry to open, or None."""

    BINDINGS = bindings("search")
    DEFAULT_CSS = """
    #search-pane { height: 1fr; }
    #search-query { margin: 0 1; }
    #search-results { height: 1fr; }
    #search-preview { height: 1fr; border-top: hkey $panel-lighten-2; padding: 0 1; }
    """

    def __init__(self, session: Session, view: TimelineFilter) -> None:
        super().__init__()
        self.session = session
        self.view = view  # the diary's timeline filter: the search keeps it
        self.label = view.label
        self.words = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="search-pane"):
            yield Input(
                placeholder=f"Search in {self.label}: words in titles, bodies, comments", id="search-query"
            )
            yield Label(f"Search in {self.label}", id="search-title", classes="pane-title", markup=False)
            yield SearchResults(id="search-results")
            with VerticalScroll(id="search-preview"):
                yield EntryBody("", id="search-body")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Search"
        self.sub_title = self.label
        self.query_one("#search-query", Input).focus()

    @on(Input.Changed, "#search-query")
    def query_changed(self, event: Input.Changed) -> None:
        self.words = event.value
        self.run_search(event.value)

    @on(Input.Submitted, "#search-query")
    def query_submitted(self) -> None:
        results = self.query_one("#search-results", Timeline)
        if results.total:
            results.focus()

    @work(thread=True, exclusive=True, group="search")
    def run_search(self, words: str) -> None:
        diary = self.session.diary
        try:
            total = diary.search_count(words, self.view)
            first = diary.search(words, self.view, limit=PAGE) if total else []
        except TuiSnsError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Search", severity="error")
            return
        self.app.call_from_thread(self._show, words, total, first)

    def _show(self, words: str, total: int, first: list[Post]) -> None:
        if words != self.words:
            return  # a newer query is on its way
        diary, view = self.session.diary, self.view

        def fetch(offset: int, limit: int) -> list[Post]:
            if offset == 0 and limit == PAGE:
                return first
            return diary.search(words, view, limit=limit, offset=offset)

        self.query_one("#search-results", Timeline).reset(total, fetch, audience_badge)
        title = self.query_one("#search-title", Label)
        if not words.strip():
            title.update(f"Search in {self.label}")
        else:
            noun = "entry" if total == 1 else "entries"
            title.update(f"{safe_line(self.label)} · {total:,} {noun} with {safe_line(words.strip(), 80)!r}")
        if not total:
            self.query_one("#search-body", Markdown).update("")

    @on(Timeline.Highlighted)
    def preview(self, event: Timeline.Highlighted) -> None:
        post = event.post
        body = self.query_one("#search-body", Markdown)
        if post is None:
            body.update("")
            return
        body.update(entry_markdown(post.title, post.body))

    def action_open(self) -> None:
        post = self.query_one("#search-results", Timeline).highlighted
        if post is not None:
            self.dismiss(post.id)

    def action_focus_query(self) -> None:
        self.query_one("#search-query", Input).focus()

    def action_back(self) -> None:
        self.dismiss(None)
