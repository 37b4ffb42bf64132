"""Device removal and key resets (docs/design-v2.md §10).

The API (``session.resets``, a :class:`Resets`):

* :meth:`Resets.remove` — ``tui-sns devices remove NAME``: mark the device removed and run a reset;
  :meth:`Resets.reset_keys` — the same without removal.
* A **reset** (§10.1), in one store transaction on the device that starts it: a new generation
  ``g+1`` from 32 fresh random bytes whose epoch 0 starts now (the current epoch of ``g`` ends now and
  is erased ``grace`` later; the seeds of older generations are erased at once); a ``reset`` payload
  sealed to the **remaining** devices' current device keys (device slots, a reset marker, no self slot:
  :func:`tui_sns.crypto.envelope_v2.seal_reset`); an announcement of ``g+1`` owed to every v2 contact
  (sent by the tick that follows); a new device key for this device (the old secret kept
  ``reset_window``, default one day, so a competing reset sealed to it still opens, then erased).
* :meth:`Resets.receive` — a reset that opened through a device slot: accepted only from a device
  that is in my list, not removed, whose listed device key is the one the slot's mac proved; then
  adopted (the same new generation, a new device key announced under the new self key, my own
  changes queued again under it: ops sealed under the old generation are dropped by my siblings).
* :meth:`Resets.stale` — a sibling's device-sync envelope sealed under a self key of a generation
  older than mine: ignored and counted (outcome ``stale_generation``): a removed device still holds
  those keys during their grace and could otherwise inject ops under another device's ``devid``.
* Concurrent resets of one generation (§10.2): **benign** (neither removes the other's sender) —
  every device keeps the keys of both (so envelopes to either open) and seals with the one whose
  ``commit`` is smaller; the device that switches announces the winner to contacts with
  ``supersedes`` (the loser's prekey id), which clears their transient conflict flag. **Hostile**
  (each removes the other's sender) — device sync stops and :meth:`Resets.conflict` holds the
  question for the person, and nothing is sealed to contacts (``outgoing.send`` refuses with the
  question) until it is answered by ``remove`` of the other device (a new reset).
* The contact's side of §10.4: :meth:`Resets.held` / :meth:`Resets.release` — what
  ``outgoing.send`` held for a contact flagged with a prekey conflict, and sending it once the person
  compared safety numbers.

All times are unix seconds from :mod:`tui_sns.core.clock`. State: this device's previous device key
in ``device.previous_secret_key`` / ``previous_erase_at``; held sends in ``held_sends`` (client
migration 13); the rest in ``meta``: ``reset_last`` (JSON: the reset that made my generation),
``reset_conflict`` (JSON), ``announce_supersedes`` (JSON), ``reset_window`` (seconds), and the counters
``warn_stale_generation``, ``warn_from_removed_device``, ``warn_refused_reset``, ``warn_excluded_reset``.
Errors: :meth:`Resets.remove` raises UnknownName (no such device) and InvalidInput (this device, a
device already removed, two devices of that name); :meth:`Resets.release` UnknownName.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_sns.core import clock
from tui_sns.core.errors import InvalidInput, UnknownName
from tui_sns.crypto.envelope_v2 import OpenedReset, OpenedV2, seal_reset
from tui_sns.crypto.epochs import EpochKeys, reset_commitment
from tui_sns.crypto.primitives import x25519_base
from tui_sns.store import devices as device_store
from tui_sns.store import epochs as epoch_store
from tui_sns.store import mailbox
from tui_sns.store import resets as reset_store
from tui_sns.store import routes as route_store
from tui_sns.store.database import Connection
from tui_sns.store.devices import DeviceEntry
from tui_sns.store.identity import get_meta, set_meta

if TYPE_CHECKING:
    from tui_sns.core.session import Session

DAY = 86400
RESET_WINDOW = DAY  # setting ``reset_window``: how long an old device key is kept after a reset
MAX_SCHEDULE = 90 * DAY
MAX_REMOVED = 64
MAX_GENERATION_STEP = 64  # a reset more generations ahead than this is refused
MAX_MERGED_EPOCHS = 64  # open-only epochs kept from concurrent resets of one generation, at most
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")

LEFT_OUT_SENTENCE = (
    "This device was left out of a key reset by another device holding {name}'s identity key (told "
    "{at}): it was removed from {name}'s devices and can no longer write as {name}. If that was a "
    "mistake, link it again with `tui-sns devices join` into a new home, from a device of {name}'s."
)
LOST_DEVICE_ADVICE = (
    "If that device was lost or stolen, whoever holds it still has your identity key: it can read "
    "nothing you or your contacts write from now on, but it can pretend to be you to your contacts "
    "(what it writes reaches them as yours; their app warns only if it also announces a key of its "
    "own). The way out is a new identity: create "
    "one, give your contacts its card, and tell them in person to drop the old one."
)
CONFLICT_QUESTION = (
    "Device '{a}' removed '{b}' and '{b}' removed '{a}' at the same moment. Which device is yours? "
    "Device sync is stopped until you answer: keep '{a}' with `tui-sns devices remove {b}`, or keep "
    "'{b}' with `tui-sns devices remove {a}`."
)


@dataclass(frozen=True)
class ResetPayload:
    """A validated ``reset`` payload (§10.1)."""

    gen: int
    seed: bytes
    start: int
    end: int
    delete: int
    removed: tuple[bytes, ...]
    commit: bytes
    lc: int


@dataclass(frozen=True)
class ResetResult:
    """What :meth:`Resets.remove` / :meth:`Resets.reset_keys` did: the new generation, the devices
    removed (names), how many devices the reset was sealed to (0: this device is alone)."""

    generation: int
    removed: tuple[str, ...]
    sent_to: int


@dataclass(frozen=True)
class ResetConflict:
    """Two resets of one generation, each removing the other's sender (§10.2): the person is asked."""

    gen: int
    a: str  # devid hex of one sender
    a_name: str
    b: str
    b_name: str

    def question(self) -> str:
        return CONFLICT_QUESTION.format(a=self.a_name, b=self.b_name)


