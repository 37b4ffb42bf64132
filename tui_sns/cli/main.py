"""Argument parsing and dispatch. Errors become one line on stderr and an exit status."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tui_sns import __version__
from tui_sns.cli import commands as c
from tui_sns.cli.context import Context
from tui_sns.cli.errors import (
    EXIT_ERROR,
    EXIT_USAGE,
    EXIT_WRONG_PASSPHRASE,
    CliError,
    UsageError,
    exit_status,
)

Handler = Callable[[Context], int]

MAX_LIMIT = 1_000_000  # timeline --limit: entries in one listing (no --limit: all of them)
MAX_ID = 2**63 - 1  # a request's number (a SQLite rowid)


def whole_number(option: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``low..high``, else a usage error (exit 2) naming the
    range; never an overflow further in."""

    def convert(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{option} takes a whole number from {low:,} to {high:,}, not {text!r}"
            )
        return value

    return convert


def duration_text(most: int | None = None, too_long: str = "") -> Callable[[str], str]:
    """An argparse ``type``: a duration ``core.durations.parse_duration`` accepts (and, with ``most``,
    at most that many seconds: else ``too_long``), kept as typed; else a usage error (exit 2)."""

    def convert(text: str) -> str:
        from tui_sns.core.durations import parse_duration
        from tui_sns.core.errors import InvalidInput

        try:
            seconds = parse_duration(text).total_seconds()
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if most is not None and seconds > most:
            raise argparse.ArgumentTypeError(too_long)
        return text

    return convert


