"""Snapshots of the main screens at a fixed size with fixed names and times (no keys, no clocks)."""

from __future__ import annotations

from collections.abc import Callable

from tui_sns.core.session import Session

SIZE = (110, 32)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


def test_main_screen(snap_compare, ann_world: Session, make_app: Callable) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)

    assert snap_compare(make_app(ann_world.store.home, ann_world), terminal_size=SIZE, run_before=run_before)


def test_composer(snap_compare, ann_world: Session, make_app: Callable, monkeypatch) -> None:
    from tui_sns.screens.compose import ComposeScreen

    monkeypatch.setattr(ComposeScreen, "AUTOSAVE_SECONDS", 3600.0)  # no "Draft saved." race

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"Dinner on Friday?")

    assert snap_compare(make_app(ann_world.store.home, ann_world), terminal_size=SIZE, run_before=run_before)


def test_circles(snap_compare, ann_world: Session, make_app: Callable) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)

    assert snap_compare(make_app(ann_world.store.home, ann_world), terminal_size=SIZE, run_before=run_before)


def test_contacts(snap_compare, ann_world: Session, make_app: Callable) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)

    assert snap_compare(make_app(ann_world.store.home, ann_world), terminal_size=SIZE, run_before=run_before)


NARROW = (80, 24)  # issue 13: titles clear of badges, "? Help" in the footer, labels whole


def test_main_screen_80x24(snap_compare, ann_world: Session, make_app: Callable) -> None:
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)

    assert snap_compare(
        make_app(ann_world.store.home, ann_world), terminal_size=NARROW, run_before=run_before
    )


def test_onboarding_80x24(snap_compare, make_app: Callable, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)

    assert snap_compare(make_app(tmp_path / "fresh-home"), terminal_size=NARROW, run_before=run_before)
