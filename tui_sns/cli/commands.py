"""One function per subcommand. Each takes the Context and returns an exit status."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_sns.cli.context import Context
from tui_sns.cli.errors import CliError, UsageError
from tui_sns.cli.passphrase import read_new_passphrase, read_passphrase
from tui_sns.core.diary import sealing_json, sealing_sentence
from tui_sns.core.display import safe_line, safe_text
from tui_sns.core.epochs import conflict_sentence

if TYPE_CHECKING:
    from tui_sns.sync.engine import SyncEngine


def cmd_init(ctx: Context) -> int:
    from tui_sns.core.errors import IdentityExists
    from tui_sns.core.session import Session

    if Session.exists(ctx.home):
        raise IdentityExists(f"an identity already exists in {ctx.home}: nothing was changed")
    passphrase = read_passphrase(ctx.args.passphrase_file, confirm=True)
    with Session.create(ctx.home, ctx.args.name, passphrase) as session:
        ctx.out(f"Created identity {safe_line(session.name)!r} in {safe_line(ctx.home)}")
        ctx.out("Your contact card (share it only with people you want to hear from):")
        ctx.out(session.contacts.my_card())
    return 0


def cmd_passwd(ctx: Context) -> int:
    session = ctx.session()
    session.change_passphrase(read_new_passphrase(ctx.args.new_passphrase_file))
    ctx.out("Passphrase changed.")
    return 0


def cmd_whoami(ctx: Context) -> int:
    session = ctx.session()
    keys = [k.hex() for k in session.public_keys]
    if ctx.args.json:
        ctx.json({"name": session.name, "public_keys": keys})
    else:
        ctx.out(f"{safe_line(session.name)}  {' '.join(keys)}")
    return 0


def cmd_card(ctx: Context) -> int:
    ctx.out(ctx.session().contacts.my_card(ctx.args.name))
    return 0


def cmd_contacts_add(ctx: Context) -> int:
    book = ctx.session().contacts
    before = {c.name for c in book.list()}
    contact = book.add(ctx.args.card, ctx.args.name)
    name = safe_line(contact.name)
    if contact.name in before:
        relays = safe_line(", ".join(contact.relays) or "none")
        ctx.out(f"Updated contact {name!r} from their newer card (relays: {relays}).")
    else:
        ctx.out(f"Added contact {name!r}. Compare safety numbers: tui-sns contacts verify {name}")
    _flag_private_relays(ctx, contact)
    return 0


def _flag_private_relays(ctx: Context, contact: Any) -> None:
    """Say which relays of a new contact's card will not be contacted, being at private addresses
    (until they are verified: docs/threat-model.md, "Relays at private addresses")."""
    from tui_sns.sync.reach import screen_now

    mine = [(url, None, True, ()) for url in ctx.session().relays.urls()]
    theirs = [
        (url, None, False, (contact.name,))
        for url in contact.relays
        if url not in ctx.session().relays.urls()
    ]
    verified = {contact.name} if contact.verified else set()
    _kept, skipped = screen_now([*mine, *theirs], verified)
    name = safe_line(contact.name)
    for s in skipped:
        ctx.err(
            f"Note: {name}'s card names the relay {safe_line(s.url)}, {s.reason}: it is not contacted "
            f"until you verify {name} (or allow private relays)."
        )


def cmd_contacts_list(ctx: Context) -> int:
    contacts = ctx.session().contacts.list()
    if ctx.args.json:
        ctx.json([c.as_json() for c in contacts])
        return 0
    if not contacts:
        ctx.out("No contacts yet. Add one with: tui-sns contacts add CARD")
    for c in contacts:
        mark = "verified" if c.verified else "unverified"
        circles = safe_line(", ".join(c.circles) or "no circle")
        flags = "".join(f"\t{flag}" for flag, on in (("blocked", c.blocked), ("muted", c.muted)) if on)
        ctx.out(f"{safe_line(c.name)}\t{mark}\t{circles}{flags}")
    held = ctx.session().resets.held()
    for c in contacts:
        if c.prekey_conflict:
            ctx.err(safe_line(conflict_sentence(c.name)))
        if held.get(c.name):
            n = held[c.name]
            ctx.err(
                safe_line(
                    f"{n} envelope{'s are' if n != 1 else ' is'} held for {c.name}: "
                    f"`tui-sns contacts release {c.name}` sends {'them' if n != 1 else 'it'}."
                )
            )
    return 0


def cmd_contacts_release(ctx: Context) -> int:
    sent = ctx.session().resets.release(ctx.args.contact)
    ctx.out(
        f"Released {ctx.args.contact!r}: {sent} held envelope{'s' if sent != 1 else ''} queued "
        "(run `tui-sns sync` to send). The keys held before the conflict stay in use."
    )
    return 0


def cmd_contacts_remove(ctx: Context) -> int:
    ctx.session().contacts.remove(ctx.args.contact)
    ctx.out(f"Removed contact {ctx.args.contact!r}.")
    return 0


def cmd_contacts_verify(ctx: Context) -> int:
    book = ctx.session().contacts
    number = book.safety_number(ctx.args.contact)  # (an unknown name: the error, before any output)
    if ctx.args.mark:
        book.mark_verified(ctx.args.contact)
    ctx.out(f"Safety number with {safe_line(ctx.args.contact)}:")
    ctx.out(number)
    if ctx.args.mark:
        ctx.out(f"Marked {safe_line(ctx.args.contact)!r} as verified.")
    else:
        ctx.out("Compare it with theirs in person or by a call; if equal, run again with --mark.")
    return 0


def cmd_circles_create(ctx: Context) -> int:
    ctx.session().circles.create(ctx.args.circle)
    ctx.out(f"Created circle {ctx.args.circle!r}.")
    return 0


def cmd_circles_add(ctx: Context) -> int:
    ctx.session().circles.add(ctx.args.circle, ctx.args.contacts)
    ctx.out(f"Added {', '.join(ctx.args.contacts)} to {ctx.args.circle!r}.")
    return 0


def cmd_circles_remove(ctx: Context) -> int:
    ctx.session().circles.remove(ctx.args.circle, ctx.args.contacts)
    ctx.out(f"Removed {', '.join(ctx.args.contacts)} from {ctx.args.circle!r} (affects future entries only).")
    return 0


def cmd_circles_rename(ctx: Context) -> int:
    ctx.session().circles.rename(ctx.args.circle, ctx.args.new_name)
    ctx.out(f"Renamed circle {ctx.args.circle!r} to {ctx.args.new_name!r}.")
    return 0


def cmd_circles_delete(ctx: Context) -> int:
    ctx.session().circles.delete(ctx.args.circle)
    ctx.out(f"Deleted circle {ctx.args.circle!r}.")
    return 0


def cmd_circles_list(ctx: Context) -> int:
    circles = ctx.session().circles.list()
    if ctx.args.json:
        ctx.json([{"name": c.name, "members": list(c.members)} for c in circles])
        return 0
    if not circles:
        ctx.out("No circles yet. Create one with: tui-sns circles create NAME")
    for c in circles:
        ctx.out(f"{safe_line(c.name)} ({len(c.members)}): {safe_line(', '.join(c.members) or '-')}")
    return 0


def cmd_post(ctx: Context) -> int:
    body = ctx.args.body
    if body is None:
        if sys.stdin.isatty():
            sys.stderr.write("Write the entry, then press Ctrl-D:\n")
        body = sys.stdin.read()
    expires = None
    if ctx.args.expires is not None:
        from tui_sns.core.durations import parse_duration

        expires = parse_duration(ctx.args.expires)
    result = ctx.session().diary.post(body, title=ctx.args.title or "", to=ctx.args.to, expires=expires)
    if result.audience.only_me and ctx.args.to:
        ctx.err(f"Nobody is in {', '.join(ctx.args.to)}: readable by you alone.")
    elif result.audience.only_me:
        ctx.err("Readable by you alone (no --to given).")
    else:
        ctx.err(result.audience.describe())
        fallback = list(ctx.session().diary.sealing(result.id).not_forward_secret)
        if fallback:  # the composer's line (design-v2 §7)
            from tui_sns.core.diary import not_forward_secret_sentence

            ctx.err(not_forward_secret_sentence(fallback))
            later = ctx.session().diary.handed_over_sentence(fallback)
            if later:  # my v1 sender device seals for them (design-v2 §7)
                ctx.err(later)
    if result.held:
        from tui_sns.core.resets import hold_sentence

        for name in result.held:
            ctx.err(safe_line(hold_sentence(name)))
    ctx.out(result.id)
    return 0


def cmd_timeline(ctx: Context) -> int:
    from tui_sns.core.diary import missing_warning, post_json

    diary = ctx.session().diary
    # Read in keyset pages and written as they are read: memory stays flat in the store's size.
    posts = diary.iter_timeline(circle=ctx.args.circle, before=ctx.args.before, limit=ctx.args.limit)
    if ctx.args.json:
        ctx.json_array(post_json(p) for p in posts)
    else:
        for p in posts:
            who = "me" if p.mine else p.author
            mark = "*" if p.unread else " "  # unread; listing never marks anything read
            text = p.title or (p.body.splitlines()[0][:60] if p.body.splitlines() else "")
            # every field one safe line: a title holding a newline cannot forge a row
            ctx.out(f"{safe_line(p.id)}  {safe_line(p.created)}  {mark} {safe_line(who)}: {safe_line(text)}")
    for name, count in diary.missing():
        ctx.err(missing_warning(name, count))
    return 0


def cmd_search(ctx: Context) -> int:
    """Like ``timeline`` (same lines, same JSON fields), for the entries that match QUERY."""
    from tui_sns.core.diary import post_json

    posts = ctx.session().diary.search(ctx.args.query, circle=ctx.args.circle)
    if ctx.args.json:
        ctx.json([post_json(p) for p in posts])
        return 0
    for p in posts:
        who = "me" if p.mine else p.author
        mark = "*" if p.unread else " "
        text = p.title or (p.body.splitlines()[0][:60] if p.body.splitlines() else "")
        # every field one safe line, as in `timeline`: a title holding a newline cannot forge a row
        ctx.out(f"{safe_line(p.id)}  {safe_line(p.created)}  {mark} {safe_line(who)}: {safe_line(text)}")
    if not posts:
        ctx.err(f"No entry holds {safe_line(ctx.args.query)!r}.")
    return 0


def cmd_show(ctx: Context) -> int:
    diary = ctx.session().diary
    post = diary.get(ctx.args.id)
    # Everything is read before anything is printed or marked: an error comes before any output.
    comments = ctx.session().comments.list(post.id)
    sealing = diary.sealing(post.id)
    diary.mark_read([post.id])  # shown: read (listing with `timeline` never marks anything)
    if ctx.args.json:
        from tui_sns.core.diary import post_json

        shown = post_json(diary.get(post.id))  # as `timeline --json`, now read
        shown.update(
            readers=list(post.readers) if post.mine and post.readers is not None else None,
            expires=post.expires,
            edited=post.edited,
            comments=[c.as_json() for c in comments],
        )
        shown.update(sealing_json(post, sealing))
        ctx.json(shown)
        return 0
    ctx.out(safe_line(post.title) if post.title else "(untitled)")
    who = "me" if post.mine else post.author
    ctx.out(f"by {safe_line(who)} on {safe_line(post.created)}  [{safe_line(post.id)}]")
    if post.mine:
        readers = safe_line(", ".join(post.readers or ()))
        ctx.out(f"Readable by: you{', ' + readers if readers else ' alone'}")
    sentence = sealing_sentence(post, sealing)
    if sentence:
        ctx.out(safe_line(sentence))
    if post.expires:
        ctx.out(f"Expires: {safe_line(post.expires)}")
    if post.claimed:
        ctx.out(
            f"Claimed time: {safe_line(post.claimed)} (later than its arrival: shown at the arrival time)"
        )
    if post.edited:
        ctx.out(f"Edited: {safe_line(post.edited)}")
    ctx.out("")
    ctx.out(safe_text(post.body))
    if comments:
        ctx.out("")
        ctx.out(f"Comments ({len(comments)}):")
        for comment in comments:
            ctx.out(
                f"  [{safe_line(comment.id)}] {safe_line(comment.author)} on {safe_line(comment.created)}:"
            )
            if comment.warning:
                ctx.out(f"    (warning: {safe_line(comment.warning)})")
            for line in safe_text(comment.body).split("\n"):
                ctx.out(f"    {line}")
    return 0


def _text(ctx: Context, given: str | None, what: str) -> str:
    if given is not None:
        return given
    if sys.stdin.isatty():
        sys.stderr.write(f"Write the {what}, then press Ctrl-D:\n")
    return sys.stdin.read()


def cmd_edit(ctx: Context) -> int:
    title, body = ctx.args.title, ctx.args.body
    if title is None and body is None:
        body = _text(ctx, None, "new text")
    post = ctx.session().diary.edit(ctx.args.id, title=title, body=body)
    ctx.out(f"Edited {post.id} (its readers get the change on their next sync).")
    return 0


def cmd_delete(ctx: Context) -> int:
    diary = ctx.session().diary
    post = diary.get(ctx.args.id)
    diary.delete(post.id)
    if post.mine:
        ctx.out(f"Deleted {post.id}, here and (on their next sync) for its readers.")
    else:
        ctx.out(f"Deleted {post.id} from this device.")
    return 0


def cmd_comment(ctx: Context) -> int:
    comment = ctx.session().comments.add(ctx.args.id, _text(ctx, ctx.args.body, "comment"))
    ctx.out(comment.id)
    return 0


def cmd_uncomment(ctx: Context) -> int:
    comments = ctx.session().comments
    if ctx.args.entry is not None:
        comments.hide(ctx.args.entry, ctx.args.comment_id)
        ctx.out(f"Hid comment {ctx.args.comment_id} for everyone who reads the entry.")
    else:
        comments.delete(ctx.args.comment_id)
        ctx.out(f"Deleted your comment {ctx.args.comment_id}.")
    return 0


def cmd_contacts_defense(ctx: Context) -> int:
    book = ctx.session().contacts
    action = ctx.args.defense
    getattr(book, action)(ctx.args.contact)
    done = {
        "block": "Blocked {!r}: their envelopes are dropped, they left your circles, they get nothing from you.",
        "unblock": "Unblocked {!r} (add them back to circles yourself if you want).",
        "mute": "Muted {!r}: their entries are hidden from your timeline.",
        "unmute": "Unmuted {!r}.",
    }[action]
    ctx.out(done.format(ctx.args.contact))
    return 0


def cmd_contacts_request(ctx: Context) -> int:
    contact = ctx.session().contacts.request(ctx.args.card, ctx.args.note, ctx.args.name)
    ctx.out(
        f"Queued a contact request to {safe_line(contact.name)!r} (sent on the next sync; they see it only if they "
        "read one of your relays). They are your contact now."
    )
    _flag_private_relays(ctx, contact)
    return 0


def cmd_requests_list(ctx: Context) -> int:
    requests = ctx.session().requests.list()
    if ctx.args.json:
        ctx.json([r.as_json() for r in requests])
        return 0
    if not requests:
        ctx.out("No pending requests.")
    for r in requests:
        note = f"\t{safe_line(r.note)}" if r.note else ""
        ctx.out(f"{r.id}\t{safe_line(r.card_name)}\t{safe_line(r.received)}{note}")
    return 0


def cmd_requests_accept(ctx: Context) -> int:
    contact = ctx.session().requests.accept(ctx.args.id, ctx.args.name)
    name = safe_line(contact.name)
    ctx.out(f"Added contact {name!r}. Compare safety numbers: tui-sns contacts verify {name}")
    _flag_private_relays(ctx, contact)
    return 0


def cmd_requests_reject(ctx: Context) -> int:
    ctx.session().requests.reject(ctx.args.id)
    ctx.out(f"Rejected request {ctx.args.id}.")
    return 0


def cmd_outbox_export(ctx: Context) -> int:
    count = ctx.session().exchange.export_outbox(Path(ctx.args.file))
    ctx.out(f"Exported {count} envelope{'s' if count != 1 else ''} to {ctx.args.file}")
    return 0


def cmd_inbox_import(ctx: Context) -> int:
    from tui_sns.core.inbox import expired_warnings, refused_requests_line

    report = ctx.session().exchange.import_inbox(Path(ctx.args.file))
    for line in expired_warnings(report.expired):
        ctx.err(line)
    lost = ctx.session().epochs.key_deleted_report(report.key_deleted)
    if lost:
        ctx.err(safe_line(lost))
    parts = [
        f"{count} {outcome.value}"
        for outcome, count in sorted(report.outcomes.items(), key=lambda i: i[0].value)
    ]
    ctx.out(
        f"Imported {report.stored} new entr{'y' if report.stored == 1 else 'ies'}"
        + (f" ({', '.join(parts)})" if parts else "")
    )
    refused = refused_requests_line(report.kinds)
    if refused:
        ctx.out(f"{refused}.")
    return 0


def cmd_relay_add(ctx: Context) -> int:
    url = _relay_arg(ctx.args.url)  # (before the passphrase is asked)
    url = ctx.session().relays.add(url, ctx.args.invite)
    ctx.out(f"Joined relay {safe_line(url)}. Your card now names it: tui-sns card")
    return 0


def cmd_relay_list(ctx: Context) -> int:
    relays = ctx.session().relays.list()
    if ctx.args.json:
        ctx.json([{"url": r.url, "added": r.added} for r in relays])
        return 0
    if not relays:
        ctx.out("No relays. Join one with: tui-sns relay add URL --invite CODE")
    for r in relays:
        ctx.out(f"{safe_line(r.url)}\tjoined {safe_line(r.added)}")
    return 0


def cmd_relay_remove(ctx: Context) -> int:
    ctx.session().relays.remove(ctx.args.url)
    ctx.out(f"Left relay {ctx.args.url}.")
    return 0


def cmd_devices_list(ctx: Context) -> int:
    devices = ctx.session().devices.list()
    if ctx.args.json:
        ctx.json([d.as_json() for d in devices])
        return 0
    conflict = ctx.session().resets.conflict()
    if conflict is not None:  # design-v2 §10.2: the person is asked
        ctx.err(safe_line(conflict.question()))
    left_out = ctx.session().resets.left_out_sentence()
    if left_out is not None:  # design-v2 §10: this device was removed
        ctx.err(safe_line(left_out))
    for d in devices:
        removed = f"removed {safe_line(d.removed)}" if d.removed else ""
        marks = [m for m, on in (("this device", d.this), (removed, bool(d.removed))) if on]
        seen = f"\tlast seen {safe_line(d.last_seen)}" if d.last_seen and not d.this else ""
        extra = f"\t({', '.join(marks)})" if marks else ""
        ctx.out(f"{safe_line(d.name)}\t{d.devid}\tadded {safe_line(d.added)}{seen}{extra}")
    return 0


def _confirmed(ctx: Context, question: str) -> bool:
    """``--yes``, or a "y" typed at a terminal; without a terminal and without ``--yes``: UsageError."""
    if ctx.args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError("this cannot be undone: add --yes to do it without a terminal to ask on")
    sys.stdout.write(question + " [y/N] ")
    sys.stdout.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _reset_done(ctx: Context, result: Any) -> None:
    if result.sent_to:
        devices = "your other devices switch to them at their next sync, and your contacts at theirs"
    else:
        devices = "there is no other device of yours to tell; your contacts switch to them at their next sync"
    told = " and tell the removed device that it was removed" if result.removed else ""
    ctx.out(
        f"Your keys were reset (generation {result.generation}): {devices}. "
        f"Run `tui-sns sync` now to send the new keys{told}."
    )


def cmd_devices_remove(ctx: Context) -> int:
    from tui_sns.core.resets import LOST_DEVICE_ADVICE

    session = ctx.session()
    name = ctx.args.name
    mine = session.devices.this_device()
    if name in (mine.name, mine.devid.hex()):
        raise CliError(
            f"{safe_line(name)!r} is this device: remove it from another of your devices "
            "(or reset the keys here with `tui-sns devices reset-keys`)"
        )
    question = (
        f"Remove {safe_line(name)!r}? It will read nothing written from now on, and every other device "
        "of yours switches to new keys."
    )
    if not _confirmed(ctx, question):
        ctx.err("Nothing removed.")
        return 1
    result = session.resets.remove(name)
    ctx.out(f"Removed {safe_line(name)!r}.")
    _reset_done(ctx, result)
    ctx.out(LOST_DEVICE_ADVICE)
    return 0


def cmd_devices_reset_keys(ctx: Context) -> int:
    session = ctx.session()
    if not _confirmed(ctx, "Start a new generation of keys on every device of yours?"):
        ctx.err("Nothing changed.")
        return 1
    _reset_done(ctx, session.resets.reset_keys())
    return 0


def _link_timeout(text: str) -> int:
    """``--timeout`` in seconds (checked by the parser: a duration of at most a day)."""
    from tui_sns.core.durations import parse_duration

    return int(parse_duration(text).total_seconds())


def _relay_arg(url: str) -> str:
    """A relay URL given on the command line, normalised; a malformed one is a usage error (exit 2),
    raised before anything is asked or done."""
    from tui_sns.core.errors import NetworkError
    from tui_sns.net.transport import normalize_url

    try:
        return normalize_url(url)
    except NetworkError as exc:
        raise UsageError(str(exc)) from exc


def _confirm_same() -> bool:
    """Read the answer to a [y/N] question on standard input: y/yes → True, n/no → False ("the strings differ");
    end of input, an empty line or anything else raises LinkAborted ("not confirmed")."""
    from tui_sns.core.linking import LinkAborted

    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        answer = ""
    word = answer.strip().lower()
    if word in ("y", "yes"):
        return True
    if word in ("n", "no"):
        return False
    raise LinkAborted("not confirmed (answer y to link): nothing was linked; the code is erased")


def _file_pair(ctx: Context, first: str, second: str) -> tuple[Path, Path] | None:
    a, b = getattr(ctx.args, first), getattr(ctx.args, second)
    if a is None and b is None:
        return None
    if a is None or b is None:
        raise UsageError(f"--{first.replace('_', '-')} and --{second.replace('_', '-')} go together")
    return Path(a), Path(b)


def cmd_devices_link(ctx: Context) -> int:
    from tui_sns.core.linking import host_link, host_link_files

    files = _file_pair(ctx, "hello_in", "welcome_out")
    if files is not None and ctx.args.relay is not None:
        raise UsageError("--relay or --hello-in/--welcome-out: a link goes through a relay or through files")
    given = _relay_arg(ctx.args.relay) if ctx.args.relay is not None else None
    session = ctx.session()
    timeout = _link_timeout(ctx.args.timeout)

    def confirm(hello: Any) -> bool:
        ctx.out(
            f"{safe_line(hello.name)!r} wants to join; it shows {hello.sas_shown}. Is that the same? [y/N] "
        )
        return _confirm_same()

    if files is not None:
        hello_in, welcome_out = files

        def show_file_code(code: Any) -> None:
            ctx.out("Link code (it works once, for the next " + ctx.args.timeout + "):")
            ctx.out(f"  {code.text}")
            ctx.out("On the new device run:")
            ctx.out(
                f"  tui-sns --home NEW_HOME devices join {code.text} --hello-out {safe_line(str(hello_in))} "
                f"--welcome-in {safe_line(str(welcome_out))}"
            )
            ctx.out(f"Waiting for {safe_line(str(hello_in))}…")

        hello = host_link_files(
            session,
            hello_in,
            welcome_out,
            timeout,
            show_file_code,
            confirm,
            note=lambda t: ctx.err(safe_line(t)),
        )
        ctx.out(
            f"Wrote {safe_line(str(welcome_out))} for {safe_line(hello.name)!r} ({hello.devid.hex()}): carry it "
            "to the new device. It is sealed for that device alone; delete it once the new device is linked."
        )
        return 0

    relays = {r.url: r.credential for r in session.relays.list()}
    url = given or next(iter(relays), None)
    if url is None:
        raise CliError(
            "join a relay first (tui-sns relay add URL --invite CODE), or name one with --relay URL "
            "(without a network: --hello-in FILE --welcome-out FILE)"
        )
    url = url.rstrip("/")
    credential = relays.get(url)

    def show(code: Any, qr: str) -> None:
        ctx.out("Link code (it works once, for the next " + ctx.args.timeout + "):")
        ctx.out(f"  {code.text}")
        ctx.out("On the new device run:")
        ctx.out(f"  tui-sns --home NEW_HOME devices join {code.text} --relay {safe_line(url)}")
        ctx.out("Waiting for the new device…")

    hello = host_link(session, url, credential, timeout, show, confirm)
    ctx.out(f"Linked {safe_line(hello.name)!r} ({hello.devid.hex()}): it now has this diary.")
    return 0


def cmd_devices_join(ctx: Context) -> int:
    from tui_sns.core.devices import default_device_name
    from tui_sns.core.errors import IdentityExists
    from tui_sns.core.linking import join_link, join_link_files, parse_join_code
    from tui_sns.core.session import Session

    if Session.exists(ctx.home):
        raise IdentityExists(
            f"an identity already exists in {ctx.home}: join into an empty home (--home NEW)"
        )
    files = _file_pair(ctx, "hello_out", "welcome_in")
    given = _relay_arg(ctx.args.relay) if ctx.args.relay is not None else None
    code, qr_relay, qr_credential = parse_join_code(ctx.args.code)
    relay = given or qr_relay
    if relay is None and files is None:
        raise UsageError(
            "name the relay `devices link` printed: --relay URL (without a network: --hello-out FILE "
            "--welcome-in FILE)"
        )
    credential = ctx.args.credential or qr_credential
    name = ctx.args.name or default_device_name()
    passphrase = read_passphrase(ctx.args.passphrase_file, confirm=True)

    def report(taken: Any) -> None:
        problems = taken.problems()
        if problems:
            ctx.err(problems)

    if files is not None:
        hello_out, welcome_in = files
        ctx.out(
            f"Carry {safe_line(str(hello_out))} to the other device; waiting for {safe_line(str(welcome_in))}…"
        )

        def confirm_sas(sas: str) -> bool:
            ctx.out(f"This device shows {sas}. Does the other device show the same? [y/N] ")
            return _confirm_same()

        session = join_link_files(
            ctx.home,
            passphrase,
            code,
            hello_out,
            welcome_in,
            name,
            confirm_sas,
            note=lambda t: ctx.err(safe_line(t)),
            on_report=report,
        )
    else:
        assert relay is not None
        ctx.out("Looking for the other device…")

        def show(sas: str) -> None:
            ctx.out(
                f"This device shows {sas}. Check that the other device shows the same, and confirm there."
            )

        session = join_link(ctx.home, passphrase, code, relay, credential, name, show, on_report=report)
    with session:
        ctx.out(f"Linked: this is now {safe_line(name)!r}, a device of {safe_line(session.name)!r}.")
    return 0


def cmd_sync(ctx: Context) -> int:
    from tui_sns.core.diary import missing_warning
    from tui_sns.core.inbox import describe_kinds, expired_warnings, refused_requests_line
    from tui_sns.sync.engine import SyncEngine
    from tui_sns.sync.progress import progress_reporter

    session = ctx.session()
    if ctx.args.watch:
        return _watch(ctx, SyncEngine(session))
    with progress_reporter(sys.stderr) as progress:
        report = SyncEngine(session, progress=progress).sync_once()
    for error in report.errors:
        ctx.err(f"tui-sns: {error}")
    for note in report.notes:
        ctx.err(f"tui-sns: {note}")
    for warning in report.warnings:
        ctx.err(f"tui-sns: {safe_line(warning)}")
    ctx.out(
        f"Sent {report.pushed}, fetched {report.pulled}, "
        f"{len(report.new_post_ids)} new entr{'y' if len(report.new_post_ids) == 1 else 'ies'}."
    )
    ctx.out(f"Arrived: {describe_kinds(report.received.kinds)}.")
    refused = refused_requests_line(report.received.kinds)
    if refused:
        ctx.out(f"{refused}.")
    for line in expired_warnings(report.received.expired):
        ctx.err(line)
    from tui_sns.core.resets import device_warnings

    for line in device_warnings(report.received.device_warnings):
        ctx.err(f"Warning: {line}")
    left_out = session.resets.left_out_sentence()
    if left_out is not None:  # design-v2 §10: this device was removed (said at every sync)
        ctx.err(safe_line(left_out))
    lost = session.epochs.key_deleted_report(report.received.key_deleted)
    if lost:
        ctx.err(safe_line(lost))
    for name, count in session.diary.missing():
        ctx.err(missing_warning(name, count))
    # Anything that could not be sent or fetched is a failure (the outbox keeps what was not sent).
    return 1 if report.errors else 0


def _watch(ctx: Context, engine: SyncEngine) -> int:
    import asyncio

    from tui_sns.core.inbox import refused_requests_line
    from tui_sns.sync.engine import SyncReport

    def show(report: SyncReport) -> None:
        for error in report.errors:
            ctx.err(f"tui-sns: {error}")
        for note in report.notes:
            ctx.err(f"tui-sns: {note}")
        for warning in report.warnings:
            ctx.err(f"tui-sns: {safe_line(warning)}")
        from tui_sns.core.resets import device_warnings

        for line in device_warnings(report.received.device_warnings):
            ctx.err(f"Warning: {line}")
        refused = refused_requests_line(report.received.kinds)
        if refused:
            ctx.out(refused)
            sys.stdout.flush()
        if report.new_post_ids:
            ctx.out(f"{len(report.new_post_ids)} new entr{'y' if len(report.new_post_ids) == 1 else 'ies'}")
            sys.stdout.flush()
        if report.pushed:
            ctx.out(f"sent {report.pushed}")
            sys.stdout.flush()

    sys.stderr.write("Watching relays; press Ctrl-C to stop.\n")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(engine.watch(show))
    return 0


def cmd_status(ctx: Context) -> int:
    from tui_sns.core.diary import missing_warning
    from tui_sns.sync.engine import SyncEngine

    engine = SyncEngine(ctx.session())
    status = engine.status()
    if ctx.args.json:
        ctx.json(status.as_json())
        return 0
    if not status.relays:
        ctx.out("Relays: none (tui-sns relay add URL --invite CODE)")
    for r in status.relays:
        state = _probe_words(r.state, r.http_status, r.reachable, r.skipped)
        if r.state == "unreachable" and r.detail:
            state += f" ({safe_line(r.detail)})"
        whose = "mine" if r.mine else "contacts': " + safe_line(", ".join(r.named_by))
        details = [f"last successful sync {safe_line(r.last_ok or 'never')}"]
        # (the last sync's error only when it says more than the probe just did: the reason once)
        said = r.state == "unreachable" and bool(r.detail) and (r.detail or "") in (r.error or "")
        if r.error and r.state != "skipped" and not said:
            details.append(f"last error: {safe_line(r.error)}")
        if r.retry_in is not None:
            details.append(f"retrying in {r.retry_in} s")
        ctx.out(f"Relay {safe_line(r.url)} ({whose}): {state}; " + "; ".join(details))
    ctx.out(f"Outbox: {status.outbox} envelope{'s' if status.outbox != 1 else ''} waiting")
    left_out = ctx.session().resets.left_out_sentence()
    if left_out is not None:  # design-v2 §10: this device was removed
        ctx.out(safe_line(left_out))
    which = (
        "Last successful sync with my relays"
        if any(r.mine for r in status.relays)
        else "Last successful sync"
    )
    last = f"{which}: {safe_line(status.last_sync or 'never')}"
    if status.last_attempt and status.last_attempt != status.last_sync:
        last += f" (last attempt {safe_line(status.last_attempt)} failed)"
    ctx.out(last)
    for name, count in status.missing:
        ctx.out(safe_line(missing_warning(name, count)))
    for name, seq in status.chain_breaks:
        ctx.out(
            f"Envelope {seq} from {safe_line(name)} does not follow on from the one before it "
            "(forked or replaced)"
        )
    for warning in engine.take_warnings():
        ctx.out(safe_line(warning))
    return 0


def _probe_words(state: str | None, http_status: int | None, reachable: bool | None, why: str | None) -> str:
    """A relay's state in `status`: what its probe found, in words."""
    if state == "skipped":
        return (
            f"not contacted: it is {safe_line(why or 'at a private address')} and no contact naming it "
            "is verified (verify one, or use --allow-private-relays)"
        )
    if state == "error":
        return f"answering with an error (HTTP {http_status})" if http_status else "answering garbage"
    if state == "refused":
        return f"reachable, but it refuses my credential (HTTP {http_status or 401})"
    if state is not None:
        return state  # reachable, unreachable
    return {True: "reachable", False: "unreachable", None: "unknown"}[reachable]


