"""Every `--help` is complete and uniform: each command and command group has a description (and a
line in its parent's list), each option and positional has help, positionals are named in CAPITALS
(as COMMAND, ACTION, QUERY are), for both `tui-sns` and `tui-sns-relay`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import pytest

from tui_sns.cli.main import build_parser
from tui_sns.sync.relay.cli import _parser as relay_parser


def walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not listed.get(name):
                    yield f"{path} {name} (no line in the list of {path})", argparse.ArgumentParser()
                yield from walk(sub, f"{path} {name}")


@pytest.mark.parametrize("prog, make", [("tui-sns", build_parser), ("tui-sns-relay", relay_parser)])
def test_every_help_has_a_description_and_every_argument_help(
    prog: str, make: Callable[[], argparse.ArgumentParser]
) -> None:
    problems: list[str] = []
    for path, parser in walk(make(), prog):
        parser.format_help()  # renders (a stray % in a help text would raise here)
        if not parser.description:
            problems.append(f"{path}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            if not action.help or action.help == argparse.SUPPRESS:
                problems.append(f"{path} {name}: no help")
            if not action.option_strings and name != name.upper():
                problems.append(f"{path} {name}: a positional is named in capitals")
    assert problems == [], "\n".join(problems)
