"""The wrapped-key file: the store's random 32-byte key, wrapped under Argon2id(passphrase).

File ``store.key`` (JSON, mode 0600)::

    {"format": "tui-sns-keyfile", "version": 1,
     "kdf": {"alg": "argon2id13", "opslimit": int, "memlimit": int, "salt": hex16},
     "nonce": hex24, "wrapped": hex(XChaCha20-Poly1305(wrap key, db key, ad="tuisns1-keyfile"‖salt)),
     "counter": int, "counter_mac": hex(BLAKE2b(counter, key=BLAKE2b(db key, person="tuisns1-counter")))}

``counter`` is the anti-rollback write counter (docs/protocol.md, "Local store").
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.pwhash

from tui_sns.crypto.primitives import AeadFailure, aead_decrypt, aead_encrypt, kdf
from tui_sns.store.atomic import write_atomic
from tui_sns.store.errors import KeyFileCorrupt, WrongPassphrase

FORMAT = "tui-sns-keyfile"
LABEL_COUNTER = b"tuisns1-counter"
WRAP_AD = b"tuisns1-keyfile"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The documented default is libsodium's MODERATE (about 0.5 s and 256 MiB)."""

    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE

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
            return cls(
                path=path,
                params=KdfParams(int(k["opslimit"]), int(k["memlimit"])),
                salt=bytes.fromhex(k["salt"]),
                nonce=bytes.fromhex(obj["nonce"]),
                wrapped=bytes.fromhex(obj["wrapped"]),
                counter=int(obj["counter"]),
                counter_tag=bytes.fromhex(obj["counter_mac"]),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyFileCorrupt(f"cannot read key file {path}: {exc}") from exc

    def unwrap(self, passphrase: str) -> bytes:
        wrap = derive_wrap_key(passphrase, self.salt, self.params)
        try:
            db_key = aead_decrypt(wrap, self.wrapped, WRAP_AD + self.salt, self.nonce)
        except AeadFailure as exc:
            raise WrongPassphrase("wrong passphrase") from exc
        if counter_mac(db_key, self.counter) != self.counter_tag:
            raise KeyFileCorrupt(f"{self.path}: write counter fails authentication (file tampered with?)")
        return db_key

    def rewrapped(self, db_key: bytes, passphrase: str, params: KdfParams) -> KeyFile:
        fresh = KeyFile.new(self.path, passphrase, db_key, params)
        fresh.counter, fresh.counter_tag = self.counter, self.counter_tag
        return fresh

    def with_counter(self, db_key: bytes, counter: int) -> KeyFile:
        return KeyFile(
            self.path, self.params, self.salt, self.nonce, self.wrapped, counter, counter_mac(db_key, counter)
        )

    def save(self) -> None:
        obj = {
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
        write_atomic(self.path, json.dumps(obj, indent=1).encode())
