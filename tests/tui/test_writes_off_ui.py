"""Store writes started from a screen run on worker threads, never on the UI thread (issue 12, item 3):
adding a contact, and the checks of the one-line dialogs (creating and renaming a circle)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.widgets import Input, TextArea

from tui_sns.screens.circles import CirclesScreen
from tui_sns.screens.contacts import ContactsScreen

from .conftest import befriend
from .test_app import SIZE, wait_for


def _record_thread(obj: Any, name: str, seen: list[threading.Thread]) -> None:
    real = getattr(obj, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread())
        return real(*args, **kwargs)

    setattr(obj, name, spy)


async def test_adding_a_contact_writes_on_a_worker(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    seen: list[threading.Thread] = []
    _record_thread(ann.contacts, "add", seen)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#card-text", TextArea).text = bob.contacts.my_card()
        app.screen.query_one("#local-name", Input).value = "Bob"
        app.screen.query_one("#add-button").press()
        await wait_for(pilot, lambda: [c.name for c in ann.contacts.list()] == ["Bob"])
    assert seen and all(t is not threading.main_thread() for t in seen)


async def test_circle_dialog_checks_write_on_a_worker(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    seen: list[threading.Thread] = []
    _record_thread(ann.circles, "create", seen)
    _record_thread(ann.circles, "rename", seen)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"Family", "enter")
        await wait_for(pilot, lambda: [c.name for c in ann.circles.list()] == ["Family"])
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
        app.screen.query_one("#circles").focus()
        await pilot.press("r")
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "Kin"
        await pilot.press("enter")
        await wait_for(pilot, lambda: [c.name for c in ann.circles.list()] == ["Kin"])
    assert len(seen) >= 2 and all(t is not threading.main_thread() for t in seen)
