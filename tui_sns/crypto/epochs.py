"""Protocol v2 key derivations: the epoch seed ratchet, prekeys, self keys, key ids, device ids.

Pure functions over bytes (no I/O, no clock, no store); the construction is docs/design-v2.md §2
(keys and their lifetimes) and §3 (every derivation with its BLAKE2b personalisation label). All
v2 labels start with ``tuisns2-`` and are at most 16 bytes (BLAKE2b's personalisation size;
:func:`tui_sns.crypto.primitives.kdf` refuses longer ones). Integers are big-endian: ``uint32(i)``
is 4 bytes.

Epoch keys of one identity, generation ``g`` (§2, §5):

    seed[g, i+1] = BLAKE2b(uint32(i+1), key=seed[g, i], person="tuisns2-seed")        32 bytes
    pk[g, i]     = BLAKE2b(uint32(i),   key=seed[g, i], person="tuisns2-prekey")      X25519 secret
    PK[g, i]     = X25519(pk[g, i], 9)
    Kself[g, i]  = BLAKE2b(uint32(i),   key=seed[g, i], person="tuisns2-selfkey")     32 bytes
    keyid(PK)    = uint32(BLAKE2b(PK, person="tuisns2-keyid", size=4))               unkeyed
    selfkid      = uint32(BLAKE2b(uint32(i), key=Kself, person="tuisns2-keyid", size=4))

A device keeps only the current seed and erases ``seed[g, i]`` once ``seed[g, i+1]`` is derived:
the ratchet is one-way, so later seeds say nothing about earlier prekeys or self keys (forward
secrecy, §5.2). Key ids are public (they are sent in announcements); two keys with the same 4-byte
id are possible (about 2⁻³² per pair) and are both tried by the opener (§4.4).

Errors: ``ValueError`` for arguments of the wrong size or range (a programming error, never hostile
input: every value here is either ours or already validated by the caller).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from tui_sns.crypto.primitives import KEY_BYTES, PUBLIC_KEY_BYTES, kdf, x25519_base

LABEL_SEED = b"tuisns2-seed"
LABEL_PREKEY = b"tuisns2-prekey"
LABEL_SELFKEY = b"tuisns2-selfkey"
LABEL_KEYID = b"tuisns2-keyid"
LABEL_SELFHINT = b"tuisns2-selfhint"
LABEL_DEVID = b"tuisns2-devid"
LABEL_DEVTAG = b"tuisns2-devtag"
LABEL_LINK = b"tuisns2-link"
LABEL_LINKCHK = b"tuisns2-linkchk"
LABEL_LINKSAS = b"tuisns2-linksas"
LABEL_LINKCOM = b"tuisns2-linkcom"
LABEL_LINKKEY = b"tuisns2-linkkey"
LABEL_RESET = b"tuisns2-reset"
LABEL_LSHARD = b"tuisns2-lshard"

LABELS = (
    LABEL_SEED,
    LABEL_PREKEY,
    LABEL_SELFKEY,
    LABEL_KEYID,
    LABEL_SELFHINT,
    LABEL_DEVID,
    LABEL_DEVTAG,
    LABEL_LINK,
    LABEL_LINKCHK,
    LABEL_LINKSAS,
    LABEL_LINKCOM,
    LABEL_LINKKEY,
    LABEL_RESET,
    LABEL_LSHARD,
)

KEY_ID_BYTES = 4
DEVID_BYTES = 8
DEVTAG_BYTES = 8
MAX_EPOCH = 2**32 - 2  # uint32(i + 1) must still fit
RESET_MARKER_KID = 0xFFFFFFFF  # the selector value of a reset marker slot (§10.1)


def _uint32(value: int, what: str) -> bytes:
    if not 0 <= value <= MAX_EPOCH:
        raise ValueError(f"{what} must be in 0..{MAX_EPOCH}, got {value}")
    return struct.pack(">I", value)


def _key(value: bytes, what: str, size: int = KEY_BYTES) -> bytes:
    if type(value) is not bytes or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return value


def next_seed(seed: bytes, epoch: int) -> bytes:
    """``seed[g, epoch+1]`` from ``seed[g, epoch]`` (32 bytes each; label ``tuisns2-seed``, §3).

    One-way: the caller erases ``seed`` once the result is stored (§5.2 step 1).
    """
    _uint32(epoch, "epoch")
    return kdf(LABEL_SEED, _key(seed, "seed"), _uint32(epoch + 1, "epoch + 1"))


def prekey_secret(seed: bytes, epoch: int) -> bytes:
    """The prekey secret ``pk[g, epoch]``: 32 bytes, an X25519 scalar (libsodium clamps it)."""
    return kdf(LABEL_PREKEY, _key(seed, "seed"), _uint32(epoch, "epoch"))


def self_key(seed: bytes, epoch: int) -> bytes:
    """The self key ``Kself[g, epoch]``: 32 bytes; it keys the author's self slot (§4.2)."""
    return kdf(LABEL_SELFKEY, _key(seed, "seed"), _uint32(epoch, "epoch"))


