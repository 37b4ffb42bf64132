"""Reading what is new (issue 13): nothing is read unseen, the selection follows its entry, and new
contact requests and entries are announced in the diary."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui_sns.core.session import Session
from tui_sns.screens.main import ALL, AudienceItem, MainScreen
from tui_sns.screens.widgets import Timeline

from .conftest import add_entry, befriend
from .test_app import SIZE, wait_for

_bundles = itertools.count()


def deliver(tmp_path: Path, sender: Session, receiver: Session) -> int:
    path = tmp_path / f"bundle-{next(_bundles)}"
    sender.exchange.export_outbox(path)
    return receiver.exchange.import_inbox(path).stored


@pytest.fixture
def fast() -> Iterator[None]:
    saved = MainScreen.READ_AFTER, MainScreen.FLUSH_SECONDS, MainScreen.POLL_SECONDS
    MainScreen.READ_AFTER, MainScreen.FLUSH_SECONDS, MainScreen.POLL_SECONDS = 0.1, 0.1, 0.2
    yield
    MainScreen.READ_AFTER, MainScreen.FLUSH_SECONDS, MainScreen.POLL_SECONDS = saved


def _unread_shown(app: object) -> int | None:
    items = [i for i in app.screen.query(AudienceItem) if i.key == ALL]  # type: ignore[attr-defined]
    return items[0].unread if items and items[0].count is not None else None


def _reader_title(app: object) -> str:
    return str(app.screen.query_one("#reader-body").source)  # type: ignore[attr-defined]


async def test_nothing_is_read_until_the_reader_moves_to_it(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast: None
) -> None:
    """Seen: with two unread entries waiting, opening the app showed ●2 then ●1 without a key pressed
    (the newest entry, highlighted on open, was marked read unseen)."""
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    bob.diary.post("one", title="One", to=["Ann"])
    bob.diary.post("two", title="Two", to=["Ann"])
    assert deliver(tmp_path, bob, ann) == 2
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 2 and _unread_shown(app) == 2)
        top, below = timeline.post_at(0), timeline.post_at(1)
        assert top is not None and below is not None
        await wait_for(pilot, lambda: top.title in _reader_title(app))  # shown on open ...
        # ... but not read: many read periods (READ_AFTER) and flushes go by without a key pressed
        await pilot.pause(1.0)
        assert ann.diary.unread() == 2
        assert timeline.is_unread(top)
        assert _unread_shown(app) == 2

        await pilot.press("j")  # the reader moves to the next one: that one is read
        await wait_for(pilot, lambda: ann.diary.unread() == 1)
        assert not ann.diary.get(below.id).unread and ann.diary.get(top.id).unread
        assert not timeline.is_unread(below) and timeline.is_unread(top)

        await pilot.press("k", "enter")  # back up, and open it: read too
        await wait_for(pilot, lambda: ann.diary.unread() == 0)
        await wait_for(pilot, lambda: _unread_shown(app) == 0)


async def test_the_selection_stays_on_its_entry_when_entries_arrive_or_go(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast: None
) -> None:
    """Seen: with the cursor on one entry, a new arrival moved the reading pane to a different entry
    (the cursor kept its row number, not its entry), which then got marked read."""
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    add_entry(ann, "Third", "mine", "2026-03-03T08:00:00+00:00")
    add_entry(ann, "Second", "mine", "2026-03-02T08:00:00+00:00")
    add_entry(ann, "First", "mine", "2026-03-01T08:00:00+00:00")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.total == 3)
        await pilot.press("j")  # on "Second"
        await wait_for(pilot, lambda: "Second" in _reader_title(app))
        chosen = timeline.highlighted
        assert chosen is not None and chosen.title == "Second"

        bob.diary.post("hello", title="From Bob", to=["Ann"])  # arrives behind the UI's back, on top
        bob.diary.post("again", title="From Bob again", to=["Ann"])
        assert deliver(tmp_path, bob, ann) == 2
        await wait_for(pilot, lambda: timeline.total == 5)
        await pilot.pause(0.5)  # several read periods: whatever the pane shows now would be read
        assert timeline.highlighted is not None and timeline.highlighted.id == chosen.id
        assert timeline.cursor == 3
        assert "Second" in _reader_title(app)
        assert ann.diary.unread() == 2  # the arrivals were not read by landing under the cursor

        third = next(p for p in ann.diary.timeline() if p.title == "Third")
        ann.diary.delete(third.id)  # an entry above the selection goes (another process, an expiry)
        await wait_for(pilot, lambda: timeline.total == 4)
        assert timeline.highlighted is not None and timeline.highlighted.id == chosen.id
        assert timeline.cursor == 2
        assert "Second" in _reader_title(app)

        ann.diary.delete(chosen.id)  # the selected entry itself goes: the row below takes its place
        await wait_for(pilot, lambda: timeline.total == 3)
        await wait_for(pilot, lambda: "First" in _reader_title(app))
        assert ann.diary.unread() == 2


async def test_a_strangers_request_is_announced_in_the_diary(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast: None
) -> None:
    """Seen: a stranger's contact request showed only as a tab label inside Contacts."""
    ann, eve = person("Ann"), person("Eve")
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.pause(0.3)
        eve.contacts.request(ann.contacts.my_card(), "we met at the library")
        deliver(tmp_path, eve, ann)
        await wait_for(pilot, lambda: any("contact request" in str(n.message) for n in app._notifications))
        note = next(n for n in app._notifications if "contact request" in str(n.message))
        assert "Eve" in str(note.message) and "p" in str(note.message)
        # a name is theirs, not checked: markup in it is shown as text, not applied
        mal = person("[b]Mal[/b]")
        mal.contacts.request(ann.contacts.my_card(), "hi")
        deliver(tmp_path, mal, ann)
        await wait_for(pilot, lambda: any("[b]Mal[/b]" in str(n.message) for n in app._notifications))


