"""A removed device, through the real CLI against a test relay (issue 14 §2; the new-user trial of
868766a: ana's first device and a laptop linked with ``devices join``, kenji a contact). After
``devices remove laptop --yes`` and ``sync`` on the first device — the only device left — the laptop's
next ``sync`` says it was left out, and from then on it refuses to write as ana."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sync_helpers import befriend

from tui_sns.core.linking import host_link

LEFT_OUT = "can no longer write as ana"


def _link_laptop(person: Any, relay: Any, tmp_path: Path, cli: Any) -> tuple[Path, Path, Path]:
    """ana's first device, kenji (contacts of each other, on ``relay``) and ana's laptop joined with
    the real ``devices join``; every session closed."""
    ana, kenji = person("ana", relay), person("kenji", relay)
    befriend(ana, kenji)
    kenji_home = kenji.store.home
    kenji.close()
    record = ana.relays.list()[0]
    result: dict[str, Any] = {}
    ready = threading.Event()

    def show(code: Any, qr: str) -> None:
        result["code"] = code
        ready.set()

    def host() -> None:
        try:
            result["hello"] = host_link(ana, record.url, record.credential, 60, show, lambda hello: True)
        except BaseException as exc:  # looked at below
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    laptop = tmp_path / "laptop"
    try:
        assert ready.wait(30) and "code" in result, result.get("error")
        joined = cli(laptop, "devices", "join", result["code"].text, "--relay", relay.url, "--name", "laptop")
    finally:
        thread.join(30)
    assert "error" not in result, result.get("error")
    assert joined.code == 0, joined.err
    home = ana.store.home
    ana.close()
    return home, laptop, kenji_home


def test_a_removed_laptop_is_told_and_stops_writing_as_me(
    person: Any, relay: Any, tmp_path: Path, cli: Any
) -> None:
    desktop, laptop, kenji = _link_laptop(person, relay, tmp_path, cli)
    for home in (desktop, laptop, kenji, desktop, laptop):
        assert cli(home, "sync").code == 0
    before = cli(laptop, "post", "--to", "kenji", "--title", "before", "--body", "still a device")
    assert before.code == 0, before.err
    assert cli(laptop, "sync").code == 0

    removed = cli(desktop, "devices", "remove", "laptop", "--yes")
    assert removed.code == 0, removed.err
    # the desktop is the only device left: the removed one is still sent the reset's marker
    assert "no other device of yours to tell" in removed.out and "tell the removed device" in removed.out
    pushed = cli(desktop, "sync")
    assert pushed.code == 0 and not pushed.out.startswith("Sent 0,"), pushed.out

    told = cli(laptop, "sync")
    assert told.code == 0, told.err
    assert "left this device out" in told.err and LEFT_OUT in told.err
    again = cli(laptop, "sync")  # said at every sync while it stands, the warning counted once
    assert LEFT_OUT in again.err and "left this device out: it reads" not in again.err
    assert LEFT_OUT in cli(laptop, "status").out
    assert LEFT_OUT in cli(laptop, "devices", "list").err
    assert LEFT_OUT not in cli(desktop, "status").out + cli(desktop, "devices", "list").err

    # (2) it no longer writes as ana: one sentence, exit 1, nothing queued
    for args in (
        ("post", "--to", "kenji", "--title", "after", "--body", "from the removed laptop"),
        ("post", "--title", "only me", "--body", "local"),
    ):
        refused = cli(laptop, *args)
        assert refused.code == 1 and LEFT_OUT in refused.err, (args, refused.err)
        assert "Traceback" not in refused.err
    (mine,) = [p["id"] for p in cli(laptop, "timeline", "--json").json() if p["title"] == "before"]
    for args in (
        ("edit", mine, "--body", "edited"),
        ("comment", mine, "--body", "a comment"),
        ("delete", mine),  # a deletion is sealed to the entry's readers too
    ):
        refused = cli(laptop, *args)
        assert refused.code == 1 and LEFT_OUT in refused.err, (args, refused.err)
    assert "before" in [p["title"] for p in cli(laptop, "timeline", "--json").json()]
    sent = cli(laptop, "sync")
    assert sent.out.startswith("Sent 0,"), sent.out
    kenji_sync = cli(kenji, "sync")
    assert kenji_sync.code == 0
    titles = [p["title"] for p in cli(kenji, "timeline", "--json").json()]
    assert "before" in titles and "after" not in titles
    assert "only me" not in [p["title"] for p in cli(laptop, "timeline", "--json").json()]
