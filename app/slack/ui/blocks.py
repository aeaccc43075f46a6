"""Block Kit builders: plain data in, message dicts out. Requester text is always escaped here."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from app.core import team_access
from app.core.authz import SELF_APPROVAL_OUTCOME
from app.core.lifecycle import APPROVED, DECIDING, DENIED, GONE, INVITE_FAILED, OPEN, PENDING
from app.core.policy import HOLD
from app.slack.ids import ActionId, ButtonValue
from app.slack.ui import limits
from app.store.models import InviteRequest, Source

INVITE_TYPE_WORDS = {
    "full_member": "Full member",
    "restricted": "Multi-channel guest",
    "ultra_restricted": "Single-channel guest",
}
GUEST_TYPES = frozenset({"restricted", "ultra_restricted"})
MAX_REASON_CHARS = 2500
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 400  # Slack's emails are at most 320 characters; escaping can lengthen them
MAX_FIELD_CHARS = limits.FIELD_TEXT - 100  # a section field holds 2000 characters, label included


_ZWJ = "\u200d"  # joins emoji sequences (family, flags of professions): a format character worth keeping
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})  # controls (NUL, ESC, ...), format (bidi overrides, ...), surrogates
_NAME_MARKUP = str.maketrans({"*": " ", "_": " ", "~": " ", "`": " "})  # mrkdwn's bold, italic, strike and code marks


def clean(text: str, *, lines: bool = False) -> str:
    """Requester text as it may be shown: no control, format or bidi characters; tabs and other spaces as spaces.

    Line breaks become spaces too, unless `lines` (a reason, shown as a quote, keeps its lines). Bidi overrides
    and isolates (U+202A–U+202E, U+2066–U+2069) are format characters, so they go with the rest.
    """
    kept: list[str] = []
    for char in text.replace("\r\n", "\n"):
        if char == "\n" and lines:
            kept.append(char)
        elif char.isspace():  # tab, CR, VT, FF, U+0085, U+2028, U+2029, no-break spaces, ...
            kept.append(" ")
        elif char == _ZWJ or unicodedata.category(char) not in _STRIPPED_CATEGORIES:
            kept.append(char)
    return "".join(kept)


def one_line(text: str) -> str:
    """A name: cleaned, and every run of whitespace one space, so it cannot start lines of its own."""
    return " ".join(clean(text).split())


def escape(text: str) -> str:
    """mrkdwn control characters, so requester text can ping nobody and link nowhere; controls and bidi marks removed."""
    return clean(text, lines=True).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(escaped: str, limit: int) -> str:
    """Shorten mrkdwn to `limit` characters, ending in an ellipsis, without cutting a token in half.

    A token is an `&entity;` or anything in angle brackets (`<@U…>`, `<#C…>`, `<!subteam^S…>`, `<!date^…|…>`, links):
    half of one would show as garbage or break the message, so the cut goes before it.
    """
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    while True:
        opened = cut.rfind("<")
        if opened > cut.rfind(">"):
            cut = cut[:opened]
            continue
        amp = cut.rfind("&")
        if amp > cut.rfind(";"):
            cut = cut[:amp]
            continue
        return cut + "…"


def safe(text: str, limit: int) -> str:
    """Requester text on one line, escaped, then fitted: escaping can make it up to five times longer."""
    return _fit(escape(clean(text)), limit)


def slack_date(moment: datetime, *, lead: str = "") -> str:
    """A date and time Slack shows in each viewer's own time zone, with a UTC fallback for clients that cannot.

    It reads "Today at 10:42 PM", "Yesterday at 9:14 AM" or "Nov 22, 2026 at 9:14 AM", so no "at" or "on" goes
    before it. Slack capitalises "today" only where it opens the format, so the words that join the date to a
    sentence (`lead`, such as ", ") go inside the token: "Approved by @grace, today at 10:42 PM".
    """
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{lead}{{date_short_pretty}} at {{time}}|{lead}{fallback}>"


def invite_type_words(invite_type: str) -> str:
    return INVITE_TYPE_WORDS.get(invite_type, escape(invite_type.replace("_", " ").capitalize()))


def who(request: InviteRequest) -> str:
    """The invitee in bold: real name and email, escaped, each on one line; the name cannot add formatting of its own."""
    email = safe(one_line(request.email), MAX_EMAIL_CHARS)
    name = one_line((request.real_name or "").translate(_NAME_MARKUP))
    if name:
        return f"*{safe(name, MAX_NAME_CHARS)}* ({email})"
    return f"*{email}*"


def mentions(user_ids: list[str]) -> str:
    return ", ".join(f"<@{user_id}>" for user_id in user_ids) or "unknown"


def _channels(channel_ids: list[str]) -> str:
    return " ".join(f"<#{channel_id}>" for channel_id in channel_ids) or "none"


def mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _fit(text, limits.SECTION_TEXT)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _fit(text, limits.SECTION_TEXT)}]}


def _field(label: str, value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def _quote(text: str) -> str:
    return _fit("\n".join(f">{line}" for line in escape(text).splitlines() or [""]), MAX_REASON_CHARS)


UNPLACED = (
    ":mag: Waiting to learn which workspace this request was made in; "
    "Approve and Deny appear once Slack's lists show it (at the next sync)."
)


def workspace_words(request: InviteRequest) -> str:
    """The request's workspace as a person reads it: its name, else its id, else that it is not known yet."""
    if request.team_name:
        return safe(request.team_name, MAX_NAME_CHARS)
    return f"`{request.team_id}`" if request.team_id else "_not known yet_"


