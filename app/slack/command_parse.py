"""Parse `/invites …` text strictly: every mistake gets a precise sentence, never a guess."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from app.slack.blocks import escape

USAGE_LINES = {
    "list": "`/invites` or `/invites list [workspace]` — pending requests, oldest first (a workspace by name, domain or T… id)",
    "approve": "`/invites approve <Ir… id | email>`",
    "deny": "`/invites deny <Ir… id | email> [reason]`",
    "show": "`/invites show <Ir… id | email>` — everything about one request, with its history",
    "history": "`/invites history [n]` — the latest decisions (default 10, at most 50)",
    "stats": "`/invites stats` — pending per workspace, decisions this week, median time to decision, agreement with the policy",
    "sync": "`/invites sync` — reconcile with Slack now",
    "invite": (
        "`/invites invite <email> [in <workspace>] <#channel …> [guest | single-channel-guest] "
        "[expires YYYY-MM-DD] [message]`"
    ),
    "mine": "`/invites mine` — the invite requests you made",
    "help": "`/invites help` — this text",
}
USAGE = "*/invites* — review and decide invite requests\n" + "\n".join(f"• {line}" for line in USAGE_LINES.values())

MAX_HISTORY = 50
_EMAIL = re.compile(r"^[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+$")
_REQUEST_ID = re.compile(r"^Ir[A-Z0-9]+$")
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")
_CHANNEL_LINK = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_GUEST_WORDS = {"guest": "multi", "multi-channel-guest": "multi", "single-channel-guest": "single"}


class UsageError(ValueError):
    """What was wrong with the command, in a sentence for the person who typed it."""

    command: str | None = None  # the subcommand it was about, when the text named a known one

    def answer(self) -> str:
        """The sentence, then the one usage line that applies (the whole help only when no subcommand was recognised)."""
        if self.command in USAGE_LINES:
            return f"{self}\nUsage: {USAGE_LINES[self.command]}"
        return f"{self}\n\n{USAGE}"


@dataclass(frozen=True)
class DirectInvite:
    email: str
    channel_ids: list[str]
    guest: str | None = None  # None for a full member, "multi" or "single" for guests
    expires: date | None = None
    message: str | None = None
    workspace: str | None = None  # as typed after `in`: a T… id, a domain or a name; None for where it was typed


@dataclass(frozen=True)
class Command:
    name: str
    ref: str | None = None
    team: str | None = None
    reason: str | None = None
    count: int = 10
    invite: DirectInvite | None = field(default=None)


def parse(text: str, today: date) -> Command:
    """Turn the text after `/invites` into a Command; raises UsageError."""
    words = text.split()
    if not words:
        return Command("list")
    name = words[0].lower()
    try:
        return _parse(name, words, text, today)
    except UsageError as exc:
        exc.command = name if name in USAGE_LINES else None
        raise


def _parse(name: str, words: list[str], text: str, today: date) -> Command:
    args = words[1:]
    if name == "list":
        return Command("list", team=unescape(_rest(text, 1)) if args else None)
    if name in ("approve", "show"):
        if len(args) != 1:
            raise UsageError(f"`/invites {name}` takes exactly one request: its Ir… id or the invitee's email.")
        return Command(name, ref=request_ref(args[0]))
    if name == "deny":
        if not args:
            raise UsageError("`/invites deny` needs a request: its Ir… id or the invitee's email, then an optional reason.")
        reason = unescape(text.split(None, 2)[2].strip()) if len(args) > 1 else None
        return Command("deny", ref=request_ref(args[0]), reason=reason)
    if name == "history":
        return Command("history", count=_count(args))
    if name in ("stats", "sync", "mine", "help"):
        if args:
            raise UsageError(f"`/invites {name}` takes no arguments.")
        return Command(name)
    if name == "invite":
        return Command("invite", invite=_invite(args, text, today))
    raise UsageError(f"`{_shown(words[0])}` is not an /invites command.")


def request_ref(word: str) -> str:
    """An Ir… request id or an email address (Slack may have wrapped the email as a mailto link)."""
    email = _email(word)
    if email:
        return email
    if _REQUEST_ID.match(word):
        return word
    raise UsageError(f"`{_shown(word)}` is neither a request id (Ir…) nor an email address.")


def _email(word: str) -> str | None:
    linked = _MAILTO.match(word)
    candidate = linked.group(1) if linked else word
    return candidate if _EMAIL.match(candidate) else None


def _count(args: list[str]) -> int:
    if not args:
        return 10
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= MAX_HISTORY:
        raise UsageError(f"`/invites history` takes a number from 1 to {MAX_HISTORY}.")
    return int(args[0])


def _invite(args: list[str], text: str, today: date) -> DirectInvite:
    if not args:
        raise UsageError("`/invites invite` needs an email address and at least one #channel.")
    email = _email(args[0])
    if not email:
        raise UsageError(f"`{_shown(args[0])}` is not an email address.")
    position, workspace = 1, None
    if position < len(args) and args[position].lower() == "in":
        if position + 1 >= len(args):
            raise UsageError("`in` needs a workspace, like `in T0123ABCD` or `in acme-sales` (its domain).")
        workspace = unescape(args[position + 1])
        position += 2
    channels: list[str] = []
    while position < len(args) and (args[position].startswith(("<#", "#")) or _CHANNEL_ID.match(args[position])):
        channels.append(_channel(args[position]))
        position += 1
    if not channels:
        raise UsageError("Name at least one channel for the new member, like `#general` (pick it from Slack's list).")
    guest = None
    if position < len(args) and args[position].lower() in _GUEST_WORDS:
        guest = _GUEST_WORDS[args[position].lower()]
        position += 1
    if guest == "single" and len(channels) != 1:
        raise UsageError("A single-channel guest joins exactly one channel.")
    expires = None
    if position < len(args) and args[position].lower() == "expires":
        if position + 1 >= len(args):
            raise UsageError("`expires` needs a date, like `expires 2027-01-31`.")
        expires = _future_date(args[position + 1], today)
        if guest is None:
            raise UsageError("Only guests can have an expiry date; add `guest` or `single-channel-guest` before `expires`.")
        position += 2
    message = unescape(_rest(text, position + 1)) if position < len(args) else None
    return DirectInvite(email=email, channel_ids=channels, guest=guest, expires=expires, message=message, workspace=workspace)


def _channel(word: str) -> str:
    linked = _CHANNEL_LINK.match(word)
    if linked:
        return linked.group(1)
    if _CHANNEL_ID.match(word):
        return word
    raise UsageError(
        f"`{_shown(word)}` is a channel name, not a channel invitebot can use: "
        "type # and pick the channel from Slack's list so Slack sends its id."
    )


def _future_date(word: str, today: date) -> date:
    try:
        day = date.fromisoformat(word)
    except ValueError:
        raise UsageError(f"`{_shown(word)}` is not a date; write it as YYYY-MM-DD.") from None
    if day <= today:
        raise UsageError(f"The expiry date {day.isoformat()} is not in the future.")
    return day


def _rest(text: str, skip_words: int) -> str:
    """The text after the first `skip_words` words, with its own spacing kept."""
    return text.split(None, skip_words)[skip_words].strip()


def _shown(word: str) -> str:
    """Echo user input inside inline code, unable to ping or link."""
    return escape(unescape(word).replace("`", "'")[:80])


def unescape(text: str) -> str:
    """Slack sends what people type with &, < and > escaped (its own links keep real brackets); store the plain text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
