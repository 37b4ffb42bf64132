"""The conversation commands through the CLI (bundles between homes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_cli_flow(
    make_identity: Callable[..., Path],
    befriend: Callable[..., None],
    cli: Callable[..., Any],
    card_of: Callable[..., str],
    tmp_path: Path,
) -> None:
    alice, bob, eve = make_identity("alice"), make_identity("bob"), make_identity("eve")
    befriend(alice, bob)
    bundle = tmp_path / "b.tsns"

    def carry(src: Path, dst: Path) -> Any:
        assert cli(src, "outbox", "export", str(bundle)).code == 0
        return cli(dst, "inbox", "import", str(bundle))

    assert cli(alice, "post", "--expires", "5x", "--body", "x", "--to", "bob").code == 2
    made = cli(alice, "post", "--title", "hello", "--expires", "7d", "--to", "bob", stdin="first")
    assert made.code == 0
    entry = made.out.strip()
    carry(alice, bob)
    (bobs,) = cli(bob, "timeline", "--json").json()
    assert cli(bob, "comment", bobs["id"], "--body", "nice one").code == 0
    carry(bob, alice)
    shown = cli(alice, "show", entry)
    assert "Comments (1):" in shown.out and "nice one" in shown.out and "Expires:" in shown.out
    assert cli(alice, "edit", entry, stdin="second").code == 0
    carry(alice, bob)
    assert "second" in cli(bob, "show", bobs["id"]).out
    assert cli(bob, "edit", bobs["id"], "--title", "nope").code == 1

    assert cli(alice, "contacts", "mute", "bob").code == 0
    listed = {c["name"]: c for c in cli(alice, "contacts", "list", "--json").json()}
    assert (listed["bob"]["blocked"], listed["bob"]["muted"]) == (False, True)
    assert cli(alice, "contacts", "block", "bob").code == 0
    refused = cli(alice, "post", "--body", "x", "--to", "bob")
    assert refused.code == 1 and "blocked" in refused.err
    assert cli(alice, "contacts", "unblock", "bob").code == 0

    assert cli(alice, "delete", entry).code == 0
    carry(alice, bob)
    assert cli(bob, "timeline", "--json").json() == []

    assert cli(eve, "contacts", "request", card_of(alice), "--note", "hi, it's eve").code == 0
    carry(eve, alice)
    (request,) = cli(alice, "requests", "list", "--json").json()
    assert (request["card_name"], request["note"]) == ("eve", "hi, it's eve")
    assert cli(alice, "requests", "accept", str(request["id"]), "--name", "eve2").code == 0
    assert "eve2" in {c["name"] for c in cli(alice, "contacts", "list", "--json").json()}
    assert cli(alice, "requests", "reject", "999").code == 1
