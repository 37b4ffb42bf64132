"""``tui-sns-relay``: serve the relay and administer invites, credentials and storage.

Every subcommand accepts ``--db URL`` and ``--config FILE`` and honours the
``TUI_SNS_RELAY_*`` environment variables, so admin commands act on the same
database as the server.  Errors are one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from .config import RelayConfig, load_config, parse_db_url, parse_duration
from .errors import ConfigError, RelayError
from .guard import ConnectionGuard, guarded_protocol
from .storage import SHORT_ID_LEN, RelayStorage, new_token, open_storage, token_hash

PROG = "tui-sns-relay"
PROFILE_ENV = "TUI_SNS_RELAY_PROFILE"  # write a cProfile dump of `serve` to this path
_HEX = set("0123456789abcdef")
FILE_HEADROOM = 256  # file handles beyond max_connections: database files, listeners, logs


def _when(timestamp: int | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _hash_or_prefix(text: str) -> str:
    """A short id / full hash stays as given; anything else is a code or credential to hash."""
    lowered = text.strip().lower()
    if SHORT_ID_LEN <= len(lowered) <= 64 and set(lowered) <= _HEX:
        return lowered
    return token_hash(text.strip())


def _open(config: RelayConfig, *, create: bool) -> RelayStorage:
    """Open and migrate the configured database.

    Without ``create``, a SQLite file that does not exist is a :class:`ConfigError` (a mistyped
    ``--db`` must not leave a new empty database behind): only ``serve`` and ``invite create``
    make one.
    """
    location = parse_db_url(config.db)
    if not create and location.kind == "sqlite" and not Path(location.target).exists():
        raise ConfigError(f"no relay database at {location.target} (serve or invite create makes one)")
    storage = open_storage(config.db, pool_size=2)
    try:
        storage.migrate()
    except BaseException:
        storage.close()
        raise
    return storage


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (IPv4 or IPv6 literal or name).

    Raises :class:`ConfigError` with one sentence when the port is taken or the address is unusable.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def cmd_serve(config: RelayConfig, args: argparse.Namespace) -> int:
    # Bind before anything else: a taken port is one line, and no database is created for it.
    sock = _listen(config.host, config.port)
    try:
        return _serve(config, sock)
    finally:
        sock.close()


def _serve(config: RelayConfig, sock: socket.socket) -> int:
    import uvicorn

    from .app import create_app

    app = create_app(config)
    relay = app.state.relay
    guard = ConnectionGuard(
        max_connections=config.max_connections,
        max_per_address=config.max_connections_per_address,
        header_timeout=config.header_timeout,
        max_header_bytes=config.max_header_bytes,
        trusted=relay.trusted,
        limit_log=relay.limit_log,
    )
    _raise_file_limit(config.max_connections + FILE_HEADROOM)
    port = sock.getsockname()[1]
    print(f"{PROG}: serving on http://{config.host}:{port} (read = {config.read})", file=sys.stderr)

    # loop="auto" picks uvloop when installed; the guarded protocol is uvicorn's httptools one
    # (h11 without httptools) with connection caps and a header deadline (guard.py).
    # Forwarded headers are handled by the app's RequestGuard, from trusted_proxies only:
    # uvicorn's own proxy_headers would trust 127.0.0.1 by default.
    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            # End live streams now, so the graceful shutdown does not wait for them (and then
            # cancel them with a traceback); called in the main thread, between bytecodes.
            relay.hub.begin_close()

    config_for_uvicorn = functools.partial(
        uvicorn.Config,
        app,
        host=config.host,
        port=config.port,
        loop="auto",
        http=guarded_protocol(guard),
        access_log=config.access_log,
        log_level="info",
        timeout_graceful_shutdown=3,
        timeout_keep_alive=max(1, round(config.idle_timeout)),
        h11_max_incomplete_event_size=config.max_header_bytes,
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
    )

    def run() -> None:
        _Server(config_for_uvicorn()).run(sockets=[sock])

    profile_path = os.environ.get(PROFILE_ENV)
    if not profile_path:
        run()
        return 0
    # Development aid: profile the event-loop thread (not the storage worker threads) until shutdown.
    import cProfile
    import signal

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(0)

    # uvicorn re-raises SIGTERM after its graceful shutdown; exit normally so the dump is written.
    signal.signal(signal.SIGTERM, _exit)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run()
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)
    return 0


def _raise_file_limit(wanted: int) -> None:
    """Raise the soft open-file limit towards ``wanted`` (never above the hard limit)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


MAX_USES = 1_000_000  # credentials one invite may mint


def _check_arguments(args: argparse.Namespace) -> None:
    """Raise :class:`ConfigError` for a bad ``--uses`` or duration, before any database is opened."""
    uses = getattr(args, "uses", None)
    if uses is not None and not 1 <= uses <= MAX_USES:
        raise ConfigError(f"--uses must be a whole number from 1 to {MAX_USES:,}")
    for name in ("expires", "older_than"):
        value = getattr(args, name, None)
        if value is not None:
            parse_duration(value)


def cmd_invite_create(storage: RelayStorage, args: argparse.Namespace) -> int:
    now = time.time()
    expires_at = None if args.expires is None else int(now) + parse_duration(args.expires)
    code = new_token()
    storage.create_invite(token_hash(code), args.uses, expires_at, now)
    print(f"invite {token_hash(code)[:SHORT_ID_LEN]}: {args.uses} use(s), expires {_when(expires_at)}")
    print(code)
    return 0