async def test_requests_waiting_at_open_are_announced(
    person: Callable[[str], Session], make_app: Callable, tmp_path: Path, fast: None
) -> None:
    ann, eve = person("Ann"), person("Eve")
    eve.contacts.request(ann.contacts.my_card(), "hello")
    deliver(tmp_path, eve, ann)
    app = make_app(ann.store.home, ann)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: any("contact request" in str(n.message) for n in app._notifications))


def _bob_writes(person: Callable[[str], Session]) -> tuple[Session, Session]:
    ann, bob = person("Ann"), person("Bob")
    befriend(ann, bob)
    return ann, bob


@pytest.mark.parametrize("setting", [None, "off", "bell", "desktop", "desktop-missing"])
async def test_new_entries_ring_the_bell_or_notify_the_desktop_only_when_asked(
    person: Callable[[str], Session],
    make_app: Callable,
    tmp_path: Path,
    config_dir: Path,
    fast: None,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
) -> None:
    import shutil
    import subprocess

    ann, bob = _bob_writes(person)
    if setting is not None:
        config_dir.mkdir(parents=True)
        value = "desktop" if setting == "desktop-missing" else setting
        (config_dir / "settings.toml").write_text(f'notify_new_entries = "{value}"\n')
    launched: list[list[str]] = []

    class FakePopen:
        def __init__(self, args: list[str], **kwargs: object) -> None:
            launched.append(list(args))

    real_which = shutil.which
    present = setting != "desktop-missing"
    monkeypatch.setattr(
        shutil,
        "which",
        lambda name, *a, **k: (
            "/usr/bin/notify-send"
            if name == "notify-send" and present
            else (None if name == "notify-send" else real_which(name, *a, **k))
        ),
    )
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    app = make_app(ann.store.home, ann)
    bells: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.pause(0.3)
        bob.diary.post("secret words", title="Secret title", to=["Ann"])
        deliver(tmp_path, bob, ann)
        await wait_for(pilot, lambda: any("new entry" in str(n.message) for n in app._notifications))
        await pilot.pause(0.2)
    if setting == "bell":
        assert bells and not launched
    elif setting == "desktop":
        assert not bells and len(launched) == 1
        assert launched[0][0] == "/usr/bin/notify-send"
        text = " ".join(launched[0])
        assert "1 new entry" in text
        assert "Secret" not in text and "Bob" not in text  # nothing of the entry leaves the app
    elif setting == "desktop-missing":
        assert bells and not launched  # no notify-send: the bell instead
    else:
        assert not bells and not launched  # off by default
