"""Forward secrecy by epochs, for one identity on this device (docs/design-v2.md §5, §6).

The API other services use (``session.epochs``, an :class:`Epochs`):

* :meth:`Epochs.tick` — the epoch state machine of §5.2: advance the seed ratchet (erasing the old
  seed), pre-derive the next epoch at a random moment of the current one's first half, erase every
  epoch whose deletion time has passed (secure deletion, then a WAL checkpoint), and queue the
  announcements owed. Idempotent. Run **before any network I/O** at unlock (the sync engine and the
  app call it first), after every sync, and every 10 minutes in the app's background worker.
* :meth:`Epochs.keyring` — the live :class:`~tui_sns.crypto.envelope_v2.Keyring` (identity, live
  prekeys and self keys, ids of erased keys), rebuilt after a tick changed anything.
* :meth:`Epochs.current` — this epoch's keys (:class:`~tui_sns.crypto.epochs.EpochKeys`) for sealing
  my self slot; :meth:`Epochs.device` — this device's ``(devid, devtag_key)``.
* :meth:`Epochs.usable_prekeys` — per contact key, the prekey a sender uses (§5.3), or none (the v1
  fallback, §7); :meth:`Epochs.forward_secret` for one contact.
* :meth:`Epochs.card_prekey` — my current prekey for my card (§6.3);
  :meth:`Epochs.accept_prekey` — a contact's prekey from their card or an announcement, with the
  validation and conflict rules of §6.2; :meth:`Epochs.receive_announce` — an ``announce`` payload.
* Settings (meta, synced between devices later): ``epoch_length`` and ``epoch_grace`` (seconds,
  1 hour to 90 days; a change applies from the next epoch) and ``require_forward_secrecy``.

All times are unix seconds from :mod:`tui_sns.core.clock`.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tui_sns.core import clock
from tui_sns.core.errors import InvalidInput
from tui_sns.crypto.card import CardPrekey, parse_prekey
from tui_sns.crypto.envelope_v2 import Keyring, SelfKey
from tui_sns.crypto.epochs import EpochKeys, next_seed
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import devices as device_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store.epochs import EpochKeyRow, PeerPrekey
from tui_sns.store.identity import get_meta, set_meta
from tui_sns.store.records import Contact

if TYPE_CHECKING:
    from tui_sns.core.session import Session

HOUR = 3600
DAY = 86400
MIN_SCHEDULE = HOUR
MAX_SCHEDULE = 90 * DAY
ERASED_KEPT = 365 * DAY  # erased key ids are remembered this long, for §5.4's reports
MAX_REMEMBERED_SKIPPED = 32  # epochs skipped while away whose ids are still remembered (§5.4)
MAX_ANNOUNCED_PREKEYS = 3
MAX_ROUTES = 16
MAX_SUPERSEDES = 4
_KID = re.compile(r"[0-9a-f]{8}")  # a key id on the wire: 8 lowercase hex digits
CONFLICT_SENTENCE = (
    "two different keys were announced for {name} — a device of {name}'s may be in other hands; "
    "compare safety numbers"
)


@dataclass
class TickReport:
    """What one :meth:`Epochs.tick` did: epochs the ratchet moved, epochs erased, envelopes queued."""

    advanced: int = 0
    erased: int = 0
    announced: int = 0
    generation: int | None = None  # a new generation was started (a restored store)


def conflict_sentence(name: str) -> str:
    """What is said about a contact flagged with a prekey conflict (design-v2 §6.2)."""
    return CONFLICT_SENTENCE.format(name=name)[0].upper() + CONFLICT_SENTENCE.format(name=name)[1:] + "."


def margin(grace: int) -> int:
    """Safety margin before a prekey's deletion time: ``min(1 day, grace / 2)`` (§5.3)."""
    return min(DAY, grace // 2)


class Epochs:
    """The epoch keys of this identity on this device and what it knows of its contacts' prekeys."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store
        self._keyring: Keyring | None = None
        self._ticking = False  # a tick is running (current() must not start another)
        # the last successful sync before this unlock (epochs is made at unlock, before any sync):
        # how long this device was away, for §5.4's report
        self.synced_before = get_meta(self.store, "last_sync")

    # -- settings ----------------------------------------------------------------------------

    def schedule(self) -> tuple[int, int]:
        """``(epoch_length, epoch_grace)`` in seconds (defaults: 7 days each)."""
        with self.store.read() as conn:
            return epoch_store.schedule_settings(conn)

    def set_schedule(self, *, length: int | None = None, grace: int | None = None) -> None:
        """Change the epoch length and/or grace period (seconds, 1 hour to 90 days). Applies from the
        next epoch: the current one's times are already in my contacts' hands. InvalidInput otherwise."""
        for name, value in (("epoch length", length), ("epoch grace", grace)):
            if value is not None and not MIN_SCHEDULE <= value <= MAX_SCHEDULE:
                raise InvalidInput(f"the {name} must be between 1 hour and 90 days")
        with self.store.write():
            for name, value in (("epoch_length", length), ("epoch_grace", grace)):
                if value is not None:
                    set_meta(self.store, name, str(int(value)))
                    self.session.devices.record("setting", {"name": name}, {"value": int(value)})

    @property
    def require_forward_secrecy(self) -> bool:
        """Setting ``require_forward_secrecy`` (default False): when True, an entry is never sealed to a
        reader without a usable prekey (``post`` refuses and names them)."""
        return get_meta(self.store, "require_forward_secrecy") == "1"

    def set_require_forward_secrecy(self, value: bool) -> None:
        """Change the setting here and on my other devices (a ``setting`` op, design-v2 §8.3)."""
        with self.store.write():
            set_meta(self.store, "require_forward_secrecy", "1" if value else "0")
            self.session.devices.record(
                "setting", {"name": "require_forward_secrecy"}, {"value": bool(value)}
            )

    def disable_v2_for_tests(self) -> None:
        """TEST SUPPORT ONLY (design-v2 §12.2 step 3: "Lee, a client with v2 disabled by a test-only
        setting"): this client then behaves as a v1 client — no prekey on its card, no announcements,
        every envelope it seals is v1. Never called by the program."""
        set_meta(self.store, "v2_disabled_for_tests", "1")

    def _disabled(self) -> bool:
        return get_meta(self.store, "v2_disabled_for_tests") == "1"

    # -- my keys -------------------------------------------------------------------------------

    def device(self) -> tuple[bytes, bytes]:
        """``(devid, devtag_key)`` of this device: 8 and 32 bytes, from its device row (made on first
        use; it takes over the meta stand-ins of design-v2 §15.1, so chains sealed before keep their
        tag). The row, not the stand-ins: a linked device has its own ids."""
        record = self.session.devices.this_device()
        return record.devid, record.devtag_key

    def _rows(self) -> list[EpochKeyRow]:
        return epoch_store.epoch_key_rows(self.store)

    def current(self, now: int | None = None) -> EpochKeys | None:
        """The keys of the epoch in force at ``now`` (highest generation whose epoch has
        ``start ≤ now < end`` and secrets still held), or None (no v2 state). When the epoch in force
        has not been derived yet (this device slept past its end), a tick runs first, so a card or an
        envelope never goes out with an ended epoch nor falls back to v1 for want of a tick."""
        now = clock.now_unix() if now is None else now
        if self._disabled():
            return None
        rows = [r for r in self._rows() if r.secret is not None and r.start <= now < r.end]
        if not rows and not self._ticking and not self.store.read_only:
            self.tick(now)
            rows = [r for r in self._rows() if r.secret is not None and r.start <= now < r.end]
        if not rows:
            return None
        gen = max(r.gen for r in rows)
        epoch = max(r.epoch for r in rows if r.gen == gen)
        prekey = next((r for r in rows if (r.gen, r.epoch, r.kind) == (gen, epoch, "prekey")), None)
        own = next((r for r in rows if (r.gen, r.epoch, r.kind) == (gen, epoch, "self")), None)
        if prekey is None or own is None or prekey.secret is None or own.secret is None:
            return None
        return EpochKeys(
            generation=gen,
            epoch=epoch,
            prekey_secret=prekey.secret,
            prekey_public=prekey.public_key or x25519_base(prekey.secret),
            prekey_id=prekey.kid,
            self_key=own.secret,
            self_key_id=own.kid,
        )

    def self_key(self, now: int | None = None) -> SelfKey | None:
        """The current self key for my self slots (None: no current epoch)."""
        keys = self.current(now)
        return None if keys is None else SelfKey.of(keys)

    def keyring(self) -> Keyring:
        """The live keyring: every held prekey and self key, the ids of erased ones (with when), and
        every listed devid of mine (removed ones as removed: their self slots open and are ignored,
        §10.4), so my siblings' self slots open. Cached; a tick that changes anything drops the cache;
        the devids are read again at every call (a device linked meanwhile counts at once)."""
        if self._keyring is None:
            ring = Keyring(self.session.identity)
            for row in self._rows():
                if row.secret is not None:
                    if row.kind == "prekey":
                        ring.add_prekey(row.secret)
                    else:
                        ring.add_self_key(SelfKey(row.secret, row.kid))
                elif row.deleted_at is not None:  # remembered with its scheduled deletion time (§5.4)
                    target = ring.deleted_prekeys if row.kind == "prekey" else ring.deleted_self_keys
                    target[row.kid] = row.delete_at
            self._keyring = ring
        live = {self.device()[0]} if self._has_device() else set()
        removed: set[bytes] = set()
        for d in device_store.list_devices(self.store):
            (removed if d.removed else live).add(d.devid)
        self._keyring.devices = live - removed
        self._keyring.removed_devices = removed
        self._keyring.device_keys = self.session.resets.device_secrets()  # for resets (§10.1)
        return self._keyring

    def _has_device(self) -> bool:
        return get_meta(self.store, "devid") is not None

    def card_prekey(self, now: int | None = None) -> CardPrekey | None:
        """My current prekey as a card carries it (§6.3), or None (no v2 state)."""
        keys = self.current(now)
        if keys is None:
            return None
        row = next(
            r for r in self._rows() if (r.kind, r.gen, r.epoch) == ("prekey", keys.generation, keys.epoch)
        )
        return CardPrekey(
            keys.generation, keys.prekey_id, keys.prekey_public, row.start, row.end, row.delete_at
        )

    # -- the state machine (§5.2) -----------------------------------------------------------------

    def tick(self, now: int | None = None) -> TickReport:
        """Run §5.2's transitions at ``now`` (default: the clock) in one transaction: advance the
        ratchet past every ended epoch (erasing the old seed), pre-derive the next epoch once the
        moment drawn for it has come, erase epochs whose deletion time has passed, forget contacts'
        expired prekeys, and queue owed announcements. Idempotent; a store opened read-only is left
        alone (an empty report)."""
        now = clock.now_unix() if now is None else now
        report = TickReport()
        if not self.store.read_only and not self._ticking:
            self.session.resets.tick(now)  # the previous device key, after reset_window (§10.1)
        if self.store.read_only or self._ticking or not self._due(now):
            return report
        self._ticking = True
        try:
            self._tick(now, report)
        finally:
            self._ticking = False
        return report

    def _tick(self, now: int, report: TickReport) -> None:
        with self.store.write():
            if epoch_store.current_seed(self.store) is None and not self._disabled():
                self._new_generation(now, report)
            self._advance(now, report)
            self._predrive(now)
            for row in self._rows():
                if row.secret is not None and row.delete_at <= now and row.kind == "prekey":
                    epoch_store.erase_epoch(self.store, row.gen, row.epoch, now)
                    report.erased += 1
            epoch_store.forget_erased(self.store, now - ERASED_KEPT)
            epoch_store.drop_expired_peer_prekeys(self.store, now)
            self._keyring = None
            report.announced = self._announce_owed(now)

    def _due(self, now: int) -> bool:
        """Whether :meth:`tick` has anything to do at ``now`` (reads only: an idle tick writes nothing,
        so unlocking and syncing do not rewrite the store for it)."""
        rows = self._rows()
        held = epoch_store.current_seed(self.store)
        if held is None and not self._disabled():
            return True  # no seed: a store restored from a backup (§15.4) starts a new generation
        if held is not None:
            gen, epoch, _ = held
            current = next((r for r in rows if (r.kind, r.gen, r.epoch) == ("prekey", gen, epoch)), None)
            if current is not None and now >= current.end:
                return True  # advance
            if current is not None and (
                current.announce_at is None
                or (
                    now >= current.announce_at and not any((r.gen, r.epoch) == (gen, epoch + 1) for r in rows)
                )
            ):
                return True  # pre-derive
        if any(r.secret is not None and r.delete_at <= now for r in rows):
            return True  # erase
        if any(
            r.secret is None and r.deleted_at is not None and r.deleted_at < now - ERASED_KEPT for r in rows
        ):
            return True
        if epoch_store.has_expired_peer_prekeys(self.store, now):
            return True
        announced = self._announced_keys(now)
        if announced:
            newest = max((r.gen, r.epoch) for r in announced)
            for cap in epoch_store.all_peer_caps(self.store).values():
                if cap.announce_owed or (cap.v2 and (cap.announced is None or cap.announced < newest)):
                    return True
        return False

    def _new_generation(self, now: int, report: TickReport) -> None:
        """No seed is held (a store restored from a backup, which carries no epoch secrets, §15.4):
        start generation ``max + 1`` with fresh randomness, epoch 0 from ``now``, and owe every
        contact an announcement (a higher generation replaces the old one on their side, §5.3). The
        full reset protocol with sibling devices (§10) comes with linked devices."""
        gen = max((r.gen for r in self._rows()), default=-1) + 1
        epoch_store.start_generation(self.store, gen, secrets.token_bytes(32), now)
        from tui_sns.store.contacts import list_contacts

        for contact in list_contacts(self.store):
            epoch_store.owe_announcement(self.store, contact.public_key)
        report.generation = gen

    def _advance(self, now: int, report: TickReport) -> None:
        held = epoch_store.current_seed(self.store)
        if held is None:
            return
        gen, epoch, seed = held
        rows = {(r.epoch, r.kind): r for r in self._rows() if r.gen == gen}
        current = rows.get((epoch, "prekey"))
        if current is None:
            return
        end = current.end
        length, grace = self.schedule()
        skipped: list[
            tuple[int, int, int, int]
        ] = []  # epochs walked past entirely: (epoch, start, end, delete)
        while now >= end:
            seed = next_seed(seed, epoch)
            epoch += 1
            report.advanced += 1
            planned = rows.get((epoch, "prekey"))
            if planned is not None:  # pre-derived: its announced schedule stands
                start, end, delete = planned.start, planned.end, planned.delete_at
                continue
            start, end = end, end + length
            delete = end + grace
            if delete <= now and now >= end:
                skipped.append((epoch, start, end, delete))  # never live on this device
                skipped = skipped[-MAX_REMEMBERED_SKIPPED:]
                continue
            epoch_store.add_epoch_keys(self.store, EpochKeys.derive(seed, gen, epoch), start, end, delete)
        if report.advanced:
            epoch_store.advance_seed(self.store, gen, epoch, seed)
            self._remember_skipped(gen, held, skipped, now)

    def _remember_skipped(
        self, gen: int, held: tuple[int, int, bytes], skipped: list[tuple[int, int, int, int]], now: int
    ) -> None:
        """Ids of epochs the ratchet walked past while this device was away, as erased keys (so their
        envelopes are reported, §5.4). Derived again from the old seed, then dropped."""
        if not skipped:
            return
        _, epoch, seed = held
        wanted = {e for e, *_ in skipped}
        for e in range(epoch, max(wanted) + 1):
            if e in wanted:
                keys = EpochKeys.derive(seed, gen, e)
                _, start, end, delete = next(s for s in skipped if s[0] == e)
                epoch_store.add_epoch_keys(self.store, keys, start, end, delete)
                epoch_store.erase_epoch(self.store, gen, e, now)
            seed = next_seed(seed, e)

    def _predrive(self, now: int) -> None:
        """§5.2 step 2: once per epoch, at a random moment of its first half, derive the next epoch."""
        keys = self.current(now)
        if keys is None:
            return
        rows = {(r.gen, r.epoch, r.kind): r for r in self._rows()}
        row = rows[(keys.generation, keys.epoch, "prekey")]
        if row.announce_at is None:
            half = max(1, (row.end - row.start) // 2)
            epoch_store.set_announce_at(self.store, row.gen, row.epoch, row.start + secrets.randbelow(half))
            return
        if now < row.announce_at or (keys.generation, keys.epoch + 1, "prekey") in rows:
            return
        held = epoch_store.current_seed(self.store)
        if held is None or held[:2] != (keys.generation, keys.epoch):
            return
        length, grace = self.schedule()
        nxt = EpochKeys.derive(next_seed(held[2], keys.epoch), keys.generation, keys.epoch + 1)
        epoch_store.add_epoch_keys(self.store, nxt, row.end, row.end + length, row.end + length + grace)

    # -- announcements (§6) ---------------------------------------------------------------------

    def _announced_keys(self, now: int) -> list[EpochKeyRow]:
        """What an announcement carries: the current epoch's prekey and the next one's when derived."""
        keys = self.current(now)
        if keys is None:
            return []
        return [
            r
            for r in self._rows()
            if r.kind == "prekey"
            and r.gen == keys.generation
            and r.epoch in (keys.epoch, keys.epoch + 1)
            and r.secret is not None
        ]

    def announce_payload(self, now: int | None = None) -> bytes | None:
        """The ``announce`` payload for now (§6.1), or None without v2 state."""
        now = clock.now_unix() if now is None else now
        rows = self._announced_keys(now)
        if not rows:
            return None
        prekeys = []
        for r in rows:
            item = CardPrekey(r.gen, r.kid, r.public_key or b"", r.start, r.end, r.delete_at).as_json()
            del item["gen"]  # the announcement's own ``gen`` covers them all
            prekeys.append(item)
        obj: dict[str, object] = {"type": "announce", "gen": rows[0].gen, "prekeys": prekeys}
        supersedes = self.session.resets.supersedes(rows[0].gen)  # after a concurrent reset (§10.2)
        if supersedes:
            obj["supersedes"] = supersedes
        return json.dumps(obj, separators=(",", ":")).encode()

    def _announce_owed(self, now: int) -> int:
        """§5.2 step 4: queue one announcement to every contact owed one (the v2 migration, a new
        contact) and to every v2-capable contact that has not had the newest announced epoch."""
        rows = self._announced_keys(now)
        if not rows:
            return 0
        newest = max((r.gen, r.epoch) for r in rows)
        caps = epoch_store.all_peer_caps(self.store)
        targets: list[Contact] = []
        from tui_sns.store.contacts import list_contacts

        for contact in list_contacts(self.store):
            if contact.blocked:
                continue
            cap = caps.get(contact.public_key)
            if cap is None:
                continue
            if cap.announce_owed or (cap.v2 and (cap.announced is None or cap.announced < newest)):
                targets.append(contact)
        if not targets:
            return 0
        payload = self.announce_payload(now)
        assert payload is not None
        from tui_sns.core.outgoing import send

        sent = send(self.session, targets, payload, hold=False)
        for contact in targets:
            epoch_store.record_announced(self.store, contact.public_key, *newest)
        return 0 if sent is None else len(sent.envelopes)

    def owe_announcement(self, contact_key: bytes) -> None:
        """Announce my prekey to this contact at the next tick (§5.2 step 4)."""
        epoch_store.owe_announcement(self.store, contact_key)

    def assume_announced(self, contact_key: bytes) -> None:
        """A new contact, added from a card while we exchange cards: my current epoch counts as
        announced to them (design-v2 §6.1 as built: no announcement at once; they get the next epoch's
        at its pre-derive moment, and one at once if they turn out not to hold a usable prekey of
        mine — :meth:`on_v1_from` — so card exchanges cost no extra envelope)."""
        keys = self.current()
        if keys is not None:
            epoch_store.record_announced(self.store, contact_key, keys.generation, keys.epoch)

    def on_v1_from(self, contact_key: bytes) -> None:
        """A v1 envelope arrived from a v2-capable contact: they hold no usable prekey of mine (an old
        card, a lost announcement). Owe them an announcement, sent at the next tick."""
        caps = epoch_store.peer_caps(self.store, contact_key)
        if caps.v2 and not caps.announce_owed and not self._disabled():
            epoch_store.owe_announcement(self.store, contact_key)

    # -- a device that was away longer than the grace period (§5.4) ----------------------------------

    def key_deleted_report(self, deleted_at: list[int], now: int | None = None) -> str | None:
        """The plain sentence for envelopes located under keys erased on schedule (outcome
        ``KEY_DELETED``; ``deleted_at``: one deletion time per such envelope), or None when there are
        none. Counts are "up to" (anyone with my card can name an old key id); the authenticated
        per-contact figure is the chain gap, named by contact when known."""
        if not deleted_at:
            return None
        now = clock.now_unix() if now is None else now
        length, grace = self.schedule()
        day = datetime.fromtimestamp(min(deleted_at), UTC).date().isoformat()
        n = len(deleted_at)
        away = ""
        if self.synced_before is not None:
            try:
                since = int(datetime.fromisoformat(self.synced_before).timestamp())
                away = f"this device was away {_span(now - since)}; "
            except ValueError:
                away = ""
        names = [name for name, _ in self.session.diary.missing()]
        if not names:
            chains = "Your contacts' chains will show which entries are missing as later ones arrive."
        elif len(names) == 1:
            chains = f"{names[0]}'s chain shows the entries that are missing."
        else:
            chains = (
                ", ".join(f"{x}'s" for x in names[:-1])
                + f" and {names[-1]}'s chains show the entries that are missing."
            )
        return (
            f"Up to {n} envelope{'s' if n != 1 else ''} addressed to you could not be opened: "
            f"{'their keys were' if n != 1 else 'its key was'} deleted on {day} as scheduled "
            f"({away}envelopes stay readable {_span(length + grace)}). {chains} "
            "Without another device of yours that has them, those entries are lost: that is the price of "
            "forward secrecy."
        )

    # -- contacts' prekeys (§5.3, §6.2) ------------------------------------------------------------

    def accept_prekey(self, contact_key: bytes, prekey: CardPrekey, now: int | None = None) -> bool:
        """Store a contact's prekey (from their card or an announcement) if it is still ahead of its
        deletion and conflicts with nothing held (§6.2); a conflict flags the contact instead and keeps
        the key out of sealing. Returns True when stored (or already held)."""
        now = clock.now_unix() if now is None else now
        if prekey.delete <= now:
            return False
        held = epoch_store.peer_prekeys(self.store, contact_key)
        if any((p.gen, p.kid, p.public_key) == (prekey.gen, prekey.kid, prekey.public_key) for p in held):
            epoch_store.mark_v2(self.store, contact_key)
            return True
        if _conflicts(prekey, held):
            epoch_store.set_conflict(self.store, contact_key, f"{prekey.kid:08x}")
            return False
        with self.store.write():
            epoch_store.add_peer_prekey(
                self.store,
                PeerPrekey(
                    contact_key,
                    prekey.gen,
                    prekey.kid,
                    prekey.public_key,
                    prekey.start,
                    prekey.end,
                    prekey.delete,
                    clock.now_iso(),
                ),
            )
            epoch_store.mark_v2(self.store, contact_key)
        return True

    def receive_announce(self, contact: Contact, payload: bytes, now: int | None = None) -> bool:
        """An ``announce`` payload from my contact (already authenticated by the envelope): validate it
        whole (§6.1's table; anything invalid stores nothing) and accept each prekey. False: ignored."""
        now = clock.now_unix() if now is None else now
        try:
            prekeys, supersedes = parse_announce(payload, now)
        except ValueError:
            return False
        epoch_store.mark_v2(self.store, contact.public_key)
        caps = epoch_store.peer_caps(self.store, contact.public_key)
        if supersedes:  # a concurrent reset on their side (§10.2): the superseded keys go
            epoch_store.drop_peer_prekeys(self.store, contact.public_key, supersedes)
            named = {f"{k:08x}" for k in supersedes} | {f"{p.kid:08x}" for p in prekeys}
            if caps.prekey_conflict is not None and caps.prekey_conflict in named:
                epoch_store.set_conflict(self.store, contact.public_key, None)
        accepted = [self.accept_prekey(contact.public_key, p, now) for p in prekeys]
        return any(accepted)

    def usable_prekeys(
        self, contact_keys: Iterable[bytes], now: int | None = None
    ) -> dict[bytes, PeerPrekey]:
        """Per contact key, the prekey a sender uses now (§5.3): among the highest generation held, the
        one with the greatest ``start ≤ now``, usable while ``now < delete − margin``. Contacts with
        none usable are absent (they get the v1 fallback, §7). A conflicting key was never stored
        (§6.2), so a flagged contact keeps getting the keys held before the conflict (*as built*: the
        hold of §10.4 — keeping envelopes in the outbox until the person decides — is not built)."""
        now = clock.now_unix() if now is None else now
        wanted = set(contact_keys)
        out: dict[bytes, PeerPrekey] = {}
        for key, held in epoch_store.all_peer_prekeys(self.store).items():
            if key not in wanted:
                continue
            top = max(p.gen for p in held)
            started = [p for p in held if p.gen == top and p.start <= now]
            if not started:
                continue
            best = max(started, key=lambda p: p.start)
            if now < best.delete_at - margin(best.delete_at - best.end):
                out[key] = best
        return out

    def forward_secret(self, contact_key: bytes, now: int | None = None) -> bool:
        """Whether an entry sealed now to this contact would be forward-secret (a usable prekey held)."""
        return contact_key in self.usable_prekeys([contact_key], now)

    def conflict(self, contact_key: bytes) -> bool:
        """Whether a prekey conflict is flagged for this contact (§6.2)."""
        return epoch_store.peer_caps(self.store, contact_key).prekey_conflict is not None

    def forget(self, contact_key: bytes) -> None:
        epoch_store.forget_peer(self.store, contact_key)


def _overlaps(a: CardPrekey | PeerPrekey, b: PeerPrekey) -> bool:
    return a.start < b.end and b.start < a.end


def _conflicts(prekey: CardPrekey, held: list[PeerPrekey]) -> bool:
    """§6.2: (a) a different prekey of the same generation whose [start, end) overlaps one held, or
    (b) a prekey of a generation below the highest held that starts later than every prekey of it."""
    same = [p for p in held if p.gen == prekey.gen]
    if any(p.public_key != prekey.public_key and _overlaps(prekey, p) for p in same):
        return True
    if held:
        top = max(p.gen for p in held)
        if prekey.gen < top and all(prekey.start > p.start for p in held if p.gen == top):
            return True
    return False


def parse_announce(payload: bytes, now: int) -> tuple[list[CardPrekey], list[int]]:
    """Validate an ``announce`` payload whole (design-v2 §6.1's table): ``gen``; 1..3 ``prekeys`` (each
    ``id`` = keyid of ``x25519``, not low-order, ``start < end ≤ delete``, spans ≤ 90 days,
    ``delete > now``); optional ``routes`` (0..16 objects, not used yet), ``supersedes`` (0..4 key
    ids) and ``lc`` (an integer). Returns ``(prekeys, supersedes)``; ValueError naming the broken rule."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # (deep nesting: RecursionError)
        raise ValueError("not JSON") from exc
    if not isinstance(obj, dict) or obj.get("type") != "announce":
        raise ValueError("not an announcement")
    gen = obj.get("gen")
    if not isinstance(gen, int) or isinstance(gen, bool) or not 0 <= gen < 2**31:
        raise ValueError("gen is not an integer in 0..2^31-1")
    items = obj.get("prekeys")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ANNOUNCED_PREKEYS:
        raise ValueError("prekeys is not a list of 1 to 3 objects")
    prekeys = [parse_prekey(item, with_gen=False, gen=gen) for item in items]
    if any(p.delete <= now for p in prekeys):
        raise ValueError("a prekey's deletion time has passed")
    if len({p.kid for p in prekeys}) != len(prekeys):
        raise ValueError("a prekey is announced twice")
    routes = obj.get("routes", [])
    if (
        not isinstance(routes, list)
        or len(routes) > MAX_ROUTES
        or not all(isinstance(r, dict) for r in routes)
    ):
        raise ValueError("routes is not a list of at most 16 objects")
    lc = obj.get("lc", 0)
    if not isinstance(lc, int) or isinstance(lc, bool) or lc < 0:
        raise ValueError("lc is not a non-negative integer")
    raw = obj.get("supersedes", [])
    if not isinstance(raw, list) or len(raw) > MAX_SUPERSEDES:
        raise ValueError("supersedes is not a list of at most 4 key ids")
    supersedes: list[int] = []
    for kid in raw:  # (not int(kid, 16) alone: it takes "0x", signs, spaces and underscores)
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise ValueError("a superseded key id is not 8 lowercase hex digits")
        supersedes.append(int(kid, 16))
    return prekeys, supersedes


def _span(seconds: int) -> str:
    """A duration as people say it: "23 days", "1 day", "5 hours" (whole units, at least 1 hour)."""
    if seconds >= DAY:
        days = seconds // DAY
        return f"{days} day{'s' if days != 1 else ''}"
    hours = max(1, seconds // HOUR)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def payload_type(payload: bytes) -> str | None:
    """The ``type`` of a JSON payload object, or None (not JSON, not an object, no string type)."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None


__all__ = ["Epochs", "TickReport", "margin", "parse_announce", "payload_type"]
