"""`tui-sns demo`: the app with three throwaway people and a real relay, in a temporary directory
that is removed afterwards.

An in-process relay (``tui_sns.sync.relay.app.create_app`` over SQLite in the temporary directory)
serves on uvicorn in a background thread, bound to a free loopback port. Each person joins it with
an invite code created through the relay's storage (as ``tui-sns-relay invite create`` does), then
they exchange cards, so each card names the relay. The two friends post entries sealed to the user
and push them with ``SyncEngine.sync_once``; the user's app receives them through its background
sync worker, which keeps following the relay while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sns.core.session import KdfParams, Session

if TYPE_CHECKING:
    from tui_sns.screens.app import TuiSnsApp


class DemoRelay:
    """A relay app on uvicorn in a daemon thread, on 127.0.0.1 and a port the OS chose."""

    def __init__(self, db: Path) -> None:
        import uvicorn

        from tui_sns.sync.relay.app import create_app
        from tui_sns.sync.relay.config import RelayConfig
        from tui_sns.sync.relay.storage import open_storage

        self.config = RelayConfig(db=f"sqlite:///{db}", host="127.0.0.1", port=0)
        self.storage = open_storage(self.config.db, pool_size=2)
        self.app = create_app(self.config, self.storage)  # migrates; the app closes the storage on exit
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", access_log=False, lifespan="on", server_header=False
            )
        )
        self.thread = threading.Thread(target=self._serve, name="tui-sns-demo-relay", daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.socket]))
        except BaseException as exc:  # reported by start()
            self.error = exc

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"the demo relay did not start: {self.error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the demo relay did not start in time")
            time.sleep(0.02)

    def invite(self) -> str:
        """One single-use invite code, exactly as ``tui-sns-relay invite create`` makes it."""
        from tui_sns.sync.relay.storage import new_token, token_hash

        code = new_token()
        self.storage.create_invite(token_hash(code), 1, None, time.time())
        return code

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.socket.close()


@dataclass
class Demo:
    root: Path
    relay: DemoRelay
    me: Session
    tmp: tempfile.TemporaryDirectory[str]
    app: TuiSnsApp | None = None
    closed: bool = field(default=False)

    def teardown(self) -> None:
        """Stop the relay, close the store, remove the temporary directory (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.relay.stop()
        finally:
            with contextlib.suppress(Exception):
                self.me.close()
            self.tmp.cleanup()


PASSPHRASE = "demo"  # every throwaway identity's; the app may ask for it (personas, unlocking)

WELCOME = (
    "This is a demo: you are Sam, with friends Bob and Kenji and a relay, all in a temporary "
    f"directory. The passphrase of every demo identity is {PASSPHRASE!r}. Everything is removed when "
    "you quit (ctrl+q)."
)


def farewell(demo: Demo) -> str:
    """What ``tui-sns demo`` prints on the way out: whether the demo's data is really gone."""
    if demo.root.exists():
        return f"The demo stopped, but {demo.root} could not be removed: delete it yourself."
    return "The demo is over: its relay stopped, and its identities, entries and keys are deleted."


def _people(root: Path, relay: DemoRelay, initial_sync: bool) -> Session:
    from tui_sns.sync.engine import SyncEngine

    # Throwaway identities only: the cheapest Argon2id parameters are acceptable because these stores
    # live in a temporary directory for the length of the demo and are deleted afterwards.
    cheap = KdfParams.insecure_for_tests()
    me = Session.create(root / "me", "Sam", PASSPHRASE, cheap)
    bob = Session.create(root / "bob", "Bob", PASSPHRASE, cheap)
    kenji = Session.create(root / "kenji", "Kenji", PASSPHRASE, cheap)
    try:
        for person in (me, bob, kenji):  # join first, so the cards below name the relay
            person.relays.add(relay.url, relay.invite())
        for friend in (bob, kenji):
            me.contacts.add(friend.contacts.my_card(), friend.name)
            friend.contacts.add(me.contacts.my_card(), "Sam")
        me.circles.create("Close friends")
        me.circles.add("Close friends", ["Bob", "Kenji"])
        me.circles.create("Climbing")
        me.circles.add("Climbing", ["Bob"])
        me.diary.post("Slept well. Coffee first, then the *long* walk.", title="Morning pages")
        me.diary.post("Anyone up for the **crag** on Saturday?", title="Weekend plans", to=["Climbing"])
        me.diary.post("Thank you both for yesterday.", title="Thanks", to=["Close friends"])
        bob.diary.post("Count me in — I'll bring the rope.", title="Re: Saturday", to=["Sam"])
        bob.diary.post("New route at the quarry: 6b, *lovely* slab.", title="Quarry", to=["Sam"])
        kenji.diary.post(
            "Tried a new oolong today.\n\n- floral\n- a bit smoky", title="Tea notes", to=["Sam"]
        )
        for friend in (bob, kenji):
            report = SyncEngine(friend).sync_once()
            if report.errors:
                raise RuntimeError("; ".join(report.errors))
        if initial_sync:  # otherwise the app's background sync brings them in once it is open
            report = SyncEngine(me).sync_once()
            if report.errors:
                raise RuntimeError("; ".join(report.errors))
    except BaseException:
        me.close()
        raise
    finally:
        bob.close()
        kenji.close()
    return me


def setup_demo(*, initial_sync: bool = False, **app_kwargs: Any) -> Demo:
    """Everything but running the app: the relay, three people, the app object (not started).
    With ``initial_sync`` the user pulls the friends' entries before the app opens; otherwise the
    app's background sync does. Call ``teardown()`` on the result afterwards."""
    from tui_sns.screens.app import TuiSnsApp

    tmp = tempfile.TemporaryDirectory(prefix="tui-sns-demo-")
    root = Path(tmp.name)
    try:
        relay = DemoRelay(root / "relay.db")
    except BaseException:
        tmp.cleanup()
        raise
    try:
        relay.start()
        me = _people(root, relay, initial_sync)
    except BaseException:
        relay.stop()
        tmp.cleanup()
        raise
    demo = Demo(root, relay, me, tmp)
    app_kwargs.setdefault("config_dir", root / "config")
    demo.app = TuiSnsApp(root / "me", me, **app_kwargs)
    demo.app.call_later(demo.app.notify, WELCOME, title="Demo", timeout=20)
    return demo


def run_demo() -> int:
    print("Starting a relay and three throwaway people…", flush=True)
    print(f"Every demo identity's passphrase is {PASSPHRASE!r}.", flush=True)
    demo = setup_demo()

    # A closed terminal (SIGHUP) or a kill (SIGTERM) must still stop the relay and remove the directory.
    def stop(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            # The terminal is gone: the app cannot shut down through it. Clean up and leave now.
            demo.teardown()
            os._exit(128 + signum)
        raise SystemExit(128 + signum)  # SIGTERM: leave through the app, restoring the terminal

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        assert demo.app is not None
        demo.app.run()
    finally:
        demo.teardown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print(farewell(demo), flush=True)
    return 0
