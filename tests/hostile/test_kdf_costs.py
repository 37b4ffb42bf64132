"""A key file or a backup names its own Argon2id cost; a crafted one must not make an unlock allocate
gigabytes or run for hours, nor crash with a deeply nested header: it is refused as damaged."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import nacl.pwhash
import pytest

from tui_sns.store.backup import MAGIC, BackupCorrupt, open_backup, seal_backup
from tui_sns.store.keyfile import MAX_MEMLIMIT, MAX_OPSLIMIT, KdfParams, KeyFile, KeyFileCorrupt

CHEAP = KdfParams.insecure_for_tests()


def _with_header(data: bytes, header: bytes) -> bytes:
    (old_len,) = struct.unpack_from(">I", data, len(MAGIC))
    rest = data[len(MAGIC) + 4 + old_len :]
    return MAGIC + struct.pack(">I", len(header)) + header + rest


def _kdf_header(data: bytes, **kdf: object) -> bytes:
    (old_len,) = struct.unpack_from(">I", data, len(MAGIC))
    meta = json.loads(data[len(MAGIC) + 4 : len(MAGIC) + 4 + old_len])
    meta["kdf"].update(kdf)
    return _with_header(data, json.dumps(meta).encode())


@pytest.mark.parametrize(
    "kdf",
    [
        {"memlimit": nacl.pwhash.argon2id.MEMLIMIT_MAX + 1},  # beyond what libsodium takes at all
        {"memlimit": MAX_MEMLIMIT + 1024},
        {"opslimit": 2**32 - 1},  # hours of work
        {"opslimit": 0},
        {"memlimit": -1},
        {"salt": "00" * 8},
    ],
)
def test_a_backup_naming_a_hostile_cost_is_damaged(kdf: dict[str, object]) -> None:
    data = seal_backup(b"diary", "pass phrase", CHEAP)
    with pytest.raises(BackupCorrupt):
        open_backup(_kdf_header(data, **kdf), "pass phrase")


def test_a_backup_with_a_deeply_nested_header_is_damaged() -> None:
    data = seal_backup(b"diary", "pass phrase", CHEAP)
    with pytest.raises(BackupCorrupt):
        open_backup(_with_header(data, b"[" * 100_000), "pass phrase")


def test_a_key_file_naming_a_hostile_cost_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    for text in (
        json.dumps({"format": "x", "kdf": {"alg": "argon2id13"}}).replace('"x"', "[" * 100_000),
        "[" * 100_000,
    ):
        path.write_text(text)
        with pytest.raises(KeyFileCorrupt):
            KeyFile.load(path)


def test_the_bounds_admit_the_default_and_the_test_costs() -> None:
    assert KdfParams().opslimit <= MAX_OPSLIMIT and KdfParams().memlimit <= MAX_MEMLIMIT
    KdfParams.insecure_for_tests()
    with pytest.raises(ValueError):
        KdfParams(MAX_OPSLIMIT + 1, CHEAP.memlimit)


@pytest.mark.parametrize("ops, mem", [(2**32 - 1, 2**26), (3, nacl.pwhash.argon2id.MEMLIMIT_MAX + 1), (3, 2**33)])
def test_a_key_file_with_every_field_but_a_hostile_cost_is_damaged(tmp_path: Path, ops: int, mem: int) -> None:
    from tui_sns.store.keyfile import FORMAT

    path = tmp_path / "store.key"
    kdf = {"alg": "argon2id13", "opslimit": ops, "memlimit": mem, "salt": "00" * 16}
    fields = {"nonce": "00" * 24, "wrapped": "00" * 48, "counter": 1, "counter_mac": "00" * 32}
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "kdf": kdf, **fields}))
    with pytest.raises(KeyFileCorrupt):
        KeyFile.load(path)
