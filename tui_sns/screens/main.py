"""The diary: audiences on the left, the timeline, the reading pane, the sync status line."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Label, ListItem, Markdown, Static

from tui_sns.core.errors import CoreError
from tui_sns.screens.actions import bindings
from tui_sns.screens.conversation import CommentComposer, CommentList, EntryEditor
from tui_sns.screens.syncing import Watcher, has_targets, make_engine
from tui_sns.screens.widgets import PAGE, Confirm, Timeline, VimListView, local_time
from tui_sns.store.errors import StoreError
from tui_sns.store.records import Post

if TYPE_CHECKING:
    from tui_sns.core.session import Session


@dataclass(frozen=True)
class AudienceKey:
    kind: str  # "all" | "circle" | "only_me"
    name: str = ""

    @property
    def label(self) -> str:
        return {"all": "All", "only_me": "Only me"}.get(self.kind, self.name)


ALL = AudienceKey("all")
ONLY_ME = AudienceKey("only_me")


class AudienceItem(ListItem):
    def __init__(self, key: AudienceKey) -> None:
        self.label = Label(key.label, markup=False)
        super().__init__(self.label, classes="audience")
        self.key = key
        self.count: int | None = None
        self.unread = 0

    def show(self, count: int, unread: int) -> None:
        self.count, self.unread = count, unread
        text = f"{self.key.label}  {count:,}"
        if unread:
            text += f"  ●{unread}"  # received and not read yet; kept short for the 26-column sidebar
        self.label.update(text)


class SyncReportArrived(Message):
    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report


class SyncCrashed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def _query_of(key: AudienceKey) -> dict[str, Any]:
    """The diary query (timeline, count, unread) of an audience."""
    if key.kind == "circle":
        return {"circle": key.name}
    if key.kind == "only_me":
        return {"only_me": True}
    return {}


def describe_missing(missing: list[tuple[str, int]]) -> str:
    from tui_sns.core.diary import missing_warning

    parts = [missing_warning(name, count) for name, count in missing]
    return "⚠ " + "; ".join(parts) if parts else ""


class MainScreen(Screen[None]):
    BINDINGS = bindings("main")
    CSS_PATH = "main.tcss"
    POLL_SECONDS = 2.0  # look for entries stored by others (sync, imports) this often
    STATUS_SECONDS = 15.0  # probe the relays this often
    READ_AFTER = 1.0  # an entry shown in the reading pane this long counts as read
    FLUSH_SECONDS = 2.0  # write the entries read since the last flush this often (one transaction)

    def __init__(self, session: Session, *, sync: bool = True) -> None:
        super().__init__()
        self.session = session
        self.sync_enabled = sync
        self.audience = ALL
        self.engine: Any | None = None
        self.watcher: Watcher | None = None
        self._known_total: int | None = None
        self._known_unread: int | None = None
        self._dwell: Timer | None = None  # runs while an unread entry sits in the reading pane
        self._pending_reads: set[str] = set()  # read here, not written to the store yet
        self._reader_counts: dict[str, int] = {}
        self._circle_members: dict[str, set[str]] = {}
        self._shown_post: str | None = None
        self._missing: list[tuple[str, int]] = []

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
                    yield Markdown("", id="reader-body")
                    yield Label("", id="comments-title")
                    yield CommentList(id="comments")
        yield Static("", id="warnings")
        yield Static("", id="statusbar")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tui-sns"
        self.sub_title = self.session.name
        self.rebuild_sidebar()
        self.query_one(Timeline).focus()
        self.load_timeline()
        self.refresh_counts()
        self.set_interval(self.POLL_SECONDS, self.poll)
        self.set_interval(self.STATUS_SECONDS, self.refresh_status)
        self.set_interval(self.FLUSH_SECONDS, self.flush_reads)
        # after the first paint: the sync engine's imports, the relay probe, the watcher thread
        self.call_after_refresh(self._start_sync)

    def _start_sync(self) -> None:
        if self.sync_enabled:
            self.engine = make_engine(self.session)
            self.start_watching()
        self.refresh_status()

    def on_unmount(self) -> None:
        self.stop_watching()
        self.flush_reads_now()

    def on_screen_suspend(self) -> None:
        """Another screen on top: the reading pane is hidden, so nothing more gets read."""
        self._stop_dwell()
        self.flush_reads()

    def on_screen_resume(self) -> None:
        if self._shown_post is not None:
            self._start_dwell(self.current)

    # -- sidebar --------------------------------------------------------------------------------

    def rebuild_sidebar(self) -> None:
        circles = self.session.circles.list()
        self._circle_members = {c.name: set(c.members) for c in circles}
        keys = [ALL, *(AudienceKey("circle", c.name) for c in circles), ONLY_ME]
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
        keys = [ALL, *(AudienceKey("circle", name) for name in list(self._circle_members)), ONLY_ME]
        counts: dict[AudienceKey, tuple[int, int]] = {}
        for key in keys:
            query = _query_of(key)
            try:
                counts[key] = (diary.count(**query), diary.unread(**query))
            except CoreError:
                continue
        if ALL in counts:
            self._known_unread = counts[ALL][1]
        self.app.call_from_thread(self._show_counts, counts)

    def _show_counts(self, counts: dict[AudienceKey, tuple[int, int]]) -> None:
        for item in self.query(AudienceItem):
            if item.key in counts:
                item.show(*counts[item.key])

    # -- timeline -------------------------------------------------------------------------------

    def _query(self) -> dict[str, Any]:
        return _query_of(self.audience)

    @work(thread=True, exclusive=True, group="timeline")
    def load_timeline(self, keep_cursor: bool = False) -> None:
        query = self._query()
        audience = self.audience
        try:
            total = self.session.diary.count(**query)
            first = self.session.diary.timeline(limit=PAGE, **query)
        except CoreError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        if audience == ALL:
            self._known_total = total
        self.app.call_from_thread(self._show_timeline, audience, query, total, first, keep_cursor)

    def _show_timeline(
        self, audience: AudienceKey, query: dict[str, Any], total: int, first: list[Post], keep_cursor: bool
    ) -> None:
        if audience != self.audience:
            return
        timeline = self.query_one(Timeline)
        diary = self.session.diary

        def fetch(offset: int, limit: int) -> list[Post]:
            if offset == 0 and limit == PAGE and first:
                return first
            return diary.timeline(limit=limit, offset=offset, **query)

        timeline.reset(total, fetch, self.badge, keep_cursor=keep_cursor)
        noun = "entry" if total == 1 else "entries"
        self.query_one("#timeline-title", Label).update(f"{audience.label} · {total:,} {noun}")
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
            except CoreError:
                count = 0
            self._reader_counts[post.id] = count
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
        if post.id == self._shown_post:
            return
        self.show_post(post.id)
        self._start_dwell(post)

    # -- read state: an entry shown for READ_AFTER seconds is read; written in batches ------------

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
        self._pending_reads.add(post_id)

    def flush_reads(self) -> None:
        """Write the entries read since the last flush, on a thread (the UI never waits for it)."""
        if not self._pending_reads:
            return
        ids, self._pending_reads = sorted(self._pending_reads), set()
        self._write_reads(ids)

    @work(thread=True, group="reads")
    def _write_reads(self, ids: list[str]) -> None:
        try:
            self.session.diary.mark_read(ids)
        except (CoreError, StoreError) as exc:
            self.app.call_from_thread(self.notify, f"Could not save read state: {exc}", severity="warning")
            return
        self.app.call_from_thread(self.refresh_counts)

    def flush_reads_now(self) -> None:
        """Leaving (screen removed, app quitting): write what is pending before the store closes."""
        self._stop_dwell()
        if not self._pending_reads:
            return
        ids, self._pending_reads = sorted(self._pending_reads), set()
        with contextlib.suppress(CoreError, StoreError):
            self.session.diary.mark_read(ids)

    def show_post(self, post_id: str) -> None:
        self._shown_post = post_id
        try:
            full = self.session.diary.get(post_id)
        except CoreError as exc:
            self.query_one("#reader-meta", Static).update(str(exc))
            return
        self.query_one("#reader-meta", Static).update(self.describe_post(full))
        body = full.body
        if full.title:
            body = f"# {full.title}\n\n{body}"
        self.query_one("#reader-body", Markdown).update(body)
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
        except CoreError:
            found = []
        noun = "comment" if len(found) == 1 else "comments"
        title.update(f"{len(found)} {noun} · r to reply" if found else "No comments · r to reply")
        comments.show(found)

    @property
    def current(self) -> Post | None:
        """The entry in the reading pane (the timeline's highlighted one)."""
        return self.query_one(Timeline).highlighted

    def describe_post(self, post: Post) -> str:
        from rich.markup import escape

        when = local_time(post.created)
        if post.claimed:
            when += f" [dim](its author's clock said {local_time(post.claimed)})[/dim]"
        if post.edited:
            when += f" [dim](edited {local_time(post.edited)})[/dim]"
        if post.mine:
            readers = list(post.readers or ())
            who = "you alone" if not readers else ", ".join(["you", *readers])
            return f"[b]me[/b] · {when}\n[dim]Readable by:[/dim] {escape(who)}"
        return f"[b]{escape(post.author or '?')}[/b] · {when}\n[dim]Sealed to you by {escape(post.author or '?')}[/dim]"

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
        self.query_one("#reader-body", Markdown).update(hint)

    # -- arrivals, sync and status --------------------------------------------------------------

    @work(thread=True, exclusive=True, group="poll")
    def poll(self) -> None:
        """Entries stored behind the UI's back (sync, a bundle import, another process)."""
        total = self.session.diary.count()
        unread = self.session.diary.unread()
        known = self._known_total
        if known is None:
            return
        if total == known:
            if self._known_unread is not None and unread != self._known_unread:
                self._known_unread = unread  # read (or marked read) elsewhere, e.g. `tui-sns show`
                self.app.call_from_thread(self.refresh_counts)
            return
        self._known_total = total
        new: list[Post] = []
        if total > known:
            new = [p for p in self.session.diary.timeline(limit=min(total - known, 50)) if not p.mine]
        self.app.call_from_thread(self._arrived, [p.id for p in new], [p.author for p in new], total - known)

    def _arrived(self, ids: list[str], authors: list[str | None], delta: int) -> None:
        if delta > 0 and ids:
            noun = "entry" if len(ids) == 1 else "entries"
            who = ", ".join(sorted({a for a in authors if a}))
            self.notify(f"{len(ids)} new {noun} from {who}", title="New")
        self.load_timeline(keep_cursor=True)
        self.refresh_counts()

    def on_sync_report_arrived(self, message: SyncReportArrived) -> None:
        report = message.report
        for error in getattr(report, "errors", []):
            self.notify(error, title="Sync", severity="warning", timeout=6)
        from tui_sns.core.inbox import expired_warnings

        received = getattr(report, "received", None)
        for line in expired_warnings(received.expired if received is not None else []):
            self.notify(line, title="Sync", severity="warning", timeout=6)
        if getattr(report, "new_post_ids", None):
            self.poll()
        if self._shown_post is not None:
            self.show_comments()  # comments, edits and hides arrive through sync too
        self.refresh_status()

    def on_sync_crashed(self, message: SyncCrashed) -> None:
        self.notify(f"Background sync stopped: {message.error}", severity="error")

    def start_watching(self) -> None:
        if self.watcher is not None and self.watcher.running:
            return
        if not has_targets(self.engine):
            return
        self.watcher = Watcher(
            self.engine,
            on_report=self._forward_report,
            on_crash=self._forward_crash,
        )
        self.watcher.start()

    def _forward_report(self, report: Any) -> None:
        """Called on the watcher's thread: hand the report to the UI thread as a message."""
        self.post_message(SyncReportArrived(report))

    def _forward_crash(self, error: str) -> None:
        self.post_message(SyncCrashed(error))

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    @work(thread=True, exclusive=True, group="status")
    def refresh_status(self) -> None:
        missing = self.session.diary.missing()
        status = None
        if self.engine is not None:
            try:
                status = self.engine.status(probe=True)
            except Exception as exc:  # a status probe must never take the app down
                status = exc
        self.app.call_from_thread(self._show_status, status, missing)

    def _show_status(self, status: Any, missing: list[tuple[str, int]]) -> None:
        from rich.markup import escape

        self._missing = missing
        self.query_one("#warnings", Static).update(describe_missing(missing))
        self.query_one("#warnings").set_class(bool(missing), "-visible")
        bar = self.query_one("#statusbar", Static)
        if status is None:
            bar.update("No relays: entries stay on this device (exchange bundles with tui-sns export/import)")
            return
        if isinstance(status, Exception):
            bar.update(f"Sync status unavailable: {escape(str(status))}")
            return
        if not status.relays:
            relays = "No relays: entries stay on this device"
        else:
            marks = []
            for relay in status.relays:
                state = {True: "[green]●[/]", False: "[red]●[/]", None: "[dim]○[/]"}[relay.reachable]
                host = relay.url.split("://", 1)[-1]
                marks.append(f"{state} {escape(host)}")
            relays = "  ".join(marks)
        last = local_time(status.last_sync) if status.last_sync else "never"
        bar.update(f"{relays}  │  Outbox {status.outbox}  │  Last sync {last}")

    # -- actions --------------------------------------------------------------------------------

    def action_compose(self) -> None:
        from tui_sns.screens.compose import ComposeScreen

        def done(result: Any) -> None:
            if result is not None:
                self.load_timeline()
                self.refresh_counts()
                if self.sync_enabled:
                    self.start_watching()

        self.app.push_screen(ComposeScreen(self.session), done)

    def action_contacts(self) -> None:
        from tui_sns.screens.contacts import ContactsScreen

        self.app.push_screen(ContactsScreen(self.session), lambda _: self.after_people_changed())

    def action_circles(self) -> None:
        from tui_sns.screens.circles import CirclesScreen

        self.app.push_screen(CirclesScreen(self.session), lambda _: self.after_people_changed())

    def after_people_changed(self) -> None:
        self.rebuild_sidebar()
        self._reader_counts.clear()
        self.load_timeline(keep_cursor=True)
        self.refresh_counts()
        if self.sync_enabled:
            self.start_watching()

    def action_sync_now(self) -> None:
        if not has_targets(self.engine):
            self.notify(
                "No relays to sync with. Join one when you set up, or exchange bundle files "
                "with `tui-sns export` / `tui-sns import`.",
                title="Sync",
            )
            return
        self.notify("Syncing…", title="Sync", timeout=2)
        self.sync_once()

    @work(thread=True, exclusive=True, group="sync-now")
    def sync_once(self) -> None:
        assert self.engine is not None
        try:
            report = self.engine.sync_once()
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Sync", severity="error")
            return
        self.post_message(SyncReportArrived(report))
        if not report.errors:
            pushed, pulled = report.pushed, len(report.new_post_ids)
            self.app.call_from_thread(
                self.notify, f"Sent {pushed}, received {pulled} new.", title="Sync", timeout=3
            )

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

    # -- comments, edit, delete -----------------------------------------------------------------

    def action_reply(self) -> None:
        post = self.current
        if post is None:
            self.notify("Choose an entry first.")
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                self.session.comments.add(post.id, text)
            except CoreError as exc:
                self.notify(str(exc), title="Comment", severity="error")
                return
            self.notify("Comment sealed and queued.", title="Comment", timeout=3)
            if self._shown_post == post.id:
                self.show_comments()
            if self.sync_enabled:
                self.start_watching()

        self.app.push_screen(CommentComposer(post), done)

    def _selected_comment(self) -> Any:
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

        def done(yes: bool | None) -> None:
            if yes:
                try:
                    self.session.comments.hide(post_id, comment.id)
                except CoreError as exc:
                    self.notify(str(exc), severity="error")
                    return
                self.notify("Comment hidden for everyone.", title="Comment")
                self.show_comments()

        self.app.push_screen(
            Confirm(f"Hide {comment.author}'s comment for everyone who reads this entry?", yes="Hide"), done
        )

    def action_delete_comment(self) -> None:
        comment = self._selected_comment()
        if comment is None:
            return
        if not comment.mine:
            self.notify("Only your own comments can be deleted; hide others' on your entries with x.")
            return

        def done(yes: bool | None) -> None:
            if yes:
                try:
                    self.session.comments.delete(comment.id)
                except CoreError as exc:
                    self.notify(str(exc), severity="error")
                    return
                self.notify("Comment deleted.", title="Comment")
                self.show_comments()

        self.app.push_screen(Confirm("Delete your comment for every reader?", yes="Delete"), done)

    def action_edit_entry(self) -> None:
        post = self.current
        if post is None:
            return
        if not post.mine:
            self.notify("Only your own entries can be edited.")
            return
        try:
            full = self.session.diary.get(post.id)
        except CoreError as exc:
            self.notify(str(exc), severity="error")
            return

        def done(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            title, body = result
            try:
                self.session.diary.edit(post.id, title=title, body=body)
            except CoreError as exc:
                self.notify(str(exc), title="Edit", severity="error")
                return
            self.notify("Entry edited; its readers get the new text.", title="Edit", timeout=3)
            self.load_timeline(keep_cursor=True)
            self.show_post(post.id)
            if self.sync_enabled:
                self.start_watching()

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

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.session.diary.delete(post.id)
            except CoreError as exc:
                self.notify(str(exc), title="Delete", severity="error")
                return
            self.notify("Entry deleted.", title="Delete", timeout=3)
            self._shown_post = None
            self.load_timeline(keep_cursor=True)
            self.refresh_counts()
            if self.sync_enabled:
                self.start_watching()

        self.app.push_screen(Confirm(question, yes="Delete"), done)

    def action_mark_all_read(self) -> None:
        self._mark_all_read(self.audience)

    @work(thread=True, group="reads")
    def _mark_all_read(self, audience: AudienceKey) -> None:
        diary = self.session.diary
        try:
            ids = diary.unread_ids(**_query_of(audience))
            diary.mark_read(ids)
        except (CoreError, StoreError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._marked_all_read, audience, ids)

    def _marked_all_read(self, audience: AudienceKey, ids: list[str]) -> None:
        timeline = self.query_one(Timeline)
        timeline.read.update(ids)
        timeline.refresh()
        self._pending_reads.difference_update(ids)
        if self._dwell is not None and self._shown_post in ids:
            self._stop_dwell()
        self.refresh_counts()
        if ids:
            noun = "entry" if len(ids) == 1 else "entries"
            self.notify(f"Marked {len(ids)} {noun} in {audience.label} read.", timeout=3)
        else:
            self.notify(f"Nothing unread in {audience.label}.", timeout=3)

    def action_switch_persona(self) -> None:
        switch = getattr(self.app, "choose_persona", None)
        if switch is not None:
            switch()