class Parser(argparse.ArgumentParser):
    """argparse, but a value that starts with a minus and a digit (``-1d``, ``-5``) is a value, never
    an option, so its validator says what is wrong with it (no option starts like that). Python 3.13's
    argparse does the same; subcommands' parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = Parser(
        prog="tui-sns",
        description="A social diary for the terminal: every entry is sealed to exactly its audience.",
    )
    parser.add_argument("--version", action="version", version=f"tui-sns {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, also print its traceback (never local variables); or set TUI_SNS_DEBUG=1",
    )
    parser.add_argument(
        "--home", metavar="DIR", help="identity directory (default: $TUI_SNS_HOME or the user data dir)"
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read the passphrase from FILE (else $TUI_SNS_PASSPHRASE, else a prompt)",
    )
    parser.add_argument(
        "--persona", metavar="NAME", help="act as this persona (a separate identity; default: the main one)"
    )
    parser.add_argument(
        "--proxy",
        metavar="URL",
        help="send all relay traffic through this proxy, e.g. Tor's socks5://127.0.0.1:9050 "
        "(default: $TUI_SNS_PROXY, else none)",
    )
    parser.add_argument(
        "--allow-private-relays",
        action="store_true",
        help="also contact relays that unverified contacts' cards name at loopback, private-network or "
        "link-local addresses (default: $TUI_SNS_ALLOW_PRIVATE_RELAYS, else skipped and named)",
    )
    # --persona is accepted after the command too ("on every command"); SUPPRESS keeps the global value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--persona", metavar="NAME", default=argparse.SUPPRESS, help="act as this persona")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        name: str,
        handler: Handler,
        help: str,
        parent: argparse._SubParsersAction[argparse.ArgumentParser] | None = None,
    ) -> argparse.ArgumentParser:
        p = (parent or sub).add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(handler=handler)
        return p

    def group(name: str, help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return sub.add_parser(name, help=help, description=help).add_subparsers(
            dest="sub", metavar="ACTION", required=True
        )

    def positional(p: argparse.ArgumentParser, dest: str, help: str, **kw: Any) -> None:
        p.add_argument(dest, metavar=dest.upper(), help=help, **kw)

    def json_flag(
        p: argparse.ArgumentParser, help: str = "print JSON (strings exact) instead of text"
    ) -> None:
        p.add_argument("--json", action="store_true", help=help)

    p = command("init", c.cmd_init, "create an identity and its encrypted store")
    p.add_argument("--name", required=True, help="your display name (a pseudonym is fine)")
    p = command("passwd", c.cmd_passwd, "change the passphrase")
    p.add_argument(
        "--new-passphrase-file",
        metavar="FILE",
        help="read the new passphrase from FILE (else $TUI_SNS_NEW_PASSPHRASE, else a prompt)",
    )
    p = command("whoami", c.cmd_whoami, "show my name and public keys")
    json_flag(p, '{"name": ..., "public_keys": [hex, ...]}')
    p = command("card", c.cmd_card, "print my contact card")
    p.add_argument("--name", help="the display name this card shows (default: my name)")

    contacts = group("contacts", "manage contacts")
    p = command("add", c.cmd_contacts_add, "add a contact from their card", contacts)
    positional(p, "card", "their contact card (one line starting tuisns1:)")
    p.add_argument("--name", help="my local name for them (default: the card's name)")
    p = command("list", c.cmd_contacts_list, "list contacts", contacts)
    json_flag(p)
    p = command("remove", c.cmd_contacts_remove, "remove a contact", contacts)
    positional(p, "contact", "the contact's local name")
    p = command(
        "release",
        c.cmd_contacts_release,
        "send what is held for a contact flagged with two different keys (after comparing safety numbers)",
        contacts,
    )
    positional(p, "contact", "the contact's name")
    p = command("verify", c.cmd_contacts_verify, "show the safety number shared with a contact", contacts)
    positional(p, "contact", "the contact's local name")
    p.add_argument("--mark", action="store_true", help="record the contact as verified")
    for action, help_text in (
        ("block", "drop their envelopes unseen, remove them from circles, send them nothing"),
        ("unblock", "stop blocking a contact"),
        ("mute", "hide their entries from my timeline (they still read mine)"),
        ("unmute", "show a muted contact's entries again"),
    ):
        p = command(action, c.cmd_contacts_defense, help_text, contacts)
        positional(p, "contact", "the contact's local name")
        p.set_defaults(defense=action)
    p = command("request", c.cmd_contacts_request, "ask someone who does not know me to add me", contacts)
    positional(p, "card", "their card (they are added as my contact too)")
    p.add_argument("--note", default="", help="a short note shown with the request (at most 500 characters)")
    p.add_argument("--name", help="my local name for them (default: the card's name)")

    requests = group("requests", "contact requests from strangers")
    p = command("list", c.cmd_requests_list, "list pending contact requests", requests)
    json_flag(p)
    p = command("accept", c.cmd_requests_accept, "add the sender of a request as a contact", requests)
    positional(p, "id", "the request's number (from `requests list`)", type=whole_number("ID", 1, MAX_ID))
    p.add_argument("--name", help="my local name for them (default: the card's name)")
    p = command("reject", c.cmd_requests_reject, "drop a contact request", requests)
    positional(p, "id", "the request's number (from `requests list`)", type=whole_number("ID", 1, MAX_ID))

    circles = group("circles", "manage circles")
    p = command("create", c.cmd_circles_create, "create a circle", circles)
    positional(p, "circle", "the new circle's name")
    p = command("add", c.cmd_circles_add, "add contacts to a circle", circles)
    positional(p, "circle", "the circle's name")
    positional(p, "contacts", "contacts' local names", nargs="+")
    p = command(
        "remove", c.cmd_circles_remove, "remove contacts from a circle (future entries only)", circles
    )
    positional(p, "circle", "the circle's name")
    positional(p, "contacts", "contacts' local names", nargs="+")
    p = command("rename", c.cmd_circles_rename, "rename a circle", circles)
    positional(p, "circle", "the circle's name")
    positional(p, "new_name", "its new name")
    p = command("delete", c.cmd_circles_delete, "delete a circle", circles)
    positional(p, "circle", "the circle's name")
    p = command("list", c.cmd_circles_list, "list circles with their members", circles)
    json_flag(p)

    p = command("post", c.cmd_post, "write a diary entry (readable by you alone unless --to is given)")
    p.add_argument(
        "--to", action="append", default=[], metavar="NAME", help="a circle or contact; repeatable"
    )
    p.add_argument("--title", default="", help="the entry's title (default: none)")
    p.add_argument("--body", help="the entry's text (default: read from stdin)")
    p.add_argument(
        "--expires",
        metavar="DURATION",
        type=duration_text(),
        help="delete it everywhere after this long: 30m, 12h, 7d, 2w (at most a year)",
    )
    p = command("edit", c.cmd_edit, "change one of my entries (for its readers too)")
    positional(p, "id", "the entry's id (at least its first 4 characters)")
    p.add_argument("--title", help="the new title")
    p.add_argument("--body", help="the new text (if neither --title nor --body: read from stdin)")
    p = command("delete", c.cmd_delete, "delete an entry (mine: for its readers too)")
    positional(p, "id", "the entry's id (at least its first 4 characters)")
    p = command("comment", c.cmd_comment, "comment on an entry (seen by its audience and author)")
    positional(p, "id", "the entry's id (at least its first 4 characters)")
    p.add_argument("--body", help="the comment's text (default: read from stdin)")
    p = command("uncomment", c.cmd_uncomment, "delete one of my comments, or hide one on my entry")
    positional(p, "comment_id", "the comment's id (as `show` prints it)")
    p.add_argument("--entry", metavar="ID", help="the entry (to hide someone else's comment on my entry)")
    p = command("timeline", c.cmd_timeline, "list the entries I can read, newest first")
    json_flag(p, "print JSON: id, author, title, body, created, audience, unread (exact strings)")
    p.add_argument("--circle", help="only entries sealed to, or written by members of, this circle")
    p.add_argument(
        "--limit", type=whole_number("--limit", 1, MAX_LIMIT), metavar="N", help="at most N entries"
    )
    p.add_argument("--before", metavar="ID", help="only entries older than this one (the next page after it)")
    p = command("search", c.cmd_search, "entries whose title, body or comments hold every word of QUERY")
    positional(p, "query", "words to look for (every one must appear)")
    p.add_argument("--json", action="store_true", help="the same fields as `timeline --json`")
    p.add_argument("--circle", help="only entries sealed to, or written by members of, this circle")
    p = command("show", c.cmd_show, "show one entry and who can read it")
    positional(p, "id", "the entry's id (at least its first 4 characters)")
    p.add_argument(
        "--json", action="store_true", help="timeline's fields plus readers, expires, edited and comments"
    )

    outbox = group("outbox", "envelopes waiting to leave")
    p = command("export", c.cmd_outbox_export, "write the envelopes not exported yet to FILE", outbox)
    positional(p, "file", "the bundle file to write")
    inbox = group("inbox", "envelopes arriving")
    p = command("import", c.cmd_inbox_import, "open the envelopes in FILE that are addressed to me", inbox)
    positional(p, "file", "a bundle file (from `outbox export`)")

    relay = group("relay", "the relays I write to")
    p = command("add", c.cmd_relay_add, "join a relay with an invite code", relay)
    positional(p, "url", "the relay's address, http(s)://HOST[:PORT]")
    p.add_argument(
        "--invite", required=True, metavar="CODE", help="the invite code the relay's operator gave you"
    )
    p = command("list", c.cmd_relay_list, "list my relays", relay)
    json_flag(p)
    p = command("remove", c.cmd_relay_remove, "leave a relay", relay)
    positional(p, "url", "the relay's address, as `relay list` prints it")
    devices = group("devices", "the devices that share this identity")
    p = command("list", c.cmd_devices_list, "list my devices (this one included)", devices)
    json_flag(p)
    p = command(
        "link", c.cmd_devices_link, "print a one-time code that links a new device to this identity", devices
    )
    p.add_argument("--relay", metavar="URL", help="the relay both devices use (default: my first relay)")
    p.add_argument(
        "--timeout",
        default="10m",
        type=duration_text(86400, "a link code works at most one day (--timeout 1d)"),
        help="how long the code works (default 10m; e.g. 30m, 1h; at most 1d)",
    )
    p.add_argument(
        "--hello-in",
        metavar="FILE",
        type=Path,
        help="without a network: the new device's hello file to wait for (with --welcome-out)",
    )
    p.add_argument(
        "--welcome-out",
        metavar="FILE",
        type=Path,
        help="without a network: where to write the sealed welcome file for the new device (with --hello-in)",
    )
    p = command(
        "join", c.cmd_devices_join, "make this (empty) home a device of an existing identity", devices
    )
    positional(p, "code", "the code `devices link` printed (tsl1-…), or the text of its QR code")
    p.add_argument("--relay", metavar="URL", help="the relay `devices link` named (the QR text carries it)")
    p.add_argument(
        "--credential", metavar="TOKEN", help="a credential for reading that relay, if it needs one"
    )
    p.add_argument("--name", help="this device's name (default: the host name)")
    p.add_argument(
        "--hello-out",
        metavar="FILE",
        type=Path,
        help="without a network: write this device's hello file here (with --welcome-in)",
    )
    p.add_argument(
        "--welcome-in",
        metavar="FILE",
        type=Path,
        help="without a network: the welcome file to wait for from the other device (with --hello-out)",
    )
    p = command(
        "remove",
        c.cmd_devices_remove,
        "remove a device of mine: it reads nothing written afterwards (keys reset on the others)",
        devices,
    )
    positional(p, "name", "the device's name (or id), as `devices list` prints it")
    p.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    p.epilog = (
        "A removed device still holds your identity key: it can pretend to be you to your contacts "
        "(their app then flags two different keys announced for you). If it was lost or stolen, the "
        "way out is a new identity: create one, give your contacts its card, tell them in person."
    )
    p = command(
        "reset-keys",
        c.cmd_devices_reset_keys,
        "start a new generation of keys on all my devices (no device removed)",
        devices,
    )
    p.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    p = command("sync", c.cmd_sync, "send my outbox and fetch new envelopes from relays")
    p.add_argument("--watch", action="store_true", help="stay connected and apply envelopes as they arrive")
    p = command("backup", c.cmd_backup, "write an encrypted backup of the whole store (same passphrase)")
    positional(p, "file", "the backup file to write (never overwritten)")
    p.add_argument(
        "--salvage",
        action="store_true",
        help="the store is damaged: copy every readable row into the backup FILE (restore it elsewhere)",
    )
    p = command("restore", c.cmd_restore, "recreate the store from a backup (into an empty home)")
    positional(p, "file", "the backup file to read")
    command("personas", c.cmd_personas, "list my personas (separate identities)")
    p = command("demo", c.cmd_demo, "try the app: three people and a relay in a temporary directory")
    p.description = (
        "Try the app in a terminal: you are Sam, with two friends, Bob and Kenji, who have written to "
        "you, and a relay on this machine, all in a temporary directory removed afterwards. "
        "Every demo identity's passphrase is 'demo'."
    )
    p = command("status", c.cmd_status, "relays, reachability, outbox, last sync, missing entries")
    json_flag(p)
    settings = command(
        "settings",
        c.cmd_settings,
        "show my settings (or one: settings get KEY; change one: settings set KEY VALUE)",
    )
    json_flag(
        settings, "print JSON: require_forward_secrecy (true/false), epoch_length, epoch_grace (seconds)"
    )
    actions = settings.add_subparsers(dest="sub", metavar="[get KEY | set KEY VALUE]")
    p = command("get", c.cmd_settings_get, "print one setting's value", actions)
    positional(p, "key", "require_forward_secrecy, epoch_length or epoch_grace")
    json_flag(p, "print JSON: true/false, or a duration in seconds")
    p = command(
        "set",
        c.cmd_settings_set,
        "change a setting: require_forward_secrecy true|false, epoch_length or epoch_grace DURATION "
        "(1h to 90d, e.g. 12h, 7d, 2w)",
        actions,
    )
    positional(p, "key", "require_forward_secrecy, epoch_length or epoch_grace")
    positional(p, "value", "true or false; a duration such as 12h, 7d, 2w")
    return parser


def _error(message: str, status: int) -> int:
    from tui_sns.core.display import safe_line

    sys.stderr.write(f"tui-sns: {safe_line(message)}\n")
    return status


def _debugging(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("TUI_SNS_DEBUG", "") not in ("", "0")


def _debug_traceback(args: argparse.Namespace, exc: BaseException) -> None:
    """With --debug or TUI_SNS_DEBUG=1: the traceback on stderr, without local variables."""
    if _debugging(args):
        from tui_sns.core.crashlog import format_without_locals
        from tui_sns.core.display import safe_text

        sys.stderr.write(safe_text(format_without_locals(exc)))


def _unexpected(args: argparse.Namespace, ctx: Context | None, exc: Exception) -> int:
    """An error no handler expected: its traceback (without locals) goes to a crash log in the home
    directory, mode 0600; stderr gets one line naming it."""
    from tui_sns.core.crashlog import notice
    from tui_sns.paths import resolve_home

    _debug_traceback(args, exc)
    try:
        home = ctx.home if ctx is not None else resolve_home(args.home)
    except Exception:  # no home to write to: the line alone
        from tui_sns.core.crashlog import cause

        return _error(f"unexpected error: {cause(exc)}", EXIT_ERROR)
    return _error(notice(home, exc, "unexpected error"), EXIT_ERROR)


def _replace_unencodable() -> None:
    """Under a terminal encoding that cannot show everything (LC_ALL=en_US.ISO-8859-1, an emoji in an
    entry), print a replacement character instead of failing with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot be changed
                reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    _replace_unencodable()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.allow_private_relays:
        from tui_sns.net.addresses import allow_private_relays

        allow_private_relays(True)  # for this process: commands, and the app's background sync
        try:
            return _with_proxy(args)
        finally:
            allow_private_relays(None)
    return _with_proxy(args)


