"""The three-device scenario (docs/design-v2.md §17 step 11; issue 14 "Done means").

``ana1`` and ``ana2`` are two devices of one identity (the second made as the device tests make it: a
copy of the first's store that becomes a new device, then each lists the other — what linking does);
Kenji is a contact on v2, Lee a contact whose client announced no prekey (v1). Both of Ana's devices
post, edit, comment, hide and delete concurrently; every envelope reaches Kenji, Lee and each of Ana's
devices in orders drawn by Hypothesis, duplicates included. Afterwards: no warning anywhere (no gap,
no replay, no chain break, no comment "about a version you never received"), the same timeline and
the same comments on ana1, ana2 and Kenji, the same diary on ana1 and ana2, and Lee got each entry
exactly once, v1, on one chain.

Delivery is in process (outbox → inbox), like tests/conversations/test_forward_secrecy.py; device-sync
ops are sealed as a sync seals them (``SyncEngine.seal_device_ops``, which needs no relay)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_sns.core import clock
from tui_sns.core.inbox import Outcome, local_post_id
from tui_sns.core.session import Session
from tui_sns.store import KdfParams, mailbox
from tui_sns.sync.engine import SyncEngine

PASSPHRASE = "correct horse battery staple"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
WARNINGS = (Outcome.REPLAY, Outcome.REJECTED, Outcome.STRANGER, Outcome.UNREADABLE, Outcome.KEY_DELETED)


class World:
    """Four stores, one log of every envelope queued, and what each person was handed already."""

    def __init__(self, root: Path, fake: clock.FakeClock) -> None:
        kdf = KdfParams.insecure_for_tests()
        ana1 = Session.create(root / "ana1", "ana", PASSPHRASE, kdf=kdf)
        kenji = Session.create(root / "kenji", "kenji", PASSPHRASE, kdf=kdf)
        lee = Session.create(root / "lee", "lee", PASSPHRASE, kdf=kdf)
        lee.epochs.disable_v2_for_tests()  # Lee's app is older: it announces no prekey
        for other in (kenji, lee):
            ana1.contacts.add(other.contacts.my_card())
            other.contacts.add(ana1.contacts.my_card())
        self.people: dict[str, Session] = {"ana1": ana1, "kenji": kenji, "lee": lee}
        self.log: list[bytes] = []
        self.handed: dict[str, set[int]] = {}
        self.outcomes: dict[str, Counter[Outcome]] = {}
        self.settle()  # the announcements owed to new contacts
        ana1.devices.this_device("desktop")
        fake.advance(60)  # (the laptop is linked a minute later)
        ana1.close()
        shutil.copytree(root / "ana1", root / "ana2")
        ana1 = Session.unlock(root / "ana1", PASSPHRASE)
        ana2 = Session.unlock(root / "ana2", PASSPHRASE)
        with ana2.store.write() as conn:  # the copy becomes a new device, as after linking
            conn.execute("DELETE FROM device")
            conn.execute("DELETE FROM meta WHERE key IN ('devid', 'devtag_key')")
            for table in ("chain_send", "outbox", "sync_outbox"):  # (linking brings none of these)
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        laptop = ana2.devices.this_device("laptop")  # (the desktop is listed on it: the copy)
        ana1.devices.add_device(laptop.devid, laptop.public_key, laptop.name)
        self.people.update(ana1=ana1, ana2=ana2)
        self.handed["ana2"] = set(self.handed["ana1"])

    def __getitem__(self, name: str) -> Session:
        return self.people[name]

    def collect(self) -> int:
        """Every person syncs (ticks, seals device-sync ops); their new envelopes join the log."""
        before = len(self.log)
        for session in self.people.values():
            session.epochs.tick()
            SyncEngine(session).seal_device_ops()
            rows = mailbox.unexported(session.store)
            mailbox.mark_exported(session.store, [i for i, _ in rows])
            self.log.extend(d for _, d in rows)
        return len(self.log) - before

    def deliver(self, name: str, order: list[int]) -> None:
        """Hand ``name`` the log's envelopes at these positions, in this order, two at a time."""
        session = self.people[name]
        for start in range(0, len(order), 2):
            chunk = order[start : start + 2]
            report = session.inbox.receive([self.log[i] for i in chunk])
            self.outcomes.setdefault(name, Counter()).update(report.outcomes)
            self.handed.setdefault(name, set()).update(chunk)

    def settle(self) -> None:
        """Collect and deliver everything, in log order, until nothing new is queued."""
        for _ in range(20):
            new = self.collect()
            for name in self.people:
                had = self.handed.setdefault(name, set())
                self.deliver(name, [i for i in range(len(self.log)) if i not in had])
            if not new and not self.collect():
                return
        raise AssertionError("delivery did not settle")

    def close(self) -> None:
        for session in self.people.values():
            session.close()


