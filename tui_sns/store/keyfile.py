"""The wrapped-key file: the store's random 32-byte key, wrapped under Argon2id(passphrase).

File ``store.key`` (JSON, mode 0600)::

    {"format": "tui-sns-keyfile", "version": 1,
     "kdf": {"alg": "argon2id13", "opslimit": int, "memlimit": int, "salt": hex16},
     "nonce": hex24, "wrapped": hex(XChaCha20-Poly1305(wrap key, db key, ad="tuisns1-keyfile"‖salt)),
     "counter": int, "counter_mac": hex(BLAKE2b(counter, key=BLAKE2b(db key, person="tuisns1-counter"))),
     "pending": {...}}                            only while a passphrase change is under way

``counter`` is the anti-rollback write counter (docs/protocol.md, "Local store").

``pending`` (a passphrase change in two phases, docs/protocol.md "Changing the passphrase")::

    {"kdf": {... salt2}, "nonce": hex24, "wrapped": hex(AEAD(wrap2, new db key, ad=WRAP_AD‖salt2)),
     "previous_nonce": hex24, "previous": hex(AEAD(wrap2, old db key, ad=PREVIOUS_AD‖salt2))}

with wrap2 = Argon2id(new passphrase, salt2). The old passphrase unwraps the main record (the old db
key); the new passphrase unwraps ``pending`` (both keys). Whichever key the database opens with tells
how far the change got; "nonce" and "wrapped" become the main record once the database is rekeyed.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nacl.pwhash

from tui_sns.crypto.primitives import AeadFailure, aead_decrypt, aead_encrypt, kdf
from tui_sns.store.atomic import write_atomic
from tui_sns.store.errors import KeyFileCorrupt, WrongPassphrase

FORMAT = "tui-sns-keyfile"
LABEL_COUNTER = b"tuisns1-counter"
WRAP_AD = b"tuisns1-keyfile"
PREVIOUS_AD = b"tuisns1-keyfile-previous"


@dataclass(frozen=True)
class Pending:
    """A passphrase change under way: the new key (and the old one) wrapped under the new passphrase."""

    params: KdfParams
    salt: bytes
    nonce: bytes
    wrapped: bytes
    previous_nonce: bytes
    previous: bytes


@dataclass(frozen=True)
class Unwrapped:
    """What a passphrase unlocked: ``keys`` to try on the database, newest first, and whether it
    unwrapped the pending record (the new passphrase of a change under way)."""

    keys: tuple[bytes, ...]
    via_pending: bool


MAX_OPSLIMIT = 10
"""Highest Argon2id pass count accepted from a file (the default is 3)."""
MAX_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE
"""Highest Argon2id memory (bytes, 1 GiB) accepted from a file (the default is 256 MiB)."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The documented default is libsodium's MODERATE (about 0.5 s and 256 MiB).

    Costs read from a file (a key file, a backup) are hostile until checked: ``opslimit`` must lie in
    libsodium's minimum..``MAX_OPSLIMIT`` (10) and ``memlimit`` (bytes) in its minimum..``MAX_MEMLIMIT``
    (1 GiB, libsodium's SENSITIVE), or ValueError — a crafted file cannot make an unlock allocate
    terabytes or run for hours."""

    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE

    def __post_init__(self) -> None:
        ops, mem = self.opslimit, self.memlimit
        if not (nacl.pwhash.argon2id.OPSLIMIT_MIN <= ops <= MAX_OPSLIMIT):
            raise ValueError(f"Argon2id opslimit {ops} is outside {nacl.pwhash.argon2id.OPSLIMIT_MIN}..{MAX_OPSLIMIT}")
        if not (nacl.pwhash.argon2id.MEMLIMIT_MIN <= mem <= MAX_MEMLIMIT):
            raise ValueError(f"Argon2id memlimit {mem} is outside {nacl.pwhash.argon2id.MEMLIMIT_MIN}..{MAX_MEMLIMIT}")

    @classmethod
    def insecure_for_tests(cls) -> KdfParams:
        """The cheapest parameters libsodium allows. Only tests may pass these explicitly."""
        return cls(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)


DEFAULT_KDF = KdfParams()


def derive_wrap_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    key: bytes = nacl.pwhash.argon2id.kdf(
        32, passphrase.encode("utf-8"), salt, opslimit=params.opslimit, memlimit=params.memlimit
    )
    return key


def counter_mac(db_key: bytes, counter: int) -> bytes:
    return kdf(LABEL_COUNTER, kdf(LABEL_COUNTER, db_key, b""), struct.pack(">Q", counter))


@dataclass
class KeyFile:
    path: Path
    params: KdfParams
    salt: bytes
    nonce: bytes
    wrapped: bytes
    counter: int
    counter_tag: bytes
    pending: Pending | None = None

    @classmethod
    def new(cls, path: Path, passphrase: str, db_key: bytes, params: KdfParams) -> KeyFile:
        salt = os.urandom(nacl.pwhash.argon2id.SALTBYTES)
        nonce = os.urandom(24)
        wrap = derive_wrap_key(passphrase, salt, params)
        wrapped = aead_encrypt(wrap, db_key, WRAP_AD + salt, nonce)
        return cls(path, params, salt, nonce, wrapped, 0, counter_mac(db_key, 0))

    @classmethod
    def load(cls, path: Path) -> KeyFile:
        try:
            obj: Any = json.loads(path.read_text("utf-8"))
            if obj.get("format") != FORMAT or obj.get("version") != 1:
                raise KeyFileCorrupt(f"{path} is not a tui-sns key file of a known version")
            k = obj["kdf"]
            if k.get("alg") != "argon2id13":
                raise KeyFileCorrupt(f"{path}: unknown key-derivation algorithm {k.get('alg')!r}")
            pending = None
            if obj.get("pending") is not None:
                q = obj["pending"]
                if q["kdf"].get("alg") != "argon2id13":
                    raise KeyFileCorrupt(f"{path}: unknown key-derivation algorithm {q['kdf'].get('alg')!r}")
                pending = Pending(
                    params=KdfParams(int(q["kdf"]["opslimit"]), int(q["kdf"]["memlimit"])),
                    salt=bytes.fromhex(q["kdf"]["salt"]),
                    nonce=bytes.fromhex(q["nonce"]),
                    wrapped=bytes.fromhex(q["wrapped"]),
                    previous_nonce=bytes.fromhex(q["previous_nonce"]),
                    previous=bytes.fromhex(q["previous"]),
                )
            return cls(
                path=path,
                params=KdfParams(int(k["opslimit"]), int(k["memlimit"])),
                salt=bytes.fromhex(k["salt"]),
                nonce=bytes.fromhex(obj["nonce"]),
                wrapped=bytes.fromhex(obj["wrapped"]),
                counter=int(obj["counter"]),
                counter_tag=bytes.fromhex(obj["counter_mac"]),
                pending=pending,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise KeyFileCorrupt(f"cannot read key file {path}: {exc}") from exc

    def unwrap(self, passphrase: str) -> bytes:
        """The database key of the main record (the one the counter is authenticated under)."""
        unwrapped = self.unwrap_any(passphrase)
        if unwrapped.via_pending:
            raise WrongPassphrase("wrong passphrase")
        return unwrapped.keys[0]

    def unwrap_any(self, passphrase: str) -> Unwrapped:
        """Unwrap the main record or, while a change is under way, the pending one. Raises
        WrongPassphrase if neither opens, KeyFileCorrupt if the counter fails authentication."""
        wrap = derive_wrap_key(passphrase, self.salt, self.params)
        try:
            db_key = aead_decrypt(wrap, self.wrapped, WRAP_AD + self.salt, self.nonce)
            result = Unwrapped((db_key,), via_pending=False)
        except AeadFailure as exc:
            if self.pending is None:
                raise WrongPassphrase("wrong passphrase") from exc
            q = self.pending
            wrap = derive_wrap_key(passphrase, q.salt, q.params)
            try:
                new_key = aead_decrypt(wrap, q.wrapped, WRAP_AD + q.salt, q.nonce)
                db_key = aead_decrypt(wrap, q.previous, PREVIOUS_AD + q.salt, q.previous_nonce)
            except AeadFailure as exc2:
                raise WrongPassphrase("wrong passphrase") from exc2
            result = Unwrapped((new_key, db_key), via_pending=True)
        if counter_mac(db_key, self.counter) != self.counter_tag:  # db_key: the main record's key
            raise KeyFileCorrupt(f"{self.path}: write counter fails authentication (file tampered with?)")
        return result

    def with_pending(self, old_key: bytes, new_key: bytes, passphrase: str, params: KdfParams) -> KeyFile:
        """This key file plus a pending record for ``new_key`` under ``passphrase`` (one Argon2id)."""
        salt = os.urandom(nacl.pwhash.argon2id.SALTBYTES)
        nonce, previous_nonce = os.urandom(24), os.urandom(24)
        wrap = derive_wrap_key(passphrase, salt, params)
        pending = Pending(
            params,
            salt,
            nonce,
            aead_encrypt(wrap, new_key, WRAP_AD + salt, nonce),
            previous_nonce,
            aead_encrypt(wrap, old_key, PREVIOUS_AD + salt, previous_nonce),
        )
        return replace(self, pending=pending)

    def without_pending(self) -> KeyFile:
        return replace(self, pending=None)

    def finished(self, new_key: bytes) -> KeyFile:
        """The pending record as the main one (the database now opens with ``new_key``)."""
        q = self.pending
        if q is None:
            raise ValueError("no passphrase change under way")
        return KeyFile(
            self.path, q.params, q.salt, q.nonce, q.wrapped, self.counter, counter_mac(new_key, self.counter)
        )

    def rewrapped(self, db_key: bytes, passphrase: str, params: KdfParams) -> KeyFile:
        fresh = KeyFile.new(self.path, passphrase, db_key, params)
        fresh.counter, fresh.counter_tag = self.counter, self.counter_tag
        return fresh

    def with_counter(self, db_key: bytes, counter: int) -> KeyFile:
        """``db_key``: the main record's key (the counter is authenticated under it)."""
        return replace(self, counter=counter, counter_tag=counter_mac(db_key, counter))

    def save(self) -> None:
        obj: dict[str, Any] = {
            "format": FORMAT,
            "version": 1,
            "kdf": {
                "alg": "argon2id13",
                "opslimit": self.params.opslimit,
                "memlimit": self.params.memlimit,
                "salt": self.salt.hex(),
            },
            "nonce": self.nonce.hex(),
            "wrapped": self.wrapped.hex(),
            "counter": self.counter,
            "counter_mac": self.counter_tag.hex(),
        }
        if self.pending is not None:
            q = self.pending
            obj["pending"] = {
                "kdf": {
                    "alg": "argon2id13",
                    "opslimit": q.params.opslimit,
                    "memlimit": q.params.memlimit,
                    "salt": q.salt.hex(),
                },
                "nonce": q.nonce.hex(),
                "wrapped": q.wrapped.hex(),
                "previous_nonce": q.previous_nonce.hex(),
                "previous": q.previous.hex(),
            }
        write_atomic(self.path, json.dumps(obj, indent=1).encode())