_WARNINGS = {
    "from_removed_device": "envelope{s} from a device you removed {were} ignored: it still holds your "
    "identity key. If it was lost or stolen, see `tui-sns devices remove --help` (a new identity)",
    "stale_generation": "device-sync envelope{s} sealed under your keys from before the last reset {were} "
    "ignored (a device that missed the reset re-sends; a removed device cannot)",
    "refused_reset": "key reset{s} that did not come from a device of yours {were} refused",
    "reset_conflict": "two of your devices removed each other: see `tui-sns devices list`",
    "excluded_reset": "key reset{s} by a device holding your identity key left this device out: it "
    "reads nothing written from then on. If you did not remove this device from another one yourself, "
    "that device may be in other hands: the way out is a new identity (`tui-sns devices remove --help`)",
}


HOLD_SENTENCE = (
    "Held for {name}: two different keys were announced for {name} — a device of {name}'s may be in "
    "other hands. Compare safety numbers with {name}; then `tui-sns contacts release {name}` sends "
    "what is held."
)


def hold_sentence(name: str) -> str:
    """What the composer and ``post`` say about a reader whose envelopes are held (§10.4)."""
    return HOLD_SENTENCE.format(name=name)


def device_warnings(counts: dict[str, int]) -> list[str]:
    """One plain sentence per kind of refused envelope of mine (a sync report's ``device_warnings``)."""
    out = []
    for name, text in _WARNINGS.items():
        n = counts.get(name, 0)
        if n:
            out.append(f"{n} " + text.format(s="" if n == 1 else "s", were="was" if n == 1 else "were") + ".")
    return out


