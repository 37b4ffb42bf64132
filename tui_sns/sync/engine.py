"""Client sync: push my outbox to my relays, pull every relay I may find envelopes on, open, store.

Every step is idempotent and crash-safe: a page of envelopes is stored together with the advanced
cursor in one transaction, envelope ids already processed are skipped, and an outbox envelope is
marked delivered to a relay only after that relay acknowledged it (relays store identical bytes once).

The engine is asyncio-based. ``sync_once()`` is the blocking entry point (CLI, or a thread worker);
``watch()`` is a coroutine that runs until cancelled — run it in its own thread with ``asyncio.run``
from a UI so store writes and envelope opening never block the UI's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from tui_sns.core import clock
from tui_sns.core.clock import now_iso
from tui_sns.core.errors import NetworkError
from tui_sns.core.inbox import ReceiveReport
from tui_sns.net.transport import Page, RelayClient, RelayRefused, RemoteEnvelope, normalize_url
from tui_sns.store import mailbox
from tui_sns.store import relays as relay_store
from tui_sns.store.identity import get_meta, set_meta

if TYPE_CHECKING:
    from tui_sns.core.session import Session

Progress = Callable[[str, int], None]  # (relay url, envelopes processed so far from it)
MAX_BACKOFF = 3600
ACK_BATCH = 100  # outbox acknowledgements recorded per store transaction
PUSH_BATCH = 100  # outbox envelopes per batch upload
PUSH_BATCH_BYTES = 4 * 1024 * 1024  # and at most this many envelope bytes (relays accept 8 MiB)
NO_BATCH_ENDPOINT = (404, 405)  # a relay older than POST /v1/envelopes/batch
REFUSED_ENVELOPE = (400, 413)  # the relay refuses this envelope (or batch) as such: retrying will not help
MAX_ROUNDS = 3  # push-pull rounds of one sync: again only while a pull queued new envelopes


@dataclass
class SyncReport:
    pushed: int = 0
    pulled: int = 0
    received: ReceiveReport = field(default_factory=ReceiveReport)
    errors: list[str] = field(default_factory=list)

    @property
    def new_post_ids(self) -> list[str]:
        return self.received.new_post_ids


@dataclass(frozen=True)
class RelayStatus:
    url: str
    mine: bool
    reachable: bool | None
    last_ok: str | None
    error: str | None
    named_by: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "mine": self.mine,
            "reachable": self.reachable,
            "last_ok": self.last_ok,
            "error": self.error,
            "named_by": list(self.named_by),
        }


@dataclass(frozen=True)
class SyncStatus:
    relays: list[RelayStatus]
    outbox: int
    last_sync: str | None
    missing: list[tuple[str, int]]
    chain_breaks: list[tuple[str, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "relays": [r.as_json() for r in self.relays],
            "outbox": self.outbox,
            "last_sync": self.last_sync,
            "missing": [{"contact": n, "count": c} for n, c in self.missing],
            "chain_breaks": [{"contact": n, "seq": q} for n, q in self.chain_breaks],
        }


async def _let_run(task: asyncio.Future[Page], steps: int = 8) -> None:
    """Yield to the loop a few times so ``task`` gets its request onto the wire before we block."""
    for _ in range(steps):
        if task.done():
            return
        await asyncio.sleep(0)


def _chunks(
    pending: list[tuple[str, bytes, int, int | None]],
) -> list[list[tuple[str, bytes, int, int | None]]]:
    """Outbox order, cut into batches of at most PUSH_BATCH envelopes and PUSH_BATCH_BYTES bytes."""
    chunks: list[list[tuple[str, bytes, int, int | None]]] = []
    size = 0
    for item in pending:
        if not chunks or len(chunks[-1]) >= PUSH_BATCH or size + len(item[1]) > PUSH_BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item[1])
    return chunks


def backoff_seconds(attempts: int) -> int:
    return int(min(2 ** max(attempts, 0), MAX_BACKOFF))


class SyncEngine:
    def __init__(
        self,
        session: Session,
        transport: httpx.AsyncBaseTransport | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.session = session
        self.store = session.store
        self.transport = transport
        self.progress = progress

    # -- which relays -------------------------------------------------------------------------

    def _targets(self) -> list[tuple[str, str | None, bool, tuple[str, ...]]]:
        """(url, my credential or None, is it mine, names of contacts whose cards name it)."""
        named: dict[str, list[str]] = {}
        for contact in self.session.contacts.list():
            for url in contact.relays:
                with contextlib.suppress(NetworkError):
                    named.setdefault(normalize_url(url), []).append(contact.name)
        mine = {r.url: r.credential for r in relay_store.list_relays(self.store)}
        urls = list(mine) + sorted(u for u in named if u not in mine)
        return [(u, mine.get(u), u in mine, tuple(named.get(u, ()))) for u in urls]

    def _client(self, url: str, credential: str | None) -> RelayClient:
        return RelayClient(url, credential, transport=self.transport)

    # -- one pass -------------------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        return asyncio.run(self.sync_once_async())

    async def sync_once_async(self) -> SyncReport:
        """Push, pull, and push again while the pull created work (a comment on my entry queues its
        forward; at most MAX_ROUNDS rounds), so one sync leaves nothing in the outbox it could send."""
        report = SyncReport()
        targets = self._targets()
        for _ in range(MAX_ROUNDS):
            queued = mailbox.last_queued(self.store)
            await asyncio.gather(
                *(self._sync_relay(url, cred, mine, named, report) for url, cred, mine, named in targets)
            )
            if mailbox.last_queued(self.store) == queued or not any(mine for _, _, mine, _ in targets):
                break
        report.errors[:] = list(dict.fromkeys(report.errors))
        set_meta(self.store, "last_sync", now_iso())
        return report

    async def _sync_relay(
        self, url: str, credential: str | None, mine: bool, named_by: tuple[str, ...], report: SyncReport
    ) -> None:
        failures: list[str] = []
        async with self._client(url, credential) as client:
            # A failed push (say, a rate limit on writes) does not stop the pull, and vice versa.
            if mine:
                try:
                    await self.push(client, honor_backoff=False, report=report)
                except NetworkError as exc:
                    failures.append(str(exc))
            try:
                # Await first, then add: ``x += await ...`` reads x before the await and would lose the
                # counts of the other relays synced concurrently.
                fetched = await self.pull(client, report.received)
                report.pulled += fetched
            except NetworkError as exc:
                message = str(exc)
                if named_by and not mine:
                    message += f" (named by the card of {', '.join(named_by)})"
                failures.append(message)
        for message in dict.fromkeys(failures):
            report.errors.append(message)
        relay_store.record_result(self.store, url, now_iso(), "; ".join(dict.fromkeys(failures)) or None)

    async def push(
        self, client: RelayClient, *, honor_backoff: bool, report: SyncReport | None = None
    ) -> int:
        """Send every outbox envelope this relay has not acknowledged. Returns how many were sent.

        Envelopes go in outbox order, in batches (``POST /v1/envelopes/batch``, each acknowledged
        after the relay's commit) or one by one to a relay without that endpoint. An envelope the
        relay refuses as such (400, 413) is backed off and the others still go; the push then raises
        that refusal. Any other failure backs off the envelopes not acknowledged and ends the push.

        ``report.pushed`` is increased as acknowledgements are recorded, so it also counts the
        envelopes a relay took before a failure ends the push (the exception carries no count).
        """
        now = clock.now()
        pending = relay_store.pending_deliveries(self.store, client.url, now_iso() if honor_backoff else None)
        sent = 0
        acked: list[str] = []

        def record_acks() -> None:
            # Acknowledgements are recorded in batches: one durable store write per envelope cost more
            # than the upload itself. A crash before a batch is recorded only re-sends those envelopes
            # next time, and a relay stores identical bytes once.
            if acked:
                when = now_iso()
                with self.store.write():
                    for acked_id in acked:
                        relay_store.mark_delivered(self.store, acked_id, client.url, when)
                if report is not None:
                    report.pushed += len(acked)
                acked.clear()

        refused: list[NetworkError] = []
        batches = True  # until the relay shows it has no batch endpoint

        def failed(chunk: list[tuple[str, bytes, int, int | None]]) -> None:
            with self.store.write():
                for eid, _data, attempts, _expires in chunk:
                    retry = now + timedelta(seconds=backoff_seconds(attempts))
                    relay_store.mark_failed(
                        self.store, eid, client.url, retry.replace(microsecond=0).isoformat()
                    )

        async def put_one(item: tuple[str, bytes, int, int | None]) -> None:
            nonlocal sent
            eid, data, _attempts, expires = item
            try:
                await client.put(data, expires=expires)
            except NetworkError as exc:
                failed([item])
                if isinstance(exc, RelayRefused) and exc.status in REFUSED_ENVELOPE:
                    # The relay will never take this one (say, too large): back it off, go on with
                    # the others, and report it when the push ends.
                    refused.append(exc)
                    return
                raise
            acked.append(eid)
            sent += 1
            if len(acked) >= ACK_BATCH:
                record_acks()

        try:
            for chunk in _chunks(pending):
                if batches and len(chunk) > 1:
                    try:
                        await client.put_many([data for _, data, _, _ in chunk], [e for *_, e in chunk])
                    except RelayRefused as exc:
                        if exc.status in NO_BATCH_ENDPOINT:
                            batches = False
                        elif exc.status not in REFUSED_ENVELOPE:
                            failed(chunk)
                            raise
                        # Else one of them is refused, or the batch is over this relay's limits:
                        # nothing was stored, so send them one by one to find out which.
                    except NetworkError:
                        failed(chunk)
                        raise
                    else:
                        acked.extend(eid for eid, *_ in chunk)
                        sent += len(chunk)
                        record_acks()
                        continue
                for item in chunk:
                    await put_one(item)
            if refused:
                raise refused[0]
        finally:
            record_acks()
        return sent

    async def pull(self, client: RelayClient, into: ReceiveReport) -> int:
        """Fetch the relay's log after my cursor, page by page; each page and its cursor in one transaction."""
        cursor = relay_store.get_state(self.store, client.url).cursor
        fetched = 0
        page = await client.page(cursor)
        while True:
            # Ask for the next page before storing this one, so the relay prepares it meanwhile. The
            # cursor still advances only with a stored page: a crash re-fetches what was not stored.
            ahead = asyncio.ensure_future(client.page(page.next)) if page.more else None
            try:
                if ahead is not None:
                    await _let_run(ahead)
                self._apply(client.url, page.envelopes, page.next, into)
            except BaseException:
                if ahead is not None:
                    ahead.cancel()
                    with contextlib.suppress(BaseException):
                        await ahead
                raise
            fetched += len(page.envelopes)
            if self.progress is not None:
                self.progress(client.url, fetched)
            if ahead is None:
                return fetched
            page = await ahead

    def _apply(self, url: str, envelopes: list[RemoteEnvelope], cursor: int, into: ReceiveReport) -> None:
        # Open without the store lock (the costly part), then record the page and its cursor in one
        # transaction.
        inbox = self.session.inbox
        batch = inbox.open([e.data for e in envelopes])
        with self.store.write():
            inbox.record(batch, into)
            relay_store.set_cursor(self.store, url, cursor)
        self.session.diary.purge_expired()

    # -- staying connected ----------------------------------------------------------------------

    async def watch(
        self,
        on_report: Callable[[SyncReport], None | Awaitable[None]] | None = None,
        *,
        push_interval: float = 2.0,
        retry_interval: float = 5.0,
    ) -> None:
        """Stream from every relay and push the outbox, until cancelled. Reconnects with back-off."""

        async def emit(report: SyncReport) -> None:
            set_meta(self.store, "last_sync", now_iso())
            if on_report is not None:
                result = on_report(report)
                if asyncio.iscoroutine(result):
                    await result

        async def follow(url: str, credential: str | None, mine: bool, named_by: tuple[str, ...]) -> None:
            delay = retry_interval
            while True:
                try:
                    async with self._client(url, credential) as client:
                        # Catch up page by page first, then apply each streamed envelope as it comes.
                        caught_up = SyncReport()
                        caught_up.pulled = await self.pull(client, caught_up.received)
                        relay_store.record_result(self.store, url, now_iso(), None)
                        delay = retry_interval
                        await emit(caught_up)
                        async for envelope in client.stream(relay_store.get_state(self.store, url).cursor):
                            report = SyncReport(pulled=1)
                            self._apply(url, [envelope], envelope.seq, report.received)
                            await emit(report)
                except NetworkError as exc:
                    message = str(exc) + (
                        f" (named by the card of {', '.join(named_by)})" if named_by and not mine else ""
                    )
                    relay_store.record_result(self.store, url, now_iso(), message)
                    await emit(SyncReport(errors=[message]))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300)

        async def pusher() -> None:
            while True:
                for url, credential, mine, _ in self._targets():
                    if not mine:
                        continue
                    async with self._client(url, credential) as client:
                        try:
                            sent = await self.push(client, honor_backoff=True)
                        except NetworkError as exc:
                            relay_store.record_result(self.store, url, now_iso(), str(exc))
                            await emit(SyncReport(errors=[str(exc)]))
                            continue
                    if sent:
                        await emit(SyncReport(pushed=sent))
                await asyncio.sleep(push_interval)

        tasks = [asyncio.create_task(follow(*t)) for t in self._targets()]
        tasks.append(asyncio.create_task(pusher()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- status ---------------------------------------------------------------------------------

    def status(self, probe: bool = True) -> SyncStatus:
        targets = self._targets()
        reachable: dict[str, bool | None] = {url: None for url, *_ in targets}
        if probe and targets:

            async def check(url: str) -> None:
                async with RelayClient(url, transport=self.transport) as client:
                    reachable[url] = await client.healthy()

            async def check_all() -> None:
                await asyncio.gather(*(check(url) for url, *_ in targets))

            asyncio.run(check_all())
        relays = []
        for url, _cred, mine, named_by in targets:
            state = relay_store.get_state(self.store, url)
            relays.append(RelayStatus(url, mine, reachable[url], state.last_ok, state.last_error, named_by))
        return SyncStatus(
            relays=relays,
            outbox=relay_store.undelivered_count(self.store),
            last_sync=get_meta(self.store, "last_sync"),
            missing=self.session.diary.missing(),
            chain_breaks=self.session.diary.chain_breaks(),
        )