SETTINGS = ("require_forward_secrecy", "epoch_length", "epoch_grace")
_SETTING_HELP = {
    "require_forward_secrecy": "never seal an entry to a reader whose app has sent no current key",
    "epoch_length": "how long each of my keys is used (from the next epoch on)",
    "epoch_grace": "how long a used key is kept for late envelopes before it is erased",
}


def _duration_words(seconds: int) -> str:
    """Seconds as `settings set` takes them back: 1w, 3d, 36h or 90m (the largest whole unit)."""
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _settings(ctx: Context) -> dict[str, Any]:
    epochs = ctx.session().epochs
    length, grace = epochs.schedule()
    return {
        "require_forward_secrecy": epochs.require_forward_secrecy,
        "epoch_length": length,
        "epoch_grace": grace,
    }


def cmd_settings(ctx: Context) -> int:
    values = _settings(ctx)
    if ctx.args.json:
        ctx.json(values)  # durations in seconds
        return 0
    for key in SETTINGS:
        value = values[key]
        shown = ("true" if value else "false") if isinstance(value, bool) else _duration_words(int(value))
        ctx.out(f"{key}\t{shown}\t{_SETTING_HELP[key]}")
    return 0


def _setting_value(key: str, text: str) -> bool | int:
    """The value of setting ``key`` typed as ``text`` (true/false; a duration of 1 hour to 90 days);
    UsageError (exit 2) with a sentence for an unknown key or a bad value."""
    from tui_sns.core.durations import DurationOutOfRange, parse_duration
    from tui_sns.core.epochs import MAX_SCHEDULE, MIN_SCHEDULE
    from tui_sns.core.errors import InvalidInput

    if key == "require_forward_secrecy":
        word = text.strip().lower()
        if word not in ("true", "false"):
            raise UsageError(f"require_forward_secrecy is true or false, not {text!r}")
        return word == "true"
    if key in ("epoch_length", "epoch_grace"):
        out_of_range = UsageError(
            f"{key} is a duration from 1 hour to 90 days (e.g. 12h, 7d, 2w), not {text!r}"
        )
        try:
            seconds = int(parse_duration(text).total_seconds())
        except DurationOutOfRange:
            raise out_of_range from None
        except InvalidInput as exc:
            raise UsageError(f"{key}: {exc}") from exc
        if not MIN_SCHEDULE <= seconds <= MAX_SCHEDULE:
            raise out_of_range
        return seconds
    raise _unknown_setting(key)


