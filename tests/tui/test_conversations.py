"""Issue #5 in the app: comments, edit/delete, block/mute, requests, the persona switcher."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, TextArea

from tui_sns import paths
from tui_sns.core.session import Session
from tui_sns.screens.actions import BY_ID
from tui_sns.screens.contacts import ContactsScreen
from tui_sns.screens.conversation import CommentComposer, CommentList, EntryEditor
from tui_sns.screens.main import MainScreen
from tui_sns.screens.onboarding import UnlockScreen
from tui_sns.screens.personas import PersonaScreen
from tui_sns.screens.widgets import Ask, Confirm, Timeline

from .conftest import CHEAP, PASS, befriend
from .test_app import SIZE, wait_for

_bundles = itertools.count()


def deliver(tmp_path: Path, sender: Session, receiver: Session) -> None:
    path = tmp_path / f"bundle-{next(_bundles)}"
    sender.exchange.export_outbox(path)
    receiver.exchange.import_inbox(path)


def reader_text(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return " ".join(
        str(item.query_one(".comment-text").render()) for item in screen.query_one(CommentList).children
    )


async def test_comment_under_the_entry_reply_and_hide(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path
) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    ann.diary.post("Anyone for the crag?", title="Saturday", to=["Bob"])
    deliver(tmp_path, ann, bob)
    (post,) = bob.diary.timeline()
    bob.comments.add(post.id, "Count me in")
    deliver(tmp_path, bob, ann)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 1)
        await wait_for(pilot, lambda: "Count me in" in reader_text(app))
        assert "Bob" in reader_text(app)
        assert "1 comment" in str(app.screen.query_one("#comments-title").render())
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, CommentComposer))
        app.screen.query_one("#comment-body", TextArea).text = "Great, 9 am"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: "Great, 9 am" in reader_text(app))
        assert [c.body for c in ann.comments.list(timeline.highlighted.id)] == ["Count me in", "Great, 9 am"]  # type: ignore[union-attr]
        # the entry's author hides Bob's comment: m to the comments, x, confirm
        await pilot.press("m")
        comments = app.screen.query_one(CommentList)
        await wait_for(pilot, lambda: comments.has_focus)
        assert comments.selected is not None and comments.selected.body == "Count me in"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Count me in" not in reader_text(app))
        assert "Great, 9 am" in reader_text(app)
    # Bob learns of the hide; his own comment can be deleted by him
    deliver(tmp_path, ann, bob)
    assert [c.body for c in bob.comments.list(post.id)] == ["Great, 9 am"]


async def test_commenter_deletes_own_comment(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path
) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    ann.diary.post("Tea?", title="Tea", to=["Bob"])
    deliver(tmp_path, ann, bob)
    (post,) = bob.diary.timeline()
    bob.comments.add(post.id, "oolong please")
    app = make_app(bob.store.home, bob)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "oolong please" in reader_text(app))
        await pilot.press("m", "x")  # not the author: x falls back to deleting my own
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: "oolong please" not in reader_text(app))
    assert bob.comments.list(post.id) == []


async def test_edit_and_delete_my_entry(person: Callable[[str], Session], make_app: Callable) -> None:
    ann = person("Ann")
    ann.diary.post("first body", title="First")
    ann.diary.post("second body", title="Second")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 2 and timeline.highlighted is not None)
        top = timeline.highlighted
        assert top is not None
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EntryEditor))
        assert app.screen.query_one("#edit-title", Input).value == top.title
        app.screen.query_one("#edit-body", TextArea).text = "changed body"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert ann.diary.get(top.id).body == "changed body"
        await wait_for(pilot, lambda: "edited" in str(app.screen.query_one("#reader-meta").render()))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("escape")  # cancel keeps it
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert ann.diary.count() == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: timeline.total == 1)
    assert [p.id for p in ann.diary.timeline()] != [top.id]
    assert ann.diary.count() == 1


async def test_block_and_mute_from_contacts(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path
) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    bob.diary.post("hello", title="Hi", to=["Ann"])
    deliver(tmp_path, bob, ann)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 1)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("u")  # mute
        await wait_for(pilot, lambda: ann.contacts.list()[0].muted)
        assert "muted" in str(app.screen.query_one("#detail").render()).lower()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: timeline.total == 0)  # their entries leave the timeline
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("u")  # unmute
        await wait_for(pilot, lambda: not ann.contacts.list()[0].muted)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: ann.contacts.list()[0].blocked)
        await pilot.pause()
        assert "blocked" in str(app.screen.query_one("#detail").render()).lower()
        await pilot.press("b")  # unblocking needs no confirmation
        await wait_for(pilot, lambda: not ann.contacts.list()[0].blocked)


async def test_requests_tab_accept_and_reject(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path
) -> None:
    ann, eve, mal = person("Ann"), person("Eve"), person("Mal")
    eve.contacts.request(ann.contacts.my_card(), "we met at the library")
    mal.contacts.request(ann.contacts.my_card(), "hi")
    deliver(tmp_path, eve, ann)
    deliver(tmp_path, mal, ann)
    assert len(ann.requests.list()) == 2
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        screen = app.screen
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.query_one("#request-table").has_focus)
        assert "Requests (2)" in str(screen.query_one("#tabs").get_tab("requests").label)  # type: ignore[attr-defined]
        first = screen.selected_request  # type: ignore[attr-defined]
        assert first is not None
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, Ask))
        app.screen.query_one("#answer", Input).value = f"{first.card_name}-lib"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(ann.requests.list()) == 1)
        assert f"{first.card_name}-lib" in [c.name for c in ann.contacts.list()]
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: ann.requests.list() == [])
        assert len(ann.contacts.list()) == 1


async def test_persona_switch(tmp_path: Path, make_app: Callable) -> None:
    base = tmp_path / "base"
    main = Session.create(base, "Ann", PASS, kdf=CHEAP)
    main.diary.post("main diary", title="Main entry")
    work = Session.create(paths.persona_home(base, "work"), "Ann at work", "work pass", kdf=CHEAP)
    work.diary.post("work diary", title="Work entry")
    work.close()
    app = make_app(base, main)
    assert app.base == base
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonaScreen))
        assert len(app.screen.query_one("#persona-list").children) == 2
        await pilot.press("j", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen))
        await pilot.press("escape")  # cancel: still the main persona
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.session is main
        app.action_command_palette  # noqa: B018 - the action exists (palette entry comes from the registry)
        assert BY_ID["main.persona"].palette
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonaScreen))
        await pilot.press("j", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen))
        await pilot.press(*"work pass", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.session is not main, 10)
        assert app.session is not None and app.session.name == "Ann at work"
        assert app.home == paths.persona_home(base, "work")
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 1)
        assert timeline.highlighted is not None and timeline.highlighted.title == "Work entry"
        assert len(app.screen_stack) == 2  # the main persona's screen is gone
        # a new persona goes through onboarding with its own home
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonaScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, Ask))
        app.screen.query_one("#answer", Input).value = "bad name!"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, Ask)
        app.screen.query_one("#answer", Input).value = "night"
        await pilot.press("enter")
        from tui_sns.screens.onboarding import OnboardingScreen

        await wait_for(pilot, lambda: isinstance(app.screen, OnboardingScreen))
        assert app.screen.home == paths.persona_home(base, "night")  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.session.name == "Ann at work"
    main.close()
