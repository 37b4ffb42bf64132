"""Issue 8 §1 in the app: others' text never reaches the terminal as control characters or markup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app_helpers import SIZE, notices, screen_text, wait_for
from hostile_strings import BODY, TITLE, assert_clean


def _befriend(a: Any, b: Any) -> None:
    a.contacts.add(b.contacts.my_card(), b.name)
    b.contacts.add(a.contacts.my_card(), a.name)


def _hostile_card(session: Any, name: str) -> str:
    from tui_sns.crypto.card import Card

    # (markup cannot reach a relay URL: cards refuse brackets there, issue 8 §3)
    return Card(name=name, public_key=session.identity.public, relays=("https://r.example/x",)).encode()


async def test_main_screen_after_unlock_shows_hostile_entry_safely(
    people: Callable[..., Any], deliver: Callable[..., Any], make_app: Callable[..., Any], tmp_path: Path
) -> None:
    """Seen: the app's window title changed and the screen was wiped right after unlock."""
    from tui_sns.screens.onboarding import UnlockScreen
    from tui_sns.screens.widgets import Timeline

    ann, bob = people("ann", "bob")
    _befriend(ann, bob)
    bob.diary.post(BODY, title=TITLE, to=["ann"])
    deliver(bob, ann)
    entry = ann.diary.timeline()[0].id
    ann.comments.add(entry, "mine")
    ann.close()
    app = make_app(tmp_path / "home-ann")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen))
        await pilot.press(*"correct horse battery staple", "enter")
        await wait_for(
            pilot, lambda: bool(app.screen.query(Timeline)) and app.screen.query_one(Timeline).total == 1
        )
        await wait_for(pilot, lambda: "second line" in screen_text(app))
        text = screen_text(app)
        assert_clean(text)
        assert "I never wrote this" in text
        app.screen.sub_title = "ann" + TITLE  # the header: a name may hold anything
        await pilot.pause()
        assert_clean(screen_text(app))
        app.notify("from " + TITLE, title=TITLE)  # a toast quoting someone's text
        app.notify("[/x] from " + TITLE)  # markup that does not parse: shown as written
        await pilot.pause()
        assert_clean(screen_text(app) + notices(app))
        assert "[/x] from hi" in notices(app)


async def test_contacts_screen_with_markup_in_names_opens(
    people: Callable[..., Any], make_app: Callable[..., Any]
) -> None:
    """Seen: a stranger whose card name was `[/x]` made the Contacts screen crash (MarkupError)
    every time it was opened."""
    from tui_sns.screens.contacts import ContactsScreen
    from tui_sns.store import requests as request_store

    ann, dave, erin = people("ann", "dave", "erin")
    request_store.save_request(
        ann.store,
        dave.identity.public,
        _hostile_card(dave, "[/x]"),
        "[/x] " + BODY,
        "2026-01-01T00:00:00+00:00",
        10,
    )
    ann.contacts.add(_hostile_card(erin, "[b]erin[/x]"))  # a name I may give: brackets are fine
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.pause()
        assert "[b]erin[/x]" in screen_text(app)
        await pilot.press("i")  # the requests tab
        await wait_for(pilot, lambda: "asks you to add them" in screen_text(app))
        text = screen_text(app)
        assert "[/x]" in text
        assert_clean(text)


async def test_brackets_in_names_and_relay_hosts_are_shown_as_written(
    people: Callable[..., Any], make_app: Callable[..., Any]
) -> None:
    """The kind behind the `[/x]` case: a name ending in "[" placed before our own markup, and an IPv6
    relay host in brackets, are others' text: the contact details and the status line show them as
    written (no MarkupError, nothing eaten as a tag)."""
    from tui_sns.crypto.card import Card
    from tui_sns.screens.contacts import ContactsScreen
    from tui_sns.screens.main import MainScreen
    from tui_sns.screens.syncing import StatusView
    from tui_sns.sync.engine import RelayStatus, SyncStatus

    ann, erin = people("ann", "erin")
    card = Card(name="erin[", public_key=erin.identity.public, relays=("http://[::1]:8787",)).encode()
    ann.contacts.add(card, "erin[")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        relay = RelayStatus("http://[::1]:8787", False, False, None, None, ("erin[",))
        view = StatusView(SyncStatus([relay], 0, None, []), [])
        app.screen._show_status(view)
        bar = app.screen.query_one("#statusbar")
        await wait_for(pilot, lambda: "[::1]:8787" in str(bar.render()))
        assert "Last good sync never" in str(bar.render())
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await wait_for(pilot, lambda: "Their card says: erin[" in screen_text(app))
        text = screen_text(app)
        assert "http://[::1]:8787" in text
        assert_clean(text)
