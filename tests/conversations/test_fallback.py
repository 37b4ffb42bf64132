"""The single send path chooses per reader (docs/design-v2.md §7): v2 for readers with a usable prekey
(my self slot included), one v1 envelope without a self slot for the others; counted and shown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui_sns.core import clock
from tui_sns.core.diary import not_forward_secret_sentence
from tui_sns.core.errors import InvalidInput
from tui_sns.core.inbox import Outcome, local_post_id
from tui_sns.core.outgoing import DERIVED_RETENTION, derived_expires
from tui_sns.core.session import Session
from tui_sns.crypto.envelope import Opened, open_envelope
from tui_sns.store import KdfParams, mailbox
from tui_sns.store import epochs as epoch_store

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[tuple[Session, Session, Session]]:
    made = [
        Session.create(tmp_path / n, n, PASSPHRASE, kdf=KdfParams.insecure_for_tests())
        for n in ("ana", "kenji", "lee")
    ]
    ana, kenji, lee = made
    lee.epochs.disable_v2_for_tests()  # Lee's app is older
    for a, b in ((ana, kenji), (ana, lee)):
        a.contacts.add(b.contacts.my_card())
        b.contacts.add(a.contacts.my_card())
    for s in made:  # the announcements owed to new contacts, delivered
        sent = take(s)
        for other in made:
            if other is not s:
                other.inbox.receive(sent)
    yield ana, kenji, lee
    for s in made:
        s.close()


def take(session: Session) -> list[bytes]:
    session.epochs.tick()
    rows = mailbox.unexported(session.store)
    mailbox.mark_exported(session.store, [i for i, _ in rows])
    return [d for _, d in rows]


def test_a_contact_on_v1_gets_v1_without_my_self_slot_and_it_is_counted(
    trio: tuple[Session, Session, Session],
) -> None:
    ana, kenji, lee = trio
    post = ana.diary.post("to both", to=["kenji", "lee"])
    envelopes = take(ana)
    assert sorted(e[0] for e in envelopes) == [1, 2]
    v1 = next(e for e in envelopes if e[0] == 1)
    v2 = next(e for e in envelopes if e[0] == 2)
    # my own static secret does not open the v1 fallback (no self slot); my keyring opens the v2 one
    assert open_envelope(ana.identity, v1) is None
    mine = open_envelope(ana.epochs.keyring(), v2)
    assert isinstance(mine, Opened) and mine.from_self
    assert open_envelope(kenji.epochs.keyring(), v1) is None  # each reader is in exactly one envelope
    assert open_envelope(lee.epochs.keyring(), v2) is None
    assert kenji.inbox.receive(envelopes).stored == 1
    assert lee.inbox.receive(envelopes).stored == 1
    assert epoch_store.sealed_versions(ana.store, post.id) == (2, 1, [("kenji", 2), ("lee", 1)])
    assert epoch_store.fallback_total(ana.store) == 1
    sealing = ana.diary.sealing(post.id)
    assert (sealing.forward_secret, sealing.not_forward_secret) == (False, ("lee",))
    kenji_copy = kenji.diary.sealing(local_post_id(ana.identity.public, post.id))
    lee_copy = lee.diary.sealing(local_post_id(ana.identity.public, post.id))
    assert (kenji_copy.envelope_version, lee_copy.envelope_version) == (2, 1)


def test_chains_stay_whole_across_the_split(trio: tuple[Session, Session, Session]) -> None:
    ana, kenji, lee = trio
    for i in range(3):
        ana.diary.post(f"entry {i}", to=["kenji", "lee"])
    envelopes = take(ana)
    for reader in (kenji, lee):
        report = reader.inbox.receive(list(reversed(envelopes)))
        assert report.stored == 3 and report.outcomes[Outcome.REPLAY] == 0
        assert reader.diary.missing() == [] and reader.diary.chain_breaks() == []


def test_a_v1_contacts_entries_reach_me_as_v1(trio: tuple[Session, Session, Session]) -> None:
    ana, _, lee = trio
    lee.diary.post("from an older app", to=["ana"])
    envelopes = take(lee)
    assert [e[0] for e in envelopes] == [1]
    assert ana.inbox.receive(envelopes).stored == 1
    [entry] = ana.diary.timeline()
    sealing = ana.diary.sealing(entry.id)
    assert (sealing.envelope_version, sealing.forward_secret) == (1, False)


def test_the_composer_line_names_the_readers_without_forward_secrecy(
    trio: tuple[Session, Session, Session],
) -> None:
    ana, _, _ = trio
    readers = ana.diary.audience(["kenji", "lee"]).readers
    assert ana.diary.not_forward_secret(readers) == ["lee"]
    assert not_forward_secret_sentence(["lee"]) == (
        "Not forward-secret for lee yet — their app has not sent a current key."
    )
    assert not_forward_secret_sentence(["Kenji", "Lee"]).startswith(
        "Not forward-secret for Kenji, Lee yet — "
    )


def test_require_forward_secrecy_refuses_a_v1_reader_and_names_them(
    trio: tuple[Session, Session, Session],
) -> None:
    ana, _, _ = trio
    ana.epochs.set_require_forward_secrecy(True)
    before = mailbox.unexported(ana.store)
    with pytest.raises(InvalidInput, match="lee"):
        ana.diary.post("no", to=["kenji", "lee"])
    assert mailbox.unexported(ana.store) == before and ana.diary.timeline() == []
    ana.diary.post("yes", to=["kenji"])
    assert [e[0] for e in take(ana)] == [2]


def test_derived_expires_reads_the_clock_seam() -> None:
    fake = clock.FakeClock(datetime(2031, 1, 1, tzinfo=UTC))
    with clock.use_source(fake):
        stamp = derived_expires()
    assert stamp >= int((datetime(2031, 1, 1, tzinfo=UTC) + DERIVED_RETENTION).timestamp())
    assert stamp < int((datetime(2031, 1, 1, tzinfo=UTC) + DERIVED_RETENTION + timedelta(days=7)).timestamp())


def test_show_and_contacts_list_say_it(
    trio: tuple[Session, Session, Session], cli: Callable[..., Any], isolated_env: None
) -> None:
    ana, kenji, lee = trio
    post = ana.diary.post("to both", to=["kenji", "lee"])
    only_me = ana.diary.post("mine")
    kenji.inbox.receive(take(ana))
    lee.diary.post("from an older app", title="from lee", to=["ana"])
    ana.inbox.receive(take(lee))
    from_lee = next(p for p in ana.diary.timeline() if p.title == "from lee")
    homes = {s.name: s.store.home for s in trio}
    for s in trio:
        s.close()
    shown = cli(homes["ana"], "show", post.id)
    assert shown.code == 0, shown.err
    # Seen: "... not forward-secret for lee (v1)." — words a person understands instead
    assert (
        "Sealed forward-secret to 1 reader; not forward-secret for lee: their app has not sent a current key."
        in shown.out
    )
    assert "(v1)" not in shown.out and "v1" not in shown.out
    # a received entry that came in a v1 envelope says so, in words and in JSON
    received_v1 = cli(homes["ana"], "show", from_lee.id)
    assert "This entry reached you without forward secrecy (lee's app is older)." in received_v1.out
    assert cli(homes["ana"], "show", from_lee.id, "--json").json()["envelope_version"] == 1
    # `post` says on stderr what the composer says when a reader gets the fallback
    posted = cli(homes["ana"], "post", "--to", "kenji", "--to", "lee", "--body", "again")
    assert posted.code == 0, posted.err
    assert not_forward_secret_sentence(["lee"]) in posted.err
    assert "Not forward-secret for lee yet — their app has not sent a current key." in posted.err
    fs_only = cli(homes["ana"], "post", "--to", "kenji", "--body", "just kenji")
    assert fs_only.code == 0 and "forward-secret" not in fs_only.err
    as_json = cli(homes["ana"], "show", post.id, "--json").json()
    assert (as_json["forward_secret"], as_json["not_forward_secret"], as_json["envelope_version"]) == (
        False,
        ["lee"],
        2,
    )
    alone = cli(homes["ana"], "show", only_me.id, "--json").json()
    assert (alone["forward_secret"], alone["not_forward_secret"], alone["envelope_version"]) == (
        None,
        [],
        None,
    )
    contacts = cli(homes["ana"], "contacts", "list", "--json").json()
    assert {c["name"]: c["forward_secret"] for c in contacts} == {"kenji": True, "lee": False}
    received = cli(
        homes["kenji"],
        "show",
        local_post_id(bytes.fromhex(contacts_key(contacts, "kenji", homes, cli)), post.id),
        "--json",
    )
    assert received.code == 0
    assert received.json()["envelope_version"] == 2 and received.json()["forward_secret"] is True
    received_text = cli(
        homes["kenji"], "show", local_post_id(bytes.fromhex(contacts_key(contacts, "kenji", homes, cli)), post.id)
    )
    assert "without forward secrecy" not in received_text.out


def contacts_key(
    contacts: list[dict[str, Any]], name: str, homes: dict[str, Path], cli: Callable[..., Any]
) -> str:
    """Ana's public key, as Kenji's contact list shows it."""
    theirs = cli(homes[name], "contacts", "list", "--json").json()
    return str(next(c["public_key"] for c in theirs if c["name"] == "ana"))
