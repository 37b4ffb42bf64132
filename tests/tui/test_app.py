"""Headless tests of the app: onboarding, unlock, composing, contacts, circles, arrivals, keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, TextArea

from tui_sns.core.session import Session
from tui_sns.screens.circles import CirclesScreen
from tui_sns.screens.compose import ComposeScreen
from tui_sns.screens.contacts import ContactsScreen, SafetyNumber
from tui_sns.screens.help import HelpScreen
from tui_sns.screens.main import MainScreen
from tui_sns.screens.onboarding import CardScreen, UnlockScreen, strength
from tui_sns.screens.widgets import Timeline
from tui_sns.store import Store

from .conftest import PASS, befriend

SIZE = (120, 36)


async def wait_for(pilot, predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` holds. Generous: store writes run in workers and fsync, and a busy
    machine can stretch them; a passing test returns as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    if not predicate():
        raise AssertionError("condition not met in time")


async def test_onboarding_creates_identity_and_shows_card(tmp_path: Path, make_app: Callable) -> None:
    home = tmp_path / "new-home"
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#name")
        await pilot.press(*"night-owl")
        app.screen.query_one("#pass1", Input).value = "short"
        await pilot.pause()
        assert "Too short" in str(app.screen.query_one("#strength").render())
        app.screen.query_one("#pass1", Input).value = PASS
        app.screen.query_one("#pass2", Input).value = PASS + "x"
        app.screen.query_one("#create").press()
        await pilot.pause()
        assert "differ" in str(app.screen.query_one("#onboarding-error").render())
        assert not Store.exists(home)
        app.screen.query_one("#pass2", Input).value = PASS
        app.screen.query_one("#pass2", Input).focus()
        await pilot.press("enter", "enter", "enter")  # past the (empty, optional) relay fields
        await wait_for(pilot, lambda: isinstance(app.screen, CardScreen))
        assert str(app.screen.query_one("#card-text").render()).startswith("tuisns1:")
        assert "▀" in str(app.screen.query_one("#card-qr").render()) or "█" in str(
            app.screen.query_one("#card-qr").render()
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.session is not None and app.session.name == "night-owl"
    assert Store.exists(home)
    Session.unlock(home, PASS).close()


def test_strength_hint() -> None:
    assert strength("abc")[1] == "weak"
    assert strength("four random words here")[1] == "strong"


async def test_unlock_wrong_then_right(person: Callable, make_app: Callable) -> None:
    ann = person("Ann")
    ann.diary.post("kept", title="Kept")
    home = ann.store.home
    ann.close()
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        await pilot.click("#passphrase")
        await pilot.press(*"wrong", "enter")
        await wait_for(
            pilot, lambda: "Wrong passphrase" in str(app.screen.query_one("#unlock-error").render())
        )
        assert isinstance(app.screen, UnlockScreen)
        assert not app.screen.query_one("#passphrase", Input).disabled
        app.screen.query_one("#passphrase", Input).value = PASS
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: app.screen.query_one(Timeline).total == 1)
    # nothing changed by the failed attempt
    again = Session.unlock(home, PASS)
    assert [p.title for p in again.diary.timeline()] == ["Kept"]
    again.close()


async def test_compose_default_only_me_then_to_circle(ann_world: Session, make_app: Callable) -> None:
    ann = ann_world
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        screen = app.screen
        assert screen.chosen == set()
        assert screen.query_one("#audience").selected == []
        assert "Readable by you alone" in str(screen.query_one("#readable").render())
        await pilot.press(*"Saturday", "tab", *"Hello climbers")  # the composer starts in the title
        await pilot.press("ctrl+a")
        await pilot.press(*"close", "enter")
        await pilot.press("space")
        await pilot.pause()
        assert screen.chosen == {"Close friends"}
        assert "Readable by 3 people: you, Bob, Kenji" in str(screen.query_one("#readable").render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
    newest = ann.diary.timeline(limit=1)[0]
    assert newest.title == "Saturday" and newest.body == "Hello climbers"
    assert newest.audience == {"circles": ["Close friends"], "contacts": []}
    assert ann.drafts.load() is None


async def test_draft_survives_leaving_the_composer(ann_world: Session, make_app: Callable) -> None:
    ann = ann_world
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press("tab", *"half a thought")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert ann.drafts.load().body == "half a thought"
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert app.screen.query_one("#body", TextArea).text == "half a thought"
        assert app.screen.chosen == set()


async def test_external_editor_falls_back_headless(
    ann_world: Session, make_app: Callable, monkeypatch
) -> None:
    monkeypatch.setenv("EDITOR", "true")
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press("tab", *"abc", "ctrl+e")
        await pilot.pause()
        assert app.screen.query_one("#body", TextArea).text == "abc"
        assert any("keep writing here" in str(n.message) for n in app._notifications)


async def test_add_contact_bad_then_good_and_verify(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#card-text", TextArea).text = "tsns-card-this-is-not-a-card"
        app.screen.query_one("#add-button").press()
        await wait_for(pilot, lambda: "⚠" in str(app.screen.query_one("#add-error").render()))
        assert ann.contacts.list() == []
        app.screen.query_one("#card-text", TextArea).text = bob.contacts.my_card()
        app.screen.query_one("#local-name", Input).value = "Bobby"
        app.screen.query_one("#add-button").press()
        await wait_for(pilot, lambda: [c.name for c in ann.contacts.list()] == ["Bobby"])
        await wait_for(pilot, lambda: app.screen.query_one("#contacts").has_focus)
        assert str(app.screen.query_one("#add-error").render()).strip() == ""
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, SafetyNumber))
        assert app.screen.number == ann.contacts.safety_number("Bobby")
        app.screen.query_one("#match").press()
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        assert ann.contacts.list()[0].verified
        await pilot.press("d")
        await pilot.pause()
        app.screen.query_one("#yes").press()
        await pilot.pause()
        assert ann.contacts.list() == []


async def test_circles_create_members_rename_delete(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"Family", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
        assert [c.name for c in ann.circles.list()] == ["Family"]
        await pilot.pause()
        await pilot.press("space")  # the members list has focus after creating
        await pilot.pause()
        assert ann.circles.get("Family").members == ("Bob",)
        await pilot.press("space")
        await pilot.pause()
        assert ann.circles.get("Family").members == ()
        assert any("future entries only" in str(n.message) for n in app._notifications)
        assert "future entries only" in str(app.screen.query_one("#future-only").render())
        app.screen.query_one("#circles").focus()
        await pilot.press("r")
        await pilot.pause()
        app.screen.query_one("#answer", Input).value = "Kin"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
        assert [c.name for c in ann.circles.list()] == ["Kin"]
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert ann.circles.list() == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_new_entry_appears_without_a_key_press(
    person: Callable, make_app: Callable, tmp_path: Path
) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    MainScreen.POLL_SECONDS = 0.2
    app = make_app(ann.store.home, ann)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            timeline = app.screen.query_one(Timeline)
            assert timeline.total == 0
            bob.diary.post("sealed for Ann", title="Hi Ann", to=["Ann"])
            bundle = tmp_path / "bundle"
            bob.exchange.export_outbox(bundle)
            report = ann.exchange.import_inbox(bundle)  # arrives behind the UI's back
            assert report.stored == 1
            await wait_for(pilot, lambda: timeline.total == 1)
            post = timeline.post_at(0)
            assert post is not None and post.title == "Hi Ann" and post.author == "Bob"
            assert post.unread  # received: unread until it has been in the reading pane a while
            assert any("new entry from Bob" in str(n.message) for n in app._notifications)
    finally:
        MainScreen.POLL_SECONDS = 2.0


async def test_timeline_keys_and_sidebar(ann_world: Session, make_app: Callable) -> None:
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 4)
        await pilot.press("G")
        assert timeline.cursor == 3
        await pilot.press("k", "k")
        assert timeline.cursor == 1
        await pilot.press("g")
        assert timeline.cursor == 0
        await pilot.press("down")
        assert timeline.cursor == 1
        await pilot.press("a", "j")  # sidebar: All → Climbing
        await wait_for(pilot, lambda: timeline.total == 1)
        await pilot.press("j", "j", "j")  # … Close friends, Only me
        await wait_for(pilot, lambda: "Only me" in str(app.screen.query_one("#timeline-title").render()))
        assert timeline.total == 1 and timeline.post_at(0).title == "Morning pages"


async def test_keymap_file_and_help(ann_world: Session, make_app: Callable, config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "keymap.toml").write_text('"main.compose" = "w"\n"no.such" = "x"\n')
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("unknown action id" in str(n.message) for n in app._notifications)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_theme_is_remembered(ann_world: Session, make_app: Callable, config_dir: Path) -> None:
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.theme = "nord"
        await pilot.pause()
    assert 'theme = "nord"' in (config_dir / "settings.toml").read_text()
    app2 = make_app(ann_world.store.home, ann_world)
    async with app2.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app2.theme == "nord"


async def test_command_palette_lists_registry_actions(ann_world: Session, make_app: Callable) -> None:
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"circles")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))
