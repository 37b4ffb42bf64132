"""My relays: join one with an invite code, list, leave. Their URLs go into the cards I print."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from tui_sns.core.clock import now_iso
from tui_sns.core.errors import UnknownName
from tui_sns.store import relays as relay_store
from tui_sns.store.errors import NotFound
from tui_sns.store.relays import RelayRecord

if TYPE_CHECKING:
    import httpx

    from tui_sns.core.session import Session


class RelayBook:
    def __init__(self, session: Session, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.session = session
        self.store = session.store
        self.transport = transport

    def add(self, url: str, invite_code: str) -> str:
        """Redeem ``invite_code`` at ``url`` and keep the credential in the encrypted store."""
        from tui_sns.net.transport import RelayClient, normalize_url

        url = normalize_url(url)

        async def redeem() -> str:
            async with RelayClient(url, transport=self.transport) as client:
                return await client.redeem(invite_code.strip())

        credential = asyncio.run(redeem())
        with self.store.write():
            relay_store.add_relay(self.store, url, credential, now_iso())
            # my other devices join it too, with this credential and my shard seed there (a
            # ``relay`` op, docs/design-v2.md §8.3): my card names it on every device
            self._tell_devices(
                url, {"credential": credential, "shard": self.session.routes.seed(url), "removed": False}
            )
        return url

    def _tell_devices(self, url: str, fields: dict[str, object]) -> None:
        """Record a ``relay`` op for my other devices (a stored URL not in checked form is not sent)."""
        from tui_sns.core.devices import BadOp

        with contextlib.suppress(BadOp):
            self.session.devices.record("relay", {"url": url}, fields)

    def add_known(self, url: str, credential: str) -> None:
        """Keep a relay whose credential I already hold (from my other device, when linking)."""
        from tui_sns.net.transport import normalize_url

        url = normalize_url(url)
        if url not in self.urls():
            relay_store.add_relay(self.store, url, credential, now_iso())

    def list(self) -> list[RelayRecord]:
        return relay_store.list_relays(self.store)

    def urls(self) -> tuple[str, ...]:
        return tuple(r.url for r in self.list())

    def remove(self, url: str) -> None:
        """Leave ``url`` here and on my other devices (a ``relay`` op). UnknownName if I have no such relay."""
        url = url.strip().rstrip("/")
        try:
            with self.store.write():
                relay_store.remove_relay(self.store, url)
                self._tell_devices(url, {"removed": True})
        except NotFound as exc:
            raise UnknownName(str(exc)) from exc
