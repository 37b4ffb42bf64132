"""The diary: audiences on the left, the timeline, the reading pane, the sync status line.

Only UI lives here: which entries a timeline shows is a core ``TimelineFilter``; read state is noted in
the session's ``ReadLog`` (core, written in batches); the sync lifecycle is the app's
``SyncController``, which reports through the messages handled at the end of this class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Label, ListItem, Markdown, Static

from tui_sns.core.display import safe_line, safe_text
from tui_sns.core.errors import TuiSnsError
from tui_sns.core.inbox import expired_warnings, refused_requests_line
from tui_sns.core.records import Post
from tui_sns.core.timeline import ALL, ONLY_ME, TimelineFilter
from tui_sns.screens.actions import bindings
from tui_sns.screens.conversation import CommentComposer, CommentList, EntryEditor
from tui_sns.screens.syncing import (
    EntriesArrived,
    ReadStateChanged,
    RequestsArrived,
    StatusChanged,
    StatusView,
    SyncController,
    SyncFailed,
    SyncReportArrived,
)
from tui_sns.screens.widgets import PAGE, EntryBody, Timeline, VimListView, entry_markdown, local_time, plain
from tui_sns.screens.writes import write

if TYPE_CHECKING:
    from tui_sns.core.comments import Comment
    from tui_sns.core.session import Session

__all__ = ["ALL", "ONLY_ME", "AudienceItem", "MainScreen"]


class AudienceItem(ListItem):
    """A sidebar row: a timeline filter with its entry and unread counts."""

    def __init__(self, key: TimelineFilter) -> None:
        self.label = Label(safe_line(key.label), markup=False)
        super().__init__(self.label, classes="audience")
        self.key = key
        self.count: int | None = None
        self.unread = 0

    def show(self, count: int, unread: int) -> None:
        self.count, self.unread = count, unread
        text = f"{safe_line(self.key.label)}  {count:,}"
        if unread:
            text += f"  ●{unread}"  # received and not read yet; kept short for the 26-column sidebar
        self.label.update(text)


def describe_missing(missing: list[tuple[str, int]]) -> str:
    from tui_sns.core.diary import missing_warning

    parts = [missing_warning(name, count) for name, count in missing]
    return "⚠ " + "; ".join(parts) if parts else ""


class MainScreen(Screen[None]):
    BINDINGS = bindings("main")
    CSS_PATH = "main.tcss"
    POLL_SECONDS = 2.0  # look for entries stored by others (sync, imports) this often
    STATUS_SECONDS = 15.0  # probe the relays this often
    READ_AFTER = 1.0  # an entry the reader moved to, shown in the reading pane this long, counts as read
    FLUSH_SECONDS = 2.0  # write the entries read since the last flush this often (one transaction)

    def __init__(self, session: Session, sync: SyncController) -> None:
        super().__init__()
        self.session = session
        self.sync = sync
        self.audience: TimelineFilter = ALL
        self._dwell: Timer | None = None  # runs while an unread entry the reader chose sits in the pane
        self._reader_counts: dict[str, int] = {}
        self._circle_members: dict[str, set[str]] = {}
        self._shown_post: str | None = None  # the entry in the reading pane
        self._chosen: str | None = None  # the entry the reader last moved to or opened
        self._missing: list[tuple[str, int]] = []
        self._status_view: StatusView | None = None  # the status last shown ("retrying in N s" counts down)

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Label("Audiences", classes="pane-title")
                yield VimListView(id="audiences")
            with Vertical(id="center"):
                yield Label("All entries", id="timeline-title", classes="pane-title")
                yield Timeline(id="timeline")
                with VerticalScroll(id="reader"):
                    yield Static("", id="reader-meta")
                    yield EntryBody("", id="reader-body")
                    yield Label("", id="comments-title")
                    yield CommentList(id="comments")
        yield Static("", id="warnings")
        yield Static("", id="statusbar")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tui-sns"
        self.sub_title = safe_line(self.session.name)
        self.rebuild_sidebar()
        self.query_one(Timeline).focus()
        self.load_timeline()
        self.refresh_counts()
        self.set_interval(self.FLUSH_SECONDS, self.flush_reads)
        self.set_interval(1.0, self._count_down)
        self.sync.attach(self, poll_seconds=self.POLL_SECONDS, status_seconds=self.STATUS_SECONDS)

    def on_unmount(self) -> None:
        self._stop_dwell()
        with contextlib.suppress(TuiSnsError):
            self.session.reads.flush()  # before the store closes (a persona switch, quitting)

    def on_screen_suspend(self) -> None:
        """Another screen on top: the reading pane is hidden, so nothing more gets read."""
        self._stop_dwell()
        self.flush_reads()

    def on_screen_resume(self) -> None:
        if self._shown_post is not None and self._chosen == self._shown_post:
            self._start_dwell(self.current)

    # -- sidebar --------------------------------------------------------------------------------

    def rebuild_sidebar(self) -> None:
        circles = self.session.circles.list()
        self._circle_members = {c.name: set(c.members) for c in circles}
        keys = [ALL, *(TimelineFilter.circle(c.name) for c in circles), ONLY_ME]
        view = self.query_one("#audiences", VimListView)
        view.clear()
        view.extend(AudienceItem(k) for k in keys)
        index = keys.index(self.audience) if self.audience in keys else 0
        if self.audience not in keys:
            self.audience = ALL
        view.index = index

    @on(VimListView.Highlighted, "#audiences")
    def audience_highlighted(self, event: VimListView.Highlighted) -> None:
        item = event.item
        if isinstance(item, AudienceItem) and item.key != self.audience:
            self.audience = item.key
            self.load_timeline()

    @on(VimListView.Selected, "#audiences")
    def audience_selected(self, event: VimListView.Selected) -> None:
        self.query_one(Timeline).focus()

    @work(thread=True, exclusive=True, group="counts")
    def refresh_counts(self) -> None:
        """Entry and unread counts of every audience, from the store (so they survive restarts)."""
        diary = self.session.diary
        keys = [ALL, *(TimelineFilter.circle(name) for name in list(self._circle_members)), ONLY_ME]
        counts: dict[TimelineFilter, tuple[int, int]] = {}
        for key in keys:
            try:
                counts[key] = (diary.count(key), diary.unread(key))
            except TuiSnsError:
                continue
        self.app.call_from_thread(self._show_counts, counts)

    def _show_counts(self, counts: dict[TimelineFilter, tuple[int, int]]) -> None:
        for item in self.query(AudienceItem):
            if item.key in counts:
                item.show(*counts[item.key])

    # -- timeline -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Reload the timeline keeping the selection on the same entry (arrivals, edits, deletions)."""
        self.load_timeline(keep=self._shown_post)

    @work(thread=True, exclusive=True, group="timeline")
    def load_timeline(self, keep: str | None = None) -> None:
        """Load the first page of the current filter's timeline. ``keep``: the entry the selection stays
        on if it is still shown (else the selection keeps its row); None: the top."""
        audience = self.audience
        diary = self.session.diary
        try:
            total = diary.count(audience)
            first = diary.timeline(audience, limit=PAGE)
            row = diary.position(keep, audience) if keep is not None else 0
        except TuiSnsError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_timeline, audience, total, first, row, keep is not None)

    def _show_timeline(
        self, audience: TimelineFilter, total: int, first: list[Post], row: int | None, keep: bool
    ) -> None:
        if audience != self.audience:
            return
        timeline = self.query_one(Timeline)
        diary = self.session.diary

        def fetch(offset: int, limit: int) -> list[Post]:
            if offset == 0 and limit == PAGE and first:
                return first
            return diary.timeline(audience, limit=limit, offset=offset)

        timeline.reset(total, fetch, self.badge, keep_cursor=keep, cursor=row)
        noun = "entry" if total == 1 else "entries"
        self.query_one("#timeline-title", Label).update(plain(f"{audience.label} · {total:,} {noun}"))
        if total == 0:
            self._show_empty()

    def badge(self, post: Post) -> str:
        if not post.mine:
            return ""
        audience = post.audience or {}
        names = [*audience.get("circles", []), *audience.get("contacts", [])]
        if not names:
            return "Only me"
        count = self._reader_counts.get(post.id)
        if count is None:
            try:
                count = len(self.session.diary.get(post.id).readers or ())
            except TuiSnsError:
                count = 0
            self._reader_counts[post.id] = count
        count += 1  # you: counted as the composer's "Readable by N people: you, ..." counts you
        people = "person" if count == 1 else "people"
        return f"{', '.join(names)} · {count} {people}"

    # -- reading pane ---------------------------------------------------------------------------

    @on(Timeline.Highlighted)
    def entry_highlighted(self, event: Timeline.Highlighted) -> None:
        post = event.post
        if post is None:
            if event.timeline.total == 0:
                self._show_empty()
            return
        if event.by_user:  # the reader moved to it or opened it: from now on it can be read
            self._chosen = post.id
        if post.id != self._shown_post:
            self.show_post(post.id)
        if event.by_user:
            self._start_dwell(post)

    # -- read state: an entry the reader chose, shown for READ_AFTER seconds, is read -------------
    # Nothing is read by landing under the cursor on its own (opening the app, a reload after
    # arrivals): only by the reader moving to it or opening it (Enter).

    def _stop_dwell(self) -> None:
        if self._dwell is not None:
            self._dwell.stop()
            self._dwell = None

    def _start_dwell(self, post: Post | None) -> None:
        self._stop_dwell()
        if post is None or not self.query_one(Timeline).is_unread(post):
            return
        post_id = post.id
        self._dwell = self.set_timer(self.READ_AFTER, lambda: self._dwelt(post_id))

    def _dwelt(self, post_id: str) -> None:
        self._dwell = None
        if self._shown_post != post_id or not self.is_active:
            return
        timeline = self.query_one(Timeline)
        timeline.read.add(post_id)
        timeline.refresh()
        self.session.reads.note(post_id)

    def flush_reads(self) -> None:
        """Write the entries read since the last flush, on a thread (the UI never waits for it)."""
        if self.session.reads.pending:
            self._write_reads()

    @work(thread=True, group="reads")
    def _write_reads(self) -> None:
        try:
            written = self.session.reads.flush()
        except TuiSnsError as exc:
            self.app.call_from_thread(
                self.notify, f"Could not save read state: {exc}", severity="warning", markup=False
            )
            return
        if written:
            self.app.call_from_thread(self.refresh_counts)

    def show_post(self, post_id: str) -> None:
        self._shown_post = post_id
        try:
            full = self.session.diary.get(post_id)
        except TuiSnsError as exc:
            self.query_one("#reader-meta", Static).update(plain(exc))
            return
        self.query_one("#reader-meta", Static).update(self.describe_post(full))
        self.query_one("#reader-body", Markdown).update(entry_markdown(full.title, full.body))
        self.show_comments()

    def show_comments(self) -> None:
        title = self.query_one("#comments-title", Label)
        comments = self.query_one(CommentList)
        if self._shown_post is None:
            title.update("")
            comments.show([])
            return
        try:
            found = self.session.comments.list(self._shown_post)
        except TuiSnsError:
            found = []
        noun = "comment" if len(found) == 1 else "comments"
        title.update(f"{len(found)} {noun} · r to reply" if found else "No comments · r to reply")
        comments.show(found)

    @property
    def current(self) -> Post | None:
        """The entry in the reading pane (the timeline's highlighted one)."""
        return self.query_one(Timeline).highlighted

    def describe_post(self, post: Post) -> Text:
        """The reading pane's first lines, built as Text: names and times are never markup."""
        when = Text(local_time(post.created))
        if post.claimed:
            when.append(f" (its author's clock said {local_time(post.claimed)})", style="dim")
        if post.edited:
            when.append(f" (edited {local_time(post.edited)})", style="dim")
        if post.mine:
            readers = list(post.readers or ())
            who = "you alone" if not readers else ", ".join(["you", *readers])
            return Text.assemble(("me", "bold"), " · ", when, "\n", ("Readable by: ", "dim"), safe_line(who))
        author = safe_line(post.author or "?")
        return Text.assemble((author, "bold"), " · ", when, "\n", (f"Sealed to you by {author}", "dim"))

    def _show_empty(self) -> None:
        self._shown_post = None
        self.show_comments()
        if self.audience.kind == "only_me":
            hint = "Nothing only for you yet. Press **c** to write: new entries are readable by you alone."
        elif self.audience.kind == "circle":
            hint = f"Nothing in *{self.audience.name}* yet."
        else:
            hint = (
                "Your diary is empty. Press **c** to write your first entry — it is readable by you "
                "alone until you choose an audience. Press **p** to add contacts."
            )
        self.query_one("#reader-meta", Static).update("")
        self.query_one("#reader-body", Markdown).update(safe_text(hint))

    # -- arrivals, sync and status: told by the app's SyncController ----------------------------

    def on_entries_arrived(self, message: EntriesArrived) -> None:
        from tui_sns.screens.app import TuiSnsApp  # the app imports this module when a session opens

        if message.ids:
            noun = "entry" if len(message.ids) == 1 else "entries"
            who = ", ".join(sorted(set(message.authors)))
            self.notify(f"{len(message.ids)} new {noun} from {who}", title="New", markup=False)
            if isinstance(self.app, TuiSnsApp):
                self.app.announce_new_entries(len(message.ids))
        self.reload()
        self.refresh_counts()

    def on_read_state_changed(self, message: ReadStateChanged) -> None:
        self.refresh_counts()  # read (or marked read) elsewhere, e.g. `tui-sns show`

    def on_requests_arrived(self, message: RequestsArrived) -> None:
        count = len(message.names)
        noun = "A contact request" if count == 1 else f"{count} contact requests"
        who = ", ".join(message.names)
        self.notify(f"{noun} from {who}: press p, then i, to answer.", title="Contacts", markup=False)

    def on_sync_report_arrived(self, message: SyncReportArrived) -> None:
        report = message.report
        for error in report.errors:
            self.notify(safe_line(error), title="Sync", severity="warning", timeout=6, markup=False)
        for note in report.notes:  # a relay not contacted (private address), or answering again
            self.notify(safe_line(note), title="Sync", timeout=6, markup=False)
        for warning in report.warnings:  # retention: each shown once (sync/retention.py)
            self.notify(safe_line(warning), title="Sync", severity="warning", timeout=12, markup=False)
        for line in expired_warnings(report.received.expired):
            self.notify(line, title="Sync", severity="warning", timeout=6, markup=False)
        refused = refused_requests_line(report.received.kinds)
        if refused:
            self.notify(f"{refused}.", title="Contacts", timeout=6, markup=False)
        lost = (
            self.session.epochs.key_deleted_report(report.received.key_deleted)
            if report.received.key_deleted
            else None
        )
        if lost:  # design-v2 §5.4: said plainly, and long enough to read
            self.notify(safe_line(lost), title="Sync", severity="warning", timeout=20, markup=False)
        if report.received.device_warnings:  # design-v2 §10: my devices' envelopes refused
            from tui_sns.core.resets import device_warnings

            for line in device_warnings(report.received.device_warnings):
                self.notify(line, title="My devices", severity="warning", timeout=20, markup=False)
        if self._shown_post is not None:
            self.show_comments()  # comments, edits and hides arrive through sync too
        if message.manual and not report.errors:
            pushed, pulled = report.pushed, len(report.new_post_ids)
            self.notify(f"Sent {pushed}, received {pulled} new.", title="Sync", timeout=3)

    def on_sync_failed(self, message: SyncFailed) -> None:
        if message.manual:
            self.notify(message.error, title="Sync", severity="error", markup=False)
        else:
            self.notify(f"Background sync stopped: {message.error}", severity="error", markup=False)

    def on_status_changed(self, message: StatusChanged) -> None:
        self._show_status(message.view)

    def _count_down(self) -> None:
        """Redraw the status line while a relay is waiting to be retried (no probe, no store read)."""
        view = self._status_view
        status = view.status if view is not None else None
        if view is not None and status is not None and any(r.retry_at for r in status.relays):
            self._show_status(view)

    def _show_status(self, view: StatusView) -> None:
        from textual.content import Content

        self._status_view = view
        status, missing = view.status, view.missing
        self._missing = missing
        self.query_one("#warnings", Static).update(plain(describe_missing(missing)))
        self.query_one("#warnings").set_class(bool(missing), "-visible")
        bar = self.query_one("#statusbar", Static)
        if view.error is not None:
            bar.update(plain(f"Sync status unavailable: {view.error}"))
            return
        if status is None:
            bar.update("No relays: entries stay on this device (L joins a relay)")
            return
        # Built from parts, never parsed as markup: relay URLs come from others' cards (an IPv6 host
        # is written in brackets).
        parts: list[str | tuple[str, str]] = []
        if not status.relays:
            parts.append("No relays: entries stay on this device (L joins one)")
        for i, relay in enumerate(status.relays):
            state = {True: ("●", "green"), False: ("●", "red"), None: ("○", "dim")}[relay.reachable]
            host = relay.url.split("://", 1)[-1]
            retry = relay.retry_in
            parts += ["  " if i else "", state, " ", safe_line(host, 60)]
            if retry:
                parts.append(f" (retrying in {retry} s)")
        # The last sync in which every one of my relays answered: a failed one does not move it.
        last = safe_line(local_time(status.last_sync)) if status.last_sync else "never"
        parts.append(f"  │  Outbox {status.outbox}  │  Last good sync {last}")
        bar.update(Content.assemble(*parts))

    # -- actions --------------------------------------------------------------------------------

    def action_compose(self) -> None:
        from tui_sns.core.diary import PostResult
        from tui_sns.screens.compose import ComposeScreen

        def done(result: PostResult | None) -> None:
            if result is not None:
                self.load_timeline()
                self.refresh_counts()
                self.sync.start_watching()

        self.app.push_screen(ComposeScreen(self.session), done)

    def action_contacts(self) -> None:
        from tui_sns.screens.contacts import ContactsScreen

        self.app.push_screen(ContactsScreen(self.session), lambda _: self.after_people_changed())

    def action_circles(self) -> None:
        from tui_sns.screens.circles import CirclesScreen

        self.app.push_screen(CirclesScreen(self.session), lambda _: self.after_people_changed())

    def action_search(self) -> None:
        from tui_sns.screens.search import SearchScreen

        def opened(post_id: str | None) -> None:
            if post_id is not None:
                self.show_post(post_id)

        self.app.push_screen(SearchScreen(self.session, self.audience), opened)

    def action_relays(self) -> None:
        from tui_sns.screens.relays import RelaysScreen

        self.app.push_screen(RelaysScreen(self.session), self.after_relays_changed)

    def after_relays_changed(self, changed: bool | None) -> None:
        """Joined or left a relay: follow the new set (the watcher reads its targets when it starts)."""
        if changed:
            self.sync.restart_watching()
        self.sync.refresh_status()

    def after_people_changed(self) -> None:
        self.rebuild_sidebar()
        self._reader_counts.clear()
        self.reload()
        self.refresh_counts()
        self.sync.start_watching()

    def action_sync_now(self) -> None:
        if not self.sync.sync_now():
            self.notify(
                "No relays to sync with. Press L to join one with an invite code, or exchange bundle files "
                "with `tui-sns export` / `tui-sns import`.",
                title="Sync",
            )
            return
        self.notify("Syncing…", title="Sync", timeout=2)

    def action_focus_sidebar(self) -> None:
        self.query_one("#audiences").focus()

    def action_focus_timeline(self) -> None:
        self.query_one(Timeline).focus()

    def action_focus_reader(self) -> None:
        self.query_one("#reader").focus()

    def action_focus_comments(self) -> None:
        comments = self.query_one(CommentList)
        if comments.display and len(comments):
            comments.focus()
        else:
            self.notify("No comments under this entry. Press r to write one.")

    # -- comments, edit, delete: every write on a worker (screens/writes.py) ----------------------

    def _written(self, post_id: str | None = None) -> Callable[[object], None]:
        """After a write: refresh the comments of ``post_id`` if it is still shown; wake the watcher."""

        def then(_: object) -> None:
            if post_id is None or self._shown_post == post_id:
                self.show_comments()
            self.sync.start_watching()

        return then

    def action_reply(self) -> None:
        post = self.current
        if post is None:
            self.notify("Choose an entry first.")
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            write(
                self,
                lambda: self.session.comments.add(post.id, text),
                done="Comment sealed and queued.",
                title="Comment",
                then=self._written(post.id),
            )

        self.app.push_screen(CommentComposer(post), done)

    def _selected_comment(self) -> Comment | None:
        comments = self.query_one(CommentList)
        return comments.selected if comments.display else None

    def action_hide_comment(self) -> None:
        comment = self._selected_comment()
        post_id = self._shown_post
        if comment is None or post_id is None:
            return
        if comment.mine:
            self.action_delete_comment()
            return
        write(
            self,
            lambda: self.session.comments.hide(post_id, comment.id),
            confirm=f"Hide {comment.author}'s comment for everyone who reads this entry?",
            yes="Hide",
            done="Comment hidden for everyone.",
            title="Comment",
            then=self._written(post_id),
        )

    def action_delete_comment(self) -> None:
        comment = self._selected_comment()
        if comment is None:
            return
        if not comment.mine:
            self.notify("Only your own comments can be deleted; hide others' on your entries with x.")
            return
        write(
            self,
            lambda: self.session.comments.delete(comment.id),
            confirm="Delete your comment for every reader?",
            yes="Delete",
            done="Comment deleted.",
            title="Comment",
            then=self._written(self._shown_post),
        )

    def action_edit_entry(self) -> None:
        post = self.current
        if post is None:
            return
        if not post.mine:
            self.notify("Only your own entries can be edited.")
            return
        try:
            full = self.session.diary.get(post.id)
        except TuiSnsError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return

        def edited(_: object) -> None:
            self.reload()
            if self._shown_post == post.id:
                self.show_post(post.id)
            self.sync.start_watching()

        def done(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            title, body = result
            write(
                self,
                lambda: self.session.diary.edit(post.id, title=title, body=body),
                done="Entry edited; its readers get the new text.",
                title="Edit",
                then=edited,
            )

        self.app.push_screen(EntryEditor(full), done)

    def action_delete_entry(self) -> None:
        post = self.current
        if post is None:
            return
        if post.mine:
            question = (
                f"Delete {post.title or 'this entry'!r} for you and every reader? Copies someone "
                "already took cannot be recalled."
            )
        else:
            question = f"Remove {post.author}'s entry {post.title or ''!r} from this device?"

        def deleted(_: object) -> None:
            self.reload()
            self.refresh_counts()
            self.sync.start_watching()

        write(
            self,
            lambda: self.session.diary.delete(post.id),
            confirm=question,
            yes="Delete",
            done="Entry deleted.",
            title="Delete",
            then=deleted,
        )

    def action_mark_all_read(self) -> None:
        audience = self.audience

        def mark() -> list[str]:
            ids = self.session.diary.unread_ids(audience)
            self.session.diary.mark_read(ids)
            return ids

        def said(ids: list[str]) -> str:
            if not ids:
                return f"Nothing unread in {audience.label}."
            noun = "entry" if len(ids) == 1 else "entries"
            return f"Marked {len(ids)} {noun} in {audience.label} read."

        write(self, mark, done=said, then=self._marked_all_read)

    def _marked_all_read(self, ids: list[str]) -> None:
        timeline = self.query_one(Timeline)
        timeline.read.update(ids)
        timeline.refresh()
        self.session.reads.forget(ids)
        if self._dwell is not None and self._shown_post in ids:
            self._stop_dwell()
        self.refresh_counts()

    def action_switch_persona(self) -> None:
        from tui_sns.screens.app import TuiSnsApp

        if isinstance(self.app, TuiSnsApp):
            self.app.choose_persona()
