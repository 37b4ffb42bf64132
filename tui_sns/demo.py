"""`tui-sns demo`: the app with three throwaway people, in a temporary directory that is removed.

TODO(demo): carry the envelopes through an in-process relay (tui_sns.sync.relay.app.create_app +
uvicorn on a free loopback port, one invite per person, `session.relays.add`) so the demo also shows
background sync. For now the friends' entries travel as sealed bundle files (`session.exchange`),
exactly as `tui-sns export` / `tui-sns import` carry them: they are really sealed to the user and
opened by the user's inbox.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tui_sns.core.session import Session
from tui_sns.store import KdfParams


def _people(root: Path) -> Session:
    # Throwaway identities only: the cheapest Argon2id parameters are acceptable because these stores
    # live in a temporary directory for the length of the demo and are deleted afterwards.
    cheap = KdfParams.insecure_for_tests()
    me = Session.create(root / "me", "Sam", "demo", cheap)
    bob = Session.create(root / "bob", "Bob", "demo", cheap)
    kenji = Session.create(root / "kenji", "Kenji", "demo", cheap)
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
    kenji.diary.post("Tried a new oolong today.\n\n- floral\n- a bit smoky", title="Tea notes", to=["Sam"])
    for friend in (bob, kenji):
        bundle = root / f"{friend.name}.bundle"
        friend.exchange.export_outbox(bundle)
        me.exchange.import_inbox(bundle)
        bundle.unlink()
        friend.close()
    return me


def run_demo() -> int:
    from tui_sns.screens.app import TuiSnsApp

    with tempfile.TemporaryDirectory(prefix="tui-sns-demo-") as tmp:
        root = Path(tmp)
        me = _people(root)
        try:
            app = TuiSnsApp(root / "me", me, config_dir=root / "config")
            app.run()
        finally:
            me.close()
    return 0
