"""The one registry of keyboard actions.

Every key the app answers to is listed here once. The registry feeds the ``BINDINGS`` of the app,
the screens and the list widgets (each Binding has an ``id``, so ``keymap.toml`` can remap it), the
Footer, the help screen and the command palette.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

# Where an action applies. "app" works everywhere; "list" is any list (timeline, contacts, circles).
SCOPES: dict[str, str] = {
    "app": "Everywhere",
    "main": "Diary",
    "list": "Lists",
    "compose": "Composer",
    "contacts": "Contacts",
    "circles": "Circles",
    "comments": "Comments",
    "comment": "Comment composer",
    "edit": "Entry editor",
    "personas": "Personas",
    "relays": "Relays",
    "search": "Search",
    "relay-join": "Join a relay",
    "link-device": "Link device",
    "devices": "My devices",
    "join-device": "Join a diary",
}


@dataclass(frozen=True)
class Action:
    id: str  # binding id used by keymap.toml, e.g. "main.compose"
    key: str  # default key(s), comma separated
    action: str  # the Textual action it runs
    description: str  # short: shown in the Footer
    scope: str
    help: str = ""  # longer: tooltip, help screen, command palette
    show: bool = True  # shown in the Footer
    priority: bool = False
    palette: bool = True  # offered in the command palette

    @property
    def long(self) -> str:
        return self.help or self.description

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            priority=self.priority,
            tooltip=self.long,
            id=self.id,
        )


ACTIONS: tuple[Action, ...] = (
    # everywhere
    Action("app.help", "question_mark,f1", "app.show_help", "Help", "app", "Show every key and what it does"),
    Action("app.quit", "ctrl+q", "app.quit", "Quit", "app", "Quit tui-sns", priority=True),
    Action(
        "app.palette",
        "ctrl+p",
        "app.command_palette",
        "Commands",
        "app",
        "Open the command palette (actions, themes)",
        show=False,
        palette=False,
    ),
    # the diary (main screen)
    Action(
        "main.compose", "c", "compose", "Write", "main", "Write a new entry (closed by default: only you)"
    ),
    Action("main.contacts", "p", "contacts", "People", "main", "Contacts: add, verify, remove, my card"),
    Action("main.circles", "o", "circles", "Circles", "main", "Circles: create, rename, delete, members"),
    Action("main.sync", "s", "sync_now", "Sync", "main", "Send and fetch entries now"),
    Action(
        "main.relays",
        "L",
        "relays",
        "Relays",
        "main",
        "Relays: join one with an invite code, leave one, see which answer and when each last synced",
    ),
    Action(
        "main.focus_sidebar",
        "a",
        "focus_sidebar",
        "Audiences",
        "main",
        "Move to the list of audiences (All, circles, Only me)",
        show=False,
    ),
    Action(
        "main.focus_timeline", "t", "focus_timeline", "Timeline", "main", "Move to the timeline", show=False
    ),
    Action("main.focus_reader", "l", "focus_reader", "Read", "main", "Move to the reading pane", show=False),
    Action(
        "main.focus_comments",
        "m",
        "focus_comments",
        "Comments",
        "main",
        "Move to the comments under the entry",
        show=False,
    ),
    Action(
        "main.mark_all_read",
        "R",
        "mark_all_read",
        "All read",
        "main",
        "Mark every unread entry of the current audience read",
    ),
    Action(
        "main.search",
        "slash",
        "search",
        "Search",
        "main",
        "Search titles, bodies and comments in the audience shown (All, a circle, Only me)",
    ),
    Action("main.reply", "r", "reply", "Reply", "main", "Comment on the selected entry"),
    Action("main.edit", "e", "edit_entry", "Edit", "main", "Edit my selected entry (same audience)"),
    Action(
        "main.delete",
        "d,delete",
        "delete_entry",
        "Delete",
        "main",
        "Delete the selected entry (mine: for every reader too)",
    ),
    Action(
        "main.persona",
        "P",
        "switch_persona",
        "Personas",
        "main",
        "Switch persona (a separate identity), or create one",
        show=False,
    ),
    # lists
    Action(
        "list.down",
        "j",
        "cursor_down",
        "Down",
        "list",
        "Next item (also the down arrow)",
        show=False,
        palette=False,
    ),
    Action(
        "list.up",
        "k",
        "cursor_up",
        "Up",
        "list",
        "Previous item (also the up arrow)",
        show=False,
        palette=False,
    ),
    Action("list.top", "g,home", "list_top", "Top", "list", "First item", show=False, palette=False),
    Action("list.bottom", "G,end", "list_bottom", "End", "list", "Last item", show=False, palette=False),
    # composer
    Action(
        "compose.seal",
        "ctrl+s",
        "seal",
        "Seal & send",
        "compose",
        "Seal the entry to the chosen audience and queue it",
        priority=True,
    ),
    Action(
        "compose.editor",
        "ctrl+e",
        "external_editor",
        "$EDITOR",
        "compose",
        "Edit the body in your $EDITOR",
        priority=True,
    ),
    Action(
        "compose.audience",
        "ctrl+a",
        "focus_audience",
        "Audience",
        "compose",
        "Choose who can read it",
        priority=True,
    ),
    Action(
        "compose.back",
        "escape",
        "back",
        "Back (keep draft)",
        "compose",
        "Leave the composer; the draft is kept",
    ),
    # contacts
    Action("contacts.add", "n", "add_contact", "Add", "contacts", "Add a contact by pasting their card"),
    Action(
        "contacts.verify",
        "v",
        "verify",
        "Verify",
        "contacts",
        "Compare the safety number with the selected contact and mark them verified",
    ),
    Action(
        "contacts.remove", "d,delete", "remove_contact", "Remove", "contacts", "Remove the selected contact"
    ),
    Action("contacts.card", "m", "my_card", "My card", "contacts", "Show my contact card and its QR code"),
    Action(
        "contacts.block",
        "b",
        "toggle_block",
        "Block",
        "contacts",
        "Block or unblock the selected contact (blocked: nothing from them, nothing to them)",
    ),
    Action(
        "contacts.mute",
        "u",
        "toggle_mute",
        "Mute",
        "contacts",
        "Mute or unmute the selected contact (muted: their entries leave your timeline)",
    ),
    Action("contacts.requests", "i", "requests", "Requests", "contacts", "Contact requests from strangers"),
    Action(
        "contacts.accept",
        "a",
        "accept_request",
        "Accept",
        "contacts",
        "Accept the selected request (adds them under a name you choose)",
        show=False,
    ),
    Action(
        "contacts.reject",
        "x",
        "reject_request",
        "Reject",
        "contacts",
        "Reject the selected request",
        show=False,
    ),
    Action("contacts.back", "escape", "back", "Back", "contacts", "Back to the diary"),
    # circles
    Action("circles.new", "n", "new_circle", "New", "circles", "Create a circle"),
    Action("circles.rename", "r", "rename_circle", "Rename", "circles", "Rename the selected circle"),
    Action("circles.delete", "d,delete", "delete_circle", "Delete", "circles", "Delete the selected circle"),
    Action(
        "circles.members",
        "e",
        "edit_members",
        "Members",
        "circles",
        "Edit the members of the selected circle",
    ),
    Action("circles.back", "escape", "back", "Back", "circles", "Back to the diary"),
    # comments under the entry in the reading pane
    Action(
        "comments.hide",
        "x",
        "hide_comment",
        "Hide",
        "comments",
        "Hide the selected comment for everyone (on my own entries)",
    ),
    Action(
        "comments.delete",
        "d,delete",
        "delete_comment",
        "Delete mine",
        "comments",
        "Delete my selected comment, for every reader",
    ),
    # the comment composer and the entry editor
    Action("comment.send", "ctrl+s", "send", "Send", "comment", "Seal and send the comment", priority=True),
    Action("comment.cancel", "escape", "cancel", "Cancel", "comment", "Discard the comment"),
    Action("edit.save", "ctrl+s", "save", "Save", "edit", "Save the edit, for every reader", priority=True),
    Action("edit.cancel", "escape", "cancel", "Cancel", "edit", "Leave the entry unchanged"),
    # search
    Action(
        "search.open",
        "ctrl+o",
        "open",
        "Open",
        "search",
        "Open the highlighted result in the diary (enter in the results does too)",
    ),
    Action("search.query", "slash", "focus_query", "Edit search", "search", "Back to the search words"),
    Action("search.back", "escape", "back", "Back", "search", "Back to the diary"),
    # relays
    Action("relays.join", "n", "join_relay", "Join", "relays", "Join a relay with an invite code"),
    Action(
        "relays.leave", "d,delete", "leave_relay", "Leave", "relays", "Leave the selected relay (asks first)"
    ),
    Action("relays.probe", "s", "probe", "Check", "relays", "Check again which relays answer"),
    Action(
        "relays.link_device",
        "v",
        "link_device",
        "Link device",
        "relays",
        "Link a new device to this diary: a code that works once, and its QR code",
    ),
    Action(
        "relays.devices",
        "m",
        "devices",
        "My devices",
        "relays",
        "The devices that share this diary: remove one, or reset the keys",
    ),
    Action(
        "link-device.cancel", "escape", "cancel", "Back", "link-device", "Stop waiting (the code is erased)"
    ),
    Action(
        "devices.remove",
        "d,delete",
        "remove_device",
        "Remove",
        "devices",
        "Remove the selected device (asks first): it reads nothing written afterwards",
    ),
    Action(
        "devices.reset",
        "r",
        "reset_keys",
        "Reset keys",
        "devices",
        "Start new keys on all my devices, removing none (asks first)",
    ),
    Action("devices.back", "escape", "back", "Back", "devices", "Back to the relays"),
    Action("join-device.cancel", "escape", "cancel", "Back", "join-device", "Back to creating a new diary"),
    Action("relays.back", "escape", "back", "Back", "relays", "Back to the diary"),
    Action("relay-join.cancel", "escape", "cancel", "Cancel", "relay-join", "Do not join a relay"),
    # the persona switcher
    Action(
        "personas.new", "n", "new_persona", "New persona", "personas", "Create a persona (a new identity)"
    ),
    Action("personas.cancel", "escape", "cancel", "Cancel", "personas", "Stay with this persona"),
)

BY_ID: dict[str, Action] = {a.id: a for a in ACTIONS}


def actions_for(scope: str) -> list[Action]:
    return [a for a in ACTIONS if a.scope == scope]


# Screens whose Footer starts with "? Help": Textual lists the focused widget's and the screen's keys
# before the app's, so on a narrow terminal the app's Help fell off the end of the footer.
HELP_FIRST = {"main", "compose", "contacts", "circles", "relays", "search"}


def bindings(scope: str) -> list[BindingType]:
    own: list[BindingType] = [a.binding() for a in actions_for(scope)]
    return [BY_ID["app.help"].binding(), *own] if scope in HELP_FIRST else own


def effective_key(action: Action, keymap: dict[str, str]) -> str:
    return keymap.get(action.id, action.key)


def display_key(keys: str) -> str:
    names = {"question_mark": "?", "escape": "esc", "delete": "del", "slash": "/"}
    return " / ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))