def parse_reset(payload: bytes) -> ResetPayload:
    """Validate a ``reset`` payload whole: ``gen`` 0..2³¹−1, ``seed`` 64 hex, ``start < end ≤ delete``
    (spans ≤ 90 days), ``removed`` 0..64 devids (16 hex), ``commit`` = BLAKE2b(seed, "tuisns2-reset",
    16) as 32 hex, ``lc`` a non-negative integer. ValueError naming the broken rule."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(obj, dict) or obj.get("type") != "reset":
        raise ValueError("not a reset")

    def integer(name: str, top: int) -> int:
        v = obj.get(name)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < top:
            raise ValueError(f"{name} is not an integer in range")
        return v

    gen = integer("gen", 2**31)
    start, end, delete = (integer(n, 2**40) for n in ("start", "end", "delete"))
    if not start < end <= delete or end - start > MAX_SCHEDULE or delete - end > MAX_SCHEDULE:
        raise ValueError("the times are not start < end <= delete within 90 days")
    lc = integer("lc", 2**53 + 1) if "lc" in obj else 0
    seed, commit = obj.get("seed"), obj.get("commit")
    if not isinstance(seed, str) or not _HEX64.fullmatch(seed):
        raise ValueError("seed is not 64 lowercase hex digits")
    if not isinstance(commit, str) or not _HEX32.fullmatch(commit):
        raise ValueError("commit is not 32 lowercase hex digits")
    if reset_commitment(bytes.fromhex(seed)) != bytes.fromhex(commit):
        raise ValueError("commit does not match the seed")
    removed = obj.get("removed", [])
    if not isinstance(removed, list) or len(removed) > MAX_REMOVED:
        raise ValueError("removed is not a list of at most 64 devids")
    if not all(isinstance(d, str) and _HEX16.fullmatch(d) for d in removed):
        raise ValueError("a removed devid is not 16 lowercase hex digits")
    return ResetPayload(
        gen,
        bytes.fromhex(seed),
        start,
        end,
        delete,
        tuple(bytes.fromhex(d) for d in removed),
        bytes.fromhex(commit),
        lc,
    )


def _payload(p: ResetPayload) -> bytes:
    obj = {
        "type": "reset",
        "gen": p.gen,
        "seed": p.seed.hex(),
        "start": p.start,
        "end": p.end,
        "delete": p.delete,
        "removed": [d.hex() for d in p.removed],
        "commit": p.commit.hex(),
        "lc": p.lc,
    }
    return json.dumps(obj, separators=(",", ":")).encode()


class Resets:
    """Removal of my devices and key resets on this device (design-v2 §10)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    # -- settings and state --------------------------------------------------------------------------

    def reset_window(self) -> int:
        """Setting ``reset_window`` (seconds, default one day): how long an old device key is kept."""
        try:
            return max(0, int(get_meta(self.store, "reset_window") or RESET_WINDOW))
        except ValueError:
            return RESET_WINDOW

    def generation(self) -> int:
        """The generation this device seals with (the highest whose seed it holds; -1: none)."""
        held = epoch_store.current_seed(self.store)
        return -1 if held is None else held[0]

    def conflict(self) -> ResetConflict | None:
        """The standing hostile conflict (§10.2), or None."""
        raw = get_meta(self.store, "reset_conflict")
        if not raw:
            return None
        try:
            obj = json.loads(raw)
            return ResetConflict(int(obj["gen"]), obj["a"], obj["a_name"], obj["b"], obj["b_name"])
        except (ValueError, KeyError, TypeError):
            return None

    def warnings(self) -> dict[str, int]:
        """Counts of what my siblings' envelopes were refused for since the store was made:
        ``stale_generation``, ``from_removed_device``, ``refused_reset``, ``excluded_reset`` (a reset
        that left this device out)."""
        out = {}
        for name in ("stale_generation", "from_removed_device", "refused_reset", "excluded_reset"):
            try:
                out[name] = int(get_meta(self.store, f"warn_{name}") or 0)
            except ValueError:
                out[name] = 0
        return out

    def left_out(self) -> str | None:
        """When this device learnt that a reset left it out (ISO time, meta ``left_out``), or None.
        While it stands this device writes nothing as the identity: ``outgoing.send`` refuses diary
        content (InvalidInput with :meth:`left_out_sentence`) and seals no announcement or route,
        device sync seals nothing, ``Diary.post`` refuses. Cleared when a later reset from a device of
        mine includes this one again (adopted)."""
        return get_meta(self.store, "left_out") or None

    def left_out_sentence(self) -> str | None:
        """The one sentence ``post``, ``status``, ``devices list`` and the app say while
        :meth:`left_out` stands (None otherwise)."""
        at = self.left_out()
        if at is None:
            return None
        return LEFT_OUT_SENTENCE.format(name=self.session.name, at=at[:16].replace("T", " "))

    def check_can_write(self) -> None:
        """InvalidInput with :meth:`left_out_sentence` while this device is left out (else nothing)."""
        sentence = self.left_out_sentence()
        if sentence is not None:
            raise InvalidInput(sentence)

    def mark_left_out(self) -> None:
        """Record (once) that a reset of my identity left this device out (the inbox found its marker)."""
        if not self.left_out():
            with self.store.write():
                set_meta(self.store, "left_out", clock.now_iso())

    def count(self, name: str) -> None:
        """Count one refused envelope (``stale_generation``, ``from_removed_device``, ``refused_reset``)."""
        with self.store.write():
            set_meta(self.store, f"warn_{name}", str(self.warnings().get(name, 0) + 1))

    def _last(self) -> dict[str, Any] | None:
        """The reset that made the generation I seal with (meta ``reset_last``). A generation that came
        otherwise (the v2 migration, a restored backup, linking) counts as started by this device,
        with its stored commitment, so a sibling's reset of the same number is merged by commit."""
        raw = get_meta(self.store, "reset_last")
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            obj = None
        mine = self.generation()
        if isinstance(obj, dict) and obj.get("gen") == mine:
            return obj
        commit = reset_store.commitment(self.store, mine)
        if commit is None:
            return obj if isinstance(obj, dict) else None
        me = self.session.devices.this_device().devid
        return {"gen": mine, "commit": commit.hex(), "sender": me.hex(), "removed": []}

    def _set_last(self, p: ResetPayload, sender: bytes, removed: set[bytes]) -> None:
        set_meta(
            self.store,
            "reset_last",
            json.dumps(
                {
                    "gen": p.gen,
                    "commit": p.commit.hex(),
                    "sender": sender.hex(),
                    "removed": sorted(d.hex() for d in removed),
                }
            ),
        )

    # -- starting a reset (§10.1) ------------------------------------------------------------------------

    def remove(self, name: str) -> ResetResult:
        """Remove my device named ``name`` (its name or devid hex) and reset. UnknownName for an unknown
        name; InvalidInput for this device, or a device already removed (unless it is one of the two
        devices of a standing conflict: removing it is the answer, §10.2)."""
        devices = self.session.devices
        me = devices.this_device()
        listed = device_store.list_devices(self.store)
        match = [d for d in listed if d.name == name] or [d for d in listed if d.devid.hex() == name]
        if not match:
            raise UnknownName(f"no device of yours is called {name!r} (see `tui-sns devices list`)")
        if len(match) > 1:
            raise InvalidInput(f"two devices are called {name!r}: name it by its id (`devices list`)")
        (target,) = match
        if target.devid == me.devid:
            raise InvalidInput(
                "this is the device you are using: remove it from another of your devices "
                "(or reset its keys with `tui-sns devices reset-keys`)"
            )
        conflict = self.conflict()
        contested = conflict is not None and target.devid.hex() in (conflict.a, conflict.b)
        if target.removed is not None and not contested:  # a contested one is the answer (§10.2)
            raise InvalidInput(f"{target.name!r} was already removed on {target.removed[:16]}")
        return self._reset([target])

    def reset_keys(self) -> ResetResult:
        """A reset without removal (§10.1: "``reset-keys`` is the same without step 1")."""
        return self._reset([])

    def _reset(self, removing: list[DeviceEntry]) -> ResetResult:
        session = self.session
        devices = session.devices
        epochs = session.epochs
        me = devices.this_device()
        now = clock.now_unix()
        conflict = self.conflict()
        epochs.tick(now)  # the state is current before it is cut
        with self.store.write() as conn:
            removed_at = clock.now_iso()
            for target in removing:
                device_store.put_device(
                    conn,
                    target.devid,
                    public_key=target.public_key,
                    name=target.name,
                    added=target.added,
                    removed=removed_at,
                )
                devices.record("device", {"devid": target.devid.hex()}, {"removed": removed_at})
            if conflict is not None:  # the answer to §10.2's question: keep the other contested device
                keep = {conflict.a, conflict.b} - {t.devid.hex() for t in removing}
                for entry in device_store.list_devices(self.store):
                    if entry.devid.hex() in keep and entry.removed is not None:
                        device_store.put_device(
                            conn,
                            entry.devid,
                            public_key=entry.public_key,
                            name=entry.name,
                            added=entry.added,
                            removed=None,
                        )
                        devices.record("device", {"devid": entry.devid.hex()}, {"removed": None})
                set_meta(self.store, "reset_conflict", "")
            remaining = [
                d for d in device_store.list_devices(self.store) if d.removed is None and d.devid != me.devid
            ]
            gen = (
                max(
                    self.generation(),
                    max((r.gen for r in epoch_store.epoch_key_rows(self.store)), default=-1),
                )
                + 1
            )
            length, grace = epoch_store.schedule_settings(conn)
            seed = secrets.token_bytes(32)
            p = ResetPayload(
                gen=gen,
                seed=seed,
                start=now,
                end=now + length,
                delete=now + length + grace,
                removed=tuple(t.devid for t in removing),
                commit=reset_commitment(seed),
                lc=device_store.tick(conn),
            )
            self._install(conn, p, now)
            sent = 0
            if remaining or removing:  # with no device left, the marker alone tells the removed one
                sealed = seal_reset(
                    session.identity,
                    self.device_secrets(),
                    me.devid,
                    [d.public_key for d in remaining],
                    _payload(p),
                )
                mailbox.queue_envelope(self.store, sealed.id, sealed.data, clock.now_iso())
                mailbox.mark_seen_many(conn, [sealed.id])  # coming back, it is not "a reset without me"
                route_store.set_recipients(self.store, sealed.id, [session.identity.public])
                sent = len(remaining)
            self._set_last(p, me.devid, set(p.removed))
            self._rotate_device_key(conn, now)
            for contact_key, caps in epoch_store.all_peer_caps(self.store).items():
                if caps.v2:
                    epoch_store.owe_announcement(self.store, contact_key)
        epochs._keyring = None
        epochs.tick(now)  # announces generation g+1 to every v2 contact at once
        return ResetResult(gen, tuple(t.name for t in removing), sent)

    def _install(self, conn: Connection, p: ResetPayload, now: int) -> None:
        """Make ``p``'s generation the one this device seals with: the current epoch of every older
        generation ends at ``p.start`` (deleted ``grace`` later), older seeds are erased, and epoch 0
        of ``p.gen`` is stored with the reset's own times."""
        _, grace = epoch_store.schedule_settings(conn)
        for row in epoch_store.epoch_key_rows(self.store):
            if row.gen < p.gen and row.secret is not None and row.start <= p.start < row.end:
                end = max(row.start + 1, p.start)
                epoch_store.set_epoch_end(
                    self.store, row.gen, row.epoch, end, min(row.delete_at, end + grace)
                )
        reset_store.erase_seeds_below(conn, p.gen)
        reset_store.put_generation(conn, p.gen, p.seed, p.commit)
        keys = EpochKeys.derive(p.seed, p.gen, 0)
        epoch_store.insert_epoch_keys(conn, keys, p.start, p.end, p.delete)
        self.store.checkpoint_after_commit()

    def _rotate_device_key(self, conn: Connection, now: int) -> None:
        """A new device key for this device (§10.1 step 6); the old secret is kept ``reset_window`` (a
        competing reset sealed to it still opens, §10.2), then erased by :meth:`tick`. The new public
        key reaches my siblings in a ``device`` op, sealed under the new self key only."""
        devices = self.session.devices
        me = devices.this_device()
        secret = os.urandom(32)
        public = x25519_base(secret)
        reset_store.set_device_key(conn, me.devid, secret, public, now + self.reset_window())
        devices._device = None
        devices.record("device", {"devid": me.devid.hex()}, {"key": public.hex()})

    def tick(self, now: int | None = None) -> None:
        """Erase the previous device key once ``reset_window`` has passed (run by the epochs tick)."""
        now = clock.now_unix() if now is None else now
        if self.store.read_only:
            return
        prev = reset_store.previous_device_key(self.store)
        if prev is not None and prev[1] <= now:
            reset_store.erase_previous_device_key(self.store)
            self.session.epochs._keyring = None

    def device_secrets(self) -> list[bytes]:
        """This device's device key secrets a reset may be sealed to: the current one, and the previous
        one while ``reset_window`` runs."""
        record = device_store.load_device(self.store)
        out = [] if record is None else [record.secret_key]
        prev = reset_store.previous_device_key(self.store)
        if prev is not None:
            out.append(prev[0])
        return out

    # -- receiving (§10.1 step 6, §10.2) ------------------------------------------------------------------

    def stale(self, opened: OpenedV2) -> bool:
        """Whether a sibling's self-slot envelope was sealed under a self key of a generation older than
        the one I seal with (after a reset: ignored, outcome ``stale_generation``)."""
        mine = self.generation()
        gens = {
            r.gen for r in epoch_store.epoch_key_rows(self.store) if r.kind == "self" and r.kid == opened.kid
        }
        return bool(gens) and max(gens) < mine

    def receive(self, conn: Connection, opened: OpenedReset) -> str:
        """A reset that opened through one of my device keys. Returns the outcome name: ``mine`` (my
        own, or one already adopted), ``reset`` (adopted), ``reset_merged`` (a benign concurrent
        reset, §10.2), ``reset_conflict`` (hostile: the person is asked), ``from_removed_device`` (its
        sender is removed), ``stale_generation`` (older than mine), ``rejected`` (invalid, or its
        sender's key is not the one listed for it)."""
        me = self.session.devices.this_device()
        if opened.dev == me.devid:
            return "mine"
        try:
            p = parse_reset(opened.payload)
        except ValueError:
            self.count("refused_reset")
            return "rejected"
        sender = device_store.get_device(conn, opened.dev)
        if sender is None or sender.public_key not in (opened.device_keys or (opened.device_key,)):
            self.count("refused_reset")
            return "rejected"
        mine = self.generation()
        last = self._last()
        if last is not None and last.get("gen") == p.gen and last.get("commit") == p.commit.hex():
            return "mine"  # adopted before (a copy from another relay)
        if p.gen > mine + MAX_GENERATION_STEP:  # a sibling cannot push the counter to its end
            self.count("refused_reset")
            return "rejected"
        if p.gen > mine:
            if sender.removed is not None:
                self.count("from_removed_device")
                return "from_removed_device"
            self._adopt(conn, p, opened.dev)
            return "reset"
        if p.gen == mine and last is not None and last.get("gen") == p.gen:
            last_sender = bytes.fromhex(str(last.get("sender", "")))
            last_removed = {bytes.fromhex(d) for d in last.get("removed", [])}
            if last_sender in p.removed and opened.dev in last_removed:
                self._hostile(conn, p, last_sender, opened.dev)
                return "reset_conflict"
            if sender.removed is not None:
                self.count("from_removed_device")
                return "from_removed_device"
            if (
                reset_store.lowest_epoch(conn, p.gen) < -MAX_MERGED_EPOCHS
            ):  # bounded, whatever a sibling sends
                self.count("refused_reset")
                return "rejected"
            self._merge(conn, p, opened.dev, last, last_removed)
            return "reset_merged"
        self.count("stale_generation")
        return "stale_generation"

    def _adopt(self, conn: Connection, p: ResetPayload, sender: bytes) -> None:
        now = clock.now_unix()
        me = self.session.devices.this_device()
        device_store.observe(conn, p.lc)
        self._mark_removed(conn, p.removed)
        self._install(conn, p, now)
        self._set_last(p, sender, set(p.removed))
        self._rotate_device_key(conn, now)
        # the starting device announces g+1 to my contacts: this device need not repeat it
        for contact_key, caps in epoch_store.all_peer_caps(self.store).items():
            if caps.v2:
                epoch_store.record_announced(self.store, contact_key, p.gen, 0)
        self._resend_mine(conn, me.devid)
        set_meta(self.store, "left_out", "")  # a reset that includes this device: a device again
        self.session.epochs._keyring = None

    def _mark_removed(self, conn: Connection, removed: tuple[bytes, ...] | set[bytes]) -> None:
        when = clock.now_iso()
        for devid in removed:
            entry = device_store.get_device(conn, devid)
            if entry is not None and entry.removed is None:
                device_store.put_device(
                    conn, devid, public_key=entry.public_key, name=entry.name, added=entry.added, removed=when
                )

    def _resend_mine(self, conn: Connection, devid: bytes) -> None:
        """Queue again, for sealing under the new self key, every object field this device wrote last:
        my siblings drop device-sync envelopes of the old generation (``stale_generation``), so ops in
        flight would be lost otherwise (idempotent: LWW by the stored stamps)."""
        if not device_store.has_siblings(conn, devid):
            return
        for op in self.session.devices.snapshot():
            if op.get("t", [0, ""])[1] == devid.hex() and op.get("o") != "device":
                device_store.queue_op(conn, json.dumps(op, separators=(",", ":"), ensure_ascii=False))

    def _merge(
        self, conn: Connection, p: ResetPayload, sender: bytes, last: dict[str, Any], last_removed: set[bytes]
    ) -> None:
        """A benign concurrent reset of my generation (§10.2): keep both, seal with the smaller commit."""
        mine_commit = bytes.fromhex(str(last.get("commit", "")))
        removed = last_removed | set(p.removed)
        self._mark_removed(conn, tuple(removed))
        kept_sender = bytes.fromhex(str(last.get("sender", "")))
        if p.commit < mine_commit:  # theirs wins: my keys of this generation become open-only
            rows = [r for r in epoch_store.epoch_key_rows(self.store) if r.gen == p.gen and r.epoch >= 0]
            loser = [r.kid for r in rows if r.kind == "prekey" and r.secret is not None]
            reset_store.demote_generation(conn, p.gen)
            reset_store.put_generation(conn, p.gen, p.seed, p.commit, replace=True)
            keys = EpochKeys.derive(p.seed, p.gen, 0)
            epoch_store.insert_epoch_keys(conn, keys, p.start, p.end, p.delete)
            set_meta(
                self.store,
                "announce_supersedes",
                json.dumps({"gen": p.gen, "kids": [f"{k:08x}" for k in loser[-4:]]}),
            )
            for contact_key, caps in epoch_store.all_peer_caps(self.store).items():
                if caps.v2:
                    epoch_store.owe_announcement(self.store, contact_key)
            self._set_last(p, sender, removed)
        else:  # mine wins: theirs is kept open-only (envelopes sealed under it still open)
            keys = EpochKeys.derive(p.seed, p.gen, 0)
            offset = reset_store.lowest_epoch(conn, p.gen) - 1
            epoch_store.insert_epoch_keys(conn, _renumbered(keys, min(offset, -1)), p.start, p.end, p.delete)
            self._set_last(ResetPayload(p.gen, b"", 0, 0, 0, (), mine_commit, 0), kept_sender, removed)
        self.store.checkpoint_after_commit()
        self.session.epochs._keyring = None

    def _hostile(self, conn: Connection, p: ResetPayload, a: bytes, b: bytes) -> None:
        names = {d.devid: d.name for d in device_store.list_devices(self.store)}
        set_meta(
            self.store,
            "reset_conflict",
            json.dumps(
                {
                    "gen": p.gen,
                    "a": a.hex(),
                    "a_name": names.get(a, a.hex()),
                    "b": b.hex(),
                    "b_name": names.get(b, b.hex()),
                }
            ),
        )

    # -- a contact's prekey conflict (§10.4, the contact's side) -----------------------------------------

    def held(self) -> dict[str, int]:
        """How many payloads are held, per contact name."""
        from tui_sns.store.contacts import contact_by_key

        out = {}
        for key, n in reset_store.held_counts(self.store).items():
            contact = contact_by_key(self.store, key)
            if contact is not None:
                out[contact.name] = n
        return out

    def release(self, name: str) -> int:
        """The person compared safety numbers with contact ``name`` and keeps the keys held before the
        conflict: the flag is cleared and every payload held for them is sealed and queued (in order,
        at their chain positions). Returns how many were sent. UnknownName for an unknown contact."""
        from tui_sns.core.outgoing import send

        contact = self.session.contacts.get(name)
        with self.store.write():
            epoch_store.set_conflict(self.store, contact.public_key, None)
            sent = 0
            for item in reset_store.take_held(self.store, contact.public_key):
                if (
                    send(
                        self.session,
                        [contact],
                        item.payload,
                        expires=item.expires,
                        target=item.target,
                        min_slots=item.min_slots,
                    )
                    is not None
                ):
                    sent += 1
        return sent

    def supersedes(self, gen: int) -> list[str]:
        """Key ids an announcement of generation ``gen`` names as superseded (§6.1, §10.2)."""
        raw = get_meta(self.store, "announce_supersedes")
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            return []
        if not isinstance(obj, dict) or obj.get("gen") != gen:
            return []
        return [k for k in obj.get("kids", []) if isinstance(k, str) and re.fullmatch(r"[0-9a-f]{8}", k)][:4]


def _renumbered(keys: EpochKeys, epoch: int) -> EpochKeys:
    """``keys`` stored under another epoch number (a superseded reset's keys, kept open-only at a
    negative epoch of the same generation: never current, erased at their deletion time). The key
    ids stay those derived for epoch 0, which is what envelopes sealed under them name."""
    return EpochKeys(
        generation=keys.generation,
        epoch=epoch,
        prekey_secret=keys.prekey_secret,
        prekey_public=keys.prekey_public,
        prekey_id=keys.prekey_id,
        self_key=keys.self_key,
        self_key_id=keys.self_key_id,
    )


__all__ = [
    "LOST_DEVICE_ADVICE",
    "device_warnings",
    "hold_sentence",
    "ResetConflict",
    "ResetPayload",
    "ResetResult",
    "Resets",
    "parse_reset",
]