def decision_buttons(request: InviteRequest, *, block_id: str | None = None) -> dict[str, Any]:
    """Approve (asks for confirmation) and Deny (opens the reason modal): the same on cards, lists and the App Home.

    A request whose workspace is not known yet gets a line saying so instead: Slack could not decide it.
    """
    if request.team_id is None:
        return context(UNPLACED)
    value = ButtonValue(request.id, request.team_id).encode()
    return {
        "type": "actions",
        "block_id": block_id or f"decide-{request.id}",
        "elements": [
            {
                "type": "button",
                "action_id": ActionId.APPROVE.value,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": value,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve this invite request?"},
                    "text": {"type": "mrkdwn", "text": f"Slack will invite {safe(request.email, 200)}."},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": ActionId.DENY.value,
                "text": {"type": "plain_text", "text": "Deny"},
                "style": "danger",
                "value": value,
            },
        ],
    }


def decided_by_words(request: InviteRequest, unknown: str = "someone") -> str:
    """Who decided: a mention, or the policy rule that did ("policy *employees*")."""
    if not request.decided_by:
        return unknown
    if request.decision_source == Source.POLICY.value:
        return f"policy *{safe(request.decided_by, 64)}*"
    return f"<@{request.decided_by}>"


def outcome_line(request: InviteRequest, *, reason_chars: int = MAX_REASON_CHARS) -> str | None:
    """One sentence saying how a closed request ended (a deny reason up to `reason_chars`); None while it is open."""
    actor = decided_by_words(request)
    when = slack_date(request.decided_at, lead=", ") if request.decided_at else ""
    outside = request.decision_source == Source.OUTSIDE.value
    if request.status == APPROVED:
        return f":white_check_mark: Already approved by {actor} outside invitebot{when}" if outside else (
            f":white_check_mark: Approved by {actor}{when}"
        )
    if request.status == DENIED:
        line = f":no_entry: Already denied by {actor} outside invitebot{when}" if outside else f":no_entry: Denied by {actor}{when}"
        if request.deny_reason:
            line += f"\nReason: {safe(request.deny_reason, reason_chars)}"
        return line
    if request.status == INVITE_FAILED:
        return (
            f":warning: Approved by {actor}{when}, but Slack could not send the invitation "
            "(the person may be deactivated or already in the workspace)."
        )
    if request.status == GONE:
        noticed = slack_date(request.decided_at, lead="; noticed ") if request.decided_at else ""
        return f":wastebasket: Slack no longer has this request (expired, withdrawn or removed){noticed}."
    return None


def untold_line(request: InviteRequest) -> str | None:
    """Why the requesters heard nothing by DM of how their request ended; None when they were told (or will be)."""
    if request.requesters_untold != team_access.REVOKED:
        return None
    return (
        f":mute: Not told to the requester by DM: invitebot is not added to {workspace_words(request)} (an org admin "
        "removed it there), so Slack would refuse the message."
    )


_WOULD = {"approve": "approve", "deny": "deny", "require_approvals": "require {count} approvals"}
_WOULD_HAVE = {"approve": "approved", "deny": "denied", "require_approvals": "required {count} approvals"}


