"""A device away longer than the grace period (docs/design-v2.md §5.4): the keys go at unlock, before
anything is fetched; envelopes under them are the outcome KEY_DELETED, counted once each, and the
report says plainly what happened (single device: nothing can bring them back)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core import clock
from tui_sns.core.exchange import pack_bundle
from tui_sns.core.inbox import Outcome
from tui_sns.core.session import Session
from tui_sns.store import KdfParams, mailbox
from tui_sns.store.identity import set_meta

PASSPHRASE = "correct horse battery staple"  # what isolated_env gives the CLI
DAY = 86400
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[clock.FakeClock]:
    fake = clock.FakeClock(T0)
    with clock.use_source(fake):
        yield fake


def take(session: Session) -> list[bytes]:
    rows = mailbox.unexported(session.store)
    mailbox.mark_exported(session.store, [i for i, _ in rows])
    return [d for _, d in rows]


def test_envelopes_under_deleted_keys_are_reported_once_and_plainly(
    tmp_path: Path, fake: clock.FakeClock, cli: Callable[..., Any], isolated_env: None
) -> None:
    ana = Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests())
    kenji = Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=KdfParams.insecure_for_tests())
    ana.contacts.add(kenji.contacts.my_card())
    kenji.contacts.add(ana.contacts.my_card())
    set_meta(ana.store, "last_sync", clock.now_iso())  # ana's last sync, before she went away
    for i in range(3):
        kenji.diary.post(f"while ana was away {i}", to=["ana"])
    held = take(kenji)
    assert [e[0] for e in held] == [2, 2, 2]
    ana.close()

    fake.advance(23 * DAY)  # longer than epoch + grace (7 + 7 days)
    bundle = tmp_path / "held.tsns"
    bundle.write_bytes(pack_bundle(held))
    result = cli(tmp_path / "ana", "inbox", "import", str(bundle))  # unlock (keys go), then import
    assert result.code == 0 and "3 key_deleted" in result.out
    sentence = result.err.strip()
    assert sentence == (
        "Up to 3 envelopes addressed to you could not be opened: their keys were deleted on 2026-11-15 "
        "as scheduled (this device was away 23 days; envelopes stay readable 14 days). Your contacts' "
        "chains will show which entries are missing as later ones arrive. Without another device of "
        "yours that has them, those entries are lost: that is the price of forward secrecy."
    )
    ana = Session.unlock(tmp_path / "ana", PASSPHRASE)
    again = ana.inbox.receive(held)
    assert again.outcomes[Outcome.KEY_DELETED] == 0 and again.outcomes[Outcome.DUPLICATE] == 3

    # kenji's next entry: ana's old prekey is past use, so it comes as v1 — on his v1 chain to her,
    # which is not the chain the lost v2 envelopes were on (design-v2 §7, §8.1): no gap there
    kenji.diary.post("are you back?", to=["ana"])
    later = take(kenji)
    assert {e[0] for e in later} == {1}  # the entry (and his announcement of his new epoch)
    assert ana.inbox.receive(later).stored == 1
    assert ana.diary.missing() == []
    # ana answers with her current prekey, so kenji is forward-secret again
    assert ana.epochs.tick().announced == 1
    kenji.inbox.receive(take(ana))
    assert kenji.epochs.forward_secret(ana.identity.public)
    # and his next v2 envelope continues the chain the three lost ones were on: the gap names him
    kenji.diary.post("you are back", to=["ana"])
    assert ana.inbox.receive(take(kenji)).stored == 1
    assert ana.diary.missing() == [("kenji", 3)]
    assert "kenji's chain shows the entries that are missing." in (ana.epochs.key_deleted_report([1]) or "")
    kenji.close()
    ana.close()


def test_my_own_envelope_under_an_erased_self_key_is_not_reported_as_lost(
    tmp_path: Path, fake: clock.FakeClock
) -> None:
    ana = Session.create(tmp_path / "ana", "ana", PASSPHRASE, kdf=KdfParams.insecure_for_tests())
    kenji = Session.create(tmp_path / "kenji", "kenji", PASSPHRASE, kdf=KdfParams.insecure_for_tests())
    ana.contacts.add(kenji.contacts.my_card())
    kenji.contacts.add(ana.contacts.my_card())
    ana.diary.post("mine", to=["kenji"])
    mine = take(ana)  # never came back to ana before her keys went
    fake.advance(23 * DAY)
    ana.epochs.tick()
    report = ana.inbox.receive(mine)
    assert report.outcomes[Outcome.KEY_DELETED] == 1  # located by my self hint, its self key erased
    assert report.key_deleted == [] and ana.epochs.key_deleted_report(report.key_deleted) is None
    kenji.close()
    ana.close()
