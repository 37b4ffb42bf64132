"""A rich progress display for long syncs, shown only when the stream is a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TextIO

from tui_sns.core.display import safe_line
from tui_sns.sync.engine import Progress


@contextlib.contextmanager
def progress_reporter(stream: TextIO) -> Iterator[Progress | None]:
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    with RichProgress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} envelopes"),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(url: str, done: int) -> None:
            if url not in tasks:  # a contact's card named the URL: shown as one safe line, never markup
                tasks[url] = bar.add_task(escape(safe_line(url, 80)), total=None)
            bar.update(tasks[url], completed=done)

        yield update
