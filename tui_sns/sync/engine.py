"""Client sync: push my outbox to my relays, pull every relay I may find envelopes on, open, store.

Every step is idempotent and crash-safe: a page of envelopes is stored together with the advanced
cursor in one transaction, envelope ids already processed are skipped, and an outbox envelope is
marked delivered to a relay only after that relay acknowledged it (relays store identical bytes once).

The engine is asyncio-based. ``sync_once()`` is the blocking entry point (CLI, or a thread worker);
``watch()`` is a coroutine that runs until cancelled — run it in its own thread with ``asyncio.run``
from a UI so store writes and envelope opening never block the UI's event loop.

Each pass reads the relay's shard count from ``/v1/info``; on a relay with more than one shard
(docs/protocol.md, *Shard routes*) uploads carry tags computed at push time from the recipients' seeds,
the pull pages (and watch mode streams) only my shard, and contacts who write there are sent my seed.

Each relay fails alone: whatever goes wrong with one (an error answer, a malformed one that the
transport refuses, a URL from a contact's card that cannot be used, or an unexpected exception) is
reported as that relay's error, naming it, and the other relays go on. One pass fetches at most
``MAX_PULL_PAGES`` pages and ``MAX_PULL_BYTES`` envelope bytes from each relay and continues on the
next pass. The watch loop retries a failed relay after ``retry_interval`` doubling up to
``WATCH_RETRY_MAX``. It stores streamed envelopes in batches (those arriving within
``WATCH_BATCH_WINDOW``, one transaction with the cursor) and pushes at once when they queued outgoing
work (a comment's forward); an outbox envelope a relay did not take is retried after 2^attempts seconds up
to ``MAX_BACKOFF``, and at once when that relay answers again.

A relay only a contact's card names is contacted only as ``tui_sns.sync.reach`` allows (not at a
private address unless the contact is verified or it is allowed); a skipped one is a note naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from tui_sns.core import clock
from tui_sns.core.clock import now_iso
from tui_sns.core.errors import NetworkError
from tui_sns.core.inbox import ReceiveReport
from tui_sns.core.routing import shard_tags, slot_count
from tui_sns.net.aio import wait_for
from tui_sns.net.transport import (
    PAGE,
    InvalidRelayUrl,
    Page,
    Probe,
    RelayClient,
    RelayGarbage,
    RelayInfo,
    RelayRefused,
    RemoteEnvelope,
    configured_proxy,
    normalize_url,
)
from tui_sns.store import devices as device_store
from tui_sns.store import mailbox
from tui_sns.store import relays as relay_store
from tui_sns.store import routes as route_store
from tui_sns.store.identity import get_meta, set_meta
from tui_sns.sync import retention
from tui_sns.sync.reach import Skipped, Target, must_be_public, screen, screen_now

if TYPE_CHECKING:
    from tui_sns.core.session import Session

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (relay url, envelopes processed so far from it)
MAX_BACKOFF = 60  # s: the longest an outbox envelope waits before it is offered to a relay again
WATCH_RETRY_MAX = 30.0  # s: the longest the watch loop waits before it reconnects to a failed relay
MAX_PULL_PAGES = 20  # pages fetched from one relay in one pass (then the next pass continues)
MAX_PULL_BYTES = 64 * 1024 * 1024  # envelope bytes fetched from one relay in one pass
CATCH_UP_PAUSE = 1.0  # s: the watch loop's pause between bounded catch-up passes of one relay
ACK_BATCH = 100  # outbox acknowledgements recorded per store transaction
PUSH_BATCH = 100  # outbox envelopes per batch upload
PUSH_BATCH_BYTES = 4 * 1024 * 1024  # and at most this many envelope bytes (relays accept 8 MiB)
NO_BATCH_ENDPOINT = (404, 405)  # a relay older than POST /v1/envelopes/batch
REFUSED_ENVELOPE = (400, 413)  # the relay refuses this envelope (or batch) as such: retrying will not help
MAX_ROUNDS = 3  # push-pull rounds of one sync: again only while a pull queued new envelopes
# Watch mode stores streamed envelopes in batches: from the first one of a batch, those arriving within
# WATCH_BATCH_WINDOW are gathered (at most WATCH_BATCH_MAX envelopes, WATCH_BATCH_BYTES bytes), then
# opened together and recorded with the cursor in one transaction (issue 15 §4).
WATCH_BATCH_WINDOW = 0.05  # s
WATCH_BATCH_MAX = 200  # envelopes
WATCH_BATCH_BYTES = 4 * 1024 * 1024  # envelope bytes


@dataclass
class SyncReport:
    pushed: int = 0
    pulled: int = 0
    received: ReceiveReport = field(default_factory=ReceiveReport)
    errors: list[str] = field(default_factory=list)  # what could not be sent or fetched, one per relay
    notes: list[str] = field(default_factory=list)  # not errors: e.g. a relay with more to fetch next pass
    failed: list[str] = field(default_factory=list)  # the URLs of the relays with an error
    warnings: list[str] = field(
        default_factory=list
    )  # retention warnings not shown before (sync/retention.py)

    @property
    def new_post_ids(self) -> list[str]:
        return self.received.new_post_ids


@dataclass(frozen=True)
class RelayStatus:
    url: str  # as stored (a URL that is not valid is shown ASCII-escaped)
    mine: bool
    reachable: bool | None
    last_ok: str | None  # the last successful pass with this relay (ISO 8601 UTC)
    error: str | None
    named_by: tuple[str, ...]
    retry_at: str | None = None  # when the watch loop tries it again, while it is down (ISO 8601 UTC)
    # What the probe found: "reachable", "unreachable", "error" (an error answer, ``http_status``),
    # "refused" (my credential), "skipped" (not contacted: ``skipped`` says why), or None (not probed).
    state: str | None = None
    http_status: int | None = None
    skipped: str | None = None  # why a contact's relay at a private address was not contacted
    retention: dict[str, object] = field(default_factory=dict)  # sync/retention.py relay_json
    # Why an "unreachable" relay is: ``reason`` "tls", "dns", "refused", "timeout", "private", "proxy"
    # or "connection" (RelayUnavailable's), ``detail`` the words (e.g. "does not speak TLS; did you
    # mean http://…?"); None otherwise.
    reason: str | None = None
    detail: str | None = None

    @property
    def retry_in(self) -> int | None:
        """Whole seconds until the next attempt, while a watch loop waits on this relay; else None."""
        if self.retry_at is None:
            return None
        try:
            left = (datetime.fromisoformat(self.retry_at) - clock.now()).total_seconds()
        except ValueError:
            return None
        return max(0, int(left + 0.999)) if left > -1 else None

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "mine": self.mine,
            "reachable": self.reachable,
            "last_ok": self.last_ok,
            "error": self.error,
            "named_by": list(self.named_by),
            "retry_in": self.retry_in,
            "state": self.state,
            "http_status": self.http_status,
            "skipped": self.skipped,
            "reason": self.reason,
            "detail": self.detail,
            **self.retention,
        }


@dataclass(frozen=True)
class SyncStatus:
    relays: list[RelayStatus]
    outbox: int
    last_sync: str | None  # the last pass in which every one of my relays answered (ISO 8601 UTC)
    missing: list[tuple[str, int]]
    chain_breaks: list[tuple[str, int]] = field(default_factory=list)
    last_attempt: str | None = None  # the last pass, successful or not

    def as_json(self) -> dict[str, object]:
        return {
            "relays": [r.as_json() for r in self.relays],
            "outbox": self.outbox,
            "last_sync": self.last_sync,
            "last_attempt": self.last_attempt,
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
        self._unfinished: set[str] = set()  # relays whose last pull stopped at the per-pass bound
        self._shards: dict[str, int] = {}  # each relay's shard count S, from its latest /v1/info
        self._routes_due = False  # a relay was found sharded since the watch loop last told contacts
        # That /v1/info (None: unusable), until a pull uses it for the retention check (sync/retention.py).
        self._infos: dict[str, RelayInfo | None] = {}
        self._no_shard_reads: set[str] = set()  # relays that answered 404 to /v1/shards/... (old)
        self._public_only: set[str] = set()  # contacts' relays that may be reached at public addresses only

    # -- which relays -------------------------------------------------------------------------

    def _targets(self) -> list[tuple[str, str | None, bool, tuple[str, ...]]]:
        """(url, my credential or None, is it mine, names of contacts whose cards name it).

        Only usable URLs: a stored one that is not (saved before cards were checked) is left out here
        and reported by :meth:`_unusable`.
        """
        named: dict[str, list[str]] = {}
        for contact in self.session.contacts.list():
            for url in contact.relays:
                with contextlib.suppress(NetworkError):
                    named.setdefault(normalize_url(url), []).append(contact.name)
        mine: dict[str, str] = {}
        for r in relay_store.list_relays(self.store):
            try:
                normalize_url(r.url)
            except InvalidRelayUrl:
                continue
            mine[r.url] = r.credential
        urls = list(mine) + sorted(u for u in named if u not in mine)
        return [(u, mine.get(u), u in mine, tuple(named.get(u, ()))) for u in urls]

    def _unusable(self) -> list[tuple[str, bool, tuple[str, ...], str]]:
        """Stored relay URLs that cannot be used: (URL shown escaped, is it mine, named by, the error)."""
        bad: dict[str, tuple[bool, list[str], str]] = {}
        for r in relay_store.list_relays(self.store):
            try:
                normalize_url(r.url)
            except InvalidRelayUrl as exc:
                bad.setdefault(r.url, (True, [], str(exc)))
        for contact in self.session.contacts.list():
            for url in contact.relays:
                try:
                    normalize_url(url)
                except InvalidRelayUrl as exc:
                    bad.setdefault(url, (False, [], str(exc)))[1].append(contact.name)
        return [
            (ascii(url[:80])[1:-1], mine, tuple(names), message + _named_by(names, mine))
            for url, (mine, names, message) in bad.items()
        ]

    def _verified(self) -> set[str]:
        return {c.name for c in self.session.contacts.list() if c.verified}

    async def _reachable_targets(self) -> tuple[list[Target], list[Skipped]]:
        """:meth:`_targets` without the contacts' relays at private addresses (``tui_sns.sync.reach``);
        names are looked up when connecting directly (no proxy, no test transport)."""
        try:
            direct = self.transport is None and configured_proxy() is None
        except NetworkError:  # a bad proxy setting: every client fails on it; look nothing up
            direct = False
        verified = self._verified()
        kept, skipped = await screen(self._targets(), verified, resolve=direct)
        self._public_only = {t[0] for t in kept if must_be_public(t, verified)}
        return kept, skipped

    def _client(self, url: str, credential: str | None) -> RelayClient:
        # A contact's relay judged public is connected to only at public addresses (DNS rebinding).
        return RelayClient(url, credential, transport=self.transport, public_only=url in self._public_only)

    # -- one pass -------------------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        return asyncio.run(self.sync_once_async())

    async def sync_once_async(self) -> SyncReport:
        """Push, pull, and push again while the pull created work (a comment on my entry queues its
        forward; at most MAX_ROUNDS rounds), so one sync leaves nothing in the outbox it could send."""
        report = SyncReport()
        epochs = self.session.epochs
        epochs.tick()  # before any network I/O: keys past their deletion time go first (design-v2 §5.2)
        targets, skipped = await self._reachable_targets()
        report.notes.extend(s.message for s in skipped)
        report.errors.extend(message for *_, message in self._unusable())
        for _ in range(MAX_ROUNDS):
            self.seal_device_ops()
            queued = mailbox.last_queued(self.store)
            await asyncio.gather(
                *(self._sync_relay(url, cred, mine, named, report) for url, cred, mine, named in targets)
            )
            epochs.tick()  # after every sync: announcements owed to contacts that turned out v2-capable
            self.announce_routes()  # every relay asked its shard count: one routes envelope, pushed next round
            # Ops recorded meanwhile (by the pull, or by the app while it ran) go out in this sync too.
            work = mailbox.last_queued(self.store) != queued or self._device_ops_sealable()
            if _mine(self._targets()) != _mine(targets):
                # my other device joined or left a relay (a ``relay`` op): read and write it in this sync
                targets, skipped = await self._reachable_targets()
                report.notes.extend(s.message for s in skipped)
                work = True
            if not work or not any(mine for _, _, mine, _ in targets):
                break
        report.errors[:] = list(dict.fromkeys(report.errors))
        report.notes[:] = list(dict.fromkeys(report.notes))
        report.warnings.extend(self.take_warnings(targets))
        when = now_iso()
        set_meta(self.store, "last_attempt", when)
        counted = _counted(targets)
        if not any(mine for _, mine, _, _ in self._unusable()) and not counted & set(report.failed):
            set_meta(self.store, "last_sync", when)
        return report

    def announce_routes(self) -> int:
        """My seeds on the relays found sharded (their latest ``/v1/info``) to the contacts who write
        there and were not told yet, in one routes envelope per set of seeds owed
        (:meth:`Routes.announce`). Returns how many contacts were told."""
        sharded = [url for url, shards in self._shards.items() if shards > 1]
        return self.session.routes.announce(sharded) if sharded else 0

    def seal_device_ops(self) -> int:
        """Seal the device-sync ops waiting for my other devices into self-only envelopes under the
        current self key and queue them in the outbox for all my relays, each in one transaction with
        dropping its ops (docs/design-v2.md §8.2). Returns how many envelopes were queued (0: no op
        waits, or no current epoch yet: the ops wait for the next sync)."""
        self.session.devices.send_due_forwards()  # comment forwards no sibling sent (design-v2 §8.3)
        if not self.session.devices.queued(1):
            return 0
        if self.session.resets.conflict() is not None:
            return 0  # design-v2 §10.2: device sync stops until the person answers
        if self.session.resets.left_out() is not None:
            return 0  # design-v2 §10: a removed device seals no device sync
        self_key = self.session.epochs.self_key()
        if self_key is None:
            return 0
        return len(self.session.devices.seal_pending(self_key))

    def _device_ops_sealable(self) -> bool:
        """Device-sync ops wait and a current self key can seal them (another round sends them)."""
        return (
            bool(self.session.devices.queued(1))
            and self.session.resets.conflict() is None
            and self.session.resets.left_out() is None
            and self.session.epochs.self_key() is not None
        )

    def _work_mark(self) -> tuple[int, int]:
        """Changes whenever an envelope is queued or a device-sync op is recorded (wakes the pusher)."""
        return mailbox.last_queued(self.store), device_store.last_op(self.store)

    async def _sync_relay(
        self, url: str, credential: str | None, mine: bool, named_by: tuple[str, ...], report: SyncReport
    ) -> None:
        """Push to (if mine) and pull from one relay. Never raises: every failure, of whatever kind,
        is this relay's error, reported with its URL (and the cards naming it)."""
        failures: list[str] = []
        try:
            async with self._client(url, credential) as client:
                # The shard count, read at every pass: it decides the tags of my uploads and the shard
                # I read (contacts who write there learn my seed once every relay was asked).
                await self.relay_shards(client)
                # A failed push (say, a rate limit on writes) does not stop the pull, and vice versa.
                if mine:
                    try:
                        await self.push(client, honor_backoff=False, report=report)
                    except Exception as exc:
                        failures.append(_describe(url, exc))
                try:
                    # Await first, then add: ``x += await ...`` reads x before the await and would lose
                    # the counts of the other relays synced concurrently.
                    fetched = await self.pull(client, report.received)
                    report.pulled += fetched
                    if url in self._unfinished:
                        report.notes.append(f"relay {url} has more to fetch: the next sync continues")
                except Exception as exc:
                    failures.append(_describe(url, exc) + _named_by(named_by, mine))
        except Exception as exc:  # (opening or closing the client)
            failures.append(_describe(url, exc) + _named_by(named_by, mine))
        for message in dict.fromkeys(failures):
            report.errors.append(message)
        if failures:
            report.failed.append(url)
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
        shards = 1  # (asked only when something is to be sent: a push with nothing pending is silent)
        if pending:
            shards = self._shards.get(client.url) or await self.relay_shards(client)
        tags: dict[str, frozenset[int] | None] = {}
        if shards > 1:
            # Tags from the latest known seeds (docs/design-sharding.md §3.2): an envelope whose
            # recipients' seeds are not all known goes out broadcast.
            seeds = route_store.recipient_seeds(
                self.store, client.url, [eid for eid, *_ in pending], self.session.identity.public
            )
            for eid, data, *_ in pending:
                tags[eid] = shard_tags(seeds.get(eid), slot_count(data), shards)
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
                if shards > 1:
                    await client.put(data, expires=expires, tags=tags.get(eid))
                else:
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
                        await client.put_many(
                            [data for _, data, _, _ in chunk],
                            [e for *_, e in chunk],
                            [tags.get(eid) for eid, *_ in chunk] if shards > 1 else None,
                        )
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

    async def relay_shards(self, client: RelayClient) -> int:
        """The relay's shard count S from ``/v1/info`` (remembered for this engine's pushes and reads).

        A relay that cannot be reached raises (:class:`RelayUnavailable`); one that refuses the
        request or answers something unusable is taken as having one shard (today's behaviour: the
        whole log, untagged uploads)."""
        try:
            info = await client.info()
        except (RelayRefused, RelayGarbage):
            log.debug("relay %s: no usable /v1/info; one shard assumed", client.url, exc_info=True)
            shards = 1
            self._infos[client.url] = None  # (not asked again by the next pull)
        else:
            shards = info.shards
            self._infos[client.url] = info  # (the next pull's retention check uses it)
        self._shards[client.url] = shards
        self._routes_due = self._routes_due or shards > 1
        return shards

    def read_shard(self, url: str) -> int | None:
        """The shard I read on ``url`` (``seed mod S``), or None for the whole log (one shard, or a relay
        that has no shard listing). Draws my seed for ``url`` on its first read."""
        seed = self.session.routes.seed(url)
        shards = self._shards.get(url, 1)
        return None if shards <= 1 or url in self._no_shard_reads else seed % shards

    async def _page(self, client: RelayClient, after: int) -> Page:
        """One page of my shard (or the whole log); an old relay's 404 on the shard listing switches to
        the whole log for this engine's life."""
        shard = self.read_shard(client.url)
        if shard is not None:
            try:
                return await client.page(after, shard=shard)
            except RelayRefused as exc:
                if exc.status != 404:
                    raise
                self._no_shard_reads.add(client.url)
        return await client.page(after)

    async def pull(self, client: RelayClient, into: ReceiveReport) -> int:
        """Fetch my shard of the relay's log after my cursor, page by page (the whole log on a relay with
        one shard or without shard listings); each page and its cursor in one transaction. The cursor
        is a seq of the whole log, so a change of the shard count keeps it and switches the shard.

        At most ``MAX_PULL_PAGES`` pages and about ``MAX_PULL_BYTES`` envelope bytes: a relay with more
        (or one that claims ``more`` forever) is continued by the next pull, from the stored cursor.
        Returns the number of envelopes fetched.
        """
        self._unfinished.discard(client.url)
        if client.url not in self._shards:
            await self.relay_shards(client)
        # A first read starts near now; a loss is noted (with this pass's /v1/info when it was read).
        read, info = client.url in self._infos, self._infos.pop(client.url, None)
        await retention.prepare_pull(self.store, client, info, info_read=read)
        cursor = relay_store.get_state(self.store, client.url).cursor
        fetched = 0
        pages = 1
        size = 0
        page = await self._page(client, cursor)
        while True:
            size += sum(len(e.data) for e in page.envelopes)
            more = page.more and pages < MAX_PULL_PAGES and size < MAX_PULL_BYTES
            if page.more and not more:
                self._unfinished.add(client.url)
            # Ask for the next page before storing this one, so the relay prepares it meanwhile. The
            # cursor still advances only with a stored page: a crash re-fetches what was not stored.
            ahead = asyncio.ensure_future(self._page(client, page.next)) if more else None
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
            pages += 1

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
        """Stream from every relay and push the outbox, until cancelled.

        Each relay is followed on its own: whatever goes wrong with one (of any kind) is reported as
        its error, and it is retried after ``retry_interval`` seconds, doubling up to
        ``WATCH_RETRY_MAX`` (the time is recorded, for "retrying in N s"); the others go on. When a
        relay answers again its back-off is reset, the outbox envelopes waiting for it are sent at
        once, and a report says so once (a note, "relay URL answers again"). ``last_sync`` moves only
        while none of my relays is failing (a contact's relay that is down shows in its own
        ``last_ok``; with no relay of my own, every relay counts). A contact's relay at a private
        address is not followed (``tui_sns.sync.reach``): the first report's notes name it.
        """
        targets, skipped = await self._reachable_targets()
        if skipped and on_report is not None:
            said = on_report(SyncReport(notes=[s.message for s in skipped]))
            if asyncio.iscoroutine(said):
                await said
        counted = _counted(targets)  # the relays that must answer for last_sync to move
        down: set[str] = set()  # relays whose follower is waiting to retry
        push_down: set[str] = set()  # relays the last push to failed
        wake = asyncio.Event()  # a relay answered again: push now

        async def emit(report: SyncReport) -> None:
            when = now_iso()
            set_meta(self.store, "last_attempt", when)
            if not (down | push_down) & counted:
                set_meta(self.store, "last_sync", when)
            if on_report is not None:
                result = on_report(report)
                if asyncio.iscoroutine(result):
                    await result

        async def failed(url: str, message: str, delay: float) -> None:
            down.add(url)
            retry = (clock.now() + timedelta(seconds=delay)).isoformat(timespec="milliseconds")
            relay_store.record_result(self.store, url, now_iso(), message, retry_at=retry)
            await emit(SyncReport(errors=[message], warnings=self.take_warnings([(url, None, False, ())])))

        async def back(url: str) -> None:
            # One line when a relay that failed (its follower or its push) works again.
            if url not in down and url not in push_down:
                await emit(SyncReport(notes=[f"relay {url} answers again"]))

        async def answered(url: str) -> None:
            relay_store.record_result(self.store, url, now_iso(), None)
            if url in down:
                down.discard(url)
                relay_store.reset_backoff(self.store, url)
                wake.set()
                await back(url)

        def queued_work(before: tuple[int, int]) -> None:
            # Applying envelopes queued outgoing work (a comment on my entry queues its forward to the
            # entry's readers; a request accepted, a read mark: device-sync ops for my other devices):
            # push it now, not at the next push timer (issue 10 §4, design-v2 §8.2).
            if self._work_mark() != before:
                wake.set()

        async def follow(url: str, credential: str | None, mine: bool, named_by: tuple[str, ...]) -> None:
            delay = retry_interval
            while True:
                try:
                    async with self._client(url, credential) as client:
                        # The shard count at each (re)connection; then catch up page by page (in
                        # bounded passes), then apply each streamed envelope as it comes.
                        if await self.relay_shards(client) > 1:
                            wake.set()  # the pusher tells contacts my seed here (with the other relays')
                        while True:
                            caught_up = SyncReport()
                            before = self._work_mark()
                            caught_up.pulled = await self.pull(client, caught_up.received)
                            queued_work(before)
                            await answered(url)
                            delay = retry_interval
                            caught_up.warnings.extend(self.take_warnings([(url, None, mine, named_by)]))
                            await emit(caught_up)
                            if url not in self._unfinished:
                                break
                            await asyncio.sleep(CATCH_UP_PAUSE)
                        # A stream is endless by nature, but not at any rate: past one pass's budget it
                        # is closed, and the relay is caught up again after the usual pause.
                        await self._follow_stream(client, emit, queued_work)
                except Exception as exc:  # any kind: this relay's failure, never the others'
                    await failed(url, _describe(url, exc) + _named_by(named_by, mine), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, WATCH_RETRY_MAX)

        followers: dict[str, asyncio.Task[None]] = {}
        stored = {r.url for r in relay_store.list_relays(self.store)}

        async def refollow() -> None:
            # My other device joined or left a relay (a ``relay`` op, applied by a follower): follow
            # and push to it from now on, or stop (a cheap check of the stored URLs each round).
            nonlocal stored, counted
            now_stored = {r.url for r in relay_store.list_relays(self.store)}
            if now_stored == stored:
                return
            stored = now_stored
            fresh, _ = await self._reachable_targets()
            for url in [u for u in followers if u not in {t[0] for t in fresh}]:
                followers.pop(url).cancel()
            for target in fresh:
                if target[0] not in followers:
                    followers[target[0]] = asyncio.create_task(follow(*target))
            targets[:] = fresh
            counted = _counted(targets)

        async def pusher() -> None:
            while True:
                # Cleared before the round, so a wake raised while it runs starts the next one at once.
                wake.clear()
                await refollow()
                self.seal_device_ops()  # my other devices' ops go out with the outbox (design-v2 §8.2)
                if self._routes_due and all(url in self._shards or url in down for url, *_ in targets):
                    self._routes_due = False  # (again at a relay's next shard count, on reconnection)
                    self.announce_routes()  # once every relay was asked: one envelope for all seeds
                for url, credential, mine, _ in targets:
                    if not mine:
                        continue
                    try:
                        async with self._client(url, credential) as client:
                            sent = await self.push(client, honor_backoff=True)
                    except Exception as exc:  # this relay's failure: the others are still pushed to
                        message = _describe(url, exc)
                        # The envelopes back off (at most MAX_BACKOFF); the follower's reconnection
                        # resets that when the relay answers again.
                        retry = relay_store.next_retry(self.store, url)
                        relay_store.record_result(self.store, url, now_iso(), message, retry_at=retry)
                        push_down.add(url)
                        await emit(SyncReport(errors=[message]))
                        continue
                    if url in push_down:
                        push_down.discard(url)
                        await back(url)
                    if sent:
                        await emit(SyncReport(pushed=sent))
                with contextlib.suppress(TimeoutError):
                    await wait_for(wake.wait(), push_interval)

        for target in targets:
            followers[target[0]] = asyncio.create_task(follow(*target))
        pushing = asyncio.create_task(pusher())
        try:
            await pushing  # (the followers never end on their own; the pusher neither)
        finally:
            tasks = [pushing, *followers.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow_stream(
        self,
        client: RelayClient,
        emit: Callable[[SyncReport], Awaitable[None]],
        queued_work: Callable[[tuple[int, int]], None],
    ) -> None:
        """Follow the relay's stream from my cursor, storing what arrives in batches, until the pass's
        budget (``MAX_PULL_PAGES * PAGE`` envelopes or ``MAX_PULL_BYTES`` bytes) is spent.

        A reader task takes envelopes off the stream one at a time; this coroutine gathers a batch (see ``WATCH_BATCH_WINDOW``) and applies it with one :meth:`_apply`,
        so the cursor advances only with stored envelopes. Envelopes received before the stream failed
        are stored, then its error is raised (NetworkError, or whatever the stream raised).
        """
        url = client.url
        shard = self.read_shard(url)
        # A queue of one: the reader is never more than an envelope or two ahead of what is stored, so
        # the pass's budget bounds what is read from the relay, not only what is stored.
        queue: asyncio.Queue[RemoteEnvelope | Exception | None] = asyncio.Queue(maxsize=1)

        async def read() -> None:
            try:
                cursor = relay_store.get_state(self.store, url).cursor
                async for envelope in client.stream(cursor, shard=shard):
                    await queue.put(envelope)
            except Exception as exc:  # handed to the consumer, which stores what came before it
                await queue.put(exc)
            else:
                await queue.put(None)  # the relay closed the stream

        loop = asyncio.get_running_loop()
        reader = asyncio.create_task(read())
        streamed = streamed_bytes = 0
        try:
            ended = False
            while not ended:
                item = await queue.get()
                deadline = loop.time() + WATCH_BATCH_WINDOW
                batch: list[RemoteEnvelope] = []
                size = 0
                failure: Exception | None = None
                while True:
                    if item is None:
                        ended = True
                        break
                    if isinstance(item, Exception):
                        failure = item
                        break
                    batch.append(item)
                    size += len(item.data)
                    left = deadline - loop.time()
                    full = len(batch) >= min(WATCH_BATCH_MAX, MAX_PULL_PAGES * PAGE - streamed)
                    full = full or size >= WATCH_BATCH_BYTES or streamed_bytes + size >= MAX_PULL_BYTES
                    if full or left <= 0:
                        break
                    try:
                        item = await wait_for(queue.get(), left)
                    except TimeoutError:
                        break
                if batch:
                    report = SyncReport(pulled=len(batch))
                    before = self._work_mark()
                    self._apply(url, batch, batch[-1].seq, report.received)
                    queued_work(before)
                    await emit(report)
                    streamed += len(batch)
                    streamed_bytes += size
                if failure is not None:
                    raise failure
                if streamed >= MAX_PULL_PAGES * PAGE or streamed_bytes >= MAX_PULL_BYTES:
                    return
        finally:
            reader.cancel()
            cancelled = False
            # A reader that met an error while being cancelled waits to hand it over: take it (and
            # anything queued), so that closing never waits on a full queue. A cancellation of this
            # task meanwhile is kept and raised once the reader is done, never swallowed.
            while not reader.done():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                try:
                    await asyncio.wait({reader}, timeout=0.1)
                except asyncio.CancelledError:
                    cancelled = True
                reader.cancel()
            if not reader.cancelled():
                reader.exception()  # (retrieved: the failure itself was handed over, or is moot)
            if cancelled:
                raise asyncio.CancelledError

    # -- status ---------------------------------------------------------------------------------

    def take_warnings(self, targets: Sequence[Target] | None = None) -> list[str]:
        """Retention warnings (a relay dropped envelopes I had not read; one I have not read for nearly
        its retention) not shown before, recorded as shown: for ``sync``, the app and ``status``."""
        urls = [url for url, *_ in (self._targets() if targets is None else targets)]
        return retention.take_warnings(self.store, urls)

    def status(self, probe: bool = True) -> SyncStatus:
        """Every relay (mine, then those contacts' cards name; a stored URL that cannot be used is listed
        with its error and reachable False), the outbox, the last successful and the last attempted
        pass. ``probe`` asks each relay's ``/healthz`` and, with my credential, whether it is still
        accepted (:meth:`RelayClient.probe`, concurrently). A contact's relay at a private address
        that may not be contacted is listed, not probed (state "skipped"). Never raises for a relay."""
        probes: dict[str, Probe] = {}

        async def check(url: str, credential: str | None) -> None:
            try:
                async with self._client(url, credential) as client:
                    probes[url] = await client.probe()
            except Exception:  # a relay's failure is its own "unreachable"
                log.debug("probe of %s failed", url, exc_info=True)
                probes[url] = Probe("unreachable")

        async def check_all() -> tuple[list[Target], list[Skipped]]:
            targets, skipped = await self._reachable_targets()
            await asyncio.gather(*(check(url, credential) for url, credential, *_ in targets))
            return targets, skipped

        if probe:
            targets, skipped = asyncio.run(check_all())
        else:  # no network at all (names are not looked up), and callable from within an event loop
            targets, skipped = screen_now(self._targets(), self._verified())
        relays = []
        now = clock.now()
        for url, _cred, mine, named_by in targets:
            state = relay_store.get_state(self.store, url)
            found = probes.get(url)
            relays.append(
                RelayStatus(
                    url,
                    mine,
                    None if found is None else found.reachable,
                    state.last_ok,
                    state.last_error,
                    named_by,
                    state.retry_at,
                    state=None if found is None else found.state,
                    http_status=None if found is None else found.http_status,
                    retention=retention.relay_json(state, now),
                    reason=None if found is None else found.reason,
                    detail=None if found is None else found.detail,
                )
            )
        for s in skipped:
            last = relay_store.get_state(self.store, s.url)
            relays.append(
                RelayStatus(
                    s.url,
                    False,
                    None,
                    last.last_ok,
                    s.message,
                    s.named_by,
                    state="skipped",
                    skipped=s.reason,
                    retention=retention.relay_json(last, now),
                )
            )
        for shown, mine, named_by, message in self._unusable():
            relays.append(RelayStatus(shown, mine, False, None, message, named_by))
        return SyncStatus(
            relays=relays,
            outbox=relay_store.undelivered_count(self.store),
            last_sync=get_meta(self.store, "last_sync"),
            missing=self.session.diary.missing(),
            chain_breaks=self.session.diary.chain_breaks(),
            last_attempt=get_meta(self.store, "last_attempt"),
        )


def _mine(targets: list[Target]) -> set[str]:
    """The URLs of my own relays among ``targets``."""
    return {url for url, _, mine, _ in targets if mine}


def _counted(targets: Sequence[Target]) -> set[str]:
    """The relays whose failure keeps ``last_sync`` from moving: mine, or every one when I have none."""
    return {url for url, _c, mine, _n in targets if mine} or {url for url, *_ in targets}


def _named_by(names: Sequence[str], mine: bool) -> str:
    return f" (named by the card of {', '.join(names)})" if names and not mine else ""


def _describe(url: str, exc: BaseException) -> str:
    """One line for a relay's failure: a NetworkError's own sentence, else the relay and the kind of
    fault (the details go to the debug log, never a traceback on the terminal)."""
    if isinstance(exc, NetworkError):
        return " ".join(str(exc).split())
    log.debug("sync with %s failed", url, exc_info=exc)
    return f"relay {url}: sync failed unexpectedly ({type(exc).__name__}); it is retried next time"
