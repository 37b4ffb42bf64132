"""Issue 13, "the first ten minutes and daily use": each seen case as a Pilot test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.color import Color
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Button

from tui_sns.core.session import Session
from tui_sns.screens.contacts import ContactsScreen, SafetyNumber
from tui_sns.screens.main import MainScreen
from tui_sns.screens.onboarding import CardScreen

from .conftest import befriend
from .test_app import wait_for

NARROW = (80, 24)


def screen_lines(widget: Widget) -> list[str]:
    """The text of a widget as drawn (its own lines, whatever is scrolled)."""
    width, height = widget.outer_size
    return [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]


# -- 2. verification takes a deliberate choice ---------------------------------------------------


async def _open_safety_number(app, pilot, ann: Session) -> SafetyNumber:  # type: ignore[no-untyped-def]
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, SafetyNumber))
    await pilot.pause()
    return app.screen


async def test_safety_number_enter_does_not_verify(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        dialog = await _open_safety_number(app, pilot, ann)
        focused = app.focused
        assert isinstance(focused, Button) and focused.id == "cancel"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        assert not ann.contacts.get("Bob").verified
        # neither do other stray keys (v again, y, space) before escape
        dialog = await _open_safety_number(app, pilot, ann)
        await pilot.press("v", "y", "space", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        assert not ann.contacts.get("Bob").verified
        # the key the dialog names does
        dialog = await _open_safety_number(app, pilot, ann)
        text = " ".join(" ".join(screen_lines(w)) for w in dialog.query(".dialog-text"))
        assert "Press V" in text or "press V" in text
        await pilot.press("V")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        assert ann.contacts.get("Bob").verified


async def test_safety_number_groups_stay_whole_at_80_columns(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        dialog = await _open_safety_number(app, pilot, ann)
        number = ann.contacts.safety_number("Bob")
        lines = [line.strip() for line in screen_lines(dialog.query_one("#safety-number")) if line.strip()]
        groups = [group for line in lines for group in line.split()]
        assert groups == number.split(), lines  # every group whole, in order, none cut at an edge
        assert len(lines) == 3 and all(len(line.split()) == 4 for line in lines)  # a 4 × 3 grid


# -- 5. "Readable by N people" counts the names it lists -----------------------------------------


def test_readable_by_counts_you_too(ann_world: Session) -> None:
    ann = ann_world
    for names in (["Close friends"], ["Climbing"], ["Bob", "Kenji"], ["Close friends", "Bob"]):
        line = ann.diary.audience(names).describe()
        head, listed = line.split(": ", 1)
        count = int(head.split()[2])
        assert count == len(listed.split(", ")), line
    assert ann.diary.audience(["Climbing"]).describe() == "Readable by 2 people: you, Bob"
    assert ann.diary.audience([]).describe() == "Readable by you alone"


async def test_composer_readable_line_counts_you(ann_world: Session, make_app: Callable) -> None:
    from tui_sns.screens.compose import ComposeScreen

    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        app.screen.chosen = {"Close friends"}
        app.screen.update_readable()
        await pilot.pause()
        assert "Readable by 3 people: you, Bob, Kenji" in str(app.screen.query_one("#readable").render())


async def test_timeline_badge_counts_you_like_the_readable_line(
    ann_world: Session, make_app: Callable
) -> None:
    """The badge said "Close friends · 2 people" (readers without you) while the composer's line for
    the same audience says "Readable by 3 people: you, Bob, Kenji"."""
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.pause()
        mine = {p.title: p for p in ann_world.diary.timeline() if p.mine}
        badge = app.screen.badge(mine["Weekend plans"])
        readable = ann_world.diary.audience(["Close friends"]).describe()
        assert badge == "Close friends · 3 people" and readable.startswith("Readable by 3 people"), badge
        assert app.screen.badge(mine["Morning pages"]) == "Only me"


# -- 1. the QR code scans: dark modules on a light quiet zone, whatever the theme ----------------


def _decode_widget(widget: Widget) -> list[str]:
    """Draw the widget's cells as pixels (half blocks: two modules per cell, each in the colour the
    terminal would show) and decode it with zxing-cpp, inversion off (as a phone camera)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    strips = widget.render_lines(Region(0, 0, *widget.outer_size))
    background = widget.background_colors[1].rich_color
    rows: list[list[int]] = [[], []]
    grid: list[list[int]] = []

    def lum(color: Color | None, fallback: Color) -> int:
        triplet = (color or fallback).get_truecolor()
        return 255 if (0.299 * triplet.red + 0.587 * triplet.green + 0.114 * triplet.blue) > 127 else 0

    for strip in strips:
        rows = [[], []]
        for segment in strip:
            style = segment.style
            fg = style.color if style and style.color else Color.parse("white")
            bg = style.bgcolor if style and style.bgcolor else background
            for char in segment.text:
                top, bottom = {
                    " ": (bg, bg),
                    "█": (fg, fg),
                    "▀": (fg, bg),
                    "▄": (bg, fg),
                }.get(char, (bg, bg))
                rows[0].append(lum(top, background))
                rows[1].append(lum(bottom, background))
        grid.extend(rows)
    scale = 4
    height, width = len(grid) * scale, len(grid[0]) * scale
    pixels = bytearray()
    for row in grid:
        line = bytes(value for value in row for _ in range(scale))
        pixels.extend(line * scale)
    image = memoryview(bytes(pixels)).cast("B", (height, width))
    found = zxingcpp.read_barcodes(image, try_invert=False)
    return [barcode.text for barcode in found]


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord"])
async def test_card_qr_decodes_to_the_card(person: Callable, make_app: Callable, theme: str) -> None:
    ann = person("Ann")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=(160, 100)) as pilot:
        app.theme = theme
        await pilot.pause()
        app.push_screen(CardScreen(ann))
        await wait_for(pilot, lambda: isinstance(app.screen, CardScreen))
        await pilot.pause()
        card = ann.contacts.my_card()
        assert _decode_widget(app.screen.query_one("#card-qr")) == [card]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("m")
        await pilot.pause()
        assert _decode_widget(app.screen.query_one("#my-qr")) == [ann.contacts.my_card(ann.name)]


