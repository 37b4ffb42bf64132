"""One error root for the client: every exception class tui-sns defines outside the relay server is a
TuiSnsError, so the screens and the CLI catch one family."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import tui_sns
from tui_sns.errors import CoreError, NetworkError, TuiSnsError


def _client_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tui_sns.__path__, "tui_sns."):
        if info.name.startswith("tui_sns.sync.relay") or info.name.endswith("__main__"):  # the relay server:
            # its own process, its own errors; __main__ runs the CLI when imported
            continue
        names.append(info.name)
    return names


def test_every_client_error_class_is_a_tui_sns_error() -> None:
    strays = []
    seen = 0
    for name in _client_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            seen += 1
            if not issubclass(cls, TuiSnsError):
                strays.append(f"{name}.{cls.__name__}")
    assert seen > 20  # the walk found the error classes
    assert strays == []


def test_the_families_keep_their_names_and_places() -> None:
    from tui_sns.cli.errors import CliError
    from tui_sns.core import errors as core_errors
    from tui_sns.crypto.errors import CryptoError
    from tui_sns.net.transport import RelayUnavailable
    from tui_sns.store.errors import StoreError, WrongPassphrase

    assert core_errors.CoreError is CoreError and core_errors.NetworkError is NetworkError
    assert core_errors.WrongPassphrase is WrongPassphrase
    for family in (CoreError, StoreError, CryptoError, CliError):
        assert issubclass(family, TuiSnsError)
    assert issubclass(RelayUnavailable, NetworkError) and issubclass(NetworkError, CoreError)
