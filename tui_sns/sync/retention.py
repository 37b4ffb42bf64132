"""Where a first read of a relay starts, and what a relay's retention means for me (issue 15 §6, §7).

docs/design-sharding.md §7. Two rules, applied before each pull from a relay:

* **A newcomer starts near now.** Nobody can address an envelope to me before I gave out a card, so
  the first read of a relay (no cursor, never read) starts at ``GET /v1/cursor?at=<at>`` with
  ``at = floor_to_day(first_card_at) - 1 day`` (the relay learns the day, not the second; the day of
  margin covers clock skew and the relay's hour rounding), raised to ``first_seq - 1`` (nothing older
  exists). A relay older than ``/v1/cursor`` (404) gives 0: the whole log, as before.
  ``first_card_at`` is ``meta.first_card_at``: when this identity first produced a card (set by
  ``ContactBook.my_card``); an identity older than that bookkeeping has its creation time there.
* **Retention warnings.** ``/v1/info`` says how long the relay keeps envelopes (``retention``) and
  ``first_seq`` (1 + the highest seq it deleted for age). When ``first_seq > cursor + 1`` at a later
  read, envelopes I had not read were deleted: that loss is recorded with the dates it spans
  (``relay_state.pruned_unread``) and the cursor moves to ``first_seq - 1``. When I have not read a
  relay for ``retention - 2 days`` (at least half the retention), I am told to sync soon. Each
  occurrence is shown once (:func:`take_warnings` records it); ``status --json`` always reports the
  state (:func:`relay_json`).

Values from ``/v1/info`` are checked by :func:`tui_sns.net.transport.parse_relay_info`; a relay that
claims a short retention only makes these warnings appear.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tui_sns.core import clock
from tui_sns.core.errors import NetworkError
from tui_sns.net.transport import RelayClient, RelayGarbage, RelayInfo, RelayRefused
from tui_sns.store import relays as relay_store
from tui_sns.store.database import Store
from tui_sns.store.identity import get_meta, load_identity

log = logging.getLogger(__name__)

DAY = 86400
START_MARGIN = timedelta(days=1)  # subtracted from the day of my first card
APPROACH_MARGIN = 2 * DAY  # warn this long before the retention would drop what I have not read
FIRST_CARD_AT = "first_card_at"  # meta key (tui_sns.core.contacts sets it)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def first_card_at(store: Store) -> datetime:
    """When this identity first gave out a card (else its creation time; else now)."""
    for text in (get_meta(store, FIRST_CARD_AT), load_identity(store).created):
        when = _parse_time(text)
        if when is not None:
            return when
    return clock.now()


def start_time(first_card: datetime) -> int:
    """``at`` for ``/v1/cursor``: the UTC day of ``first_card`` minus one day, in unix seconds (>= 0)."""
    day = first_card.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(0, int((day - START_MARGIN).timestamp()))


def first_cursor(answer: int | None, first_seq: int) -> int:
    """The cursor a first read starts from: the relay's answer (None: an older relay, 0), never below
    ``first_seq - 1``."""
    return max(answer or 0, first_seq - 1, 0)


async def prepare_pull(
    store: Store, client: RelayClient, info: RelayInfo | None = None, *, info_read: bool = False
) -> None:
    """Before pulling from ``client``: read its ``/v1/info``, start a first read near now, and record a
    loss (envelopes deleted before I read them). ``info``: this pass's ``/v1/info`` when the caller
    already read it (``info_read``; None then: it was unusable), else it is read here.

    Raises NetworkError when ``/v1/cursor`` cannot be reached or answers 5xx (the pull is retried
    later); a relay that refuses it (4xx) or answers something malformed is read from the start, as
    relays older than it are."""
    url = client.url
    state = relay_store.get_state(store, url)
    first_seq = 0
    try:
        if info is None and not info_read:
            info = await client.info()
    except NetworkError as exc:  # (an unreadable /v1/info costs only the warnings)
        log.debug("no /v1/info from %s: %s", url, exc)
    if info is not None:
        first_seq = info.first_seq
        relay_store.set_retention(store, url, info.retention, first_seq)
        state = relay_store.get_state(store, url)
    if state.cursor == 0 and state.last_ok is None:
        try:
            answer = await client.cursor_at(start_time(first_card_at(store)))
        except (RelayGarbage, RelayRefused) as exc:
            if isinstance(exc, RelayRefused) and exc.status >= 500:
                raise  # (a relay in trouble: try again later rather than read its whole history)
            log.debug("no usable /v1/cursor from %s: %s", url, exc)
            answer = None  # a relay that cannot answer it is read from the start, as before
        cursor = first_cursor(answer, first_seq)
        if cursor:
            relay_store.set_cursor(store, url, cursor)
        return
    if first_seq > state.cursor + 1:
        now = clock.now()
        until = now - timedelta(seconds=state.retention) if state.retention is not None else now
        since = _parse_time(state.last_ok)
        loss = {
            "after": state.cursor,
            "first_seq": first_seq,
            "from": since.date().isoformat() if since is not None and since <= until else None,
            "to": until.date().isoformat(),
            "detected": now.isoformat(),
            "shown": False,
        }
        with store.write():
            relay_store.set_pruned_unread(store, url, json.dumps(loss))
            relay_store.set_cursor(store, url, first_seq - 1)


@dataclass(frozen=True)
class Loss:
    """Envelopes a relay deleted before I read them: seqs ``after < seq < first_seq``, sent between the
    dates ``since`` (my last read of it; None: unknown) and ``until`` (now minus its retention)."""

    after: int
    first_seq: int
    since: str | None
    until: str
    shown: bool


def loss_of(state: relay_store.RelayState) -> Loss | None:
    """The last loss recorded for a relay (None: none, or an unreadable record)."""
    if not state.pruned_unread:
        return None
    try:
        raw = json.loads(state.pruned_unread)
        return Loss(
            int(raw["after"]), int(raw["first_seq"]), raw.get("from"), str(raw["to"]), bool(raw["shown"])
        )
    except (ValueError, TypeError, KeyError):
        return None


def _span(seconds: float) -> str:
    """A duration in words: days, hours, minutes or seconds (whole, rounded down)."""
    seconds = max(0, int(seconds))
    for size, unit in ((DAY, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size or size == 1:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable")


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def approaching_threshold(retention: int) -> float:
    """Seconds without a read after which the approaching warning shows: ``retention - 2 days``, but at
    least half the retention (a relay that keeps envelopes a day warns after 12 hours)."""
    return max(retention - APPROACH_MARGIN, retention / 2)


def approaching(state: relay_store.RelayState, now: datetime) -> str | None:
    """The "sync soon" warning for this relay now, or None."""
    last = _parse_time(state.last_ok)
    if state.retention is None or last is None:
        return None
    away = (now - last).total_seconds()
    if away < approaching_threshold(state.retention):
        return None
    return (
        f"{_host(state.url)} keeps envelopes {_span(state.retention)} and you last read it {_span(away)} ago: "
        "sync soon or entries sent to you may be lost"
    )


def lost_text(url: str, loss: Loss) -> str:
    since = f"between {loss.since} and {loss.until}" if loss.since else f"before {loss.until}"
    return (
        f"{_host(url)} dropped envelopes you had not read (sent {since}): some entries to you may be lost. "
        "Contacts' chains will show which."
    )


def relay_json(state: relay_store.RelayState, now: datetime) -> dict[str, object]:
    """The retention fields of a relay in ``status --json``."""
    loss = loss_of(state)
    return {
        "retention": state.retention,
        "first_seq": state.first_seq,
        "pruned_unread": loss is not None,
        "pruned_between": [loss.since, loss.until] if loss is not None else None,
        "retention_warning": approaching(state, now) is not None,
    }


def take_warnings(store: Store, urls: list[str]) -> list[str]:
    """The retention warnings of ``urls`` not shown yet, each recorded as shown (once per occurrence:
    a loss once, an approaching retention once per last successful read). A read-only store shows
    them without recording."""
    now = clock.now()
    shown: list[str] = []
    for url in urls:
        state = relay_store.get_state(store, url)
        loss = loss_of(state)
        lines: list[str] = []
        if loss is not None and not loss.shown:
            lines.append(lost_text(url, loss))
            if not store.read_only:
                assert state.pruned_unread is not None
                record = json.loads(state.pruned_unread)
                record["shown"] = True
                relay_store.set_pruned_unread(store, url, json.dumps(record))
        text = approaching(state, now)
        if text is not None and state.last_ok and state.warned_approaching != state.last_ok:
            lines.append(text)
            if not store.read_only:
                relay_store.set_warned_approaching(store, url, state.last_ok)
        shown.extend(lines)
    return shown
