"""``tui-sns post`` on a device that is not my v1 sender (design-v2 §7) says who reads the entry only
when my v1 sender device next syncs, after the "not forward-secret" line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_sns.core.session import Session
from tui_sns.store import KdfParams

PASSPHRASE = "correct horse battery staple"


def test_post_on_the_laptop_names_the_v1_sender(tmp_path: Path, cli: Callable[..., Any]) -> None:
    kdf = KdfParams.insecure_for_tests()
    with Session.create(tmp_path / "lee", "lee", PASSPHRASE, kdf=kdf) as lee:
        lee.epochs.disable_v2_for_tests()  # Lee's app is older: she gets the fallback
        lee_card = lee.contacts.my_card()
    with Session.create(tmp_path / "ana1", "ana", PASSPHRASE, kdf=kdf) as first:
        desktop = first.devices.this_device("desktop")
        first.contacts.add(lee_card)
    shutil.copytree(tmp_path / "ana1", tmp_path / "ana2")
    with Session.unlock(tmp_path / "ana2", PASSPHRASE) as laptop:  # the copy is a new device
        with laptop.store.write() as conn:
            conn.execute("DELETE FROM device")
            conn.execute("DELETE FROM meta WHERE key IN ('devid', 'devtag_key')")
        laptop.devices.this_device("laptop")
        laptop.devices.set_setting("v1_sender", desktop.devid.hex())
        assert not laptop.devices.is_v1_sender()
    posted = cli(tmp_path / "ana2", "post", "--to", "lee", "--body", "from the laptop")
    assert posted.code == 0, posted.err
    lines = posted.err.splitlines()
    assert "lee reads this when your device 'desktop' next syncs." in lines
    assert lines.index("lee reads this when your device 'desktop' next syncs.") > next(
        i for i, line in enumerate(lines) if line.startswith("Not forward-secret for lee yet")
    )
    on_desktop = cli(tmp_path / "ana1", "post", "--to", "lee", "--body", "from the desktop")
    assert on_desktop.code == 0 and "next syncs" not in on_desktop.err