def _with_proxy(args: argparse.Namespace) -> int:
    from tui_sns.core.errors import CoreError

    if args.proxy is None:
        return _run(args)
    # --proxy holds for every relay client of this process (commands, and the app's background sync).
    from tui_sns.net.transport import use_proxy

    try:
        use_proxy(args.proxy)
    except CoreError as exc:
        return _error(str(exc), EXIT_USAGE)
    try:
        return _run(args)
    finally:
        use_proxy(None)


NO_TERMINAL = "the app needs a terminal (stdin and stdout are not one): use its commands instead, listed by tui-sns --help"


def _has_terminal() -> bool:
    """Whether stdin and stdout are both terminals (the full-screen app needs both)."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def _check_names(args: argparse.Namespace) -> None:
    """A name given on the command line that the core's name rules refuse (empty, over 100 characters,
    control or bidi characters, spaces at either end, "me" for a contact or circle) is a
    :class:`UsageError` (exit 2), raised before anything is asked, opened or created."""
    from tui_sns.core.errors import InvalidInput
    from tui_sns.core.names import check_display_name, check_name

    rules: dict[Any, tuple[str, Callable[[str, str], str], str]] = {
        c.cmd_init: ("name", check_display_name, "your display"),
        c.cmd_card: ("name", check_display_name, "the card's display"),
        c.cmd_circles_create: ("circle", check_name, "circle"),
        c.cmd_circles_rename: ("new_name", check_name, "circle"),
        c.cmd_contacts_add: ("name", check_name, "contact"),
        c.cmd_contacts_request: ("name", check_name, "contact"),
        c.cmd_requests_accept: ("name", check_name, "contact"),
        c.cmd_devices_join: ("name", check_display_name, "the device's"),
    }
    rule = rules.get(getattr(args, "handler", None))
    if rule is None:
        return
    attribute, check, what = rule
    value = getattr(args, attribute, None)
    if value is not None:
        try:
            check(value, what)
        except InvalidInput as exc:
            raise UsageError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from tui_sns.core.errors import TuiSnsError, WrongPassphrase

    handler = getattr(args, "handler", None)
    if (handler is None or handler is c.cmd_demo) and not _has_terminal():
        return _error(NO_TERMINAL, EXIT_USAGE)  # before any relay, home or file is made
    if handler is None:
        from tui_sns.paths import BadPersonaName, persona_home, resolve_home
        from tui_sns.screens.app import run_app

        try:
            home = persona_home(resolve_home(args.home), args.persona)
        except BadPersonaName as exc:
            return _error(str(exc), EXIT_USAGE)
        try:
            return run_app(home, base=resolve_home(args.home))
        except Exception as exc:  # the app could not start or stop cleanly: never a traceback
            return _unexpected(args, None, exc)
    ctx: Context | None = None
    try:
        _check_names(args)
        ctx = Context(args)
        return int(args.handler(ctx))
    except WrongPassphrase as exc:
        # The key file's AEAD cannot tell a wrong passphrase from a damaged store.key: say both.
        return _error(
            f"{exc or 'wrong passphrase'} (if you are sure of it, store.key may be damaged: restore a backup)",
            EXIT_WRONG_PASSPHRASE,
        )
    except (CliError, TuiSnsError) as exc:
        _debug_traceback(args, exc)
        return _error(str(exc), exit_status(exc))  # by cause: read-only, disk full, damage, wrong key
    except UnicodeDecodeError as exc:  # text piped in that is not in the terminal's encoding
        _debug_traceback(args, exc)
        return _error(
            f"the text given is not valid {exc.encoding} ({exc.reason}): convert it first, "
            "e.g. iconv -f latin1 -t utf-8",
            EXIT_ERROR,
        )
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file named on the command line cannot be written or read
        _debug_traceback(args, exc)
        where = f": {exc.filename}" if exc.filename else ""
        return _error(f"{exc.strerror or exc}{where}", exit_status(exc))
    except Exception as exc:  # not expected: one line and a report without secrets, never locals
        return _unexpected(args, ctx, exc)
    finally:
        if ctx is not None:
            ctx.close()


__all__ = ["EXIT_USAGE", "build_parser", "main"]
