"""Widgets shared by the screens: vim-key lists, the virtual timeline, QR codes, small dialogs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Button, DataTable, Input, Label, ListView, Markdown, SelectionList, Static

from tui_sns.core.display import safe_line, safe_text
from tui_sns.core.errors import TuiSnsError
from tui_sns.core.records import Post
from tui_sns.screens.actions import bindings

# -- others' text: never markup, never a control character ----------------------------------------


def plain(text: object, limit: int | None = None) -> Text:
    """One line of someone else's text as a rich Text: shown as written (no markup parsed), with
    every control character made visible (``safe_line``)."""
    return Text(safe_line(text, limit), no_wrap=False)


def plain_text(text: object) -> Text:
    """Several lines of someone else's text (newlines kept) as a rich Text: no markup, no control
    character (``safe_text``)."""
    return Text(safe_text(text))


# -- lists that also answer to vim keys ------------------------------------------------------------


class VimDataTable(DataTable[Any]):
    BINDINGS = bindings("list")

    def action_list_top(self) -> None:
        self.action_scroll_top()

    def action_list_bottom(self) -> None:
        self.action_scroll_bottom()


class VimListView(ListView):
    BINDINGS = bindings("list")

    def action_list_top(self) -> None:
        if len(self):
            self.index = 0

    def action_list_bottom(self) -> None:
        if len(self):
            self.index = len(self) - 1


class VimSelectionList(SelectionList[str]):
    BINDINGS = bindings("list")

    def action_list_top(self) -> None:
        self.action_first()

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_list_bottom(self) -> None:
        self.action_last()


# -- the timeline: a virtual list over the diary, fetched page by page -----------------------------

PAGE = 200
KEEP_PAGES = 8


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError, OverflowError):  # a time string from someone else: shown, not trusted
        return safe_line(iso, 16)


class Timeline(ScrollView, can_focus=True):
    """One line per entry, newest first. Holds no rows: it asks ``fetch(offset, limit)`` for the
    page it is about to draw and keeps a few pages cached, so 100,000 entries cost what 30 do."""

    BINDINGS = [
        *bindings("list"),
        Binding("up", "cursor_up", show=False),
        Binding("down", "cursor_down", show=False),
        Binding("pageup", "page_up", show=False),
        Binding("pagedown", "page_down", show=False),
        Binding("enter", "select", show=False),
    ]
    COMPONENT_CLASSES = {"timeline--cursor", "timeline--mine", "timeline--dim", "timeline--new"}
    DEFAULT_CSS = """
    Timeline { background: $surface; }
    Timeline > .timeline--cursor { background: $block-cursor-blurred-background; }
    Timeline:focus > .timeline--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    Timeline > .timeline--mine { color: $secondary; }
    Timeline > .timeline--dim { color: $text-muted; }
    Timeline > .timeline--new { color: $success; text-style: bold; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)
    NARROW = 70  # below this many cells: shorter author column, dates without the year

    class Highlighted(Message):
        def __init__(self, timeline: Timeline, post: Post | None, by_user: bool = True) -> None:
            super().__init__()
            self.timeline = timeline
            self.post = post
            self.by_user = by_user  # False when the list was reloaded under the cursor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total = 0
        self._fetch: Callable[[int, int], list[Post]] = lambda offset, limit: []
        self._badge: Callable[[Post], str] = lambda post: ""
        self._pages: OrderedDict[int, list[Post]] = OrderedDict()
        self.read: set[str] = set()  # read here since their page was fetched (the Post says unread)
        self._resetting = False

    def reset(
        self,
        total: int,
        fetch: Callable[[int, int], list[Post]],
        badge: Callable[[Post], str],
        keep_cursor: bool = False,
        cursor: int | None = None,
    ) -> None:
        """Show ``total`` entries from ``fetch``. The cursor goes to row ``cursor`` if given (the row its
        entry has now), else keeps its row (``keep_cursor``), else the top."""
        self.total = total
        self._fetch = fetch
        self._badge = badge
        self._pages.clear()
        self.virtual_size = Size(self.size.width, total)
        if cursor is not None:
            cursor = min(cursor, total - 1)
        else:
            cursor = min(self.cursor, total - 1) if keep_cursor else 0
        if not keep_cursor:
            self.scroll_to(y=0, animate=False)
        self._resetting = True
        try:
            self.cursor = max(cursor, 0)
        finally:
            self._resetting = False
        self.refresh()

    def post_at(self, index: int) -> Post | None:
        if not 0 <= index < self.total:
            return None
        number = index // PAGE
        page = self._pages.get(number)
        if page is None:
            page = self._fetch(number * PAGE, PAGE)
            self._pages[number] = page
            while len(self._pages) > KEEP_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(number)
        offset = index - number * PAGE
        return page[offset] if offset < len(page) else None

    def is_unread(self, post: Post) -> bool:
        return post.unread and post.id not in self.read

    @property
    def highlighted(self) -> Post | None:
        return self.post_at(self.cursor)

    # drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = self.scroll_offset.y + y
        base = self.rich_style
        post = self.post_at(index)
        if post is None:
            return Strip.blank(width, base)
        cursor = self.get_component_rich_style("timeline--cursor")
        style = base + cursor if index == self.cursor else base
        dim = self.get_component_rich_style("timeline--dim", partial=True)
        who_style = self.get_component_rich_style(
            "timeline--mine" if post.mine else "timeline--dim", partial=True
        )
        new = self.is_unread(post)
        mark = (
            ("● ", self.get_component_rich_style("timeline--new", partial=True)) if new else ("  ", Style())
        )
        narrow = width < self.NARROW
        when = local_time(post.created)[5:] if narrow else local_time(post.created)  # no year when narrow
        author = "me" if post.mine else (post.author or "?")
        badge = self._badge(post)
        title = post.title or _first_line(post.body)
        when_w, author_w = len(when) + 2, 10 if narrow else 14
        room = max(0, width - 2 - author_w - when_w)  # for the title and the badge
        badge_w = min(len(badge) + 2, room // 3) if badge else 0  # the title keeps two thirds
        title_w = room - badge_w
        cells = [
            mark,
            (_fit(author, author_w), who_style),
            (_fit(title, title_w), Style()),
            (_fit(badge, badge_w), dim),
            (_fit(when, when_w, right=True), dim),
        ]
        segments = [Segment(text, style + extra) for text, extra in cells]
        return Strip(segments).adjust_cell_length(width, style).crop(0, width)

    def watch_cursor(self, old: int, new: int) -> None:
        if self.total == 0:
            self.post_message(self.Highlighted(self, None, by_user=False))
            return
        clamped = max(0, min(new, self.total - 1))
        if clamped != new:
            self.cursor = clamped
            return
        self.scroll_to_region_index(clamped)
        self.refresh()
        self.post_message(self.Highlighted(self, self.post_at(clamped), by_user=not self._resetting))

    def scroll_to_region_index(self, index: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)

    # keys and mouse

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_page_down(self) -> None:
        self.cursor += max(1, self.scrollable_content_region.height - 1)

    def action_page_up(self) -> None:
        self.cursor -= max(1, self.scrollable_content_region.height - 1)

    def action_list_top(self) -> None:
        self.cursor = 0

    def action_list_bottom(self) -> None:
        self.cursor = max(0, self.total - 1)

    def action_select(self) -> None:
        self.post_message(self.Highlighted(self, self.highlighted))

    async def _on_click(self, event: events.Click) -> None:
        self.focus()
        index = self.scroll_offset.y + event.y
        if 0 <= index < self.total:
            self.cursor = index

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.total)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()
    return ""


