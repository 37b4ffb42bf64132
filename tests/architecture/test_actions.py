"""Every action in the registry (tui_sns/screens/actions.py) is bound by a screen or widget of its scope
and resolves to a method there: a renamed method or a mistyped action name fails here, not silently at
a key press."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode

import tui_sns.screens
from tui_sns.screens.actions import ACTIONS, Action
from tui_sns.screens.app import TuiSnsApp


def _classes() -> list[type[DOMNode]]:
    found: dict[str, type[DOMNode]] = {}
    for info in pkgutil.iter_modules(tui_sns.screens.__path__, "tui_sns.screens."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__.startswith("tui_sns."):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


CLASSES = _classes()


def binders(action: Action) -> list[type[DOMNode]]:
    """The classes whose own BINDINGS carry this action's binding id."""
    return [
        cls
        for cls in CLASSES
        if any(isinstance(b, Binding) and b.id == action.id for b in cls.__dict__.get("BINDINGS", []))
    ]


# App actions that screens bind again on purpose: "? Help" first in their footers (actions.HELP_FIRST).
REBOUND = {"app.help"}


def unresolved(action: Action) -> list[str]:
    """Why ``action`` would do nothing: no class binds it, or a binder lacks the method."""
    classes = binders(action)
    if not classes:
        return [f"{action.id}: no screen or widget binds it"]
    namespace, _, name = action.action.rpartition(".")
    problems = []
    for cls in classes:
        target: type = TuiSnsApp if namespace == "app" else cls
        if not callable(getattr(target, f"action_{name}", None)):
            problems.append(f"{action.id}: {target.__name__} has no action_{name}")
        if action.scope == "app" and not issubclass(cls, App) and action.id not in REBOUND:
            problems.append(f"{action.id}: scope app, bound on {cls.__name__}")
    return problems


@pytest.mark.parametrize("action", ACTIONS, ids=[a.id for a in ACTIONS])
def test_every_action_resolves_to_a_method_of_its_scope(action: Action) -> None:
    assert unresolved(action) == []
    assert action.id.split(".", 1)[0] == action.scope  # the id names its scope


def test_a_broken_action_is_caught() -> None:
    typo = Action("main.compose", "c", "compos", "Write", "main")
    assert unresolved(typo) == ["main.compose: MainScreen has no action_compos"]
    unbound = Action("main.nothing", "z", "compose", "Nothing", "main")
    assert unresolved(unbound) == ["main.nothing: no screen or widget binds it"]