# -- 3. the card after onboarding is in view and copies with a key -------------------------------


async def test_card_screen_shows_the_card_and_copies_it(person: Callable, make_app: Callable) -> None:
    ann = person("Ann")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        app.push_screen(CardScreen(ann))
        await wait_for(pilot, lambda: isinstance(app.screen, CardScreen))
        await pilot.pause()
        card = ann.contacts.my_card()
        text = app.screen.query_one("#card-text")
        scroller = app.screen.query_one("#card-screen")
        assert scroller.region.contains_region(text.region), (scroller.region, text.region)
        assert "".join(line.strip() for line in screen_lines(text)) == card
        shown = app.screen.active_bindings
        assert "c" in shown and shown["c"].binding.show and "Copy" in shown["c"].binding.description
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == card
        assert any("copied" in str(n.message).lower() for n in app._notifications)
        assert isinstance(app.screen, CardScreen)


# -- 4. relays: a screen to join (invite code), leave, see reachability and the last good sync ---


@pytest.fixture
def relay(tmp_path):  # type: ignore[no-untyped-def]
    """A real relay, in process, on 127.0.0.1 and a free port; stopped by the test."""
    from tui_sns.demo import DemoRelay

    server = DemoRelay(tmp_path / "relay.db")
    server.start()
    yield server
    server.stop()


async def test_relays_screen_join_check_leave(person: Callable, make_app: Callable, relay) -> None:  # type: ignore[no-untyped-def]
    from tui_sns.screens.relays import JoinRelay, RelaysScreen

    ann = person("Ann")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, RelaysScreen))
        screen = app.screen
        assert "No relays" in str(screen.query_one("#relay-detail").render())
        # a wrong invite code: said in words, nothing joined
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JoinRelay))
        await pilot.press(*relay.url, "enter", *"not-a-code", "enter")
        await wait_for(pilot, lambda: any("Could not join" in str(n.message) for n in app._notifications))
        assert ann.relays.urls() == ()
        # the right one
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JoinRelay))
        await pilot.press(*relay.url, "enter", *relay.invite(), "enter")
        await wait_for(pilot, lambda: ann.relays.urls() == (relay.url,))
        table = screen.query_one("#relays")
        await wait_for(pilot, lambda: table.row_count == 1 and "yes" in str(table.get_row_at(0)[2]))
        assert str(table.get_row_at(0)[0]) == relay.url and str(table.get_row_at(0)[3]) == "never"
        # leave it (asks first)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: ann.relays.urls() == ())
        await wait_for(pilot, lambda: table.row_count == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        # the command palette finds it too
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"relay")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RelaysScreen))


# -- 8. search: `/` finds titles, bodies, comments, within the audience shown --------------------


