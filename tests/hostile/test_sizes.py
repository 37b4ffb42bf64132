"""Issue 8 §4: the size limit speaks of what the person typed; the encoding barely inflates text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.errors import InvalidInput
from tui_sns.core.messages import PostMessage

QUOTES_AND_TABS = '"\t' * 20_000  # 40,000 characters


def _friends(people: Callable[..., Any]) -> Any:
    ann, bob = people("ann", "bob")
    ann.contacts.add(bob.contacts.my_card(), "bob")
    return ann


def test_limit_message_speaks_of_the_typed_text(people: Callable[..., Any]) -> None:
    """Seen: a 40,000-character body of quotes and tabs was refused as "at most about 63 KiB"."""
    ann = _friends(people)
    with pytest.raises(InvalidInput) as refused:
        ann.diary.post(QUOTES_AND_TABS, to=["bob"])
    message = str(refused.value)
    assert "KiB" not in message
    assert "40,000 characters" in message
    assert "80,000 bytes" in message  # each quote and tab is escaped: 2 bytes
    fit = int(re.search(r"about ([\d,]+) characters of this text fit", message).group(1).replace(",", ""))
    # the stated limit is the real one for this text: that many fit, a few more do not
    ann.diary.post(QUOTES_AND_TABS[:fit], to=["bob"])
    with pytest.raises(InvalidInput):
        ann.diary.post(QUOTES_AND_TABS[: fit + 4], to=["bob"])


def test_limit_message_for_an_edit(people: Callable[..., Any]) -> None:
    ann = _friends(people)
    entry = ann.diary.post("short", to=["bob"]).id
    with pytest.raises(InvalidInput, match="40,000 characters"):
        ann.diary.edit(entry, body=QUOTES_AND_TABS)
    assert ann.diary.get(entry).body == "short"  # nothing lost, nothing half-changed


@pytest.mark.parametrize("document", ["README.md", "docs/threat-model.md", "docs/protocol.md"])
def test_payload_inflates_ordinary_text_by_at_most_three_percent(document: str) -> None:
    text = (Path(__file__).resolve().parents[2] / document).read_text(encoding="utf-8")
    empty = len(PostMessage("0" * 16, "", "", "2026-01-01T00:00:00+00:00", "0" * 64).encode())
    payload = len(PostMessage("0" * 16, "", text, "2026-01-01T00:00:00+00:00", "0" * 64).encode())
    assert (payload - empty) / len(text.encode("utf-8")) <= 1.03
