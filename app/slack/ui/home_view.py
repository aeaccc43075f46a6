"""App Home views as data: the approver dashboard and a requester's own requests. Requester text is escaped here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.lifecycle import DECIDING
from app.core.policy import Policy
from app.core.policy.stats import AGREEMENT_DAYS, RuleAgreement, Waiting
from app.core.queries import Stats, Undelivered, WorkspaceQueue
from app.slack.ids import ActionId
from app.slack.ui import batch_blocks, limits, replies
from app.slack.ui.blocks import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    context,
    decision_buttons,
    escape,
    invite_type_words,
    mentions,
    mrkdwn_section,
    safe,
    slack_date,
    who,
    workspace_words,
)
from app.slack.ui.replies import guest_ends, oldest_words, source_words, status_words
from app.store.models import InviteRequest, SyncRun

MAX_BLOCKS = limits.VIEW_BLOCKS  # Slack's limit for a Home tab
PENDING_FETCH = MAX_BLOCKS // 2  # more pending requests than could ever fit, so the builder decides how many show
HISTORY_LIMIT = 10  # latest decisions on the dashboard
REQUESTS_LIMIT = 20  # a requester's own requests
HOME_REASON_CHARS = 300  # the full reason is on the card; the Home shows its start
SYNC_BUTTON_VALUE = "sync"
CONFIG_BLOCK = "home-config"  # the settings, with Sync now
NOTICE_BLOCK = "home-notice"
RULES_SHOWN = 20  # a policy's rules on the Home; the file has them all
WAITING_SHOWN = 10  # requests short of approvals on the Home (one more is read, to know there are more)
BULK_DOMAINS = batch_blocks.DOMAINS_SHOWN  # email domains with several pending requests that get bulk buttons


@dataclass(frozen=True)
class HomeConfig:
    """The configuration in force, as the dashboard shows it."""

    channel: str | None  # INVITES_CHANNEL; None when every workspace the viewer decides has a route
    approvers: list[str]
    sync_interval: int
    last_sync: SyncRun | None
    routes: list[tuple[str, str]] = field(default_factory=list)  # (workspace, its channel): INVITES_ROUTES
    workspace_approvers: list[tuple[str, list[str]]] = field(default_factory=list)  # (workspace, INVITES_APPROVERS_T…)
    no_access: list[str] = field(default_factory=list)  # workspaces invitebot was removed from (team_access_revoked)


@dataclass(frozen=True)
class PolicyPanel:
    """The policy in force (None: no INVITES_POLICY), how often people agreed with its rules, what waits for approvers."""

    policy: Policy | None
    agreement: list[RuleAgreement]
    waiting: list[Waiting]


# -- small shared helpers ---------------------------------------------------------------------------


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[: limits.HEADER_TEXT]}}


def _divider() -> dict[str, Any]:
    return {"type": "divider"}


def _notice(notice: str | None) -> list[dict[str, Any]]:
    """Our own sentence about the last action (already escaped by whoever wrote it)."""
    if not notice:
        return []
    section = mrkdwn_section(f":information_source: {notice}")
    section["block_id"] = NOTICE_BLOCK
    return [section]


def _placed(blocks: list[dict[str, Any]], notice: str | None, near: str | None) -> list[dict[str, Any]]:
    """The notice first, or just above the block (`near`, its block_id) whose button it answers, where the person is."""
    at = next((n for n, block in enumerate(blocks) if near is not None and block.get("block_id") == near), 0)
    return [*blocks[:at], *_notice(notice), *blocks[at:]]


def _approver_mention(approver_id: str) -> str:
    approver_id = approver_id.partition("@")[0]  # S…@T…: the group, named in its workspace
    return f"<!subteam^{approver_id}>" if approver_id.startswith("S") else f"<@{approver_id}>"


def interval_words(seconds: int) -> str:
    for size, one, many in ((86400, "day", "days"), (3600, "hour", "hours"), (60, "minute", "minutes")):
        if seconds % size == 0:
            count = seconds // size
            return f"every {one}" if count == 1 else f"every {count} {many}"
    return f"every {seconds} seconds"


# -- the approver dashboard -------------------------------------------------------------------------


def _counts(stats: Stats) -> dict[str, Any]:
    if stats.pending_by_team:
        per_team = ", ".join(f"{escape(team)}: {count}" for team, count in stats.pending_by_team.items())
        total = sum(stats.pending_by_team.values())
        notes = [f"{total} in all"] if len(stats.pending_by_team) > 1 else []
        notes += [oldest_words(stats.oldest_wait).strip(" ()")] if stats.oldest_wait is not None else []
        pending = f"*Pending:* {per_team}" + (f" ({'; '.join(notes)})" if notes else "")
    else:
        pending = "*Pending:* none"
    return mrkdwn_section(f"{pending}\n*Last 7 days:* {stats.approved_7d} approved, {stats.denied_7d} denied")


def _pending_item(request: InviteRequest) -> list[dict[str, Any]]:
    """Two blocks: who and what, then the buttons (or who is deciding right now)."""
    name = who(request)
    details = (
        f"{invite_type_words(request.invite_type)} · {workspace_words(request)} · "
        f"asked by {mentions(request.requester_ids)} · {slack_date(request.date_created)}"
    )
    text = f":envelope: {name}\n{details}"
    if request.reason:
        text += f"\n>{safe(' '.join(request.reason.split()), HOME_REASON_CHARS)}"
    if request.status == DECIDING:
        verb = "approving" if request.claim_action == "approve" else "denying"
        actor = f"<@{request.claim_actor}>" if request.claim_actor else "Someone"
        return [mrkdwn_section(text), context(f":hourglass_flowing_sand: {actor} is {verb} this request right now.")]
    return [mrkdwn_section(text), decision_buttons(request, block_id=f"home-decide-{request.id}")]


def _queue(pending: list[InviteRequest], total: int, room: int) -> list[dict[str, Any]]:
    """As many pending requests as fit in `room` blocks, oldest first, then a line for the rest."""
    total = max(total, len(pending))
    shown: list[dict[str, Any]] = []
    count = 0
    for request in pending:
        item = _pending_item(request)
        more_after = total - count - 1
        if len(shown) + len(item) + (1 if more_after else 0) > room:
            break
        shown.extend(item)
        count += 1
    if total == 0:
        shown.append(context("Nothing is waiting for a decision."))
    elif total > count:
        shown.append(context(f"{total - count} more, use /invites list to see them all."))
    return shown


GROUP_BLOCKS = 4  # the fewest blocks a workspace's group takes: its name, one request (2), the line for the rest


def _grouped(queues: list[WorkspaceQueue], room: int) -> list[dict[str, Any]]:
    """Workspace by workspace, each under its name, sharing `room` evenly (what one leaves goes to the next); workspaces
    that do not fit are counted in a last line."""
    fit = len(queues) if len(queues) * GROUP_BLOCKS <= room else max(1, (room - 1) // GROUP_BLOCKS)
    shown, rest = queues[:fit], queues[fit:]
    budget = room - (1 if rest else 0)
    out: list[dict[str, Any]] = []
    for n, queue in enumerate(shown):
        share = (budget - len(out)) // (len(shown) - n)
        out.append(mrkdwn_section(f"*{safe(queue.label, MAX_NAME_CHARS)}* ({queue.total} waiting)"))
        out.extend(_queue(queue.requests, queue.total, share - 1))
    if rest:
        waiting = sum(queue.total for queue in rest)
        out.append(context(f"{waiting} more in {len(rest)} other workspaces, use /invites list to see them all."))
    return out


def _decision(request: InviteRequest) -> dict[str, Any]:
    head = f"*{escape(request.email)}* · {workspace_words(request)} · from {source_words(request.decision_source)}"
    return context(f"{head}\n{status_words(request)}")


def _config(config: HomeConfig) -> dict[str, Any]:
    approvers = ", ".join(_approver_mention(a) for a in config.approvers) or "nobody"
    routed = ", ".join(f"{safe(team, MAX_NAME_CHARS)} → <#{c}>" for team, c in config.routes)
    if config.channel is None:
        channel = routed
    else:
        channel = f"<#{config.channel}>"
        if config.routes:
            channel += f" (every other workspace)\n*Routed per workspace:* {routed}"
    for team, ids in config.workspace_approvers:
        own = ", ".join(_approver_mention(a) for a in ids)
        approvers += f"\n*Approvers of {safe(team, MAX_NAME_CHARS)}:* {own} (and those above)"
    if config.last_sync is None:
        last = "never"
    else:
        icon = ":warning:" if config.last_sync.errors else ":white_check_mark:"
        last = f"{slack_date(config.last_sync.finished_at)} {icon} {escape(config.last_sync.summary)}"
    removed = f"\n{replies.no_access_text(config.no_access)}" if config.no_access else ""
    section = mrkdwn_section(
        f"*Approvals channel:* {channel}\n*Approvers:* {approvers}\n"
        f"*Sync with Slack:* {interval_words(config.sync_interval)}\n*Last sync:* {last}{removed}"
    )
    section["block_id"] = CONFIG_BLOCK
    section["accessory"] = {
        "type": "button",
        "action_id": ActionId.HOME_SYNC.value,
        "text": {"type": "plain_text", "text": "Sync now"},
        "value": SYNC_BUTTON_VALUE,
    }
    return section


def _rules(policy: Policy) -> str:
    shown = " · ".join(replies.rule_words(rule) for rule in policy.rules[:RULES_SHOWN])
    shown = shown or "none (people decide every request)"
    more = len(policy.rules) - RULES_SHOWN
    return f"*Rules, first match wins:* {shown}" + (f" · and {more} more in the file" if more > 0 else "")


def _agreement(panel: PolicyPanel) -> str:
    ordered = replies.in_policy_order(panel.agreement, panel.policy)
    agreed = ", ".join(replies.agreement_words(a) for a in ordered[:RULES_SHOWN])
    agreed = agreed or "no decisions by people on requests a rule had a verdict on yet"
    more = f", and {len(ordered) - RULES_SHOWN} more rules" if len(ordered) > RULES_SHOWN else ""
    return f"*People agreed with the rules ({AGREEMENT_DAYS} days):* {agreed}{more}"


def _waiting(item: Waiting) -> dict[str, Any]:
    who = ", ".join(f"<@{approver}>" for approver in item.approvers)
    head = f"*{safe(item.request.email, MAX_EMAIL_CHARS)}* · {workspace_words(item.request)}"
    return context(f"{head} · {len(item.approvers)} of {item.needed}: {who}")


def _policy(panel: PolicyPanel | None) -> list[dict[str, Any]]:
    """The policy section: what is in force, how often people agreed with each rule, requests short of approvals."""
    if panel is None or panel.policy is None:
        return [context(replies.NO_POLICY)]
    out = [
        mrkdwn_section(f"*Policy:* {replies.policy_words(panel.policy)}\n{_rules(panel.policy)}"),
        mrkdwn_section(_agreement(panel)),
    ]
    if panel.waiting:
        out.append(mrkdwn_section("*Waiting for more approvals*"))
        out.extend(_waiting(w) for w in panel.waiting[:WAITING_SHOWN])
        if len(panel.waiting) > WAITING_SHOWN:
            out.append(context("More are waiting for approvals; /invites list shows every open request."))
    return out


def approver_home(
    *,
    stats: Stats,
    pending: list[InviteRequest],
    pending_total: int,
    decisions: list[InviteRequest],
    config: HomeConfig,
    notice: str | None = None,
    notice_near: str | None = None,
    policy: PolicyPanel | None = None,
    domains: list[tuple[str, int]] | None = None,
    queues: list[WorkspaceQueue] | None = None,
    undelivered: Undelivered | None = None,
) -> dict[str, Any]:
    """Counts, what Slack refused for good, the pending queue with buttons, the latest decisions, the policy and the
    configuration; never over 100 blocks. The notice goes just above the block `notice_near` names, else first.

    `domains`: email domains with more than one pending request, the most first; the first few get "Approve all from …"
    and "Deny all from …" (each opens a preview of what it would decide).
    """
    queues = queues or []
    grouped = len(queues) > 1  # the requests of several workspaces: each under its name
    order = "workspace by workspace, oldest first" if grouped else "oldest first"
    top = [
        _header("Invite requests"),
        _counts(stats),
        *([mrkdwn_section(replies.undelivered_text(undelivered))] if undelivered and undelivered.total else []),
        _divider(),
        mrkdwn_section(f"*Waiting for a decision* ({pending_total}, {order})"),
        *batch_blocks.home_domains(domains or []),
    ]
    bottom = [
        _divider(),
        mrkdwn_section("*Latest decisions*"),
        *([_decision(r) for r in decisions[:HISTORY_LIMIT]] or [context("No decisions yet.")]),
        _divider(),
        *_policy(policy),
        mrkdwn_section("*Settings*"),
        _config(config),
    ]
    room = MAX_BLOCKS - len(_notice(notice)) - len(top) - len(bottom)
    # `queues`: the same requests workspace by workspace.
    queue = _grouped(queues, room) if grouped else _queue(pending, pending_total, room)
    return {"type": "home", "blocks": _placed([*top, *queue, *bottom], notice, notice_near)}


# -- everyone else: their own requests --------------------------------------------------------------


def _own_request(request: InviteRequest) -> dict[str, Any]:
    head = f"*{escape(request.email)}* · {workspace_words(request)} · {slack_date(request.date_created, lead='asked ')}"
    return mrkdwn_section(f"{head}\n{status_words(request)}{guest_ends(request)}")


def notice_only(notice: str) -> dict[str, Any]:
    """The notice alone, when what the Home shows cannot be read (the database is away); the next publish restores it."""
    blocks = [*_notice(notice), context("The rest of this page will be back once invitebot can read its database again.")]
    return {"type": "home", "blocks": blocks}


def requester_home(requests: list[InviteRequest], *, notice: str | None = None) -> dict[str, Any]:
    """What someone who is not an approver sees: each of their requests and where it stands, newest first."""
    blocks = [*_notice(notice), _header("Your invite requests")]
    if not requests:
        blocks.append(
            context("You have no invite requests. When you ask to invite someone, the request and its status show up here.")
        )
    else:
        blocks.append(context("Newest first. Invite approvers decide each request; you will see the outcome here."))
        blocks.extend(_own_request(r) for r in requests[:REQUESTS_LIMIT])
        if len(requests) >= REQUESTS_LIMIT:
            blocks.append(context(f"Showing your {REQUESTS_LIMIT} latest requests."))
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}