async def test_slash_searches_within_the_audience(ann_world: Session, make_app: Callable) -> None:
    from textual.widgets import Input

    from tui_sns.screens.search import SearchScreen
    from tui_sns.screens.widgets import Timeline

    ann = ann_world
    plans = next(p for p in ann.diary.timeline() if p.title == "Weekend plans")
    from tui_sns.store import comments as comment_store

    comment_store.insert_comment(  # the fixture's entries are stored raw (no thread key to seal under)
        ann.store,
        post_id=plans.id,
        comment_id="c1",
        author_key=None,
        author_label="Ann",
        body="bring the quickdraws",
        created="2026-03-02T11:00:00+00:00",
    )
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        results = app.screen.query_one("#search-results", Timeline)
        await pilot.press(*"quickdraws")
        await wait_for(pilot, lambda: results.total == 1)
        assert results.post_at(0).title == "Weekend plans"  # found by its comment
        app.screen.query_one("#search-query", Input).value = "oolong"
        await wait_for(pilot, lambda: results.total == 1 and results.post_at(0).title == "Tea notes")
        await pilot.press("enter", "enter")  # to the results, then open the entry
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert "A new oolong" in _markdown_text(app.screen.query_one("#reader-body"))
        # within an audience: "Only me" holds "Morning pages" alone
        await pilot.press("a", "G", "enter")
        await wait_for(pilot, lambda: "Only me" in str(app.screen.query_one("#timeline-title").render()))
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        results = app.screen.query_one("#search-results", Timeline)
        await pilot.press("s")  # "Slept", "Saturday": only what "Only me" holds comes back
        await wait_for(pilot, lambda: "Only me" in str(app.screen.query_one("#search-title").render()))
        await wait_for(pilot, lambda: results.total == 1)
        assert results.post_at(0).title == "Morning pages"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


def _markdown_text(widget: Widget) -> str:
    from textual.widgets import Markdown

    assert isinstance(widget, Markdown)
    return "\n".join(
        str(block._content) for block in widget.query("MarkdownBlock") if hasattr(block, "_content")
    )


# -- 18, 19. the reading pane: line breaks as written, links show where they go ------------------


async def test_reader_keeps_single_newlines_and_shows_link_targets(
    person: Callable, make_app: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_sns.screens.widgets import Confirm

    ann = person("Ann")
    ann.diary.post(
        "Roses are red\nviolets are blue\n\n"
        "Log in at [your bank](https://evil.example/login) or [the shop][s] or https://bücher.example/x\n\n"
        "[s]: https://shop.example/",
        title="Poem",
    )
    opened: list[str] = []
    app = make_app(ann.store.home, ann)
    monkeypatch.setattr(app, "open_url", lambda url, **kw: opened.append(url))
    async with app.run_test(size=(120, 36)) as pilot:
        reader = app.screen.query_one("#reader-body")
        await wait_for(pilot, lambda: "Roses" in _markdown_text(reader))
        text = _markdown_text(reader)
        assert "Roses are red\nviolets are blue" in text  # the CLI shows it so, and now the pane too
        assert "your bank <https://evil.example/login>" in text
        assert "the shop <https://shop.example/>" in text  # reference-style links too
        assert "<https://xn--bcher-kva.example/x>" in text  # a bare link's host in punycode
        # following a link asks first, naming the whole address
        await reader.query_one("MarkdownParagraph").action_link("https://evil.example/login")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        assert "https://evil.example/login" in app.screen.question
        assert opened == []
        await pilot.press("escape")
        await pilot.pause()
        assert opened == []
        await reader.query_one("MarkdownParagraph").action_link("https://evil.example/login")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: opened == ["https://evil.example/login"])


# -- 10. the composer starts in the title; tab goes on to the body -------------------------------