def _unknown_setting(key: str) -> UsageError:
    return UsageError(f"unknown setting {key!r}: the settings are {', '.join(SETTINGS)}")


def cmd_settings_get(ctx: Context) -> int:
    """One setting's value: as `settings` shows it, or with --json as `settings --json` does."""
    key = ctx.args.key
    if key not in SETTINGS:
        raise _unknown_setting(key)  # (before the passphrase is asked)
    value = _settings(ctx)[key]
    if ctx.args.json:
        ctx.json(value)
    elif isinstance(value, bool):
        ctx.out("true" if value else "false")
    else:
        ctx.out(_duration_words(int(value)))
    return 0


def cmd_settings_set(ctx: Context) -> int:
    from tui_sns.core.errors import InvalidInput

    key = ctx.args.key
    value = _setting_value(key, ctx.args.value)  # (before the passphrase is asked)
    epochs = ctx.session().epochs
    try:  # the core setters: they check again, and tell my other devices
        if key == "require_forward_secrecy":
            epochs.set_require_forward_secrecy(bool(value))
        elif key == "epoch_length":
            epochs.set_schedule(length=int(value))
        else:
            epochs.set_schedule(grace=int(value))
    except InvalidInput as exc:
        raise UsageError(str(exc)) from exc
    if isinstance(value, bool):
        ctx.out(f"require_forward_secrecy is now {'true' if value else 'false'}.")
    else:
        ctx.out(
            f"{key} is now {_duration_words(value)} (from the next epoch: the current one's times are "
            "already with your contacts)."
        )
    return 0


