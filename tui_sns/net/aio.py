"""``wait_for`` that never loses a cancellation.

On Python 3.11, ``asyncio.wait_for`` returns the awaited result when it arrives together with a
cancellation of the waiting task, and the cancellation is dropped (fixed in 3.12, gh-86296): a
watch loop cancelled at that moment went on for ever. :func:`wait_for` raises the cancellation then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(awaitable: Awaitable[T], timeout: float | None) -> T:
    """``asyncio.wait_for(awaitable, timeout)`` (``TimeoutError`` after ``timeout`` seconds), but a
    cancellation of the calling task that arrived with the result raises ``CancelledError``."""
    result = await asyncio.wait_for(awaitable, timeout)
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result