def _fit(text: str, width: int, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells, always ending in a space (so that neighbouring columns
    never run together), cut with "…" when it does not fit."""
    if width <= 0:
        return ""
    if width == 1:
        return " "
    text = safe_line(text.replace("\n", " "))
    if len(text) > width - 1:
        text = text[: width - 2] + "…"
    return text.rjust(width - 1) + " " if right else text.ljust(width)


# -- QR codes -------------------------------------------------------------------------------------


QR_DARK = "#000000"
QR_LIGHT = "#ffffff"
_HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_text(data: str) -> Text:
    """The QR code of ``data`` drawn with half blocks (two modules per character cell).

    A block is a dark module, drawn in black on white with the recommended 4-module quiet zone,
    whatever the theme: scanners (a phone camera) expect dark modules on a light ground and do
    not try the inverse. segno's own terminal writer assumes a light-on-dark terminal and draws
    the light modules instead, which reads inverted once the colours are fixed.
    """
    import segno  # only the card screens draw QR codes

    code = segno.make(data, error="l")
    border = 4
    size = len(code.matrix)
    width = size + 2 * border

    def dark(row: int, col: int) -> bool:
        row, col = row - border, col - border
        return 0 <= row < size and 0 <= col < size and bool(code.matrix[row][col])

    lines = []
    for top in range(0, width, 2):
        lines.append(
            "".join(
                _HALF_BLOCKS[dark(top, col), top + 1 < width and dark(top + 1, col)] for col in range(width)
            )
        )
    return Text("\n".join(lines), style=Style(color=QR_DARK, bgcolor=QR_LIGHT), no_wrap=True, end="")


# -- dialogs --------------------------------------------------------------------------------------


class Confirm(ModalScreen[bool]):
    """A yes/no question; escape means no."""

    BINDINGS = [Binding("escape", "no", "Cancel", show=False), Binding("y", "yes", "Yes", show=False)]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain_text(self.question), classes="dialog-text")  # may quote others' names
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class Ask(ModalScreen[str | None]):
    """Ask for one line of text. The check may raise a ``TuiSnsError`` whose sentence is shown inline."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(
        self, question: str, value: str = "", check: Callable[[str], None] | None = None, ok: str = "OK"
    ) -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.check = check
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(plain_text(self.question), classes="dialog-text")
            yield Input(safe_line(self.value), id="answer")
            yield Static("", id="ask-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ok, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._try()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._try()
        else:
            self.dismiss(None)

    def _try(self) -> None:
        answer = self.query_one("#answer", Input).value
        if self.check is None:
            self.dismiss(answer)
            return
        # The check may write (create a circle, rename one): it runs on a worker thread, never on the
        # UI thread; the dialog stays open, its OK button disabled, until the check has answered.
        self.query_one("#ok", Button).disabled = True
        check = self.check

        def work() -> None:
            try:
                check(answer)
            except TuiSnsError as exc:  # the check's own sentence, shown inline
                self.app.call_from_thread(self._refused, exc)
                return
            self.app.call_from_thread(self.dismiss, answer)

        self.run_worker(work, thread=True, exclusive=True, group="ask", name="ask-check")

    def _refused(self, exc: TuiSnsError) -> None:
        self.query_one("#ask-error", Static).update(plain(exc))
        self.query_one("#ok", Button).disabled = False

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- an entry as its author wrote it --------------------------------------------------------------


def entry_markdown(title: str, body: str) -> str:
    """The Markdown the reading pane shows for an entry: its title as a heading, then the body.
    Markdown is rendered; control characters never are (``safe_line`` / ``safe_text``)."""
    body = safe_text(body)
    return f"# {safe_line(title)}\n\n{body}" if title else body


class _EntryParser(MarkdownIt):
    """CommonMark as the app shows entries: a single newline is a line break (as the author typed
    it, and as the CLI prints it), and every link and image is followed by where it goes, " <url>"
    (the URL markdown-it normalised and validated: IDN hosts in punycode, no javascript: or file:),
    unless its text already is that URL. Reference-style links and bare URLs are links too."""

    def parse(self, src: str, env: Any = None) -> list[Token]:
        tokens = super().parse(src, env)
        for token in tokens:
            if token.type == "inline" and token.children:
                token.children = _visible_links(token.children)
        return tokens


def _visible_links(children: list[Token]) -> list[Token]:
    out: list[Token] = []
    href: str | None = None
    text: list[str] = []
    for child in children:
        if child.type == "softbreak":
            child = Token("hardbreak", "br", 0)
        out.append(child)
        if child.type == "link_open":
            href, text = str(child.attrs.get("href", "")), []
        elif child.type in ("text", "code_inline") and href is not None:
            text.append(child.content)
        elif child.type == "link_close" and href is not None:
            if "".join(text).strip() != href:
                out.append(Token("text", "", 0, content=f" <{href}>"))
            href = None
        elif child.type == "image":
            out.append(Token("text", "", 0, content=f" <{child.attrs.get('src', '')}>"))
    return out


def entry_parser() -> MarkdownIt:
    return _EntryParser("gfm-like")


OPENABLE = ("http://", "https://", "mailto:")


class EntryBody(Markdown):
    """The reading pane's Markdown: line breaks kept, links followed by their URL, and a click on a
    link asks first (showing the whole address) before the browser opens it."""

    def __init__(self, markdown: str = "", **kwargs: Any) -> None:
        super().__init__(markdown, parser_factory=entry_parser, open_links=False, **kwargs)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        href = event.href
        if not href.lower().startswith(OPENABLE):
            self.notify(
                f"Not opened: {href!r} is not a web or mail address.", severity="warning", markup=False
            )
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.app.open_url(href)

        self.app.push_screen(Confirm(f"Open this address in your browser?\n\n{href}", yes="Open"), done)