def cmd_demo(ctx: Context) -> int:
    from tui_sns.demo import run_demo

    return run_demo()


def cmd_backup(ctx: Context) -> int:
    target = Path(ctx.args.file)
    if target.exists():  # a typo must never replace the only good backup
        raise CliError(f"{ctx.args.file} already exists: nothing was written (choose another name)")
    if not target.parent.is_dir():
        raise CliError(f"{target.parent} is not a directory: nothing was written")
    passphrase = read_passphrase(ctx.args.passphrase_file)
    if ctx.args.salvage:
        return _salvage(ctx, passphrase)
    session = ctx.session(passphrase)
    session.backup(Path(ctx.args.file), passphrase)
    ctx.out(f"Wrote an encrypted backup to {ctx.args.file} (it opens with your current passphrase).")
    return 0


def _salvage(ctx: Context, passphrase: str) -> int:
    from tui_sns.core.session import Session

    report = Session.salvage(ctx.home, passphrase, Path(ctx.args.file))
    dropped = sum(report.dropped.values())
    ctx.out(
        f"Salvaged {report.entries} entries ({report.rows} rows in all) into {ctx.args.file}, an encrypted "
        "backup that opens with your current passphrase."
    )
    if report.damaged_tables or dropped:
        ctx.out(
            f"Rows on damaged pages were left behind (in: {', '.join(report.damaged_tables) or '-'}); "
            f"{dropped} readable rows that named a lost row were dropped."
        )
    ctx.out(f"Restore it into an empty home: tui-sns --home NEW_DIR restore {ctx.args.file}")
    return 0


def cmd_restore(ctx: Context) -> int:
    from tui_sns.core.errors import IdentityExists
    from tui_sns.core.session import Session

    if Session.exists(ctx.home):
        raise IdentityExists(f"an identity already exists in {ctx.home}: nothing was changed")
    Session.restore(ctx.home, Path(ctx.args.file), read_passphrase(ctx.args.passphrase_file))
    ctx.out(f"Restored the store into {ctx.home}. Run `tui-sns sync` to continue where it left off.")
    ctx.out(
        "Backups carry no epoch keys (forward secrecy): this store starts new keys and announces them to "
        "your contacts at the next sync; envelopes sealed to your old keys that have not arrived yet "
        "cannot be opened here."
    )
    return 0


def cmd_personas(ctx: Context) -> int:
    from tui_sns.core.session import Session
    from tui_sns.paths import list_personas

    if Session.exists(ctx.base):
        ctx.out("(main)")
    for name in list_personas(ctx.base):
        ctx.out(name)
    return 0
