"""docs/protocol.md stays true to the code where that is cheap to check: every BLAKE2b personalisation
label the package uses is documented there, every v2 label has a row in the v2 labels table whose size
column is the size the code derives, and the v2 envelope's sizes are the code's."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tui_sns.crypto import envelope_v2, epochs, linking

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"
LABEL = re.compile(rb"b\"(tuisns\d-[a-z-]+)\"")

SEED = bytes(range(32))
KEY = bytes(range(32, 64))
PUBLIC = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")  # RFC 7748 point


def labels_in_code() -> set[str]:
    """Every ``b"tuisnsN-…"`` literal in the package (labels are always written that way)."""
    found: set[str] = set()
    for path in (ROOT / "tui_sns").rglob("*.py"):
        found.update(m.decode() for m in LABEL.findall(path.read_bytes()))
    return found


def documented(text: str, label: str) -> bool:
    """``label`` appears as a whole token (``tuisns2-link`` is not found inside ``tuisns2-linkkey``)."""
    return re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text) is not None


def v2_table_rows(text: str) -> dict[str, list[str]]:
    """The rows of the v2 labels table: label → its cells (key, input, size, used for)."""
    start = text.index("### Derivations and labels (design-v2 §3)")
    section = text[start : text.index("\n### ", start + 1)]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        m = re.match(r"\| `(tuisns2-[a-z-]+)` \|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [cell.strip() for cell in m.group(2).split("|")]
    return rows


def test_the_scan_finds_the_labels() -> None:
    found = labels_in_code()
    assert {label.decode() for label in epochs.LABELS} <= found
    assert {"tuisns1-hint", "tuisns2-mac", "tuisns1-entry"} <= found


@pytest.mark.parametrize("label", sorted(labels_in_code()))
def test_every_label_in_the_code_is_in_the_protocol(label: str) -> None:
    assert documented(PROTOCOL.read_text(), label), f"{label} is used in tui_sns/ but not in docs/protocol.md"


V2_LABELS = [label.decode() for label in epochs.LABELS] + [
    label.decode()
    for label in (
        envelope_v2.LABEL_HINT,
        envelope_v2.LABEL_SLOT,
        envelope_v2.LABEL_COMMIT,
        envelope_v2.LABEL_HEADER,
        envelope_v2.LABEL_MAC,
    )
]


@pytest.mark.parametrize("label", V2_LABELS)
def test_every_v2_label_has_a_row_in_the_labels_table(label: str) -> None:
    rows = v2_table_rows(PROTOCOL.read_text())
    assert label in rows, f"no row for {label} in protocol.md's v2 labels table"
    assert len(rows[label]) == 4, f"the row of {label} is not | key | input | size | used for |"


# The size column against what the code derives: each derivation called once on fixed inputs.
SIZES: dict[bytes, Callable[[], int]] = {
    epochs.LABEL_SEED: lambda: len(epochs.next_seed(SEED, 0)),
    epochs.LABEL_PREKEY: lambda: len(epochs.prekey_secret(SEED, 0)),
    epochs.LABEL_SELFKEY: lambda: len(epochs.self_key(SEED, 0)),
    epochs.LABEL_KEYID: lambda: epochs.KEY_ID_BYTES,
    epochs.LABEL_SELFHINT: lambda: len(epochs.self_hint_key(KEY)),
    epochs.LABEL_DEVID: lambda: len(epochs.device_id(PUBLIC)),
    epochs.LABEL_DEVTAG: lambda: len(epochs.device_tag(KEY, PUBLIC)),
    epochs.LABEL_LINK: lambda: len(epochs.link_key(SEED)),
    epochs.LABEL_LINKCHK: lambda: len(epochs.link_checksum(SEED)),
    epochs.LABEL_LINKCOM: lambda: len(epochs.link_commitment(SEED, PUBLIC)),
    epochs.LABEL_LINKKEY: lambda: len(epochs.link_session_key(SEED, KEY, PUBLIC, PUBLIC)),
    epochs.LABEL_RESET: lambda: len(epochs.reset_commitment(SEED)),
}


@pytest.mark.parametrize("label", sorted(SIZES), ids=lambda b: b.decode())
def test_the_size_column_is_what_the_code_derives(label: bytes) -> None:
    rows = v2_table_rows(PROTOCOL.read_text())
    assert rows[label.decode()][2] == str(SIZES[label]()), f"size of {label.decode()} in protocol.md"


def test_the_v2_envelope_sizes_are_the_codes() -> None:
    text = PROTOCOL.read_text()
    assert envelope_v2.SLOT_BYTES == 172 and envelope_v2.SLOT_PLAIN_BYTES == 144
    assert "Slot plaintext (144 bytes)" in text
    assert "67+172n" in text
    assert f"{envelope_v2.MAX_ENVELOPE_BYTES:,}" in text
    assert f"{linking.CODE_CHARS} characters" in text
