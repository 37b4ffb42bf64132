"""Which relay URLs point into the user's own machine or network (loopback, private LAN, link-local).

A contact's card may name any host and port. Contacting whatever a card names would let a stranger
make my client send requests to my router, a printer, a cloud metadata address or a service on my own
machine (request forgery). The sync engine therefore asks :func:`private_reason` (and, when it
connects directly, :func:`resolved_private_reason`) about each relay only a contact's card names, and
contacts such a relay only as docs/threat-model.md ("Relays at private addresses") says.

Private means: an IP address that is not globally routable (loopback, RFC 1918 private, link-local,
carrier-grade NAT, unique-local IPv6, unspecified, documentation and other reserved ranges,
multicast), written in any form the system resolver accepts (``127.1``, ``2130706433``, ``0x7f.1``,
IPv4-mapped IPv6), or a name meant only for the local network: one without a dot (``router``),
``localhost`` and names under ``.localhost``, ``.local``, ``.internal``, ``.lan``, ``.home.arpa``,
``.intranet``, ``.corp``, ``.home``, ``.private``. A name that merely resolves to a private address is
caught by :func:`resolved_private_reason`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import urllib.parse

from tui_sns.net.aio import wait_for

ALLOW_ENV = "TUI_SNS_ALLOW_PRIVATE_RELAYS"
RESOLVE_TIMEOUT = 5.0  # s: the longest one relay name's lookup is waited for
LOCAL_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "lan",
    "home.arpa",
    "intranet",
    "corp",
    "home",
    "private",
)
_allow_override: bool | None = None

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def allow_private_relays(allow: bool | None) -> None:
    """Contact relays at private addresses are contacted (``True``), or not (``False``), for the rest
    of this process; ``None`` goes back to ``$TUI_SNS_ALLOW_PRIVATE_RELAYS``. The CLI's
    ``--allow-private-relays`` calls this, so the app's background sync follows it too."""
    global _allow_override
    _allow_override = allow


def private_relays_allowed() -> bool:
    """The flag set by :func:`allow_private_relays`, else ``$TUI_SNS_ALLOW_PRIVATE_RELAYS`` (``1``,
    ``true``, ``yes``, ``on``), else False."""
    if _allow_override is not None:
        return _allow_override
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _host(url: str) -> str:
    try:
        return (urllib.parse.urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _literal(host: str) -> Address | None:
    """``host`` as an IP address if the resolver would read it as one (``127.1`` and ``2130706433``
    are 127.0.0.1 to ``inet_aton``), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _address_reason(address: Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or not address.is_global or address.is_multicast:
        return "a private or reserved address"
    return None


def address_reason(address: str) -> str | None:
    """Why the IP address ``address`` (as a resolver returns it; an IPv6 zone is ignored) is private,
    as :func:`private_reason` judges literal addresses; None when it is globally routable or not an
    address at all."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    return _address_reason(parsed)


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine: a loopback address, ``localhost`` or ``*.localhost``."""
    host = _host(url)
    address = _literal(host)
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback
    return host == "localhost" or host.endswith(".localhost")


def private_reason(url: str) -> str | None:
    """Why ``url`` points into my own machine or network, judged from the URL alone (no lookup), as
    the module docstring says; None when it does not."""
    host = _host(url)
    if not host:
        return None
    address = _literal(host)
    if address is not None:
        return _address_reason(address)
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback address (this machine)"
    if "." not in host:
        return "a name without a domain (a local network name)"
    if any(host == s or host.endswith("." + s) for s in LOCAL_SUFFIXES):
        return "a local network name"
    return None


async def resolved_private_reason(url: str, timeout: float = RESOLVE_TIMEOUT) -> str | None:
    """:func:`private_reason`, else why the addresses ``url``'s host resolves to are private (any one
    of them is enough), else None. A name that does not resolve is None (connecting fails anyway); a
    lookup that takes longer than ``timeout`` seconds is None too. The check is made just before
    connecting; a name whose address changes in between (DNS rebinding) is not caught here
    (docs/threat-model.md)."""
    reason = private_reason(url)
    if reason is not None:
        return reason
    host = _host(url)
    if not host:
        return None
    loop = asyncio.get_running_loop()
    try:
        infos = await wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError, UnicodeError):
        return None
    for _family, _type, _proto, _name, sockaddr in infos:
        try:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            continue
        reason = _address_reason(address)
        if reason is not None:
            return f"a name that resolves to {reason}"
    return None