def approvals_line(approvers: Sequence[str], needed: int | None) -> str:
    """1 of 2 approvals: @ada."""
    who = ", ".join(f"<@{user}>" for user in approvers) or "none yet"
    return f"{len(approvers)} of {needed or 1} approvals: {who}"


_NO_LONGER = {SELF_APPROVAL_OUTCOME: "asked for this invite themselves"}


def lapsed_words(lapsed: Sequence[tuple[str, str]]) -> str:
    """@linus's approval no longer counts: no longer an approver of this request. (one sentence each, with a space after)"""
    return "".join(
        f"<@{user}>'s approval no longer counts: {_NO_LONGER.get(why, 'no longer an approver of this request')}. "
        for user, why in lapsed
    )


def policy_line(request: InviteRequest) -> str | None:
    """What the first matching policy rule says of the request (or said, once a person decided it); None without one.

    Enforced approve and deny rules decide at once, so the outcome line speaks for them instead.
    """
    rule, verdict = request.policy_rule, request.policy_verdict
    if verdict == HOLD:
        return held_line(request) if request.status in OPEN else None
    if not rule or not verdict:
        return None
    named = f"(rule {safe(rule, 64)})"
    enforced = request.policy_mode == "enforce"
    count = request.approvals_needed or 2
    if verdict == "require_approvals" and enforced:
        return f":busts_in_silhouette: Needs {count} approvals {named}"
    if request.status in OPEN:
        if enforced:
            return None
        return f":scales: Policy would {_WOULD.get(verdict, verdict).format(count=count)} {named}"
    if request.policy_agreed is None:
        return None
    agreed = "agreed" if request.policy_agreed else "did not agree"
    return f":scales: Policy would have {_WOULD_HAVE.get(verdict, verdict).format(count=count)} {named}: the decision {agreed}"


def held_line(request: InviteRequest) -> str:
    """Why no policy rule may decide a request now, in either mode: it is left to people and checked again at each sync."""
    why = safe(request.policy_note or "it could not be checked", 400)
    if request.policy_rule:
        rule = safe(request.policy_rule, 64)
        return f":warning: Policy could not check rule {rule}: {why}. Decide by hand, or wait: it is checked again at the next sync."
    return f":warning: Policy cannot judge this request: {why}. Decide by hand."


def is_queued(request: InviteRequest, at: datetime | None = None) -> bool:
    """A claimed decision whose admin call waits for Slack's pace."""
    moment = at or datetime.now(timezone.utc)
    return request.status == DECIDING and request.call_at is not None and request.call_at > moment


def _about(seconds: float) -> str:
    """about 40 s, about 3 min, about 2 h."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 59.5 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {round(seconds / 3600)} h"


def waiting_words(seconds: float, per_minute: int | None) -> str:
    """How long a queued decision waits for our pace, as the card and the clicker both read it."""
    if per_minute is None:
        return f"Slack's rate limit for admin calls ({_about(seconds)})"
    return f"Slack allows {per_minute} decisions a minute ({_about(seconds)})"


def slack_wait_words(asked: float, next_try: float) -> str:
    """A decision waiting because Slack answered 429: Slack's wait in Slack's name, and invitebot's next try when that comes
    before Slack's wait is over (INVITES_MAX_RETRY_AFTER)."""
    if asked - next_try >= 5:
        return f"Slack asked us to wait ({_about(asked)}); invitebot asks again in {_about(next_try)}"
    return f"Slack asked us to wait ({_about(max(asked, next_try))})"


def queued_line(request: InviteRequest, per_minute: int | None, at: datetime | None = None) -> str:
    """Approving… @ada, queued: Slack allows 20 decisions a minute (about 40 s); or, after a 429, Slack asked us to wait."""
    moment = at or datetime.now(timezone.utc)
    doing = "Approving" if request.claim_action == "approve" else "Denying"
    seconds = (request.call_at - moment).total_seconds() if request.call_at else 0.0
    slack = (request.slack_wait_until - moment).total_seconds() if request.slack_wait_until else 0.0
    words = slack_wait_words(slack, seconds) if slack > 0 else waiting_words(seconds, per_minute)
    return f":hourglass_flowing_sand: {doing}… <@{request.claim_actor}>, queued: {words}"


