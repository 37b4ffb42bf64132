"""Exchange without a relay: envelopes carried in a bundle file.

Bundle format: the 8 bytes ``TSNSBDL1``, then for each envelope a 4-byte big-endian length and the
envelope's bytes. Nothing else: a bundle reveals what a relay would see.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

from tui_sns.core.errors import InvalidInput
from tui_sns.core.inbox import ReceiveReport
from tui_sns.crypto.envelope_v2 import MAX_ANY_ENVELOPE_BYTES as MAX_ENVELOPE_BYTES  # v1 or v2
from tui_sns.store import mailbox
from tui_sns.store.atomic import write_atomic

if TYPE_CHECKING:
    from tui_sns.core.session import Session

MAGIC = b"TSNSBDL1"


def pack_bundle(envelopes: list[bytes]) -> bytes:
    return MAGIC + b"".join(struct.pack(">I", len(e)) + e for e in envelopes)


def unpack_bundle(data: bytes) -> list[bytes]:
    if not data.startswith(MAGIC):
        raise InvalidInput("not a tui-sns bundle file")
    out, pos = [], len(MAGIC)
    while pos < len(data):
        if pos + 4 > len(data):
            raise InvalidInput("bundle file is truncated")
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if size > MAX_ENVELOPE_BYTES or pos + size > len(data):
            raise InvalidInput("bundle file is truncated or corrupt")
        out.append(data[pos : pos + size])
        pos += size
    return out


class Exchange:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = session.store

    def export_outbox(self, path: Path) -> int:
        """Write the envelopes not exported yet; returns how many. Marks them only once written."""
        pending = mailbox.unexported(self.store)
        write_atomic(path, pack_bundle([data for _, data in pending]), mode=0o600)
        mailbox.mark_exported(self.store, [eid for eid, _ in pending])
        return len(pending)

    def import_inbox(self, path: Path) -> ReceiveReport:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
        return self.session.inbox.receive(unpack_bundle(data))
