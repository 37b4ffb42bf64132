"""Arrival order changes nothing (issue 10, "Done means"): random entries, edits, deletions, comments
and hides from three authors, delivered to a reader in many orders (permutations, duplicates, batches),
end in the same timeline and comments as in-order delivery."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_sns.core.inbox import local_post_id
from tui_sns.core.session import Session
from tui_sns.store import KdfParams, mailbox

PASSPHRASE = "pw"
AUTHORS = ("a0", "a1", "a2")

operation = st.tuples(
    st.sampled_from(["post", "post", "edit", "delete", "comment", "comment", "hide"]),
    st.integers(0, 2),
    st.integers(0, 7),
    st.integers(0, 7),
)


def take(sender: Session) -> list[bytes]:
    pending = mailbox.unexported(sender.store)
    mailbox.mark_exported(sender.store, [eid for eid, _ in pending])
    return [data for _, data in pending]


def view(reader: Session) -> list[tuple[Any, ...]]:
    return [
        (
            p.id,
            p.author,
            p.title,
            p.body,
            p.created,
            p.edited,
            tuple((c.id, c.author, c.body, c.warning) for c in reader.comments.list(p.id)),
        )
        for p in reader.diary.timeline()
    ]


class World:
    """Three authors who read each other's entries (delivered in order among them) and one reader."""

    def __init__(self, root: Path) -> None:
        kdf = KdfParams.insecure_for_tests()
        self.authors = [Session.create(root / name, name, PASSPHRASE, kdf) for name in AUTHORS]
        reader = Session.create(root / "reader", "rd", PASSPHRASE, kdf)
        people = [*self.authors, reader]
        for i, a in enumerate(people):
            for b in people[i + 1 :]:
                a.contacts.add(b.contacts.my_card())
                b.contacts.add(a.contacts.my_card())
        reader.close()
        shutil.copytree(root / "reader", root / "reader2")
        self.in_order = Session.unlock(root / "reader", PASSPHRASE)
        self.shuffled = Session.unlock(root / "reader2", PASSPHRASE)
        self.log: list[bytes] = []
        self.live: list[list[str]] = [[], [], []]
        self.count = 0

    def close(self) -> None:
        for s in (*self.authors, self.in_order, self.shuffled):
            s.close()

    def flush(self) -> None:
        """Every author's new envelopes, in queue order, into the log and to the other authors (whose
        receipt may queue forwards: repeated until nothing new, bounded)."""
        for _ in range(10):
            moved = False
            for a in self.authors:
                envelopes = take(a)
                if envelopes:
                    moved = True
                    self.log.extend(envelopes)
                    for b in self.authors:
                        if b is not a:
                            b.inbox.receive(envelopes)
            if not moved:
                return
        raise AssertionError("forwards kept coming")

    def run(self, kind: str, i: int, j: int, k: int) -> None:
        self.count += 1
        author, live = self.authors[i], self.live[i]
        text = f"{kind}{self.count}"
        if kind == "post":
            others = [n for n in AUTHORS if n != AUTHORS[i]]
            live.append(author.diary.post(text, title=f"t{self.count}", to=[*others, "rd"]).id)
        elif not live:
            return
        elif kind == "edit":
            author.diary.edit(live[k % len(live)], body=text)
        elif kind == "delete":
            author.diary.delete(live.pop(k % len(live)))
        elif kind == "comment":
            commenter = self.authors[(i + 1 + j % 2) % 3]
            commenter.comments.add(local_post_id(author.identity.public, live[k % len(live)]), text)
        elif kind == "hide":
            entry = live[k % len(live)]
            theirs = [c for c in author.comments.list(entry) if not c.mine]
            if theirs:
                author.comments.hide(entry, theirs[j % len(theirs)].id)
        self.flush()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=14), data=st.data())
def test_any_arrival_order_ends_in_the_in_order_state(
    ops: list[tuple[str, int, int, int]], data: Any
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp))
        try:
            for op in ops:
                world.run(*op)
            log = world.log
            for envelope in log:
                world.in_order.inbox.receive([envelope])
            order = data.draw(st.permutations(range(len(log))), label="order")
            again = data.draw(st.lists(st.integers(0, max(len(log) - 1, 0)), max_size=6), label="duplicates")
            shuffled = [log[n] for n in order] + [log[n] for n in again if log]
            cuts = sorted(
                data.draw(st.sets(st.integers(1, max(len(shuffled), 1)), max_size=5), label="batches")
            )
            start = 0
            for end in [*cuts, len(shuffled)]:
                if end > start:
                    world.shuffled.inbox.receive(shuffled[start:end])
                    start = end
            expected = view(world.in_order)
            assert view(world.shuffled) == expected
            # and in-order delivery shows every author's live entries as the author holds them
            truth = sorted((p.title, p.body) for a in world.authors for p in a.diary.timeline() if p.mine)
            assert sorted((t, b) for _, _, t, b, *_ in expected) == truth
        finally:
            world.close()
