"""Helpers for the full-disk, read-only and damage tests: small tmpfs mounts, raw keyed connections."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from tui_sns.store.keyfile import KeyFile

PAGE = 4096


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (root only; skips otherwise), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the max_page_count tests cover the rest)")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)


def fill(where: Path, leave: int = 0) -> Path:
    """Fill the file system holding ``where`` until at most ``leave`` bytes are free."""
    path = where / "filler"
    with open(path, "ab") as f:
        for _ in range(1_000_000):  # bounded
            st = os.statvfs(where)
            free = st.f_bavail * st.f_frsize
            if free <= leave:
                break
            try:
                f.write(b"\0" * min(PAGE, max(1, free - leave)))
                f.flush()
            except OSError:
                break
    return path


def raw(path: Path, home: Path, passphrase: str, uri_query: str = "") -> Any:
    """A keyed sqlcipher3 connection to ``path`` (bypassing the store), read-only with a query."""
    key = KeyFile.load(home / "store.key").unwrap(passphrase)
    uri = f"file:{path}{'?' + uri_query if uri_query else ''}"
    conn = sqlcipher3.connect(uri, uri=True)
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
