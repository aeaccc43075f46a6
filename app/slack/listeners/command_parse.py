"""Parse `/invites …` text strictly: every mistake gets a precise sentence, never a guess."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from app.core import domains
from app.slack.ui.blocks import escape

USAGE_LINES = {
    "list": "`/invites` or `/invites list [workspace]` — pending requests, oldest first (a workspace by name, domain or T… id)",
    "approve": (
        "`/invites approve <Ir… id | email>`, or every pending request from a domain: "
        "`/invites approve --domain example.com [--team T…] [--type full_member|restricted|ultra_restricted]`"
    ),
    "deny": (
        "`/invites deny <Ir… id | email> [reason]`, or every pending request from a domain: "
        "`/invites deny --domain example.com [--team T…] [--type …] --reason \"…\"`"
    ),
    "show": "`/invites show <Ir… id | email>` — everything about one request, with its history",
    "history": "`/invites history [n]` — the latest decisions (default 10, at most 50)",
    "stats": "`/invites stats` — pending per workspace, decisions this week, median time to decision, agreement with the policy",
    "sync": "`/invites sync` — reconcile with Slack now",
    "invite": (
        "`/invites invite <email> [in <workspace>] <#channel …> [guest | single-channel-guest] "
        "[expires YYYY-MM-DD] [message]`"
    ),
    "export": "`/invites export [days]` — every decision and attempt of the last days (default 30, at most 365) as a CSV file, sent to you",
    "mine": "`/invites mine` — the invite requests you made",
    "help": "`/invites help` — this text",
}
USAGE = "*/invites* — review and decide invite requests\n" + "\n".join(f"• {line}" for line in USAGE_LINES.values())

MAX_HISTORY = 50
EXPORT_DAYS, MAX_EXPORT_DAYS = 30, 365
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
class Bulk:
    """`/invites approve|deny --domain …`: every pending request from an email domain (app.core.bulk.batches.Filter)."""

    domain: str  # example.com exactly, or *.example.com for any subdomain; ASCII (A-label) form, lower case
    teams: tuple[str, ...] = ()  # as typed after --team: T… ids, domains or names, resolved by the handler
    types: tuple[str, ...] = ()  # full_member, restricted, ultra_restricted
    reason: str | None = None  # deny only


@dataclass(frozen=True)
class Command:
    name: str
    ref: str | None = None
    team: str | None = None
    reason: str | None = None
    count: int = 10
    invite: DirectInvite | None = field(default=None)
    bulk: Bulk | None = None


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
    if name in ("approve", "deny") and args and _option(args[0]):
        return Command(name, bulk=_bulk(name, _rest(text, 1)))
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
    if name == "export":
        return Command("export", count=_export_days(args))
    raise UsageError(f"`{_shown(words[0])}` is not an /invites command.")


# -- bulk decisions: /invites approve|deny --domain example.com [--team T…] [--type …] [--reason …] --------------------

BULK_OPTIONS = {"approve": ("--domain", "--team", "--type"), "deny": ("--domain", "--team", "--type", "--reason")}
INVITE_TYPES = ("full_member", "restricted", "ultra_restricted")
_TYPE_WORDS = {
    **{t: t for t in INVITE_TYPES},
    "full-member": "full_member",
    "member": "full_member",
    "guest": "restricted",
    "multi-channel-guest": "restricted",
    "single-channel-guest": "ultra_restricted",
}
_DASHES = ("\u2014", "\u2013")  # an em or en dash: what a client's "smart dashes" make of --
_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201d": "\u201d", "'": "'", "\u2018": "\u2019"}  # opening -> closing
_LINK = re.compile(r"^<(?:https?://)?([^|>]+)(?:\|([^>]*))?>$")


def _option(word: str) -> str | None:
    """`--domain` (or —domain, as smart dashes write it) as `--domain`; None for a word that is no option."""
    for dash in _DASHES:
        if word.startswith(dash):
            word = "--" + word[len(dash):]
    return word.split("=", 1)[0].lower() if word.startswith("--") and len(word) > 2 else None


def _bulk(name: str, text: str) -> Bulk:
    """The options after `/invites approve|deny`, each checked; the reason runs to the end of the line unless quoted."""
    allowed = BULK_OPTIONS[name]
    domain: str | None = None
    teams: list[str] = []
    types: list[str] = []
    reason: str | None = None
    rest = text
    while rest.strip():
        word, after = _word(rest)
        option = _option(word)
        if option is None or option not in allowed:
            shown = f"`{_shown(word)}`"
            if option == "--reason":
                raise UsageError("Only a bulk deny takes `--reason`; an approval tells the requesters nothing more.")
            takes = ", ".join(f"`{o}`" for o in allowed)
            raise UsageError(f"{shown} is not an option of `/invites {name}` for a whole domain; it takes {takes}.")
        inline = word.split("=", 1)[1] if "=" in word else None
        if option == "--reason":
            if reason is not None:
                raise UsageError("Give `--reason` once.")
            reason, rest = _reason(inline if inline is not None else "", after)
            continue
        value, rest = _word(after) if inline is None else (inline, after)
        if not value or _option(value):
            example = {"--domain": "example.com", "--team": "T0123ABCD", "--type": "full_member"}[option]
            raise UsageError(f"`{option}` needs a value, like `{option} {example}`.")
        if option == "--domain":
            if domain is not None:
                raise UsageError("Give `--domain` once; run the command again for another domain.")
            domain = _domain(value)
        elif option == "--team":
            teams.append(unescape(value))
        else:
            types.append(_invite_type(value))
    if domain is None:
        raise UsageError(f"`/invites {name}` for many requests needs `--domain`, like `--domain example.com`.")
    return Bulk(domain, tuple(dict.fromkeys(teams)), tuple(dict.fromkeys(types)), reason)


def _word(text: str) -> tuple[str, str]:
    """The first word of `text` and what follows it (its spacing kept)."""
    found = re.match(r"\s*(\S*)(.*)", text, re.DOTALL)
    assert found is not None
    return found.group(1), found.group(2)


def _reason(inline: str, after: str) -> tuple[str, str]:
    """The reason and what follows it: a quoted reason ends at its closing quote, an unquoted one runs to the end."""
    text = unescape(inline + after if inline else after.lstrip())
    closing = _QUOTES.get(text[:1])
    if closing is not None:
        end = text.find(closing, 1)
        if end < 0:
            raise UsageError("The reason after `--reason` opens a quote it never closes.")
        reason, rest = text[1:end].strip(), text[end + 1 :]
        if rest and not rest[:1].isspace():
            raise UsageError("Leave a space after the reason's closing quote.")
    else:
        reason, rest = text.strip(), ""
    if not reason:
        raise UsageError('`--reason` needs the reason the requesters will read, like `--reason "Please use a work address"`.')
    return reason, rest


def _domain(word: str) -> str:
    """example.com or *.example.com; Slack's link form of a domain (<http://example.com|example.com>) is unwrapped."""
    text = unescape(word)
    linked = _LINK.match(text)
    if linked:
        text = linked.group(2) or linked.group(1)
    text = text.lower().rstrip("/").lstrip("@").rstrip(".")
    if "@" in text:
        raise UsageError(f"`{_shown(word)}` is an email address; `--domain` takes its domain, like `{_shown(text.rsplit('@', 1)[1])}`.")
    found = domains.pattern(text)  # compared as a policy's email_domain is: ASCII (A-label) form
    if found is None:
        raise UsageError(
            f"`{_shown(word)}` is not an email domain: write `example.com` for that domain exactly, "
            "or `*.example.com` for any subdomain of it."
        )
    return found