def shuffled_delivery(world: World, data: Any) -> None:
    """Collect, then hand each person what they have not had in a drawn order, with drawn repeats."""
    world.collect()
    for name in sorted(world.people):
        had = world.handed.setdefault(name, set())
        waiting = [i for i in range(len(world.log)) if i not in had]
        if not waiting:
            continue
        order = data.draw(st.permutations(waiting), label=f"order for {name}")
        repeats = data.draw(st.lists(st.sampled_from(waiting), max_size=3), label=f"repeats for {name}")
        world.deliver(name, [*order, *repeats])


def entry_id(world: World, title: str) -> str:
    (post,) = [p for p in world["ana1"].diary.timeline() if p.title == title]
    return post.id


def ana_entries(session: Session, ana_key: bytes) -> dict[str, tuple[str, str]]:
    """Ana's entries as ``session`` shows them: {remote id: (title, body)}."""
    out = {}
    for post in session.diary.timeline():
        if post.mine or post.author == "ana":
            out[post.id] = (post.title, post.body)
    return out


def normalised(session: Session, ana_key: bytes, remote_ids: list[str]) -> dict[str, Any]:
    """Timeline and comments of Ana's entries, keyed by Ana's remote ids (Kenji's local ids differ)."""
    view: dict[str, Any] = {}
    for remote_id in remote_ids:
        local = remote_id if session.identity.public == ana_key else local_post_id(ana_key, remote_id)
        try:
            post = session.diary.get(local)
        except Exception:  # noqa: BLE001 - not there: deleted (or never addressed to this person)
            view[remote_id] = None
            continue
        comments = sorted((c.id, c.body, c.created, c.warning) for c in session.comments.list(local))
        view[remote_id] = (post.title, post.body, comments)
    return view


def diary(session: Session) -> dict[str, Any]:
    """Everything that must be the same on both of Ana's devices."""
    return {
        "contacts": sorted((c.name, c.public_key, c.verified, c.blocked) for c in session.contacts.list()),
        "entries": sorted(
            (p.id, p.title, p.body, p.created, p.author, str(p.audience), p.readers, p.unread)
            for p in session.diary.timeline()
        ),
        "comments": sorted(
            (p.id, c.id, c.body, c.created, c.author)
            for p in session.diary.timeline()
            for c in session.comments.list(p.id)
        ),
    }