def cmd_invite_list(storage: RelayStorage, args: argparse.Namespace) -> int:
    invites = storage.list_invites()
    if args.json:
        print(json.dumps([asdict(i) for i in invites]))
        return 0
    print(f"{'id':<10}{'uses left':>10}  {'expires':<22}{'state'}")
    now = time.time()
    for inv in invites:
        state = "revoked" if inv.revoked else "used up" if inv.uses_left <= 0 else "active"
        if state == "active" and inv.expires_at is not None and inv.expires_at <= now:
            state = "expired"
        print(f"{inv.short_id:<10}{inv.uses_left:>10}  {_when(inv.expires_at):<22}{state}")
    return 0


def _revoke(kind: str, func: Callable[[str], int], given: str) -> int:
    count = func(_hash_or_prefix(given))
    if count == 0:
        raise ConfigError(f"no {kind} matches {given!r}")
    print(f"revoked {count} {kind}(s)")
    return 0


def cmd_invite_revoke(storage: RelayStorage, args: argparse.Namespace) -> int:
    return _revoke("invite", storage.revoke_invite, args.code)


def cmd_credential_list(storage: RelayStorage, args: argparse.Namespace) -> int:
    credentials = storage.list_credentials()
    if args.json:
        print(json.dumps([asdict(c) for c in credentials]))
        return 0
    print(f"{'id':<10}{'created':<22}{'state'}")
    for cred in credentials:
        print(f"{cred.short_id:<10}{_when(cred.created_hour):<22}{'revoked' if cred.revoked else 'active'}")
    return 0


def cmd_credential_revoke(storage: RelayStorage, args: argparse.Namespace) -> int:
    return _revoke("credential", storage.revoke_credential, args.id)


def cmd_stats(storage: RelayStorage, args: argparse.Namespace) -> int:
    stats = storage.stats(time.time())
    if args.json:
        print(json.dumps(asdict(stats)))
        return 0
    print(f"envelopes:   {stats.envelopes} ({stats.bytes} bytes)")
    print(f"credentials: {stats.credentials} ({stats.active_credentials} active)")
    print(f"invites:     {stats.invites} ({stats.usable_invites} usable)")
    return 0


def cmd_prune(storage: RelayStorage, args: argparse.Namespace) -> int:
    deleted = storage.prune(time.time(), parse_duration(args.older_than))
    print(f"deleted {deleted} envelope(s)")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a value that starts with a minus and a digit (``-1d``) is a value, never an
    option, so its validator can say what is wrong with it (no option here starts like that)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", help="database URL: sqlite:///PATH or postgresql://... (env TUI_SNS_RELAY_DB)"
    )
    common.add_argument("--config", help="TOML config file (env TUI_SNS_RELAY_CONFIG)")

    parser: argparse.ArgumentParser = _Parser(
        prog=PROG, description="Invite-only relay for tui-sns sealed envelopes."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
    ) -> argparse.ArgumentParser:
        return group.add_parser(name, parents=[common], help=help, description=help)

    def subgroup(name: str, help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return sub.add_parser(name, help=help, description=help).add_subparsers(
            dest="action", metavar="ACTION", required=True
        )

    json_help = "print JSON instead of text"
    serve = command(sub, "serve", "run the HTTP relay")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8787)")
    serve.add_argument("--read", choices=["anyone", "members"], help="who may read envelopes")
    serve.add_argument(
        "--max-envelope-bytes",
        type=int,
        dest="max_envelope_bytes",
        metavar="N",
        help="largest envelope accepted, in bytes",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        dest="access_log",
        help="log every request with the client address (off by default)",
    )
    serve.set_defaults(handler=None)

    invite = subgroup("invite", "manage invite codes")
    create = command(invite, "create", "create an invite; the code is the last line")
    create.add_argument("--uses", type=int, default=1, help="how many credentials it can mint (default 1)")
    create.add_argument("--expires", help="lifetime, e.g. 30m, 12h, 7d, 2w (default: never)")
    create.set_defaults(handler=cmd_invite_create)
    ilist = command(invite, "list", "list invites by short id")
    ilist.add_argument("--json", action="store_true", help=json_help)
    ilist.set_defaults(handler=cmd_invite_list)
    irevoke = command(invite, "revoke", "revoke an invite by code or short id")
    irevoke.add_argument("code", metavar="CODE", help="the invite code, or its short id from `invite list`")
    irevoke.set_defaults(handler=cmd_invite_revoke)

    cred = subgroup("credential", "manage credentials")
    clist = command(cred, "list", "list credentials by short id")
    clist.add_argument("--json", action="store_true", help=json_help)
    clist.set_defaults(handler=cmd_credential_list)
    crevoke = command(cred, "revoke", "revoke a credential by short id or token")
    crevoke.add_argument(
        "id", metavar="ID", help="the credential's short id (from `credential list`) or token"
    )
    crevoke.set_defaults(handler=cmd_credential_revoke)

    stats = command(sub, "stats", "counts of envelopes, credentials, invites")
    stats.add_argument("--json", action="store_true", help=json_help)
    stats.set_defaults(handler=cmd_stats)

    prune = command(sub, "prune", "delete old and expired envelopes")
    prune.add_argument(
        "--older-than", required=True, dest="older_than", metavar="DURATION", help="their age, e.g. 30d"
    )
    prune.set_defaults(handler=cmd_prune)
    return parser


_FLAG_OPTIONS = ("db", "host", "port", "read", "max_envelope_bytes", "access_log")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tui-sns-relay``; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    flags: dict[str, Any] = {name: getattr(args, name, None) for name in _FLAG_OPTIONS}
    storage: RelayStorage | None = None
    try:
        config = load_config(flags, config_file=args.config)
        _check_arguments(args)
        if args.handler is None:
            return cmd_serve(config, args)
        storage = _open(config, create=args.handler is cmd_invite_create)
        result: int = args.handler(storage, args)
        return result
    except RelayError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if storage is not None:
            storage.close()


if __name__ == "__main__":
    sys.exit(main())