def _invite_type(word: str) -> str:
    found = _TYPE_WORDS.get(word.lower())
    if found is None:
        raise UsageError(f"`{_shown(word)}` is not an invite type: write full_member, restricted (a guest) or ultra_restricted.")
    return found


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


def _number(args: list[str], top: int) -> int | None:
    """The one argument as a whole number from 1 to `top`, else None.

    Decimal digits only: isdigit() also passes '²', which int() refuses, and int() refuses thousands of digits.
    """
    if len(args) != 1 or not args[0].isdecimal() or len(args[0].lstrip("0")) > len(str(top)):
        return None
    number = int(args[0])
    return number if 1 <= number <= top else None


def _count(args: list[str]) -> int:
    if not args:
        return 10
    count = _number(args, MAX_HISTORY)
    if count is None:
        raise UsageError(f"`/invites history` takes a number from 1 to {MAX_HISTORY}.")
    return count


def _export_days(args: list[str]) -> int:
    """`/invites export [days]`: how many days back the export reaches (Command.count)."""
    if not args:
        return EXPORT_DAYS
    days = _number(args, MAX_EXPORT_DAYS)
    if days is None:
        raise UsageError(f"`/invites export` takes a number of days from 1 to {MAX_EXPORT_DAYS}, like `/invites export 7`.")
    return days


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
