"""Linking a new device through a real test relay (docs/design-v2.md §9.3; §17 step 9): A runs
``host_link`` in a thread, B ``join_link``; the relay stores only envelopes it cannot tell from entries.
Then device sync between them works from either side (through the devices service)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sync_helpers import unlock

from tui_sns.core.linking import LinkAborted, LinkExpired, host_link, join_link, parse_join_code
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


def _host_in_thread(ana: Any, confirm: Any, timeout: int = 60) -> tuple[threading.Thread, dict[str, Any]]:
    record = ana.relays.list()[0]
    result: dict[str, Any] = {}
    ready = threading.Event()

    def show(code: Any, qr: str) -> None:
        result["code"] = code
        ready.set()

    def host() -> None:
        try:
            result["hello"] = host_link(ana, record.url, record.credential, timeout, show, confirm)
        except BaseException as exc:  # looked at by the main thread
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=host)
    thread.start()
    assert ready.wait(30) and "code" in result, result.get("error")
    return thread, result


def test_a_refusal_ends_the_join_at_once(person: Any, relay: Any, tmp_path: Path, cli: Any) -> None:
    """The person on the first device says the strings differ: ``devices join`` is told (an ABORT
    under the code, design §9.3) and ends with exit 1 and a sentence, not at its timeout; nothing is
    made in the new home and nothing listed on the first device."""
    ana = person("ana", relay)
    thread, result = _host_in_thread(ana, lambda hello: False)
    new = tmp_path / "new"
    try:
        done = cli(new, "devices", "join", result["code"].text, "--relay", relay.url, "--name", "laptop")
    finally:
        thread.join(30)
    assert isinstance(result.get("error"), LinkAborted) and "strings differ" in str(result["error"])
    assert done.code == 1 and "refused the link" in done.err, done.err
    assert "expired" not in done.err  # told, not timed out
    assert not (new / "store.key").exists()
    assert [d.name for d in ana.devices.list()] == [ana.devices.this_device().name]


def test_no_answer_at_the_confirmation_is_a_refusal(person: Any, relay: Any, tmp_path: Path) -> None:
    """``devices link`` whose standard input ends at the y/N question: "not confirmed" (exit 1), the
    code erased, the joining device told at once, no device added."""
    ana = person("ana", relay)
    home = ana.store.home
    ana.close()
    env = {**os.environ, "TUI_SNS_HOME": str(tmp_path / "unused")}
    child = subprocess.Popen(
        [sys.executable, "-m", "tui_sns", "--home", str(home), "devices", "link", "--relay", relay.url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        code_text = next(line.strip() for line in child.stdout if line.strip().startswith("tsl1-"))
        with pytest.raises(LinkAborted, match="refused the link"):
            join_link(
                tmp_path / "laptop",
                os.environ["TUI_SNS_PASSPHRASE"],
                parse_join_code(code_text)[0],
                relay.url,
                None,
                "laptop",
                lambda sas: None,
                timeout=60,
                kdf=KdfParams.insecure_for_tests(),
            )
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 1, err
    assert "not confirmed" in err and "strings differ" not in err
    assert not (tmp_path / "laptop" / "store.key").exists()
    with unlock(home) as again:
        assert len(again.devices.list()) == 1 and not again.devices.queued()


def test_a_used_code_ends_a_second_join_at_once(person: Any, relay: Any, tmp_path: Path) -> None:
    """A code that already linked a device: another join with it is told so at once (the CLOSED
    message names the device that linked), instead of waiting for its timeout."""
    ana = person("ana", relay)
    thread, result = _host_in_thread(ana, lambda hello: True)
    try:
        first = join_link(
            tmp_path / "laptop",
            os.environ["TUI_SNS_PASSPHRASE"],
            result["code"],
            relay.url,
            None,
            "laptop",
            lambda sas: None,
            timeout=60,
            kdf=KdfParams.insecure_for_tests(),
        )
    finally:
        thread.join(30)
    first.close()
    with pytest.raises(LinkExpired, match="already used by another device"):  # told, not timed out
        join_link(
            tmp_path / "phone",
            os.environ["TUI_SNS_PASSPHRASE"],
            result["code"],
            relay.url,
            None,
            "phone",
            lambda sas: None,
            timeout=60,
            kdf=KdfParams.insecure_for_tests(),
        )
    assert not (tmp_path / "phone" / "store.key").exists()


def test_the_joiner_starts_a_day_back_not_at_the_start_of_the_log(
    person: Any, relay: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§9.3: B reads from a cursor before the code was made (a day and an hour back: a code works at
    most a day), asked of the relay, instead of downloading the relay's whole log."""
    from tui_sns.core import clock
    from tui_sns.net.transport import RelayClient

    asked: list[int] = []
    original = RelayClient.cursor_at

    async def cursor_at(self: Any, at: int) -> int | None:
        asked.append(at)
        return await original(self, at)

    monkeypatch.setattr(RelayClient, "cursor_at", cursor_at)
    ana = person("ana", relay)
    thread, result = _host_in_thread(ana, lambda hello: True)
    try:
        laptop = join_link(
            tmp_path / "laptop",
            os.environ["TUI_SNS_PASSPHRASE"],
            result["code"],
            relay.url,
            None,
            "laptop",
            lambda sas: None,
            timeout=60,
            kdf=KdfParams.insecure_for_tests(),
        )
    finally:
        thread.join(30)
    laptop.close()
    assert "error" not in result, result.get("error")
    (at,) = asked
    assert clock.now_unix() - 86400 - 3600 - 60 <= at <= clock.now_unix() - 86400