def guest_until(request: InviteRequest) -> str:
    """When a guest's account would end (Slack's time limit for the guest), or that it has none."""
    return slack_date(request.date_expire) if request.date_expire else "No time limit"


def card_text(request: InviteRequest) -> str:
    """The notification text: what a phone or screen reader shows."""
    line = outcome_line(request)
    head = f"Invite request for {safe(request.email, MAX_EMAIL_CHARS)}"
    return _fit(f"{head}: {line}" if line else f"{head}: waiting for a decision", limits.SECTION_TEXT)


def request_card(
    request: InviteRequest,
    *,
    per_minute: int | None = None,
    approvals: Sequence[str] = (),
    lapsed: Sequence[tuple[str, str]] = (),
) -> list[dict[str, Any]]:
    """The card for one request: its details, then buttons while pending, the wait while queued, or the outcome once closed.

    `per_minute` is the admin-call pace a queued decision waits for; `approvals` who approved so far, when its policy
    rule asks for several approvers, and `lapsed` whose approvals stopped counting, with why.
    """
    fields = [
        _field("Invite as", invite_type_words(request.invite_type)),
        _field("Workspace", workspace_words(request)),
        _field("Requested by", _fit(mentions(request.requester_ids), MAX_FIELD_CHARS)),
        _field("Channels", _fit(_channels(request.channel_ids), MAX_FIELD_CHARS)),
        _field("Requested", slack_date(request.date_created)),
    ]
    if request.invite_type in GUEST_TYPES:  # date_expire is when the guest account ends, not a deadline to decide by
        fields.append(_field("Guest account until", guest_until(request)))
    blocks: list[dict[str, Any]] = [
        mrkdwn_section(f":envelope: Invite request for {who(request)}"),
        {"type": "section", "fields": fields},
    ]
    if request.reason:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Reason*\n{_quote(request.reason)}"}})
    verdict = policy_line(request)
    if verdict is not None:
        blocks.append(context(verdict))
    line = outcome_line(request)
    if (approvals or lapsed) and (request.approvals_needed or 0) > 1:
        blocks.append(context(f":ballot_box_with_check: {approvals_line(approvals, request.approvals_needed)}"))
    if lapsed and (request.approvals_needed or 0) > 1:
        blocks.append(context(f":warning: {lapsed_words(lapsed).strip()}"))
    if line is not None:
        blocks.append(context(line))
        untold = untold_line(request)
        if untold is not None:
            blocks.append(context(untold))
    elif is_queued(request):
        blocks.append(context(queued_line(request, per_minute)))
    else:
        blocks.append(decision_buttons(request))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Request `{request.id}`"}]})
    return blocks


def sample_card() -> list[dict[str, Any]]:
    """A pending guest request's card with every part filled in, to ask Slack (blocks.validate) whether it takes our cards."""
    asked = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    request = InviteRequest(
        id="Ir0SAMPLE01",
        team_id="T0SAMPLE01",
        team_name="Sample workspace",
        email="ada@example.com",
        real_name="Ada <Lovelace> & co",
        requester_ids=["U0SAMPLE01"],
        channel_ids=["C0SAMPLE01", "C0SAMPLE02"],
        invite_type="restricted",
        reason="Joins the data team as a contractor.\nNeeds #general and #data.",
        date_created=asked,
        date_expire=asked + timedelta(days=90),
        status=PENDING,
    )
    return request_card(request)


# -- backlog digests ---------------------------------------------------------------------------------------------------


def digest_card(line: str, explained: str, team_id: str, *, open_left: bool) -> list[dict[str, Any]]:
    """One card for a workspace's backlog: its numbers, and while any is open, List them and Decide in bulk."""
    out = [mrkdwn_section(f":inbox_tray: *{line}*")]
    if not open_left:
        return out
    out.append(context(explained))
    out.append(
        {
            "type": "actions",
            "block_id": f"digest-{team_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": ActionId.DIGEST_LIST.value,
                    "text": {"type": "plain_text", "text": "List them"},
                    "value": team_id,
                },
                {
                    "type": "button",
                    "action_id": ActionId.DIGEST_BULK.value,
                    "text": {"type": "plain_text", "text": "Decide in bulk"},
                    "value": team_id,
                },
            ],
        }
    )
    return out