@settings(
    max_examples=int(os.environ.get("THREE_DEVICES_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_two_devices_of_ana_kenji_and_lee_on_v1(tmp_path_factory: Any, data: Any) -> None:
    fake = clock.FakeClock(T0)  # the same times in every example (Hypothesis replays draws)
    with clock.use_source(fake):
        run_scenario(tmp_path_factory.mktemp("three"), data, fake)


def run_scenario(root: Path, data: Any, fake: clock.FakeClock) -> None:
    world = World(root, fake)
    try:
        ana1, ana2, kenji, lee = world["ana1"], world["ana2"], world["kenji"], world["lee"]
        ana_key = ana1.identity.public
        # 1. both devices post at once (one entry each to both readers, one to Kenji only)
        ana1.diary.post("from the desktop", title="d1", to=["kenji", "lee"])
        ana2.diary.post("from the laptop", title="l1", to=["kenji", "lee"])
        ana2.diary.post("kenji only", title="l2", to=["kenji"])
        shuffled_delivery(world, data)
        fake.advance(5)
        d1, l1, l2 = (entry_id(world, t) for t in ("d1", "l1", "l2"))
        # 2. edits of each other's entries, comments from everyone, at once
        ana1.diary.edit(l1, body="from the laptop, edited on the desktop")
        ana2.diary.edit(d1, body="from the desktop, edited on the laptop")
        ana1.comments.add(l1, "desktop comments on the laptop's entry")
        ana2.comments.add(d1, "laptop comments on the desktop's entry")
        kenji_posts = {p.title: p.id for p in kenji.diary.timeline()}
        lee_posts = {p.title: p.id for p in lee.diary.timeline()}
        if "d1" in kenji_posts:
            kenji.comments.add(kenji_posts["d1"], "kenji on d1")
        if "d1" in lee_posts:  # (the desktop, the v1 sender, sealed it to Lee in round 1)
            lee.comments.add(lee_posts["d1"], "lee on d1")
        kenji.diary.post("kenji's own", title="k1", to=["ana"])
        shuffled_delivery(world, data)
        fake.advance(5)
        # 3. a deletion on one device, a comment on Kenji's entry on the other, another post; Kenji
        # takes back his comment (both devices hear it: the writer's hides it for the readers); the
        # laptop hides Lee's comment on the desktop's entry
        ana2.diary.delete(l2)
        for comment in kenji.comments.list(kenji_posts["d1"]) if "d1" in kenji_posts else []:
            if comment.mine:
                kenji.comments.delete(comment.id)
        hidden = [c.id for c in ana2.comments.list(d1) if c.body == "lee on d1"]
        for comment_id in hidden:  # (when Lee's comment reached the laptop in round 2)
            ana2.comments.hide(d1, comment_id)
        # one device's chain to Kenji runs ahead of the other's, the other's Lamport clock ahead: an
        # order by chain position and one by Lamport time disagree (which device is ahead: drawn)
        behind, ahead = (ana1, ana2) if data.draw(st.booleans(), label="laptop ahead") else (ana2, ana1)
        for i in range(4):
            behind.diary.post(f"filler {i}", title=f"f{i}", to=["kenji"])
        for i in range(20):
            ahead.drafts.save("draft", f"version {i}", draft_id=f"n{i}")
        ana1.diary.edit(d1, title="d1", body="both edit d1: the desktop")  # the same entry, at once
        ana2.diary.edit(d1, title="d1", body="both edit d1: the laptop")
        ana1.diary.post("second from the desktop", title="d2", to=["kenji", "lee"])
        k1 = [p for p in ana2.diary.timeline() if p.title == "k1"]
        if k1:  # (when Kenji's entry reached the laptop in round 2)
            ana2.comments.add(k1[0].id, "laptop on kenji's entry")
        shuffled_delivery(world, data)
        world.settle()
        # 4. both edit one entry at the same Lamport time: the version's digest decides, everywhere
        d2 = entry_id(world, "d2")
        same = max(ana1.devices.lamport(), ana2.devices.lamport())
        ana1.devices.observe(same)
        ana2.devices.observe(same)
        ana1.diary.edit(d2, body="tie: the desktop")
        ana2.diary.edit(d2, body="tie: the laptop")
        shuffled_delivery(world, data)
        world.settle()

        remote_ids = [d1, l1, l2, d2]
        # no warnings anywhere
        for name, session in world.people.items():
            assert session.diary.missing() == [], name
            assert session.diary.chain_breaks() == [], name
            bad = {o: n for o, n in world.outcomes.get(name, Counter()).items() if o in WARNINGS}
            assert bad == {}, (name, bad)
            assert session.devices.queued() == [], name  # (Kenji's and Lee's list no sibling)
        # the same timeline and comments on ana1, ana2 and Kenji; the same diary on both devices
        want = normalised(ana1, ana_key, remote_ids)
        assert want[l2] is None and want[d1] is not None
        d1_comments = [body for _, body, _, _ in want[d1][2]]
        assert "kenji on d1" not in d1_comments  # taken back
        assert ("lee on d1" in d1_comments) == (not hidden)
        assert normalised(ana2, ana_key, remote_ids) == want
        assert normalised(kenji, ana_key, remote_ids) == want
        assert diary(ana2) == diary(ana1)
        on_k1 = {
            name: [
                c.body
                for p in world[name].diary.timeline()
                if p.title == "k1"
                for c in world[name].comments.list(p.id)
            ]
            for name in ("ana1", "ana2", "kenji")
        }
        assert on_k1["ana1"] == on_k1["ana2"] == on_k1["kenji"] == (["laptop on kenji's entry"] if k1 else [])
        # Lee: each entry addressed to him exactly once, v1, on one chain from Ana
        lee_view = {p.title: p for p in lee.diary.timeline() if not p.mine}
        assert set(lee_view) == {"d1", "l1", "d2"}
        assert lee_view["l1"].body == "from the laptop, edited on the desktop"
        for remote_id, title in ((d1, "d1"), (d2, "d2")):  # the same edit won for Lee
            assert (lee_view[title].title, lee_view[title].body) == want[remote_id][:2]
        assert want[d2][1].startswith("tie: ")
        for post in lee_view.values():
            assert lee.diary.sealing(post.id).envelope_version == 1
        devs = lee.store.fetchall("SELECT DISTINCT dev FROM chain_received WHERE public_key = ?", (ana_key,))
        assert [bytes(r[0]) for r in devs] == [mailbox.V1_DEV]
        assert world.outcomes["lee"][Outcome.STORED] == 3
    finally:
        world.close()
