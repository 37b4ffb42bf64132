"""Issue 8 §1 in the CLI: text from others never drives the terminal, never forges a line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_strings import BODY, TITLE, assert_clean

from tui_sns.core.inbox import local_post_id

CLI = Callable[..., Any]


def _befriend(a: Any, b: Any) -> None:
    a.contacts.add(b.contacts.my_card(), b.name)
    b.contacts.add(a.contacts.my_card(), a.name)


@pytest.fixture
def hostile_entry(people: Callable[..., Any], deliver: Callable[..., Any], tmp_path: Path) -> Path:
    """alice's home, holding an entry from bob whose title and body are hostile."""
    alice, bob = people("alice", "bob")
    _befriend(alice, bob)
    bob.diary.post(BODY, title=TITLE, to=["alice"])
    deliver(bob, alice)
    alice.close()
    bob.close()
    return tmp_path / "home-alice"


def test_timeline_shows_one_safe_line_per_entry(hostile_entry: Path, cli: CLI) -> None:
    # Seen: the title renamed the window, cleared the screen, wrote the clipboard, erased a line, and
    # its newline plus a timeline-shaped line showed an entry "from Bob" that Bob never wrote.
    r = cli(hostile_entry, "timeline")
    assert r.code == 0, r.err
    assert_clean(r.out + r.err)
    lines = r.out.splitlines()
    assert len(lines) == 1, lines
    assert "I never wrote this" in lines[0]  # shown, on the entry's own line


def test_show_prints_no_control_characters(hostile_entry: Path, cli: CLI) -> None:
    entry = cli(hostile_entry, "timeline", "--json").json()[0]["id"]
    r = cli(hostile_entry, "show", entry)
    assert r.code == 0, r.err
    assert_clean(r.out + r.err)
    title, byline = r.out.splitlines()[:2]
    assert title.startswith("hi") and "I never wrote this" in title  # the title stays one line
    assert byline.startswith("by bob on ")
    assert "second line" in r.out


def test_json_keeps_exact_strings_and_is_terminal_safe(hostile_entry: Path, cli: CLI) -> None:
    r = cli(hostile_entry, "timeline", "--json")
    assert r.code == 0, r.err
    assert_clean(r.out)  # C0 escaped by json; DEL, C1 and bidi escaped too
    (entry,) = r.json()
    assert entry["title"] == TITLE
    assert entry["body"] == BODY


def _hostile_card(session: Any, name: str) -> str:
    from tui_sns.crypto.card import Card

    return Card(name=name, public_key=session.identity.public, relays=()).encode()


def test_card_with_control_characters_is_refused(people: Callable[..., Any]) -> None:
    from tui_sns.core.errors import InvalidInput

    alice, carol = people("alice", "carol")
    for name in ("carol" + TITLE[:60], "carol\u202e", "carol\x9b2J", "line\nbreak"):
        with pytest.raises(InvalidInput, match="control characters|spaces|line"):
            alice.contacts.add(_hostile_card(carol, name), "carol")


def test_request_from_stranger_with_hostile_name_and_note(
    people: Callable[..., Any], deliver: Callable[..., Any], cli: CLI, tmp_path: Path
) -> None:
    """Seen: `requests list` printed a stranger's (who only had my card) name and note raw."""
    from tui_sns.core.messages import RequestMessage
    from tui_sns.core.outgoing import send_unchained
    from tui_sns.store import requests as request_store

    alice, dave = people("alice", "dave")
    dave.contacts.add(alice.contacts.my_card(), "alice")
    payload = RequestMessage(_hostile_card(dave, "dave" + TITLE[:50]), "note" + BODY).encode()
    send_unchained(dave, dave.contacts.get("alice"), payload)
    deliver(dave, alice)
    # refused where it enters: the request is dropped unseen
    assert alice.requests.list() == []
    # one stored before the check existed is still shown safely
    request_store.save_request(
        alice.store,
        dave.identity.public,
        _hostile_card(dave, "dave" + TITLE[:50]),
        "note" + BODY,
        "2026-01-01T00:00:00" + TITLE[:20],
        10,
    )
    alice.close()
    r = cli(tmp_path / "home-alice", "requests", "list")
    assert r.code == 0, r.err
    assert_clean(r.out + r.err)
    assert len(r.out.splitlines()) == 1


def test_forwarded_comment_name_is_validated_and_shown_safely(
    people: Callable[..., Any], deliver: Callable[..., Any], cli: CLI, tmp_path: Path
) -> None:
    """Seen: a forwarded comment carried its writer's card name (which my own contact book refused)
    on to a third person, whose `show` printed it raw."""
    from tui_sns.store import contacts as contact_store

    alice, bob, carol = people("alice", "bob", "carol")
    _befriend(alice, bob)
    _befriend(alice, carol)
    # carol's card name, as stored by alice before cards were checked
    contact_store.update_card(alice.store, alice.contacts.get("carol").id, "carol" + TITLE[:60], ())
    entry = alice.diary.post("hello", to=["bob", "carol"]).id
    deliver(alice, bob, carol)
    pid = local_post_id(alice.identity.public, entry)
    carol.comments.add(pid, "hi" + BODY)
    deliver(carol, alice)
    deliver(alice, bob)
    for comment in bob.comments.list(pid):
        assert_clean(comment.author, newlines=False)
    bob.close()
    r = cli(tmp_path / "home-bob", "show", pid)
    assert r.code == 0, r.err
    assert_clean(r.out + r.err)
    assert "hi" in r.out


def test_init_and_card_refuse_names_recipients_refuse(cli: CLI, home: Path, tmp_path: Path) -> None:
    r = cli(home, "card", "--name", "ann\x1b[2J")
    assert r.code == 2 and "control characters" in r.err, (r.code, r.err)  # a bad invocation
    assert_clean(r.out + r.err)
    r = cli(tmp_path / "new-home", "init", "--name", "ann\u202e")
    assert r.code == 2 and "control characters" in r.err, (r.code, r.err)  # a bad invocation
    assert not (tmp_path / "new-home" / "store.db").exists()


def test_lone_surrogate_escape_in_a_payload_is_refused_not_a_crash(
    people: Callable[..., Any], deliver: Callable[..., Any]
) -> None:
    """One more of the kind: a payload whose JSON escapes a lone surrogate (``\\ud800``) made the whole
    import raise UnicodeEncodeError at the store; it is now an unreadable envelope, and the next one
    from the same contact still arrives."""
    from tui_sns.core.outgoing import send

    alice, bob = people("alice", "bob")
    _befriend(alice, bob)
    payload = (
        b'{"type":"post","id":"abcd","title":"x\\ud800y","body":"b","created":"2026-01-01T00:00:00+00:00"}'
    )
    send(bob, [bob.contacts.get("alice")], payload)
    bob.diary.post("after it", to=["alice"])
    deliver(bob, alice)
    assert [p.body for p in alice.diary.timeline()] == ["after it"]


@pytest.mark.parametrize("name", ["Ann 👨\u200d👩\u200d👧", "می\u200cخواهم", "Zoë [climbing]", "北京の人"])
def test_ordinary_names_still_pass(people: Callable[..., Any], name: str) -> None:
    alice, carol = people("alice", "carol")
    assert alice.contacts.add(_hostile_card(carol, name)).name == name