async def test_composer_starts_in_the_title_and_tab_goes_to_the_body(
    ann_world: Session, make_app: Callable
) -> None:
    from textual.widgets import Input, TextArea

    from tui_sns.screens.compose import ComposeScreen

    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "title"
        await pilot.press(*"Dinner", "tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "body"
        await pilot.press(*"Friday?")
        assert app.screen.query_one("#title", Input).value == "Dinner"
        assert app.screen.query_one("#body", TextArea).text == "Friday?"
        assert app.screen.query_one("#filter", Input).value == ""


# -- 21. enter in "What you call them" adds the contact ------------------------------------------


async def test_enter_in_the_local_name_adds_the_contact(person: Callable, make_app: Callable) -> None:
    from textual.widgets import TextArea

    ann, bob = person("Ann"), person("Bob")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#card-text", TextArea).text = bob.contacts.my_card()
        app.screen.query_one("#local-name").focus()
        await pilot.press(*"Bobby", "enter")
        await wait_for(pilot, lambda: [c.name for c in ann.contacts.list()] == ["Bobby"])


# -- 12. the edit dialog says how to save and starts at the end of the body ----------------------


async def test_edit_dialog_hints_saving_and_starts_at_the_end(person: Callable, make_app: Callable) -> None:
    from textual.widgets import TextArea

    from tui_sns.screens.conversation import EntryEditor

    ann = person("Ann")
    ann.diary.post("first line\nsecond line", title="Note")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#timeline").total == 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EntryEditor))
        await pilot.pause()
        hint = " ".join(" ".join(screen_lines(w)) for w in app.screen.query(".hint"))
        assert "ctrl+s" in hint and "esc" in hint
        body = app.screen.query_one("#edit-body", TextArea)
        assert app.focused is body and body.cursor_location == (1, len("second line"))
        await pilot.press(*" added", "ctrl+s")
        await wait_for(pilot, lambda: ann.diary.timeline()[0].body == "first line\nsecond line added")


# -- 15. a keymap that gives one key to two actions says so --------------------------------------


async def test_keymap_conflict_is_reported_and_loses_nothing(
    ann_world: Session, make_app: Callable, config_dir
) -> None:  # type: ignore[no-untyped-def]
    from tui_sns.screens.circles import CirclesScreen
    from tui_sns.screens.compose import ComposeScreen

    config_dir.mkdir(parents=True)
    # "s" is Sync's; "j" moves down in the timeline; "w" is free
    (config_dir / "keymap.toml").write_text(
        '"main.compose" = "s"\n"main.circles" = "j"\n"main.contacts" = "w"\n'
    )
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any("'main.compose'" in m and "'main.sync'" in m and "'s'" in m for m in messages), messages
        assert any("'main.circles'" in m and "'list.down'" in m for m in messages), messages
        assert not any("main.contacts" in m for m in messages)
        assert app.keymap == {"main.contacts": "w"}
        await pilot.press("c")  # the conflicting override is not applied: compose keeps "c"
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, CirclesScreen))


# -- 17. the demo says its passphrase, and that its data is gone on quit -------------------------


async def test_demo_names_its_passphrase_and_says_its_data_is_gone() -> None:
    import asyncio

    from tui_sns.demo import PASSPHRASE, farewell, setup_demo

    demo = await asyncio.to_thread(setup_demo)
    try:
        app = demo.app
        assert app is not None
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await wait_for(pilot, lambda: any(repr(PASSPHRASE) in str(n.message) for n in app._notifications))
        # the passphrase it names is the one the demo's identities take
        await asyncio.to_thread(lambda: Session.unlock(demo.root / "bob", PASSPHRASE).close())
    finally:
        await asyncio.to_thread(demo.teardown)
    assert "deleted" in farewell(demo) and not demo.root.exists()


# -- 16. toasts in words, and never over a dialog's text -----------------------------------------


async def test_unreachable_relay_is_said_in_words() -> None:
    import socket

    from tui_sns.core.errors import NetworkError
    from tui_sns.net.transport import RelayClient

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for url in (f"http://127.0.0.1:{port}", "http://no-such-host.invalid"):
        async with RelayClient(url) as client:
            with pytest.raises(NetworkError) as caught:
                await client.healthy() if False else await client.redeem("x")
        message = str(caught.value)
        assert "Error" not in message and "Exception" not in message, message
        assert "unreachable" in message, message
        # and why, in words (tests/sync/test_connection_errors.py has every kind)
        assert "connection refused" in message or "name not found" in message, message


async def test_toasts_do_not_cover_a_dialog(person: Callable, make_app: Callable) -> None:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=NARROW, notifications=True) as pilot:
        await pilot.pause()
        dialog = await _open_safety_number(app, pilot, ann)
        for n in range(2):
            app.notify(
                f"relay https://relay.example could not be reached (no answer at that address) #{n}",
                title="Sync",
                severity="warning",
            )
        await pilot.pause(0.3)
        box = dialog.query_one(".dialog").region
        for toast in dialog.query("Toast"):
            assert not box.overlaps(toast.region), (box, toast.region)
        # they are not lost: they show once the dialog is closed
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ContactsScreen))
        await pilot.pause(0.3)
        shown = [str(t._notification.message) for t in app.screen.query("Toast")]
        assert sum("could not be reached" in m for m in shown) == 2, shown


