"""Contacts: people whose cards I added. They never leave the device."""

from __future__ import annotations

import json
from typing import Any

from tui_sns.store.database import Store
from tui_sns.store.errors import NotFound
from tui_sns.store.records import Contact

# Sending positions live in chain_send, keyed by (public key, envelope version): they outlive the contact row, so removing
# and re-adding someone (or blocking and unblocking them) never reuses a sequence number.
_COLUMNS = (
    "k.id, k.name, k.card_name, k.public_key, k.shared_key, k.relays, k.verified, k.added, "
    "coalesce(s.seq, 0), coalesce(s.prev, zeroblob(32)), k.blocked, k.muted"
)
_FROM = (
    "FROM contacts k LEFT JOIN (SELECT public_key, seq, prev, "
    "row_number() OVER (PARTITION BY public_key ORDER BY seq DESC, version DESC) AS r FROM chain_send) s "
    "ON s.public_key = k.public_key AND s.r = 1"
)


def _contact(row: tuple[Any, ...]) -> Contact:
    return Contact(
        id=int(row[0]),
        name=str(row[1]),
        card_name=str(row[2]),
        public_key=bytes(row[3]),
        shared_key=bytes(row[4]),
        relays=tuple(json.loads(row[5])),
        verified=bool(row[6]),
        added=str(row[7]),
        send_seq=int(row[8]),
        send_prev=bytes(row[9]),
        blocked=bool(row[10]),
        muted=bool(row[11]),
    )


def add_contact(
    store: Store,
    name: str,
    card_name: str,
    public_key: bytes,
    shared_key: bytes,
    relays: tuple[str, ...],
    added: str,
) -> Contact:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO contacts (name, card_name, public_key, shared_key, relays, added) VALUES (?, ?, ?, ?, ?, ?)",
            (name, card_name, public_key, shared_key, json.dumps(list(relays)), added),
        )
    return get_contact(store, name)


def list_contacts(store: Store) -> list[Contact]:
    return [_contact(r) for r in store.fetchall(f"SELECT {_COLUMNS} {_FROM} ORDER BY k.name")]


def find_contact(store: Store, name: str) -> Contact | None:
    row = store.fetchone(f"SELECT {_COLUMNS} {_FROM} WHERE k.name = ?", (name,))
    return None if row is None else _contact(row)


def get_contact(store: Store, name: str) -> Contact:
    contact = find_contact(store, name)
    if contact is None:
        raise NotFound(f"no contact named {name!r}")
    return contact


def contact_by_key(store: Store, public_key: bytes) -> Contact | None:
    row = store.fetchone(f"SELECT {_COLUMNS} {_FROM} WHERE k.public_key = ?", (public_key,))
    return None if row is None else _contact(row)


def remove_contact(store: Store, name: str) -> None:
    with store.write() as conn:
        if conn.execute("DELETE FROM contacts WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound(f"no contact named {name!r}")


def mark_verified(store: Store, name: str, verified: bool = True) -> None:
    with store.write() as conn:
        if (
            conn.execute("UPDATE contacts SET verified = ? WHERE name = ?", (int(verified), name)).rowcount
            == 0
        ):
            raise NotFound(f"no contact named {name!r}")


def send_positions(
    store: Store, public_keys: list[bytes], version: int = 1
) -> dict[bytes, tuple[int, bytes]]:
    """{public key: (last sequence number sent, digest of that envelope)} on the ``version`` chain (1:
    v1 envelopes, my (S, 0⁸) chain at the reader; 2: v2 envelopes of this device, (S, my device tag));
    (0, 32 zero bytes) for a key never written to on it. Read inside the caller's write transaction
    so concurrent sends cannot collide."""
    out = {key: (0, bytes(32)) for key in public_keys}
    for start in range(0, len(public_keys), 500):
        chunk = public_keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in store.fetchall(
            f"SELECT public_key, seq, prev FROM chain_send WHERE version = ? AND public_key IN ({marks})",
            (version, *chunk),
        ):
            out[bytes(row[0])] = (int(row[1]), bytes(row[2]))
    return out


def advance_send_chain(store: Store, public_key: bytes, seq: int, digest: bytes, version: int = 1) -> None:
    """Record ``seq`` (with the envelope's digest) as the last position sent to ``public_key`` on the
    ``version`` chain (see :func:`send_positions`)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO chain_send (public_key, version, seq, prev) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (public_key, version) DO UPDATE SET seq = excluded.seq, prev = excluded.prev",
            (public_key, version, seq, digest),
        )


def circles_of(store: Store, contact_id: int) -> list[str]:
    rows = store.fetchall(
        "SELECT c.name FROM circles c JOIN circle_members m ON m.circle_id = c.id "
        "WHERE m.contact_id = ? ORDER BY c.name",
        (contact_id,),
    )
    return [str(r[0]) for r in rows]


def update_card(store: Store, contact_id: int, card_name: str, relays: tuple[str, ...]) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE contacts SET card_name = ?, relays = ? WHERE id = ?",
            (card_name, json.dumps(list(relays)), contact_id),
        )


def set_blocked(store: Store, contact_id: int, blocked: bool) -> None:
    """Blocking also takes them out of every circle (in the same transaction)."""
    with store.write() as conn:
        conn.execute("UPDATE contacts SET blocked = ? WHERE id = ?", (int(blocked), contact_id))
        if blocked:
            conn.execute("DELETE FROM circle_members WHERE contact_id = ?", (contact_id,))


def set_muted(store: Store, contact_id: int, muted: bool) -> None:
    with store.write() as conn:
        conn.execute("UPDATE contacts SET muted = ? WHERE id = ?", (int(muted), contact_id))