def _link_with_files_cli(home: Path, tmp_path: Path, *extra: str) -> tuple[int, str, str, Path, Any]:
    """Run ``tui-sns --home HOME devices link [EXTRA] --hello-in F --welcome-out G`` as a process of its
    own, answer y, and join from the files here: (exit code, stdout, stderr, welcome path, new device)."""
    from tui_sns.core.linking import join_link_files

    hello, welcome = tmp_path / "hello.tsb", tmp_path / "welcome.tsb"
    env = {**os.environ, "TUI_SNS_HOME": str(tmp_path / "unused")}
    argv = [
        "--home",
        str(home),
        "devices",
        "link",
        *extra,
        "--hello-in",
        str(hello),
        "--welcome-out",
        str(welcome),
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "tui_sns", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        code_text = next(line.strip() for line in child.stdout if line.strip().startswith("tsl1-"))
        child.stdin.write("y\n")  # read once the string is asked (the pipe keeps it until then)
        child.stdin.flush()
        laptop = join_link_files(
            tmp_path / "laptop",
            os.environ["TUI_SNS_PASSPHRASE"],
            parse_join_code(code_text)[0],
            hello,
            welcome,
            "laptop",
            lambda sas: True,
            timeout=60,
            kdf=KdfParams.insecure_for_tests(),
        )
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, out, err, welcome, laptop


def test_devices_link_with_files_from_the_cli(person: Any, tmp_path: Path) -> None:
    """``tui-sns devices link --hello-in F --welcome-out G`` (a process of its own, no relay): it waits
    for the hello file, asks y/N, writes the sealed welcome file (0600) and exits 0; the new device
    links from it."""
    ana = person("ana")
    home = ana.store.home
    ana.close()
    code, out, err, welcome, laptop = _link_with_files_cli(home, tmp_path)
    assert code == 0, err
    assert "Wrote" in out and "laptop" in out
    assert welcome.stat().st_mode & 0o777 == 0o600
    with laptop, unlock(home) as again:
        assert laptop.identity.public == again.identity.public
        assert {d.name for d in again.devices.list()} >= {"laptop"}


def test_a_persona_links_on_its_own(person: Any, tmp_path: Path) -> None:
    """Personas stay separate identities (issue 14 §2): ``devices link --persona work`` links the work
    identity only — the new device holds work's key, and the main identity of that home lists no new
    device and is unchanged."""
    from tui_sns.core.session import Session
    from tui_sns.paths import persona_home

    ana = person("ana")
    home = ana.store.home
    main_key, main_devices = ana.identity.public, {d.name for d in ana.devices.list()}
    ana.close()
    work = Session.create(
        persona_home(home, "work"),
        "A. Work",
        os.environ["TUI_SNS_PASSPHRASE"],
        kdf=KdfParams.insecure_for_tests(),
    )
    work_key = work.identity.public
    work.close()
    code, _, err, _, laptop = _link_with_files_cli(home, tmp_path, "--persona", "work")
    assert code == 0, err
    with laptop:
        assert laptop.identity.public == work_key != main_key
    with unlock(persona_home(home, "work")) as again:
        assert "laptop" in {d.name for d in again.devices.list()}
    with unlock(home) as main:
        assert main.identity.public == main_key
        assert {d.name for d in main.devices.list()} == main_devices