# -- 14. the help screen's id column is in view -------------------------------------------------


@pytest.mark.parametrize("size", [(160, 40), (80, 24)])
async def test_help_shows_the_id_column(
    ann_world: Session, make_app: Callable, size: tuple[int, int]
) -> None:
    from tui_sns.screens.help import HelpScreen

    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        table = app.screen.query_one("#help-keys")
        labels = [str(c.label) for c in table.ordered_columns]
        right = 0
        for column in table.ordered_columns:
            right += column.get_render_width(table)
            if str(column.label) == "Id":
                break
        assert "Id" in labels and right <= table.scrollable_content_region.width, (labels, right, table.size)
        text = "\n".join(screen_lines(table))
        assert "main.compose" in text


# -- 13. at 80 × 24: titles clear of badges, "? Help" in the footer, onboarding labels whole -------


def _screen_text(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_80x24_timeline_footer_and_onboarding(ann_world: Session, make_app: Callable, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Label

    from tui_sns.screens.onboarding import OnboardingScreen
    from tui_sns.screens.widgets import Timeline

    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=NARROW) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 4)
        await pilot.pause(0.3)
        row = next(line for line in screen_lines(timeline) if "Weekend" in line)
        assert "Close" in row, row  # the badge (cut if it must be) is there
        before_badge = row.split("Close")[0]
        assert before_badge.endswith(" "), row  # a gap between the title and the badge
        assert "Weekend" in before_badge, row  # and a title one can read
        footer = app.screen.query_one("Footer").region
        lines = _screen_text(app)[footer.y : footer.bottom]
        assert any("? Help" in line for line in lines), lines
    app = make_app(tmp_path / "fresh-home")
    async with app.run_test(size=NARROW) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, OnboardingScreen))
        await pilot.pause(0.3)
        for label in app.screen.query(Label):
            box = label.parent.content_region  # type: ignore[union-attr]
            assert label.region.right <= box.right, (str(label.render()), label.region, box)
            shown = " ".join(line.strip() for line in screen_lines(label) if line.strip())
            assert shown == " ".join(str(label.render()).split()), (shown, str(label.render()))


@pytest.mark.parametrize("size", [(160, 40), (110, 32), (80, 24)])
async def test_help_wraps_long_action_texts_instead_of_cutting_them(
    ann_world: Session, make_app: Callable, size: tuple[int, int]
) -> None:
    from tui_sns.screens.actions import ACTIONS
    from tui_sns.screens.help import HelpScreen

    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await wait_for(pilot, lambda: app.screen.wrapped_to is not None)
        await pilot.pause()
        table = app.screen.query_one("#help-keys")
        width = table.scrollable_content_region.width
        right = sum(column.get_render_width(table) for column in table.ordered_columns)
        assert right <= width, (right, width)  # the Action column ends inside the table: nothing cut
        shown = {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[3]) for i in range(table.row_count)}
        assert set(shown) == {a.id for a in ACTIONS}
        for action in ACTIONS:  # every word, in order, on as many lines as it takes
            assert shown[action.id].split() == action.long.split(), action.id


async def test_composer_says_when_my_v1_sender_device_seals(
    ann_world: Session, person: Callable[[str], Session], make_app: Callable
) -> None:
    """design-v2 §7: readers my v1 sender (another device) seals for are told, under the audience line."""
    import os

    from tui_sns.screens.compose import ComposeScreen

    lee = person("Lee")
    lee.epochs.disable_v2_for_tests()  # Lee's app is older: she gets the fallback
    befriend(ann_world, lee)
    desktop = os.urandom(8)
    ann_world.devices.add_device(desktop, os.urandom(32), "desktop")
    ann_world.devices.set_setting("v1_sender", desktop.hex())
    app = make_app(ann_world.store.home, ann_world)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen))
        app.screen.chosen = {"Close friends", "Lee"}
        app.screen.update_readable()
        await pilot.pause()
        shown = str(app.screen.query_one("#readable").render())
        assert "Not forward-secret for Lee yet" in shown, shown
        assert "Lee reads this when your device 'desktop' next syncs." in shown, shown
        assert "Bob" not in shown.split("Not forward-secret")[1], shown
        # seen: the lines were joined by a visible "␤" (the whole text went through safe_line)
        assert shown.splitlines() == [
            "👁 Readable by 4 people: you, Bob, Kenji, Lee",
            "Not forward-secret for Lee yet — their app has not sent a current key.",
            "Lee reads this when your device 'desktop' next syncs.",
        ], shown
