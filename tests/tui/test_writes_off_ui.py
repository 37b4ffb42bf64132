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


async def test_leaving_the_composer_saves_the_draft_on_a_worker(person: Callable, make_app: Callable) -> None:
    from tui_sns.screens.compose import ComposeScreen
    from tui_sns.screens.main import MainScreen

    ann = person("Ann")
    seen: list[threading.Thread] = []
    _record_thread(ann.drafts, "save", seen)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        app.screen.query_one("#body", TextArea).text = "half a thought"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    assert ann.drafts.load().body == "half a thought"
    assert seen and all(t is not threading.main_thread() for t in seen)


async def test_a_draft_that_cannot_be_saved_keeps_the_composer_and_its_text(
    person: Callable, make_app: Callable
) -> None:
    """Leaving used to say "Draft not saved" and close the composer anyway: the text was gone. Now it
    stays on screen; a second Esc leaves without it, on purpose."""
    from tui_sns.core.errors import InvalidInput
    from tui_sns.screens.compose import ComposeScreen
    from tui_sns.screens.main import MainScreen

    ann = person("Ann")

    def full(*args: Any, **kwargs: Any) -> None:
        raise InvalidInput("the disk is full: nothing was changed")

    ann.drafts.save = full  # type: ignore[method-assign]
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        app.screen.query_one("#body", TextArea).text = "only copy of this"
        await pilot.press("escape")
        await wait_for(pilot, lambda: any("Draft not saved" in str(n.message) for n in app._notifications))
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.query_one("#body", TextArea).text == "only copy of this"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
