"""Encrypted backups of a whole store, and restoring one on a new machine.

File layout (docs/protocol.md, "Backups")::

    "TSNSBAK1"                                   8 bytes
    header length, header JSON                   4 bytes big-endian + UTF-8 JSON:
        {"kdf": {"alg": "argon2id13", "opslimit", "memlimit", "salt": hex16}, "chunk": bytes per chunk}
    chunks                                       each: 4-byte length + XChaCha20-Poly1305 ciphertext;
                                                 chunk 0 holds only "tui-sns backup v1" (passphrase check)

The key is Argon2id(passphrase, fresh salt): single-use, so chunk i uses the nonce 16 zero bytes ‖ i
(64-bit big-endian). Each chunk's associated data is magic ‖ header ‖ i ‖ final-flag, so chunks cannot be
reordered, dropped, or the file cut short without detection. The plaintext is the store's 32-byte
database key followed by a consistent copy of the SQLCipher database (still encrypted under that key)
from which every epoch secret was erased (docs/design-v2.md §15.4): a restored store starts a new key
generation at its first unlock.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import nacl.pwhash
import sqlcipher3

from tui_sns.crypto.primitives import AeadFailure, aead_decrypt, aead_encrypt
from tui_sns.store.atomic import write_atomic
from tui_sns.store.database import DB_NAME, KEY_NAME, Store, secure_dir
from tui_sns.store.epochs import scrub_epoch_secrets
from tui_sns.store.errors import IdentityExists, StoreError, WrongPassphrase
from tui_sns.store.keyfile import DEFAULT_KDF, KdfParams, KeyFile, derive_wrap_key

MAGIC = b"TSNSBAK1"
CHUNK = 1 << 20
KEY_CHECK = b"tui-sns backup v1"  # chunk 0: tells a wrong passphrase from a damaged file


class BackupCorrupt(StoreError):
    """The backup file is damaged, truncated, or not a tui-sns backup."""


def _nonce(index: int) -> bytes:
    return bytes(16) + struct.pack(">Q", index)


def _ad(header: bytes, index: int, final: bool) -> bytes:
    return MAGIC + header + struct.pack(">QB", index, int(final))


def seal_backup(plaintext: bytes, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> bytes:
    salt = os.urandom(16)
    header = json.dumps(
        {
            "kdf": {
                "alg": "argon2id13",
                "opslimit": kdf.opslimit,
                "memlimit": kdf.memlimit,
                "salt": salt.hex(),
            },
            "chunk": CHUNK,
        },
        separators=(",", ":"),
    ).encode()
    key = derive_wrap_key(passphrase, salt, kdf)
    parts = [MAGIC, struct.pack(">I", len(header)), header]
    chunks = [KEY_CHECK] + [plaintext[i : i + CHUNK] for i in range(0, len(plaintext), CHUNK)]
    for index, chunk in enumerate(chunks):
        sealed = aead_encrypt(key, chunk, _ad(header, index, index == len(chunks) - 1), _nonce(index))
        parts += [struct.pack(">I", len(sealed)), sealed]
    return b"".join(parts)


def open_backup(data: bytes, passphrase: str) -> bytes:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise BackupCorrupt("not a tui-sns backup file")
    pos = len(MAGIC)
    (header_len,) = struct.unpack_from(">I", data, pos)
    pos += 4
    header = data[pos : pos + header_len]
    pos += header_len
    try:
        meta: Any = json.loads(header)
        k = meta["kdf"]
        if k["alg"] != "argon2id13":
            raise ValueError("unknown KDF")
        params = KdfParams(int(k["opslimit"]), int(k["memlimit"]))
        salt = bytes.fromhex(k["salt"])
        if len(salt) != nacl.pwhash.argon2id.SALTBYTES:
            raise ValueError("salt size")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise BackupCorrupt("the backup file's header is damaged") from exc
    key = derive_wrap_key(passphrase, salt, params)
    out: list[bytes] = []
    index = 0
    while True:
        if pos + 4 > len(data):
            raise BackupCorrupt("the backup file is truncated")
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        sealed = data[pos : pos + size]
        pos += size
        if len(sealed) != size:
            raise BackupCorrupt("the backup file is truncated")
        final = pos == len(data)
        try:
            out.append(aead_decrypt(key, sealed, _ad(header, index, final), _nonce(index)))
        except AeadFailure as exc:
            if index == 0:
                raise WrongPassphrase("wrong passphrase") from exc
            raise BackupCorrupt(f"the backup file is damaged (chunk {index})") from exc
        if index == 0 and out.pop() != KEY_CHECK:
            raise BackupCorrupt("the backup file is damaged")
        if final:
            return b"".join(out)
        index += 1


def write_backup(store: Store, path: Path, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> None:
    """Seal a consistent copy of the store into ``path``. The intermediate copy is SQLCipher-encrypted
    (same key), lives in a private temporary directory next to ``path`` (so a store on read-only media
    or a full disk can still be backed up elsewhere) and is removed before this returns."""
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tui-sns-backup-") as tmp:
        copy = Path(tmp) / "copy.db"
        store.backup_to(copy)
        _without_epoch_secrets(copy, store.database_key, store.now())
        plaintext = store.database_key + copy.read_bytes()
    write_atomic(path, seal_backup(plaintext, passphrase, kdf), mode=0o600)


def _without_epoch_secrets(copy: Path, db_key: bytes, now: int) -> None:
    """Erase the epoch secrets from the copy before it is sealed (design-v2 §15.4)."""
    conn = sqlcipher3.connect(str(copy), isolation_level=None)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        if db_key:  # b"": a test-only plaintext store
            conn.execute(f"PRAGMA key = \"x'{db_key.hex()}'\"")
        scrub_epoch_secrets(conn, now)
    finally:
        conn.close()


def restore_backup(home: Path, path: Path, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> Store:
    """Recreate a store in ``home`` from a backup. Refuses, changing nothing, if ``home`` has one."""
    if Store.exists(home):
        raise IdentityExists(f"an identity already exists in {home}: restore into an empty home")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackupCorrupt(f"cannot read {path}: {exc.strerror}") from exc
    plaintext = open_backup(data, passphrase)
    if len(plaintext) < 32 + 100:
        raise BackupCorrupt("the backup holds no database")
    db_key, db_bytes = plaintext[:32], plaintext[32:]
    secure_dir(home)
    write_atomic(home / DB_NAME, db_bytes, mode=0o600)
    KeyFile.new(home / KEY_NAME, passphrase, db_key, kdf).save()
    try:
        return Store.open(home, passphrase)
    except StoreError:
        for name in (DB_NAME, KEY_NAME):
            (home / name).unlink(missing_ok=True)
        raise
