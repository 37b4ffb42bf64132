"""``tui-sns relay add/list/remove`` against a real relay, and the card naming my relays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from relay_server import RelayServer, free_port

from tui_sns.crypto.card import decode_card

pytestmark = pytest.mark.slow


def card_relays(cli: Callable[..., Any], home: Any) -> tuple[str, ...]:
    result = cli(home, "card")
    assert result.code == 0, result.err
    return decode_card(result.out.strip()).relays


def test_relay_add_list_remove_and_the_card(
    relay: RelayServer, person: Callable[..., Any], cli: Callable[..., Any]
) -> None:
    session = person("alice")
    home = session.store.home
    session.close()

    bad = cli(home, "relay", "add", relay.url, "--invite", "not-a-real-invite")
    assert bad.code == 1
    assert len(bad.err_lines) == 1 and bad.err_lines[0].startswith("tui-sns: relay "), bad.err
    assert relay.url in bad.err and "Traceback" not in bad.err
    assert cli(home, "relay", "list", "--json").json() == []
    assert card_relays(cli, home) == ()

    nowhere = f"http://127.0.0.1:{free_port()}"
    down = cli(home, "relay", "add", nowhere, "--invite", relay.invite())
    assert down.code == 1 and len(down.err_lines) == 1 and "unreachable" in down.err, down.err
    not_http = cli(home, "relay", "add", "ftp://example.org", "--invite", "x")  # a usage error
    assert not_http.code == 2 and len(not_http.err_lines) == 1, not_http.err
    assert cli(home, "relay", "list", "--json").json() == []

    code = relay.invite()
    added = cli(home, "relay", "add", relay.url + "/", "--invite", code)
    assert added.code == 0, added.err
    assert cli(home, "relay", "list", "--json").json()[0]["url"] == relay.url
    assert relay.url in cli(home, "relay", "list").out
    assert card_relays(cli, home) == (relay.url,)
    used = cli(home, "relay", "add", relay.url, "--invite", code)  # an invite for one use only
    assert used.code == 1 and len(used.err_lines) == 1, used.err

    removed = cli(home, "relay", "remove", relay.url)
    assert removed.code == 0, removed.err
    assert cli(home, "relay", "list", "--json").json() == []
    assert card_relays(cli, home) == ()
    again = cli(home, "relay", "remove", relay.url)
    assert again.code == 1 and len(again.err_lines) == 1, again.err
