"""End to end through real relay subprocesses: everyone reads exactly what was meant for them,
strangers are dropped, and the relay's storage holds nothing that names anyone or anything."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer
from sync_helpers import befriend, sync, titles, unlock

from tui_sns.sync.relay.dump import dump_relay_storage

pytestmark = pytest.mark.slow

MARK = secrets.token_hex(6)
CLOSE_TITLE, CLOSE_BODY = f"close-title-{MARK}", f"close-body-{MARK}"
WORK_TITLE, WORK_BODY = f"work-title-{MARK}", f"work-body-{MARK}"
PRIVATE_TITLE, PRIVATE_BODY = f"private-title-{MARK}", f"private-body-{MARK}"
BOB_TITLE, BOB_BODY = f"bob-title-{MARK}", f"bob-body-{MARK}"
EVE_TITLE, EVE_BODY = f"eve-title-{MARK}", f"eve-body-{MARK}"


def invite_via_cli(server: RelayServer) -> str:
    """``tui-sns-relay invite create`` prints the code alone on its last line."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_sns.sync.relay.cli",
            "invite",
            "create",
            "--uses",
            "1",
            "--db",
            server.db,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def key_spellings(key: bytes) -> list[bytes]:
    """A public key as raw bytes, hex and base64 (standard and URL-safe, with and without padding)."""
    out = [key, key.hex().encode(), key.hex().upper().encode()]
    for b64 in (base64.b64encode(key), base64.urlsafe_b64encode(key)):
        out += [b64, b64.rstrip(b"=")]
    return out


def assert_relay_storage_is_blind(db_url: str, people: dict[str, bytes], secrets_: list[str]) -> None:
    dump = dump_relay_storage(db_url)
    assert len(dump) > 1000  # it did dump something
    for name, key in people.items():
        for spelling in key_spellings(key):
            assert spelling not in dump, f"{name}'s public key is in the relay's storage"
        assert name.encode() not in dump, f"the name {name!r} is in the relay's storage"
    for text in secrets_:
        assert text.encode() not in dump, f"{text!r} is in the relay's storage"


def build_scenario(
    server: RelayServer, person: Callable[..., Any], cli: Callable[..., Any]
) -> dict[str, Any]:
    """alice, bob, carol, dave (and eve) on ``server``; alice's circles; returns the open sessions."""
    people = {name: person(name, server) for name in ("alice", "bob", "carol")}
    # dave joins through the CLI with a code from the relay's admin CLI.
    dave = person("dave")
    home_dave = dave.store.home
    dave.close()
    result = cli(home_dave, "relay", "add", server.url + "/", "--invite", invite_via_cli(server))
    assert result.code == 0, result.err
    assert server.url in result.out
    people["dave"] = unlock(home_dave)
    alice = people["alice"]
    for name in ("bob", "carol", "dave"):
        befriend(alice, people[name])
    alice.circles.create("close")
    alice.circles.add("close", ["bob"])
    alice.circles.create("work")
    alice.circles.add("work", ["carol", "dave"])
    return people


def test_everyone_reads_exactly_their_entries_and_the_relay_learns_nothing(
    relay: RelayServer, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    people = build_scenario(relay, person, cli)
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    # eve has alice's card, but alice never added eve.
    eve = person("eve", relay)
    eve.contacts.add(alice.contacts.my_card())

    sealed_id = alice.diary.post(CLOSE_BODY, title=CLOSE_TITLE, to=["close"]).envelope_id
    alice.diary.post(WORK_BODY, title=WORK_TITLE, to=["work"])
    alice.diary.post(PRIVATE_BODY, title=PRIVATE_TITLE)
    bob.diary.post(BOB_BODY, title=BOB_TITLE, to=["alice"])
    keys = {name: s.identity.public for name, s in {**people, "eve": eve}.items()}
    homes = {name: s.store.home for name, s in people.items()}

    # alice and carol sync through the CLI (in process), bob and dave through the engine.
    alice.close()
    pushed = cli(homes["alice"], "sync")
    assert pushed.code == 0, pushed.err
    assert pushed.out.startswith("Sent 2,")  # two sealed entries; the private one never leaves
    assert sync(bob).errors == []
    assert sync(bob).errors == []  # idempotent
    assert sync(dave).errors == []
    carol.close()
    assert cli(homes["carol"], "sync").code == 0
    assert cli(homes["alice"], "sync").code == 0  # fetches bob's entry

    assert titles(bob) == {CLOSE_TITLE}
    assert titles(dave) == {WORK_TITLE}
    listed = cli(homes["carol"], "timeline", "--json").json()
    assert {(p["author"], p["title"], p["body"]) for p in listed} == {("alice", WORK_TITLE, WORK_BODY)}
    listed = cli(homes["alice"], "timeline", "--json").json()
    assert {p["title"] for p in listed if p["author"] == "bob"} == {BOB_TITLE}
    assert {p["title"] for p in listed if p["author"] == "me"} == {CLOSE_TITLE, WORK_TITLE, PRIVATE_TITLE}
    assert len(listed) == 4

    # eve writes to alice; alice fetches it and drops it unseen.
    eve.diary.post(EVE_BODY, title=EVE_TITLE, to=["alice"])
    assert sync(eve).pushed == 1
    alice = unlock(homes["alice"])
    report = sync(alice)
    assert report.errors == [] and report.pulled >= 1
    assert report.new_post_ids == []
    assert titles(alice) == {BOB_TITLE}
    assert titles(eve) == set()

    relay_db = relay.db
    for session in (alice, bob, dave, eve):
        session.close()
    relay.stop()  # the WAL is checkpointed or not: the dump reads both files either way
    assert sealed_id is not None and sealed_id.encode() in dump_relay_storage(relay_db)  # the probe works
    assert_relay_storage_is_blind(
        relay_db,
        {
            "alice": keys["alice"],
            "bob": keys["bob"],
            "carol": keys["carol"],
            "dave": keys["dave"],
            "eve": keys["eve"],
        },
        [
            CLOSE_TITLE,
            CLOSE_BODY,
            WORK_TITLE,
            WORK_BODY,
            PRIVATE_TITLE,
            PRIVATE_BODY,
            BOB_TITLE,
            BOB_BODY,
            EVE_TITLE,
            EVE_BODY,
            "close",
            "work",
        ],
    )
