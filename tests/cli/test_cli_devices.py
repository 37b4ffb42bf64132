"""``tui-sns devices list [--json]`` (docs/design-v2.md §9.5): the contract's fields, exactly; and
``devices remove NAME`` / ``devices reset-keys`` (§10): confirmation, exit codes, the advice."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_devices_list_json_fields(home: Path, cli: Any) -> None:
    result = cli(home, "devices", "list", "--json")
    assert result.code == 0
    (me,) = result.json()
    assert set(me) == {"name", "devid", "added", "last_seen", "this", "removed"}
    assert me["this"] is True and me["removed"] is None and me["last_seen"] is None
    assert len(me["devid"]) == 16 and int(me["devid"], 16) >= 0
    again = cli(home, "devices", "list", "--json").json()
    assert again == [me]  # the device is made once


def test_devices_list_text(home: Path, cli: Any) -> None:
    result = cli(home, "devices", "list")
    assert result.code == 0
    (line,) = result.out.strip().splitlines()
    assert "(this device)" in line and "added " in line


def test_join_with_a_mistyped_code_creates_nothing(tmp_path: Path, cli: Any) -> None:
    from tui_sns.crypto.linking import LinkCode

    text = LinkCode.generate().text
    typo = text[:-1] + ("0" if text[-1] != "0" else "1")
    new = tmp_path / "new"
    result = cli(new, "devices", "join", typo, "--relay", "http://127.0.0.1:9")
    assert result.code != 0 and "link code mistyped" in result.err
    assert not (new / "store.key").exists()


def test_join_into_a_home_with_an_identity_is_refused(home: Path, cli: Any) -> None:
    from tui_sns.crypto.linking import LinkCode

    result = cli(home, "devices", "join", LinkCode.generate().text, "--relay", "http://127.0.0.1:9")
    assert result.code != 0 and "already exists" in result.err


def test_link_needs_a_relay(home: Path, cli: Any) -> None:
    result = cli(home, "devices", "link")
    assert result.code != 0 and "join a relay first" in result.err
    bad = cli(home, "devices", "link", "--relay", "http://127.0.0.1:9", "--timeout", "2d")
    assert bad.code != 0 and "at most one day" in bad.err


def _sibling(home: Path, name: str = "phone") -> bytes:
    """List a second device of mine in ``home`` (as a link would); returns its devid."""
    import os

    from tui_sns.core.session import Session
    from tui_sns.crypto.primitives import x25519_base

    devid = os.urandom(8)
    with Session.unlock(home, os.environ["TUI_SNS_PASSPHRASE"]) as session:
        session.devices.add_device(devid, x25519_base(os.urandom(32)), name)
    return devid


def _generation(home: Path) -> int:
    import os

    from tui_sns.core.session import Session

    with Session.unlock(home, os.environ["TUI_SNS_PASSPHRASE"]) as session:
        return int(session.resets.generation())


def test_devices_remove_asks_and_needs_yes_without_a_terminal(home: Path, cli: Any) -> None:
    _sibling(home)
    gen = _generation(home)
    refused = cli(home, "devices", "remove", "phone")
    assert refused.code == 2 and "--yes" in refused.err
    assert [d["removed"] for d in cli(home, "devices", "list", "--json").json()] == [None, None]
    assert _generation(home) == gen


def test_devices_remove_with_yes(home: Path, cli: Any) -> None:
    devid = _sibling(home)
    gen = _generation(home)
    result = cli(home, "devices", "remove", "phone", "--yes")
    assert result.code == 0, result.err
    assert "Removed 'phone'" in result.out and f"generation {gen + 1}" in result.out
    assert "new identity" in result.out  # the advice about a lost or stolen device
    listed = {d["name"]: d for d in cli(home, "devices", "list", "--json").json()}
    assert listed["phone"]["devid"] == devid.hex() and listed["phone"]["removed"].startswith("20")
    assert "removed 20" in cli(home, "devices", "list").out
    assert _generation(home) == gen + 1
    again = cli(home, "devices", "remove", "phone", "--yes")
    assert again.code == 1 and "already removed" in again.err


def test_devices_remove_refuses_this_device_and_unknown_names(home: Path, cli: Any) -> None:
    (me,) = cli(home, "devices", "list", "--json").json()
    this = cli(home, "devices", "remove", me["name"], "--yes")
    assert this.code == 1 and "is this device" in this.err
    unknown = cli(home, "devices", "remove", "nosuch", "--yes")
    assert unknown.code == 1 and "no device of yours is called 'nosuch'" in unknown.err


def test_devices_reset_keys(home: Path, cli: Any) -> None:
    gen = _generation(home)
    assert cli(home, "devices", "reset-keys").code == 2
    result = cli(home, "devices", "reset-keys", "--yes")
    assert result.code == 0 and f"generation {gen + 1}" in result.out and "no other device" in result.out
    assert _generation(home) == gen + 1


def test_post_to_a_contact_with_a_prekey_conflict_is_held_and_said(make_identity: Any, cli: Any) -> None:
    """design-v2 §10.4 from the contact's side: `post` says it holds, `contacts list` counts what is
    held, `contacts release` sends it."""
    import os

    from tui_sns.core.session import Session
    from tui_sns.store import epochs as epoch_store

    kenji, ana = make_identity("kenji"), make_identity("ana")
    assert cli(kenji, "contacts", "add", cli(ana, "card").out.strip()).code == 0
    with Session.unlock(kenji, os.environ["TUI_SNS_PASSPHRASE"]) as session:
        key = session.contacts.get("ana").public_key
        epoch_store.set_conflict(session.store, key, "0badc0de")  # as an announcement would flag it
    posted = cli(kenji, "post", "--to", "ana", "--title", "t", "--body", "hello")
    assert posted.code == 0, posted.err
    assert "Held for ana" in posted.err and "tui-sns contacts release ana" in posted.err
    assert "forward-secret" not in posted.err  # held: neither v1 nor v2 yet
    listed = cli(kenji, "contacts", "list")
    assert "1 envelope is held for ana" in listed.err and "Two different keys" in listed.err
    released = cli(kenji, "contacts", "release", "ana")
    assert released.code == 0 and "1 held envelope queued" in released.out
    assert "held" not in cli(kenji, "contacts", "list").err
    assert cli(kenji, "contacts", "release", "nosuch").code == 1


def test_link_files_go_together(home: Path, cli: Any, tmp_path: Path) -> None:
    lone = cli(home, "devices", "link", "--hello-in", str(tmp_path / "hello.tsb"))
    assert lone.code == 2 and "go together" in lone.err
    both = cli(
        home,
        "devices",
        "link",
        "--relay",
        "http://127.0.0.1:9",
        "--hello-in",
        str(tmp_path / "h"),
        "--welcome-out",
        str(tmp_path / "w"),
    )
    assert both.code == 2 and "through a relay or through files" in both.err


def test_the_reset_sentences_read_right_in_every_case(home: Path, cli: Any) -> None:
    """The sentence after `devices remove` / `reset-keys` (the trial's "no other device to tell, your
    contacts at theirs" was garbled): with another device left, with none, with and without removal."""
    _sibling(home, "phone")
    _sibling(home, "tablet")
    two = cli(home, "devices", "remove", "phone", "--yes").out
    assert "your other devices switch to them at their next sync, and your contacts at theirs." in two
    assert "Run `tui-sns sync` now to send the new keys and tell the removed device that it was removed." in two
    alone = cli(home, "devices", "remove", "tablet", "--yes").out
    assert (
        "there is no other device of yours to tell; your contacts switch to them at their next sync. "
        "Run `tui-sns sync` now to send the new keys and tell the removed device that it was removed."
    ) in alone
    reset = cli(home, "devices", "reset-keys", "--yes").out
    assert reset.rstrip().endswith("Run `tui-sns sync` now to send the new keys.")
    for out in (two, alone, reset):
        assert "to tell, your contacts" not in out
