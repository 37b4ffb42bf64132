"""Helpers for the conversation tests (pytest puts this directory on sys.path)."""

from __future__ import annotations

from typing import Any


def befriend(a: Any, b: Any) -> None:
    """Two open sessions add each other's current card."""
    a.contacts.add(b.contacts.my_card())
    b.contacts.add(a.contacts.my_card())
