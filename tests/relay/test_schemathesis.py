"""Property-based API conformance: every operation in /openapi.json, no 5xx, responses match the schema."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tui_sns.sync.relay.app import Relay, create_app
from tui_sns.sync.relay.config import RelayConfig
from tui_sns.sync.relay.storage import new_token, token_hash


@pytest.fixture
def relay_app(tmp_path: Path) -> Iterator[Any]:
    config = RelayConfig(
        db=f"sqlite:///{tmp_path / 'relay.db'}",
        max_envelope_bytes=4096,
        write_rate=1000.0,
        write_burst=1000,
        read_rate=1000.0,
        read_burst=1000,
        stream_max_seconds=0.05,
        shards=16,  # so that the shard routes and tag parameters are fuzzed with a real range
    )
    app = create_app(config)
    yield app
    app.state.relay.storage.close()


@pytest.fixture
def credential(relay_app: Any) -> str:
    relay: Relay = relay_app.state.relay
    code, token = new_token(), new_token()
    relay.storage.create_invite(token_hash(code), 1, None, time.time())
    relay.storage.redeem_invite(token_hash(code), token_hash(token), time.time())
    return token


@pytest.fixture
def api_schema(relay_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", relay_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conformance(case: Any, credential: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {credential}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
