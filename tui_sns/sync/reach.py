"""Which relays the sync engine may contact: a contact's relay at a private address only when allowed.

A relay that only a contact's card names, whose URL points into my own machine or network
(:mod:`tui_sns.net.addresses`: loopback, private LAN, link-local, local names, or — when connecting
directly, not through a proxy — a name that resolves to such an address), is contacted only when

* a contact whose card names it is verified (``contacts verify NAME --mark``), or
* private relays are allowed (``--allow-private-relays`` or ``TUI_SNS_ALLOW_PRIVATE_RELAYS=1``), or
* it is on loopback and so is one of my own relays (this machine runs relays for itself: a demo, a
  test, a developer's setup).

Otherwise it is skipped and reported by name (``sync`` prints a line, ``status`` lists it). My own
relays are always contacted: I joined them. docs/threat-model.md, "Relays at private addresses".
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from tui_sns.net.addresses import is_loopback, private_reason, private_relays_allowed, resolved_private_reason

Target = tuple[str, str | None, bool, tuple[str, ...]]  # (url, credential, mine, named by)


@dataclass(frozen=True)
class Skipped:
    """A contact's relay that was not contacted: its URL, the contacts naming it, and why."""

    url: str
    named_by: tuple[str, ...]
    reason: str  # e.g. "a loopback address (this machine)"

    @property
    def message(self) -> str:
        """One line naming the relay, its cards, the reason and the ways to allow it."""
        names = ", ".join(self.named_by)
        return (
            f"relay {self.url} (named by the card of {names}) was not contacted: it is {self.reason} "
            "and no contact naming it is verified (verify one with `tui-sns contacts verify NAME --mark`, "
            "or allow private relays with --allow-private-relays)"
        )


def _needs_check(target: Target, verified: Collection[str]) -> bool:
    _url, _credential, mine, named_by = target
    return not mine and not any(name in verified for name in named_by)


def must_be_public(target: Target, verified: Collection[str]) -> bool:
    """Whether connections to this relay must go to public addresses only: a contact's relay, judged
    public (by its URL), that nothing allows to be private. The engine connects to it with
    ``RelayClient(public_only=True)``, which checks the address it actually connects to (a name that
    resolves differently later, DNS rebinding, is refused then)."""
    return (
        not private_relays_allowed() and _needs_check(target, verified) and private_reason(target[0]) is None
    )


def _split(targets: Sequence[Target], reasons: Sequence[str | None]) -> tuple[list[Target], list[Skipped]]:
    loopback_of_mine = any(mine and is_loopback(url) for url, _c, mine, _n in targets)
    kept: list[Target] = []
    skipped: list[Skipped] = []
    for target, reason in zip(targets, reasons, strict=True):
        if reason is None or (loopback_of_mine and is_loopback(target[0])):
            kept.append(target)
        else:
            skipped.append(Skipped(target[0], target[3], reason))
    return kept, skipped


def screen_now(targets: Sequence[Target], verified: Collection[str]) -> tuple[list[Target], list[Skipped]]:
    """Split ``targets`` into those to contact and those skipped, judging each URL as written (no
    lookups), as the module docstring says. ``verified``: names of verified contacts."""
    if private_relays_allowed():
        return list(targets), []
    return _split(targets, [private_reason(t[0]) if _needs_check(t, verified) else None for t in targets])


async def screen(
    targets: Sequence[Target], verified: Collection[str], *, resolve: bool
) -> tuple[list[Target], list[Skipped]]:
    """:func:`screen_now`, and with ``resolve`` the relay names are looked up too (only when connecting
    directly: through a proxy, names are the proxy's to resolve, and looking them up here would leak
    them). Lookups run concurrently, each bounded by ``addresses.RESOLVE_TIMEOUT``."""
    if not resolve or private_relays_allowed():
        return screen_now(targets, verified)

    async def judge(target: Target) -> str | None:
        return await resolved_private_reason(target[0]) if _needs_check(target, verified) else None

    return _split(targets, await asyncio.gather(*(judge(t) for t in targets)))
