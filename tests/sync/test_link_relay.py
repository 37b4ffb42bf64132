"""Linking a new device through a real test relay (docs/design-v2.md §9.3; §17 step 9): A runs
``host_link`` in a thread, B ``join_link``; the relay stores only envelopes it cannot tell from entries.
Then device sync between them works from either side (through the devices service)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core.linking import LinkExpired, host_link, join_link
from tui_sns.store import KdfParams


def test_link_through_a_relay(person: Any, relay: Any, tmp_path: Path) -> None:
    ana = person("ana", relay)
    kenji = person("kenji")
    ana.contacts.add(kenji.contacts.my_card())
    ana.contacts.my_card()  # draws my shard seed on the relay (the card names it)
    secret = ana.diary.post("only for me", title="private").id
    url = ana.relays.list()[0].url
    credential = ana.relays.list()[0].credential
    shown: dict[str, Any] = {}
    ready = threading.Event()
    result: dict[str, Any] = {}

    def show(code: Any, qr: str) -> None:
        shown["code"], shown["qr"] = code, qr
        ready.set()

    def confirm(hello: Any) -> bool:
        result["asked"] = hello.sas_shown
        return True

    def host() -> None:
        try:
            result["hello"] = host_link(ana, url, credential, 60, show, confirm)
        except BaseException as exc:  # reported by the main thread
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    try:
        assert ready.wait(30) and "error" not in result
        seen: list[str] = []
        laptop = join_link(
            tmp_path / "laptop",
            os.environ["TUI_SNS_PASSPHRASE"],
            shown["code"],
            url,
            None,  # the relay is read anonymously; HELLO is written with the credential from OFFER
            "laptop",
            seen.append,
            timeout=30,
            kdf=KdfParams.insecure_for_tests(),
        )
    finally:
        thread.join(30)
    assert "error" not in result, result.get("error")
    assert seen == [result["asked"]]  # the same 6 digits on both devices
    with laptop:
        assert laptop.identity.public == ana.identity.public
        assert laptop.diary.get(secret).body == "only for me"
        assert [c.name for c in laptop.contacts.list()] == ["kenji"]
        assert laptop.relays.urls() == (url,)  # the relay and its credential came with the welcome
        assert laptop.routes.seed(url) == ana.routes.seed(url)  # the same shard: contacts' tags reach it
        assert {d.name for d in ana.devices.list()} >= {"laptop"}


def test_nobody_joins_in_time(person: Any, relay: Any) -> None:
    ana = person("ana", relay)
    record = ana.relays.list()[0]
    with pytest.raises(LinkExpired, match="nobody joined"):
        host_link(ana, record.url, record.credential, 1, lambda code, qr: None, lambda hello: True)
