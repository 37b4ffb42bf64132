"""Comments: readable by exactly the entry's audience plus its author; hide and delete; forgeries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conv_helpers import befriend

from tui_sns.core.inbox import Outcome, local_post_id


def setup_four(people: Callable[..., Any]) -> tuple[Any, Any, Any, Any]:
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    for other in (bob, carol, dave):
        befriend(alice, other)
    befriend(bob, dave)  # bob and dave know each other; carol knows only alice
    alice.circles.create("close")
    alice.circles.add("close", ["bob", "dave"])
    return alice, bob, carol, dave


def test_comment_reaches_the_audience_only(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, bob, carol, dave = setup_four(people)
    entry = alice.diary.post("what a day", title="day", to=["close"]).id
    deliver(alice, bob, carol, dave)
    bob_id = local_post_id(alice.identity.public, entry)
    assert [c.body for c in bob.comments.list(bob_id)] == []
    bob.comments.add(bob_id, "lovely")
    # bob's envelope is for alice only; carol and dave get it too but cannot open it
    reports = deliver(bob, alice, carol, dave)
    assert reports[0].outcomes[Outcome.APPLIED] == 1
    assert reports[1].outcomes[Outcome.NOT_FOR_ME] == 1
    # alice forwarded it to the other readers: dave (not bob, not carol)
    reports = deliver(alice, bob, carol, dave)
    assert reports[1].outcomes[Outcome.NOT_FOR_ME] == 1
    assert reports[2].outcomes[Outcome.APPLIED] == 1
    assert [(c.author, c.body, c.mine) for c in alice.comments.list(entry)] == [("bob", "lovely", False)]
    assert [(c.author, c.body, c.mine) for c in bob.comments.list(bob_id)] == [("me", "lovely", True)]
    assert [(c.author, c.body) for c in dave.comments.list(bob_id)] == [("bob", "lovely")]
    assert carol.diary.timeline() == []


def test_unknown_commenter_shows_via_author(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, bob, erin = people("alice", "bob", "erin")
    befriend(alice, bob)
    befriend(alice, erin)  # bob and erin do not know each other
    entry = alice.diary.post("hello", to=["bob", "erin"]).id
    deliver(alice, bob, erin)
    erin.comments.add(local_post_id(alice.identity.public, entry), "hi all")
    deliver(erin, alice)
    deliver(alice, bob)
    (comment,) = bob.comments.list(local_post_id(alice.identity.public, entry))
    assert comment.author == "erin, via alice, not in your contacts"
    assert not comment.in_contacts


def test_author_comment_hide_and_delete(people: Callable[..., Any], deliver: Callable[..., Any]) -> None:
    alice, bob, carol, dave = setup_four(people)
    entry = alice.diary.post("plans", to=["close"]).id
    deliver(alice, bob, dave)
    pid = local_post_id(alice.identity.public, entry)
    mine = alice.comments.add(entry, "from the author")
    bob_c = bob.comments.add(pid, "bob here")
    dave_c = dave.comments.add(pid, "dave here")
    deliver(bob, alice)
    deliver(dave, alice)
    deliver(alice, bob, dave)
    assert {c.body for c in bob.comments.list(pid)} == {"from the author", "bob here", "dave here"}
    assert {c.author for c in dave.comments.list(pid)} == {"alice", "bob", "me"}
    # the author hides bob's comment for everyone
    alice.comments.hide(entry, bob_c.id)
    deliver(alice, bob, dave)
    for session, post_id in ((alice, entry), (bob, pid), (dave, pid)):
        assert "bob here" not in {c.body for c in session.comments.list(post_id)}
    # dave deletes his own comment: through alice, to everyone
    dave.comments.delete(dave_c.id)
    assert "dave here" not in {c.body for c in dave.comments.list(pid)}
    deliver(dave, alice)
    assert "dave here" not in {c.body for c in alice.comments.list(entry)}
    deliver(alice, bob)
    assert [c.body for c in bob.comments.list(pid)] == [mine.body]


def test_forged_thread_and_outsider_comment_ignored(
    people: Callable[..., Any], deliver: Callable[..., Any]
) -> None:
    from tui_sns.core.messages import CommentMessage, ThreadMessage
    from tui_sns.core.outgoing import send
    from tui_sns.crypto.thread import seal_comment

    alice, bob, carol, dave = setup_four(people)
    entry = alice.diary.post("x", to=["close"]).id
    deliver(alice, bob, dave)
    pid = local_post_id(alice.identity.public, entry)
    # bob forges a "thread" message to dave as if he were forwarding: dave only accepts it from alice
    key = bob.store.fetchone("SELECT thread_key FROM posts WHERE id = ?", (pid,))[0]
    inner = seal_comment(
        bytes(key), b'{"comment_id":"abcd1234","body":"forged","created":"2030-01-01T00:00:00+00:00"}'
    )
    send(
        bob,
        [bob.contacts.get("dave")],
        ThreadMessage(entry, "abcd1234", "alice", alice.identity.public, inner).encode(),
    )
    (report,) = deliver(bob, dave)
    # kept as waiting for an entry of *bob's* with that id (bounded per author), never applied to alice's
    assert report.outcomes[Outcome.PENDING] == 1
    assert dave.comments.list(pid) == []
    # carol, outside the audience, tries to comment on alice's entry: alice drops it
    send(carol, [carol.contacts.get("alice")], CommentMessage(entry, inner).encode())
    (report,) = deliver(carol, alice)
    assert report.outcomes[Outcome.IGNORED] == 1
    assert alice.comments.list(entry) == []