def prekey_id(prekey_public: bytes) -> int:
    """Key id of a prekey: ``uint32(BLAKE2b(PK, person="tuisns2-keyid", size=4))`` (unkeyed; public)."""
    digest = hashlib.blake2b(
        _key(prekey_public, "prekey public key", PUBLIC_KEY_BYTES),
        digest_size=KEY_ID_BYTES,
        person=LABEL_KEYID,
    ).digest()
    return int.from_bytes(digest, "big")


def self_key_id(kself: bytes, epoch: int) -> int:
    """Key id of a self key: ``uint32(BLAKE2b(uint32(epoch), key=Kself, person="tuisns2-keyid", size=4))``.

    Keyed, so only holders of the self key can link a self slot's id to an epoch.
    """
    digest = kdf(LABEL_KEYID, _key(kself, "self key"), _uint32(epoch, "epoch"), KEY_ID_BYTES)
    return int.from_bytes(digest, "big")


def self_hint_key(identity_secret: bytes) -> bytes:
    """``Khself = BLAKE2b(empty, key=s, person="tuisns2-selfhint")``: 32 bytes, for the self hint (§4.2)."""
    return kdf(LABEL_SELFHINT, _key(identity_secret, "identity secret"), b"")


def device_id(first_device_public: bytes) -> bytes:
    """``devid = BLAKE2b(D₀, person="tuisns2-devid", size=8)`` of the device's first device key (§2)."""
    return kdf(
        LABEL_DEVID, None, _key(first_device_public, "device public key", PUBLIC_KEY_BYTES), DEVID_BYTES
    )


def device_tag(devtag_key: bytes, reader_public: bytes) -> bytes:
    """The sending device's tag for one reader: ``BLAKE2b(R, key=Kdevtag, person="tuisns2-devtag", size=8)``.

    Per reader, so two readers cannot match my devices (§8.1). ``devtag_key`` is 32 random bytes per
    device; ``reader_public`` the reader's 32-byte static public key.
    """
    return kdf(
        LABEL_DEVTAG,
        _key(devtag_key, "device tag key"),
        _key(reader_public, "reader public key", PUBLIC_KEY_BYTES),
        DEVTAG_BYTES,
    )


# -- device linking (§9) and resets (§10): derivations only; the protocol comes with those steps --


def link_key(code_secret: bytes) -> bytes:
    """``Kl = BLAKE2b(empty, key=c, person="tuisns2-link")``: the link-slot key of a 32-byte code (§9.3)."""
    return kdf(LABEL_LINK, _key(code_secret, "link code secret"), b"")


def link_checksum(code_secret: bytes) -> bytes:
    """The 2-byte checksum of a typed link code: ``BLAKE2b(c, person="tuisns2-linkchk", size=2)`` (§9.2)."""
    return kdf(LABEL_LINKCHK, None, _key(code_secret, "link code secret"), 2)


