"""Linking devices in the app (docs/design-v2.md §9.5): the first run's "Link to an existing diary",
and the Relays screen's "Link device" (code, QR code, the 6-digit question), each against the core's
other side through a real relay on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input

from tui_sns.core.linking import host_link, join_link
from tui_sns.core.session import Session
from tui_sns.screens.devices import JoinDeviceScreen, LinkDeviceScreen
from tui_sns.screens.main import MainScreen
from tui_sns.screens.relays import RelaysScreen
from tui_sns.screens.widgets import Confirm
from tui_sns.store import Store

from .conftest import CHEAP, PASS
from .test_app import wait_for


@pytest.fixture
def relay(tmp_path):  # type: ignore[no-untyped-def]
    from tui_sns.demo import DemoRelay

    server = DemoRelay(tmp_path / "relay.db")
    server.start()
    yield server
    server.stop()


async def test_first_run_links_to_an_existing_diary(
    tmp_path: Path, make_app: Callable, person: Callable, relay: Any
) -> None:
    ana = person("ana")
    await asyncio.to_thread(ana.relays.add, relay.url, relay.invite())  # it runs an event loop
    secret = ana.diary.post("only for me", title="private").id
    record = ana.relays.list()[0]
    shown: dict[str, Any] = {}
    ready = threading.Event()

    def show(code: Any, qr: str) -> None:
        shown["qr"] = qr
        ready.set()

    def host() -> None:
        try:
            shown["hello"] = host_link(ana, record.url, record.credential, 60, show, lambda hello: True)
        except BaseException as exc:
            shown["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    home = tmp_path / "laptop"
    app = make_app(home)
    try:
        async with app.run_test(size=(120, 48)) as pilot:
            await pilot.pause()
            app.screen.query_one("#link-existing").press()
            await wait_for(pilot, lambda: isinstance(app.screen, JoinDeviceScreen))
            screen = app.screen
            # a mistyped code is said in words; nothing is created
            screen.query_one("#join-code", Input).value = "tsl1-0000"
            screen.query_one("#join").press()
            await pilot.pause()
            assert "mistyped" in str(screen.query_one("#join-error").render())
            assert ready.wait(30) and "error" not in shown
            screen.query_one("#join-code", Input).value = shown["qr"]  # the QR's text names the relay
            screen.query_one("#join-name", Input).value = "laptop"
            screen.query_one("#join-pass1", Input).value = PASS
            screen.query_one("#join-pass2", Input).value = PASS
            screen.query_one("#join").press()
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), timeout=40)
            await pilot.pause(0.3)  # let the diary finish mounting before the test closes the app
            assert app.session is not None and app.session.identity.public == ana.identity.public
            assert app.session.diary.get(secret).body == "only for me"
    finally:
        thread.join(30)
    assert "error" not in shown and shown["hello"].name == "laptop"
    assert Store.exists(home)


async def test_relays_screen_shows_a_link_code_and_asks_for_the_string(
    tmp_path: Path, make_app: Callable, person: Callable, relay: Any
) -> None:
    ana = person("ana")
    await asyncio.to_thread(ana.relays.add, relay.url, relay.invite())  # it runs an event loop
    app = make_app(ana.store.home, ana)
    result: dict[str, Any] = {}
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, RelaysScreen))
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, LinkDeviceScreen))
        screen = app.screen
        await wait_for(
            pilot, lambda: str(screen.query_one("#link-code").render()).startswith("tsl1-"), timeout=30
        )
        assert "█" in str(screen.query_one("#link-qr").render()) or "▀" in str(
            screen.query_one("#link-qr").render()
        )
        code_text = str(screen.query_one("#link-code").render())

        def join() -> None:
            from tui_sns.core.linking import parse_join_code

            try:
                code, _, _ = parse_join_code(code_text)
                result["session"] = join_link(
                    tmp_path / "phone",
                    PASS,
                    code,
                    relay.url,
                    None,
                    "phone",
                    lambda sas: result.setdefault("sas", sas),
                    timeout=40,
                    kdf=CHEAP,
                )
            except BaseException as exc:
                result["error"] = exc

        thread = threading.Thread(target=join)
        thread.start()
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm), timeout=40)
            await wait_for(pilot, lambda: "sas" in result, timeout=40)
            assert result["sas"] in app.screen.question  # the same 6 digits on both devices
            await pilot.press("y")
            await wait_for(
                pilot, lambda: "Linked" in str(screen.query_one("#link-status").render()), timeout=40
            )
        finally:
            await pilot.pause()
            thread.join(40)
    assert "error" not in result, result.get("error")
    phone: Session = result["session"]
    with phone:
        assert phone.identity.public == ana.identity.public
        assert {d.name for d in ana.devices.list()} >= {"phone"}


async def test_devices_screen_removes_a_device_after_asking(
    tmp_path: Path, make_app: Callable, person: Callable
) -> None:
    """design-v2 §10 in the app: Relays → `m` lists my devices; `d` on another device asks, then removes
    it (a new generation of keys, the lost-device advice); this device cannot be removed; `r` asks and
    resets the keys."""
    import os

    from tui_sns.crypto.primitives import x25519_base
    from tui_sns.screens.devices import DevicesScreen

    ana = person("ana")
    ana.devices.add_device(os.urandom(8), x25519_base(os.urandom(32)), "phone")
    gen = ana.resets.generation()
    app = make_app(ana.store.home, ana)
    async with app.run_test(size=(120, 48)) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, RelaysScreen))
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen))
        screen = app.screen
        names = [d.name for d in screen.rows]
        assert "phone" in names and len(names) == 2
        # this device first: refused with a sentence, nothing asked
        screen.query_one("#devices").move_cursor(row=[d.this for d in screen.rows].index(True))
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
        # the phone: asked, cancelled, nothing removed
        screen.query_one("#devices").move_cursor(row=names.index("phone"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        assert "phone" in app.screen.question
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen))
        assert ana.resets.generation() == gen
        # asked again and confirmed
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: ana.resets.generation() == gen + 1)
        await pilot.pause()
        assert [d.name for d in ana.devices.list() if d.removed] == ["phone"]
        note = str(screen.query_one("#devices-note").render())
        assert "Removed 'phone'" in note and "new identity" in note
        # reset the keys: asked, then a further generation
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: ana.resets.generation() == gen + 2)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RelaysScreen))


async def test_first_run_join_is_told_of_a_refusal(
    tmp_path: Path, make_app: Callable, person: Callable, relay: Any
) -> None:
    """The first device says the strings differ: the joining app says so at once (ABORT, design §9.3)
    and creates nothing; the form can be used again."""
    ana = person("ana")
    await asyncio.to_thread(ana.relays.add, relay.url, relay.invite())  # it runs an event loop
    record = ana.relays.list()[0]
    shown: dict[str, Any] = {}
    ready = threading.Event()

    def show(code: Any, qr: str) -> None:
        shown["qr"] = qr
        ready.set()

    def host() -> None:
        try:
            host_link(ana, record.url, record.credential, 60, show, lambda hello: False)
        except BaseException as exc:
            shown["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    home = tmp_path / "laptop"
    app = make_app(home)
    try:
        async with app.run_test(size=(120, 48)) as pilot:
            await pilot.pause()
            app.screen.query_one("#link-existing").press()
            await wait_for(pilot, lambda: isinstance(app.screen, JoinDeviceScreen))
            screen = app.screen
            assert ready.wait(30) and "qr" in shown
            screen.query_one("#join-code", Input).value = shown["qr"]
            screen.query_one("#join-name", Input).value = "laptop"
            screen.query_one("#join-pass1", Input).value = PASS
            screen.query_one("#join-pass2", Input).value = PASS
            screen.query_one("#join").press()
            await wait_for(
                pilot, lambda: "refused the link" in str(screen.query_one("#join-error").render()), timeout=40
            )
            assert not screen.query_one("#join", Button).disabled
    finally:
        thread.join(30)
    assert "strings differ" in str(shown.get("error"))
    assert not Store.exists(home)
