"""Hostile strings (a Hypothesis strategy) and a store whose every field of others' text holds them.

The world is written straight into the store, as if a client without any checks (or an older
version of this one) had accepted it: what is shown must then still be safe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostile_strings import ALL
from hypothesis import strategies as st

CONTROLS = "".join(
    chr(c)
    for c in (
        *range(0x20),
        0x7F,
        *range(0x80, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x2028,
        0x2029,
    )
)
PIECES = (
    *ALL,
    "[/x]",
    "[b]",
    "[link=https://evil.example]click[/link]",
    "[/]",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "全角の文字",
    "🧗\u200d♀️",
    "👨\u200d👩\u200d👧",
    "e\u0301",
    "# heading",
    "`code`",
    "\x1bP+q\x1b\\",  # DCS
    "\x1b_x\x1b\\",  # APC
    "\x9d0;x\x9c",  # OSC and ST as C1
)

hostile = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(alphabet=CONTROLS, max_size=12), st.text(max_size=12)),
    min_size=1,
    max_size=8,
).map("".join)
run_64k = st.sampled_from(list(CONTROLS) + ["[/x]", "全", "🧗"]).map(lambda piece: (piece * 65536)[:65536])
field = st.one_of(hostile, hostile, hostile, run_64k)


@dataclass
class World:
    bob_post: str
    my_post: str


def _key() -> bytes:
    from nacl.public import PrivateKey

    return bytes(PrivateKey.generate().public_key)


def build(session: Any, f: dict[str, str]) -> World:
    """Fill ``session``'s store with others' text taken from ``f`` (keys: name, card_name, url,
    circle, title, body, created, label, comment, note)."""
    from tui_sns.crypto.card import Card
    from tui_sns.store import circles as circle_store
    from tui_sns.store import comments as comment_store
    from tui_sns.store import contacts as contact_store
    from tui_sns.store import posts as post_store
    from tui_sns.store import requests as request_store

    store = session.store
    now = "2026-01-01T00:00:00+00:00"
    bob = contact_store.add_contact(
        store, f["name"], f["card_name"], _key(), os.urandom(32), (f["url"],), f["created"]
    )
    circle_store.create_circle(store, f["circle"], now)
    circle_store.add_members(store, f["circle"], [bob.id])
    post_store.insert_post(
        store,
        post_id="b0b0b0b0b0b0b0b0",
        remote_id="b0b0b0b0b0b0b0b0",
        author_id=bob.id,
        title=f["title"],
        body=f["body"],
        created=f["created"],
        received=now,
    )
    post_store.insert_post(
        store,
        post_id="a0a0a0a0a0a0a0a0",
        remote_id="a0a0a0a0a0a0a0a0",
        author_id=None,
        title=f["label"],
        body=f["comment"],
        created=now,
        received=now,
        audience={"circles": [f["circle"]], "contacts": [f["name"]]},
        readers=[(bob.id, f["name"])],
    )
    for post_id in ("b0b0b0b0b0b0b0b0", "a0a0a0a0a0a0a0a0"):
        comment_store.insert_comment(
            store,
            post_id=post_id,
            comment_id=os.urandom(8).hex(),
            author_key=_key(),
            author_label=f["label"],
            body=f["comment"],
            created=f["created"],
        )
    card = Card(name=f["card_name"][:100], public_key=_key(), relays=(f["url"][:200],)).encode()
    request_store.save_request(store, _key(), card, f["note"], f["created"], 10)
    return World("b0b0b0b0b0b0b0b0", "a0a0a0a0a0a0a0a0")


FIELDS = ("name", "card_name", "url", "circle", "title", "body", "created", "label", "comment", "note")
fields = st.fixed_dictionaries({key: field for key in FIELDS})
# for the screens: 64 KiB runs only where others' text may really be that long (entry and comment
# bodies; names, titles and notes are bounded where they enter), so each example stays quick
LONG = ("body", "comment")
screen_fields = st.fixed_dictionaries({key: field if key in LONG else hostile for key in FIELDS})


def fresh_session(root: Path, n: int) -> Any:
    from tui_sns.core.session import Session
    from tui_sns.store import KdfParams

    return Session.create(
        root / f"home-{n}", "ann", "correct horse battery staple", kdf=KdfParams.insecure_for_tests()
    )