def link_commitment(code_secret: bytes, offer_public: bytes) -> bytes:
    """Commitment to A's link ephemeral: ``BLAKE2b(A, key=c, person="tuisns2-linkcom")``, 32 bytes (§9.3)."""
    return kdf(
        LABEL_LINKCOM, _key(code_secret, "link code secret"), _key(offer_public, "A", PUBLIC_KEY_BYTES)
    )


def link_session_key(code_secret: bytes, shared: bytes, offer_public: bytes, hello_public: bytes) -> bytes:
    """``Ks = BLAKE2b(X25519(a, B) ‖ A ‖ B, key=c, person="tuisns2-linkkey")``, 32 bytes (§9.3)."""
    return kdf(
        LABEL_LINKKEY,
        _key(code_secret, "link code secret"),
        _key(shared, "shared secret")
        + _key(offer_public, "A", PUBLIC_KEY_BYTES)
        + _key(hello_public, "B", PUBLIC_KEY_BYTES),
    )


def link_sas(code_secret: bytes, offer_public: bytes, hello_public: bytes, hello_devid: bytes) -> str:
    """The 6-digit comparison string: ``uint32(BLAKE2b(A ‖ B ‖ devid_B, key=c, "tuisns2-linksas", 4)) mod 10⁶``.

    Returned zero-padded, as shown on both devices (``"048 113"`` is the display form of ``"048113"``).
    """
    digest = kdf(
        LABEL_LINKSAS,
        _key(code_secret, "link code secret"),
        _key(offer_public, "A", PUBLIC_KEY_BYTES)
        + _key(hello_public, "B", PUBLIC_KEY_BYTES)
        + _key(hello_devid, "devid", DEVID_BYTES),
        4,
    )
    return f"{int.from_bytes(digest, 'big') % 1_000_000:06d}"


def link_shard(code_secret: bytes, shards: int) -> int:
    """The link shard on a relay with ``shards`` shards: ``uint16(BLAKE2b(c, "tuisns2-lshard", 2)) mod shards``."""
    if not 1 <= shards <= 65536:
        raise ValueError("shards must be in 1..65536")
    digest = kdf(LABEL_LSHARD, None, _key(code_secret, "link code secret"), 2)
    return int.from_bytes(digest, "big") % shards


def reset_commitment(seed: bytes) -> bytes:
    """``BLAKE2b(seed, person="tuisns2-reset", size=16)``: a reset's commitment and tie-break (§10.2)."""
    return kdf(LABEL_RESET, None, _key(seed, "seed"), 16)


# -- one epoch's keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochKeys:
    """Everything derived from ``seed[g, epoch]`` (§2): prekey pair, self key and both key ids.

    ``prekey_secret`` and ``self_key`` are secrets with the epoch's lifetime (erased at its deletion
    time); ``prekey_public`` and the ids are public.
    """

    generation: int
    epoch: int
    prekey_secret: bytes = field(repr=False)
    prekey_public: bytes
    prekey_id: int
    self_key: bytes = field(repr=False)
    self_key_id: int

    @classmethod
    def derive(cls, seed: bytes, generation: int, epoch: int) -> EpochKeys:
        """The keys of epoch ``epoch`` from its 32-byte seed. One base multiplication (for ``PK``)."""
        if not 0 <= generation < 2**31:
            raise ValueError("generation must be in 0..2^31-1")
        pk = prekey_secret(seed, epoch)
        public = x25519_base(pk)
        kself = self_key(seed, epoch)
        return cls(
            generation=generation,
            epoch=epoch,
            prekey_secret=pk,
            prekey_public=public,
            prekey_id=prekey_id(public),
            self_key=kself,
            self_key_id=self_key_id(kself, epoch),
        )


def walk(seed: bytes, epoch: int, to_epoch: int) -> bytes:
    """``seed[g, to_epoch]`` from ``seed[g, epoch]`` by ``to_epoch − epoch`` ratchet steps (a device that was
    away; §5.2 step 1). ValueError if ``to_epoch < epoch`` (the ratchet does not go back)."""
    if to_epoch < epoch:
        raise ValueError("the seed ratchet only moves forward")
    for i in range(epoch, to_epoch):
        seed = next_seed(seed, i)
    return seed
