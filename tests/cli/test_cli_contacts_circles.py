"""contacts and circles through the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLI = Callable[..., Any]


@pytest.fixture
def people(make_identity: Callable[..., Path]) -> dict[str, Path]:
    return {name: make_identity(name) for name in ("alice", "bob", "carol")}


def _card(cli: CLI, home: Path, *extra: str) -> str:
    r = cli(home, "card", *extra)
    assert r.code == 0, r.err
    return str(r.out.strip())


def _contacts(cli: CLI, home: Path) -> list[dict[str, Any]]:
    r = cli(home, "contacts", "list", "--json")
    assert r.code == 0, r.err
    return list(r.json())


def _circles(cli: CLI, home: Path) -> list[dict[str, Any]]:
    r = cli(home, "circles", "list", "--json")
    assert r.code == 0, r.err
    return list(r.json())


def _fails(r: Any, *words: str, code: int = 1) -> None:
    assert r.code == code, (r.out, r.err)
    assert len(r.err_lines) == 1, r.err
    for word in words:
        assert word in r.err, r.err


# -- contacts ---------------------------------------------------------------------------------


def test_contacts_add_list_remove(people: dict[str, Path], cli: CLI) -> None:
    alice, bob = people["alice"], people["bob"]
    bob_key = cli(bob, "whoami", "--json").json()["public_keys"][0]
    r = cli(alice, "contacts", "add", _card(cli, bob))
    assert r.code == 0, r.err
    [entry] = _contacts(cli, alice)
    assert entry["name"] == "bob" and entry["card_name"] == "bob"
    assert entry["public_key"] == bob_key
    assert entry["verified"] is False
    assert entry["circles"] == []
    assert cli(alice, "contacts", "remove", "bob").code == 0
    assert _contacts(cli, alice) == []


def test_add_under_a_local_name(people: dict[str, Path], cli: CLI) -> None:
    r = cli(
        people["alice"], "contacts", "add", _card(cli, people["bob"], "--name", "Persona"), "--name", "B."
    )
    assert r.code == 0, r.err
    [entry] = _contacts(cli, people["alice"])
    assert (entry["name"], entry["card_name"]) == ("B.", "Persona")


def test_a_typo_in_a_pasted_card_is_caught_and_nothing_is_added(people: dict[str, Path], cli: CLI) -> None:
    card = _card(cli, people["bob"])
    body_start = len("tuisns1:")
    for pos in (body_start + 5, len(card) // 2, len(card) - 2):
        wrong = "A" if card[pos] != "A" else "B"
        typo = card[:pos] + wrong + card[pos + 1 :]
        _fails(cli(people["alice"], "contacts", "add", typo), "card")
    _fails(cli(people["alice"], "contacts", "add", card[:-10]), "card")
    _fails(cli(people["alice"], "contacts", "add", "hello bob"), "card")
    assert _contacts(cli, people["alice"]) == []
    # the untouched card (even wrapped by a mail client) still works
    wrapped = card[:30] + "\n  " + card[30:]
    assert cli(people["alice"], "contacts", "add", wrapped).code == 0


def test_my_own_card_is_refused(people: dict[str, Path], cli: CLI) -> None:
    _fails(cli(people["alice"], "contacts", "add", _card(cli, people["alice"])), "your own card")
    _fails(
        cli(people["alice"], "contacts", "add", _card(cli, people["alice"], "--name", "Alt")), "your own card"
    )
    assert _contacts(cli, people["alice"]) == []


def test_the_same_card_twice_is_refused(people: dict[str, Path], cli: CLI) -> None:
    card = _card(cli, people["bob"])
    assert cli(people["alice"], "contacts", "add", card).code == 0
    _fails(cli(people["alice"], "contacts", "add", card), "already")
    _fails(cli(people["alice"], "contacts", "add", card, "--name", "bobby"), "already")
    assert [c["name"] for c in _contacts(cli, people["alice"])] == ["bob"]
    # a newer card of the same person (here: another display name) updates, never duplicates
    newer = cli(people["alice"], "contacts", "add", _card(cli, people["bob"], "--name", "Robert"))
    assert newer.code == 0 and "Updated" in newer.out
    assert [(c["name"], c["card_name"]) for c in _contacts(cli, people["alice"])] == [("bob", "Robert")]


def test_names_are_case_sensitive(people: dict[str, Path], cli: CLI) -> None:
    alice = people["alice"]
    assert cli(alice, "contacts", "add", _card(cli, people["bob"]), "--name", "Bob").code == 0
    assert cli(alice, "contacts", "add", _card(cli, people["carol"]), "--name", "bob").code == 0
    by_name = {c["name"]: c["public_key"] for c in _contacts(cli, alice)}
    assert set(by_name) == {"Bob", "bob"}
    assert by_name["Bob"] == cli(people["bob"], "whoami", "--json").json()["public_keys"][0]
    assert by_name["bob"] == cli(people["carol"], "whoami", "--json").json()["public_keys"][0]
    _fails(cli(alice, "contacts", "remove", "BOB"), "BOB")
    assert cli(alice, "contacts", "remove", "bob").code == 0
    assert [c["name"] for c in _contacts(cli, alice)] == ["Bob"]


def test_a_name_already_taken_by_another_contact_is_refused(people: dict[str, Path], cli: CLI) -> None:
    alice = people["alice"]
    assert cli(alice, "contacts", "add", _card(cli, people["bob"]), "--name", "friend").code == 0
    _fails(cli(alice, "contacts", "add", _card(cli, people["carol"]), "--name", "friend"), "friend")
    assert len(_contacts(cli, alice)) == 1


def test_unknown_contact_is_an_error(people: dict[str, Path], cli: CLI) -> None:
    for action in (["remove"], ["verify"], ["verify", "--mark"]):
        _fails(cli(people["alice"], "contacts", action[0], "nobody", *action[1:]), "nobody")


def test_safety_numbers_match_and_mark_sets_verified(
    people: dict[str, Path], cli: CLI, befriend: Callable[..., None]
) -> None:
    alice, bob = people["alice"], people["bob"]
    befriend(alice, bob)
    from_alice = cli(alice, "contacts", "verify", "bob")
    from_bob = cli(bob, "contacts", "verify", "alice")
    assert from_alice.code == from_bob.code == 0

    def number(out: str) -> str:
        [line] = [ln for ln in out.splitlines() if ln and ln.replace(" ", "").isdigit()]
        return line

    assert number(from_alice.out) == number(from_bob.out)
    assert len(number(from_alice.out).replace(" ", "")) == 60
    assert _contacts(cli, alice)[0]["verified"] is False  # showing does not mark
    assert cli(alice, "contacts", "verify", "bob", "--mark").code == 0
    assert _contacts(cli, alice)[0]["verified"] is True
    assert _contacts(cli, bob)[0]["verified"] is False  # marking is local


def test_a_too_long_contact_name_is_refused(people: dict[str, Path], cli: CLI) -> None:
    _fails(
        cli(people["alice"], "contacts", "add", _card(cli, people["bob"]), "--name", "b" * 101), "100", code=2
    )
    assert _contacts(cli, people["alice"]) == []


# -- circles ----------------------------------------------------------------------------------


@pytest.fixture
def alice_with_friends(people: dict[str, Path], befriend: Callable[..., None]) -> Path:
    befriend(people["alice"], people["bob"])
    befriend(people["alice"], people["carol"])
    return people["alice"]


def test_circles_lifecycle(alice_with_friends: Path, cli: CLI) -> None:
    home = alice_with_friends
    assert _circles(cli, home) == []
    assert cli(home, "circles", "create", "close").code == 0
    assert cli(home, "circles", "add", "close", "bob", "carol").code == 0
    assert _circles(cli, home) == [{"name": "close", "members": ["bob", "carol"]}]
    assert {c["name"]: c["circles"] for c in _contacts(cli, home)} == {"bob": ["close"], "carol": ["close"]}
    assert cli(home, "circles", "remove", "close", "carol").code == 0
    assert _circles(cli, home) == [{"name": "close", "members": ["bob"]}]
    assert cli(home, "circles", "rename", "close", "closest").code == 0
    assert _circles(cli, home) == [{"name": "closest", "members": ["bob"]}]
    assert cli(home, "circles", "create", "work").code == 0
    assert [c["name"] for c in _circles(cli, home)] == ["closest", "work"]
    assert cli(home, "circles", "delete", "closest").code == 0
    assert _circles(cli, home) == [{"name": "work", "members": []}]
    assert [c["name"] for c in _contacts(cli, home)] == ["bob", "carol"]  # deleting a circle keeps people


UNKNOWN_CASES = [
    (["add", "nosuch", "bob"], "nosuch"),
    (["remove", "nosuch", "bob"], "nosuch"),
    (["rename", "nosuch", "other"], "nosuch"),
    (["delete", "nosuch"], "nosuch"),
    (["add", "close", "nobody"], "nobody"),
    (["remove", "close", "nobody"], "nobody"),
    (["remove", "close", "carol"], "carol"),  # a contact, but not a member
    (["add", "close", "Bob"], "Bob"),  # case-sensitive
]


def test_unknown_circle_or_contact_is_an_error(alice_with_friends: Path, cli: CLI) -> None:
    home = alice_with_friends
    assert cli(home, "circles", "create", "close").code == 0
    assert cli(home, "circles", "add", "close", "bob").code == 0
    for args, word in UNKNOWN_CASES:
        _fails(cli(home, "circles", *args), word)
        assert _circles(cli, home) == [{"name": "close", "members": ["bob"]}], args


def test_adding_a_known_and_an_unknown_contact_adds_neither(alice_with_friends: Path, cli: CLI) -> None:
    home = alice_with_friends
    assert cli(home, "circles", "create", "close").code == 0
    _fails(cli(home, "circles", "add", "close", "bob", "nobody"), "nobody")
    assert _circles(cli, home) == [{"name": "close", "members": []}]


def test_circles_and_contacts_share_one_namespace(
    alice_with_friends: Path, cli: CLI, people: dict[str, Path]
) -> None:
    home = alice_with_friends
    _fails(cli(home, "circles", "create", "bob"), "bob")
    assert cli(home, "circles", "create", "close").code == 0
    _fails(cli(home, "circles", "rename", "close", "carol"), "carol")
    assert cli(home, "circles", "create", "work").code == 0
    _fails(cli(home, "circles", "rename", "close", "work"), "work")
    _fails(cli(home, "circles", "create", "work"), "work")
    dave = people["alice"].parent / "home-dave"
    from tui_sns.core.session import Session
    from tui_sns.store import KdfParams

    Session.create(dave, "close", "pw", KdfParams.insecure_for_tests()).close()  # a card named "close"
    _fails(cli(home, "contacts", "add", _card(cli, people["bob"]).strip(), "--name", "work"), "already")
    r = cli(home, "contacts", "add", cli(dave, "--passphrase-file", _pwfile(dave), "card").out.strip())
    _fails(r, "close")
    assert [c["name"] for c in _circles(cli, home)] == ["close", "work"]
    assert [c["name"] for c in _contacts(cli, home)] == ["bob", "carol"]


def _pwfile(near: Path) -> str:
    path = near.parent / f"{near.name}.pw"
    path.write_text("pw")
    return str(path)


def test_bad_circle_names_are_refused(alice_with_friends: Path, cli: CLI) -> None:
    for name in ("x" * 101, "", " padded ", "me", "tab\there"):
        _fails(cli(alice_with_friends, "circles", "create", name), code=2)  # a bad invocation
        assert _circles(cli, alice_with_friends) == [], name
