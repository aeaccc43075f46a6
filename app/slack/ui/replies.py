"""Every sentence a person reads about a decision, and the Block Kit of /invites answers (lists, one request in full,
history, stats, a requester's own requests). Core returns typed outcomes; this module words them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any, Callable

from app.core.authz import LOOKUP_FAILED_OUTCOME, NOT_ALLOWED_OUTCOME, Verdict
from app.core.backlog import Backlog
from app.core.decisions import Outcome, Result, Why
from app.core.lifecycle import APPROVED, INVITE_FAILED, OPEN
from app.core.policy import Mode, Policy, Rule, Then
from app.core.policy.stats import AGREEMENT_DAYS, RuleAgreement
from app.core.queries import Stats
from app.slack.api.errors import Kind, classify
from app.slack.ids import ActionId
from app.slack.ui import blocks, limits
from app.store.models import Action, DecisionLog, InviteRequest, Source, SyncRun

LIST_PAGE_SIZE = 10  # 2 blocks each, with a title and the pager well within a message's 50 blocks
LIST_REASON_CHARS = 300  # deny reasons in lists of many requests; /invites show has the whole reason
SOURCE_WORDS = {
    Source.BUTTON.value: "card",
    Source.SLASH.value: "/invites",
    Source.HOME.value: "App Home",
    Source.OUTSIDE.value: "Slack admin pages",
    Source.SYNC.value: "sync",
}


def source_words(source: str | None) -> str:
    return SOURCE_WORDS.get(source or "", source or "unknown")


def request_summary(request: InviteRequest) -> str:
    """One request in one mrkdwn paragraph."""
    workspace = blocks.workspace_words(request)
    return (
        f"{blocks.who(request)} as {blocks.invite_type_words(request.invite_type).lower()} in {workspace}\n"
        f"Asked by {blocks.mentions(request.requester_ids)}{blocks.slack_date(request.date_created, lead=', ')} · `{request.id}`"
    )


def status_words(request: InviteRequest, *, reason_chars: int = blocks.MAX_REASON_CHARS) -> str:
    """How a request stands, in a sentence (a deny reason shortened to `reason_chars`)."""
    return blocks.outcome_line(request, reason_chars=reason_chars) or ":hourglass_flowing_sand: Waiting for a decision"


def pending_page(
    requests: list[InviteRequest],
    *,
    total: int,
    offset: int,
    team: str | None,
    label: str | None = None,
    grouped: dict[str | None, int] | None = None,
) -> list[dict[str, Any]]:
    """A page of pending requests with Approve/Deny on each, and paging buttons; `team` is a workspace id, `label` its name.

    `grouped`: the listing spans these workspaces (how many wait in each); each workspace's requests on the page come
    under its name.
    """
    where = f" in {blocks.escape(label or team)}" if team else ""
    if not total:
        return [blocks.mrkdwn_section(f"No invite requests are waiting{where}. :tada:")]
    shown = f"{offset + 1}–{offset + len(requests)} of {total}"
    order = "workspace by workspace, oldest first" if grouped else "oldest first"
    out = [blocks.mrkdwn_section(f"*Pending invite requests{where}* ({shown}, {order})")]
    previous: str | None = "-"  # no workspace has this id: the first request starts a group
    for request in requests:
        if grouped is not None and request.team_id != previous:
            previous = request.team_id
            out.append(blocks.mrkdwn_section(f"*{blocks.workspace_words(request)}* ({grouped.get(request.team_id, 0)} waiting)"))
        out.append(blocks.mrkdwn_section(request_summary(request)))
        out.append(blocks.decision_buttons(request, block_id=f"list-{request.id}"))
    pager = []
    if offset > 0:
        pager.append(_page_button("Previous", max(0, offset - LIST_PAGE_SIZE), team))
    if offset + len(requests) < total:
        pager.append(_page_button("Next", offset + LIST_PAGE_SIZE, team))
    if pager:
        out.append({"type": "actions", "block_id": f"pager-{offset}", "elements": pager})
    return out


def _page_button(label: str, offset: int, team: str | None) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{ActionId.LIST_PAGE.value}_{label.lower()}",
        "text": {"type": "plain_text", "text": label},
        "value": json.dumps({"offset": offset, "team": team}),
    }


def choose_one(ref: str, matches: list[InviteRequest]) -> list[dict[str, Any]]:
    """Several pending requests share an email (several workspaces): list them, never guess; as many as one message holds."""
    head = [blocks.mrkdwn_section(f"{len(matches)} pending requests match {blocks.escape(ref)}. Choose one:")]
    items = [
        [blocks.mrkdwn_section(request_summary(r)), blocks.decision_buttons(r, block_id=f"choose-{r.id}")] for r in matches
    ]

    def more(left: int) -> str:
        example = matches[len(matches) - left].id
        return (
            f"{left} more not shown. Name one by its request id, e.g. `/invites approve {example}` or "
            f"`/invites show {example}`; `/invites list` shows every pending request with its id."
        )

    return blocks.capped(head, items, limits.MESSAGE_BLOCKS, more)


def request_in_full(
    request: InviteRequest,
    trail: list[DecisionLog],
    approved: list[str] | None = None,
    policy: Policy | None = None,
    *,
    decidable: bool = True,
) -> list[dict[str, Any]]:
    """`/invites show`: the card as the channel shows it, what the policy said of it, then every recorded attempt.
    `decidable`: the viewer may decide it; otherwise the card loses its buttons and says whose it is."""
    out = blocks.request_card(request, approvals=approved or [])
    if not decidable:
        out = [b for b in out if b.get("type") != "actions"]
        out.append(blocks.context("Its workspace's own approvers (or the org's) decide this request, not you."))
    said = request_policy(request, approved or [], policy)
    if said is not None:
        out.append(blocks.mrkdwn_section(said))
    lines = [
        f"• {blocks.slack_date(entry.at)}: {f'<@{entry.actor_id}>' if entry.actor_id else 'invitebot'} "
        f"{entry.action} from {source_words(entry.source)}: `{entry.outcome}`"
        for entry in trail
    ]
    if not lines:
        return [*out, blocks.mrkdwn_section("*History*\nNo attempts to decide yet.")]
    more = lambda left: (  # noqa: E731
        f"{left} later attempts not shown. The card above shows how the request stands; "
        "invitebot's decision_log table has every attempt."
    )
    return [*out, *_sections(["*History*", *lines], room=limits.MESSAGE_BLOCKS - len(out), more=more)]


def history_lines(requests: list[InviteRequest]) -> list[dict[str, Any]]:
    if not requests:
        return [blocks.mrkdwn_section("No decisions yet.")]
    lines = [
        f"• {blocks.safe(r.email, blocks.MAX_EMAIL_CHARS)}: {status_words(r, reason_chars=LIST_REASON_CHARS)} "
        f"(from {source_words(r.decision_source)})"
        for r in requests
    ]
    more = lambda left: (  # noqa: E731
        f"{left} older decisions not shown. Ask for fewer with `/invites history 20`, "
        "or see one in full with `/invites show` and its email or request id."
    )
    return [blocks.mrkdwn_section(f"*Latest {len(requests)} decisions*"), *_sections(lines, room=limits.MESSAGE_BLOCKS - 1, more=more)]


def stats_text(stats: Stats, last_sync: SyncRun | None, *, scope: list[str] | None = None) -> str:
    """`/invites stats`; `scope`: the workspaces the viewer decides, when not every one (the numbers are theirs only)."""
    pending = ", ".join(f"{blocks.escape(team)}: {count}" for team, count in stats.pending_by_team.items()) or "none"
    median = _duration(stats.median_to_decision) if stats.median_to_decision is not None else "no decisions yet"
    synced = f"{blocks.slack_date(last_sync.finished_at)} ({last_sync.summary})" if last_sync else "never"
    head = f"*Your workspaces:* {', '.join(blocks.escape(name) for name in scope) or 'none'}\n" if scope is not None else ""
    per_team = ""
    if len(stats.decided_by_team_7d) > 1:
        per_team = " (" + "; ".join(
            f"{blocks.escape(team)}: {approved} approved, {denied} denied" for team, (approved, denied) in stats.decided_by_team_7d.items()
        ) + ")"
    return (
        f"{head}*Pending:* {pending}{oldest_words(stats.oldest_wait)}\n"
        f"*Last 7 days:* {stats.approved_7d} approved, {stats.denied_7d} denied{per_team}\n"
        f"*Median time to decision (7 days):* {median}\n"
        f"*Last sync:* {synced}"
    )


def mine(requests: list[InviteRequest]) -> list[dict[str, Any]]:
    """A requester's own requests and how each stands."""
    if not requests:
        return [blocks.mrkdwn_section("You have not asked to invite anyone yet.")]
    lines = [
        f"• *{blocks.safe(r.email, blocks.MAX_EMAIL_CHARS)}* ({blocks.slack_date(r.date_created)}): "
        f"{status_words(r, reason_chars=LIST_REASON_CHARS)}{guest_ends(r)}"
        for r in requests
    ]
    more = lambda left: f"{left} older requests not shown; an invite approver can look any of them up."  # noqa: E731
    return [blocks.mrkdwn_section("*Your invite requests*"), *_sections(lines, room=limits.MESSAGE_BLOCKS - 1, more=more)]


def _sections(lines: list[str], *, room: int, more: Callable[[int], str]) -> list[dict[str, Any]]:
    """Lines grouped into sections under Slack's 3000-character limit, in at most `room` blocks: when they do not all
    fit, the last block says how many lines were left out (`more(n)`) and what to do about it."""
    groups: list[list[str]] = []
    size = 0
    for line in lines:
        if groups and size + len(line) + 1 <= limits.SECTION_TEXT - 100:
            groups[-1].append(line)
            size += len(line) + 1
        else:
            groups.append([line])
            size = len(line)
    items = [[blocks.mrkdwn_section("\n".join(group))] for group in groups]
    return blocks.capped([], items, room, lambda left: more(sum(len(g) for g in groups[len(groups) - left :])))


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"


# -- failures ---------------------------------------------------------------------------------------------------------


def unexpected(ref: str) -> str:
    """What anyone hears when invitebot failed in a way its code does not expect; its log has the same reference."""
    return (
        f"Something went wrong on invitebot's side (ref {ref}), so this was not finished. "
        "Try again; if it keeps happening, give this reference to whoever runs invitebot."
    )


# -- decisions ---------------------------------------------------------------------------------------------------------

NOT_ALLOWED = "Only invite approvers can approve or deny invite requests. Nothing was changed."
NOT_YOUR_WORKSPACE = (
    "You approve invite requests of another workspace, not of this request's workspace: its own approvers or the "
    "org's decide it. Nothing was changed."
)
REASON_REQUIRED = "Write a reason to deny this request."  # under the modal's box, which already says who reads it
_VERB = {Action.APPROVE: "approve", Action.DENY: "deny"}
_PAST = {Action.APPROVE.value: "approved", Action.DENY.value: "denied"}
_DOING = {Action.APPROVE.value: "approving", Action.DENY.value: "denying"}


def refusal(verdict: Verdict, user_id: str) -> str:
    """Why someone may not decide: not an approver, or invitebot could not find out."""
    if verdict.outcome == LOOKUP_FAILED_OUTCOME:
        return (
            f"invitebot could not check your approver rights just now (Slack answered {verdict.code}); "
            "nothing was changed — try again in a minute."
        )
    if verdict.group is not None:
        return (
            f"invitebot could not match your Slack id ({user_id}) with the ids user group "
            f"<!subteam^{verdict.group}> lists, so it cannot tell whether you are an approver "
            f"(Slack answered {verdict.code}). Nothing was changed. An admin can add your id to INVITES_APPROVERS."
        )
    if verdict.elsewhere:
        return NOT_YOUR_WORKSPACE
    return NOT_ALLOWED


REASON_NEEDED = (
    "invitebot requires a reason to deny a request: `/invites deny <request> <reason>`, or the box after Deny. "
    "Nothing was decided."
)


def decision(outcome: Outcome, user_id: str, *, per_minute: int) -> str:
    """The clicker's answer to an attempt to decide, whichever surface it came from."""
    email = blocks.escape(outcome.email) if outcome.email else "this person"
    verb = _VERB[outcome.action]
    result = outcome.result
    if result is Result.REFUSED and outcome.verdict is not None:
        return refusal(outcome.verdict, user_id)
    if result is Result.REASON_REQUIRED:
        return REASON_NEEDED
    if result is Result.QUEUED:
        return (
            f"{_DOING[outcome.action.value].capitalize()}… <@{user_id}>, queued: "
            f"{blocks.waiting_words(outcome.wait_seconds or 0, per_minute)}. You will be told here when Slack has {_PAST[outcome.action.value]} it."
        )
    if result is Result.ACCEPTED:
        return f"{_DOING[outcome.action.value].capitalize()} the invite request for {email}…"
    if result is Result.APPROVAL_RECORDED:
        missing = (outcome.needed or 0) - len(outcome.approvals)
        more = "one more approver" if missing == 1 else f"{missing} more approvers"
        return (
            f"Your approval of the invite request for {email} is recorded ({blocks.approvals_line(outcome.approvals, outcome.needed)}). "
            f"Its policy rule asks for {more} before Slack is asked."
        )
    if result is Result.ALREADY_APPROVED:
        return (
            f"You already approved the invite request for {email} ({blocks.approvals_line(outcome.approvals, outcome.needed)}). "
            "It needs another approver; nothing was changed."
        )
    if result is Result.DECIDED:
        return f"You {_PAST[outcome.other_action or outcome.action.value]} the invite request for {email}."
    if result in (Result.INVITE_FAILED, Result.GONE):
        return classify(outcome.error or "").sentence
    if result is Result.DECIDED_ELSEWHERE:
        who = f"<@{outcome.other}>" if outcome.other else "someone"
        where = " outside invitebot" if outcome.outside else ""
        return f"No need: this request was already {_PAST[outcome.other_action or '']} by {who}{where}. The card now says so."
    if result is Result.ALREADY_DECIDED:
        return (blocks.outcome_line(outcome.request) if outcome.request else None) or "This request is already closed."
    if result is Result.IN_FLIGHT:
        doing = _DOING.get(outcome.other_action or "", "deciding")
        if outcome.why is Why.LATE:
            return f"Slack answered late; meanwhile <@{outcome.other}> is {doing} this request."
        return f"<@{outcome.other}> is {doing} this request right now."
    if result is Result.NOT_FOUND:
        return f"invitebot has no invite request `{blocks.escape(outcome.request_id)}`."
    return _failed(outcome, email, verb)


def _failed(outcome: Outcome, email: str, verb: str) -> str:
    again = f" Click {verb.capitalize()} again to retry."
    why = outcome.why
    if why is Why.RELEASED_MEANWHILE:
        return "Another attempt on this request just failed; please try again."
    if why is Why.UNPLACED:
        return (
            f"invitebot does not know yet which workspace the request for {email} "
            "was made in, so Slack cannot decide it. Nothing was decided; the next sync finds it, then try again."
        )
    if why is Why.GAVE_UP:
        return (
            f"invitebot could not finish deciding the request for {email}: its own attempts kept failing "
            f"({outcome.error}). The request is open again; if Slack did decide it, the next sync shows how it ended."
            f"{again}"
        )
    if why is Why.NOT_LISTED_YET:
        return (
            "Slack says this request was already decided elsewhere, but has not listed the decision yet; "
            "the card will be updated on the next sync."
        )
    if why is Why.ANSWER_LOST_UNCHECKED:
        return (
            f"Slack's answer to {verb} the request for {email} was lost on the way, and "
            f"invitebot could not check whether it went through. Click {verb.capitalize()} again: if Slack did "
            "decide it, you will be told so, and the card will say who decided."
        )
    if why in (Why.TOO_LATE, Why.LATE):
        return (
            f"Slack answered too late for invitebot to record it; the request for {email} "
            "is open again. The next sync will show how it ended."
        )
    error = classify(outcome.error or "network_error")
    retry = again if error.kind is Kind.TRANSIENT or why is Why.ANSWER_LOST_UNDECIDED else ""
    return f"Could not {verb} the request for {email}: {error.sentence}{retry}"


def requester_dm(request: InviteRequest) -> str:
    """What a requester reads when their request was decided."""
    who = blocks.decided_by_words(request, "an admin")
    where = blocks.escape(request.team_name) if request.team_name else "the workspace"
    subject = f"Your request to invite {blocks.escape(request.email)} to {where}"
    if request.status == APPROVED:
        return f":white_check_mark: {subject} was approved by {who}. They will get an invitation by email."
    if request.status == INVITE_FAILED:
        return (
            f":warning: {subject} was approved by {who}, but Slack could not send the invitation "
            "(they may be deactivated or already in the workspace)."
        )
    reason = f"\nReason: {blocks.escape(request.deny_reason)}" if request.deny_reason else ""
    return f":no_entry: {subject} was denied by {who}.{reason}"


# -- policies (INVITES_POLICY): what a rule says, how often people agreed, who has approved so far ---------------------

NO_POLICY = "No policy is set: people decide every request. INVITES_POLICY names a policy file that lets rules decide or advise."
_MODE_WORDS = {
    Mode.SHADOW.value: "the rules only say what they would do; people decide",
    Mode.ENFORCE.value: "the rules decide",
}


def oldest_words(span: timedelta | None) -> str:
    """After the pending count: how long the oldest open request has waited."""
    return f" (the oldest has waited {_duration(span)})" if span is not None else ""


def rule_words(rule: Rule) -> str:
    """employees → approve; guests → 2 approvals."""
    then = f"{rule.count} approvals" if rule.then is Then.REQUIRE_APPROVALS else rule.then.value
    return f"{blocks.safe(rule.name, 64)} → {then}"


def policy_words(policy: Policy) -> str:
    """The policy in force: its file, digest and mode."""
    name = blocks.safe(PurePath(policy.path).name or policy.path or "policy file", 200)
    digest = f" · digest `{blocks.safe(policy.digest, 64)}`" if policy.digest else ""
    return f"`{name}`{digest} · *{policy.mode.value}* mode: {_MODE_WORDS[policy.mode.value]}"


def agreement_words(agreement: RuleAgreement) -> str:
    """employees: 41/42 agreed."""
    return f"{blocks.safe(agreement.rule, 64)}: {agreement.agreed}/{agreement.total} agreed"


def in_policy_order(agreement: list[RuleAgreement], policy: Policy | None) -> list[RuleAgreement]:
    """The policy's rules in its own order, then rules it no longer has (their decisions still count)."""
    order = {rule.name: n for n, rule in enumerate(policy.rules)} if policy else {}
    return sorted(agreement, key=lambda a: (order.get(a.rule, len(order)), a.rule))


def agreement_text(agreement: list[RuleAgreement], policy: Policy | None) -> str:
    """`/invites stats`: how often people agreed with each rule over the last 30 days."""
    head = f"*Agreement with the policy ({AGREEMENT_DAYS} days):*"
    if not agreement:
        none = "no policy is set (INVITES_POLICY)" if policy is None else "no request a rule had a verdict on was decided by a person yet"
        return f"{head} {none}"
    return f"{head} " + ", ".join(agreement_words(a) for a in in_policy_order(agreement, policy))


def request_policy(request: InviteRequest, approvers: list[str], policy: Policy | None) -> str | None:
    """`/invites show`: which rule matched, what it says and in which mode; once closed, who approved (the card says it before)."""
    if not request.policy_rule or not request.policy_verdict:
        return None if policy is None else "*Policy*\nNo rule of the policy matches it; people decide it."
    mode = request.policy_mode or Mode.SHADOW.value
    verdict = blocks.safe(request.policy_verdict, 32)
    if request.policy_verdict == Then.REQUIRE_APPROVALS.value:
        verdict = f"require {request.approvals_needed or 'several'} approvals"
    lines = [
        "*Policy*",
        f"Rule *{blocks.safe(request.policy_rule, 64)}* matched: {verdict} "
        f"({blocks.safe(mode, 16)} mode{': ' + _MODE_WORDS[mode] if mode in _MODE_WORDS else ''}).",
    ]
    if approvers and request.status not in OPEN:
        lines.append(blocks.approvals_line(approvers, request.approvals_needed))
    return "\n".join(lines)


# -- reminders, escalations and guest time limits ----------------------------------------------------------------------


def age_words(seconds: int) -> str:
    """How long a request has waited: 45 minutes, 4 hours, 1 day 12 hours, 3 days."""
    minutes = seconds // 60
    days, hours = minutes // 1440, minutes % 1440 // 60
    if days:
        return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")
    if minutes >= 60:
        return _count(minutes // 60, "hour")
    return _count(minutes, "minute")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def approver_mentions(approvers: list[str]) -> str:
    """INVITES_APPROVERS as mentions: users, and user groups (S…, or S…@T… naming the group's workspace)."""
    ids = (approver.partition("@")[0] for approver in approvers)
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


def reminder(age_seconds: int, approvers: list[str]) -> str:
    """On the card's thread, once the request has waited INVITES_REMIND_AFTER."""
    return f"Still waiting after {age_words(age_seconds)}: {approver_mentions(approvers)}, please approve or deny."


def escalation_to_group(group: str, age_seconds: int) -> str:
    """On the card's thread, once the request has waited INVITES_ESCALATE_AFTER (INVITES_ESCALATE_TO is a user group)."""
    return (
        f"<!subteam^{group}>: this invite request is still waiting after {age_words(age_seconds)}. "
        "Please approve or deny it here."
    )


def escalation(request: InviteRequest, age_seconds: int, *, permalink: str | None, channel: str) -> str:
    """In the escalation channel (INVITES_ESCALATE_TO), with a link to the card (or its channel, without one)."""
    where = f"<{permalink}|Open its card> to approve or deny it." if permalink else f"Its card is in <#{channel}>."
    return (
        f":rotating_light: The invite request for *{blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)}* to "
        f"{blocks.workspace_words(request)} is still waiting after {age_words(age_seconds)}. {where}"
    )


def approved_by(request: InviteRequest) -> str:
    """Who approved a request: a person, or the policy rule that did."""
    if request.decision_source == Source.POLICY.value:
        return f"policy *{blocks.safe(request.decided_by or 'unnamed', 64)}*"
    return f"<@{request.decided_by}>" if request.decided_by else "an admin"


def guest_expiry_dm(request: InviteRequest) -> str:
    """What a requester reads 7 days and 1 day before the guest account they asked for ends."""
    assert request.date_expire is not None
    where = blocks.escape(request.team_name) if request.team_name else "the workspace"
    return (
        f":hourglass: The guest account of {blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)} in {where} "
        f"{blocks.slack_date(request.date_expire, lead='ends ')}. It was approved by {approved_by(request)}; "
        "a Slack admin can change its time limit."
    )


def guest_ends(request: InviteRequest) -> str:
    """After an approved guest's status in `/invites mine`: when the account ends (nothing for anyone else)."""
    if request.status != APPROVED or request.invite_type not in blocks.GUEST_TYPES or request.date_expire is None:
        return ""
    return f" · guest account {blocks.slack_date(request.date_expire, lead='ends ')}"


# -- backlog digests ---------------------------------------------------------------------------------------------------


def digest_line(backlog: Backlog, at: datetime) -> str:
    """214 pending requests in Alpha Corp, oldest 9 days (as of `at`); once none is left, All 214 decided."""
    where = blocks.safe(backlog.label, blocks.MAX_NAME_CHARS)
    if not backlog.open:
        return f"All {backlog.total} decided in {where}"
    noun = "request" if backlog.open == 1 else "requests"
    oldest = f", oldest {_oldest_words(at - backlog.oldest)}" if backlog.oldest is not None else ""
    return f"{backlog.open} pending {noun} in {where}{oldest}"


def _oldest_words(span: timedelta) -> str:
    """9 days; under a day, as precise as age_words."""
    return _count(span.days, "day") if span.days else age_words(max(0, int(span.total_seconds())))


NOT_ALLOWED_TO_LIST = "Only invite approvers can list invite requests."
NOT_ALLOWED_IN_BULK = "Only invite approvers can decide invite requests, one by one or in bulk."


def digest_refusal(verdict: Verdict, user_id: str, not_allowed: str) -> str:
    """Why a digest button does nothing for this person: `not_allowed` for someone who is no approver."""
    only = verdict.outcome == NOT_ALLOWED_OUTCOME and verdict.group is None and not verdict.elsewhere
    return not_allowed if only else refusal(verdict, user_id)


DIGEST_EXPLAINED = (
    "Too many requests arrived at once for a card each, so this card stands for them: list them, or decide them in bulk. "
    "Requests that arrive from now on get cards of their own."
)


def bulk_choose_head(backlog: Backlog) -> str:
    """The head of a digest's chooser: what is pending and what a button does."""
    where = blocks.safe(backlog.label, blocks.MAX_NAME_CHARS)
    if not backlog.open:
        return f"Every request of this backlog in {where} has been decided."
    noun = "request" if backlog.open == 1 else "requests"
    return (
        f"*{backlog.open} pending {noun}* in {where}. Pick an email domain: invitebot lists the requests it would decide "
        "before anything is sent to Slack."
    )


def bulk_how(backlog: Backlog) -> str:
    """The chooser's footnote: the same from `/invites`, for a domain without a button or a subdomain pattern."""
    return (
        f"Or type `/invites approve --domain example.com --team {backlog.team_id}` "
        f"(`/invites deny --domain … --team {backlog.team_id} --reason \"…\"`); `*.example.com` takes its subdomains. "
        f"`/invites list {backlog.team_id}` lists them one by one."
    )


# -- audit export (/invites export) ------------------------------------------------------------------------------------

_EXPORT_FAILED = {
    "missing_scope": "invitebot's bot token lacks files:write or im:write: an admin adds both to the app (manifest.yml "
    "lists them) and reinstalls it",
    "file_uploads_disabled": "file uploads are turned off in this workspace: an admin can allow them, or run "
    "`invitebot export` where invitebot runs",
    "file_uploads_except_images_disabled": "only images may be uploaded in this workspace: an admin can allow other "
    "files, or run `invitebot export` where invitebot runs",
    "file_type_not_allowed": "this workspace does not accept CSV files: an admin can allow them, or run "
    "`invitebot export` where invitebot runs",
    "storage_limit_reached": "the workspace's file storage is full: an admin can free some",
    "user_not_found": "Slack would not open a direct message between you and invitebot",
    "user_not_visible": "Slack would not open a direct message between you and invitebot",
    "upload_refused": "Slack's upload address refused the file",
}


def export_filename(since: datetime, until: datetime) -> str:
    return f"invitebot-audit-{since:%Y-%m-%d}-to-{until:%Y-%m-%d}.csv"


def export_comment(rows: int, since: datetime, until: datetime) -> str:
    """The message the file arrives with, in the asker's direct messages with invitebot."""
    return (
        f"invitebot's audit export: every decision and attempt from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC, "
        f"{_count(rows, 'row')}, oldest first. docs/audit.md describes the columns."
    )


def export_sent(rows: int, days: int, filename: str) -> str:
    return f"The audit export of the last {_count(days, 'day')} is in your direct messages with invitebot: {filename}, {_count(rows, 'row')}."


def export_empty(days: int) -> str:
    return f"invitebot recorded no decisions or attempts in the last {_count(days, 'day')}, so there is no file to send."


def export_failed(code: str, days: int) -> str:
    """Slack would not take the file: why, and how to try again."""
    again = f"`/invites export {days}`"
    if code == "file_upload_size_restricted":
        return f"The audit export is larger than this workspace accepts. Try fewer days, like `/invites export {max(1, days // 2)}`."
    if code in _EXPORT_FAILED:
        return f"invitebot could not send the audit export: {_EXPORT_FAILED[code]}. Then try {again} again."
    if classify(code).kind is Kind.TRANSIENT:
        return f"Slack did not take the audit export just now (`{code}`). Try {again} again in a minute."
    return (
        f"invitebot could not send the audit export: Slack answered `{code}`. Try {again} again; if it keeps failing, "
        "`invitebot export` where invitebot runs writes the same file."
    )


# -- bulk decisions (/invites approve|deny --domain …, the App Home's "Approve all from …") ----------------------------

BULK_NOT_ALLOWED = "Only invite approvers can approve or deny in bulk. Nothing was changed."
BULK_CANCEL_NOT_ALLOWED = "Only invite approvers can cancel a bulk decision. Nothing was changed."
BULK_REASON_NEEDED = (
    "invitebot requires a reason to deny requests: `/invites deny --domain example.com --reason \"…\"`, "
    "or the box in the App Home's preview. Nothing was decided."
)
BULK_PREVIEW_FAILED = "Slack did not open the preview in time; try again."
BULK_GONE = "invitebot has no such bulk decision any more. Nothing was changed."
_BULK_TYPES = {"full_member": "full members", "restricted": "multi-channel guests", "ultra_restricted": "single-channel guests"}
_ITEM_WORDS = (  # (outcome, words) for the rarer outcomes, shown when there are any
    ("invite_failed", "approved but not invited (Slack could not send the invitation)"),
    ("gone", "no longer in Slack"),
    ("approval_recorded", "counted as one approval of several (policy)"),
)


def bulk_filter_words(domain: str, teams: list[str], types: tuple[str, ...] | list[str]) -> str:
    """example.com in Alpha Corp, Beta Labs (multi-channel guests); `teams` are workspace names (or ids)."""
    where = f" in {', '.join(blocks.safe(t, blocks.MAX_NAME_CHARS) for t in teams)}" if teams else ""
    kinds = f" ({', '.join(_BULK_TYPES.get(t, blocks.escape(t)) for t in types)})" if types else ""
    return f"{blocks.safe(domain, 300)}{where}{kinds}"


def bulk_title(action: str, filter_words: str, actor: str) -> str:
    """Bulk approve of example.com by @grace."""
    return f"Bulk {_VERB[Action(action)]} of {filter_words} by <@{actor}>"


def bulk_nothing(action: str, filter_words: str, elsewhere: int = 0) -> str:
    """Nothing to decide; `elsewhere`: how many match in workspaces the person does not decide."""
    if elsewhere:
        noun = "request is" if elsewhere == 1 else "requests are"
        return (
            f"No pending invite request from {filter_words} is in the workspaces you decide; {elsewhere} {noun} in "
            "other workspaces, whose own approvers decide them. Nothing was changed."
        )
    return f"No pending invite request is from {filter_words}; there is nothing to {_VERB[Action(action)]}."


def bulk_preview_head(action: str, filter_words: str, total: int, per_minute: int) -> str:
    """What the preview modal opens with: how many, what happens to them, and how long it takes."""
    noun = "request" if total == 1 else "requests"
    verb = _PAST[action]
    pace = blocks.waiting_words(max(0, total - 1) * 60 / per_minute, per_minute)
    return (
        f"*{total} pending {noun}* from {filter_words} will be {verb} one by one, in this order: {pace}. "
        "Each requester is told, and a progress message in the approvals channel lets any approver cancel the rest."
    )


def bulk_preview_line(request: InviteRequest) -> str:
    """• ada@example.com · Alpha Corp · Full member."""
    return (
        f"• {blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)} · {blocks.workspace_words(request)} · "
        f"{blocks.invite_type_words(request.invite_type)}"
    )


def bulk_more(left: int) -> str:
    return f"and {left} more"


def left_words(seconds: float) -> str:
    """about 4 min left; about 40 s left; finishing."""
    if seconds >= 90:
        return f"about {round(seconds / 60)} min left"
    if seconds >= 5:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    return "finishing"


def bulk_counts(action: str, by: dict[str | None, int], total: int, *, running: bool) -> str:
    """37 of 120 approved, 2 decided elsewhere (running); 118 approved, 2 decided elsewhere, 0 failed (at the end)."""
    decided = by.get("approved", 0) + by.get("denied", 0) + by.get("invite_failed", 0)
    parts = [f"{decided} of {total} {_PAST[action]}" if running else f"{decided} {_PAST[action]}"]
    if by.get("elsewhere") or not running:
        parts.append(f"{by.get('elsewhere', 0)} decided elsewhere")
    if by.get("failed") or not running:
        parts.append(f"{by.get('failed', 0)} failed")
    parts.extend(f"{by[outcome]} {words}" for outcome, words in _ITEM_WORDS if by.get(outcome))
    if by.get("cancelled"):
        parts.append(f"{by['cancelled']} not decided")
    return ", ".join(parts)


def bulk_progress(
    title: str,
    action: str,
    by: dict[str | None, int],
    total: int,
    *,
    state: str,
    seconds_left: float,
    cancelled_by: str | None = None,
    stopped_because: str | None = None,
    finished: bool = False,
) -> str:
    """The progress message: "37 of 120 approved, 2 decided elsewhere, about 4 min left" while it runs, then its summary."""
    if state == "running":
        return f"{title}\n{bulk_counts(action, by, total, running=True)}, {left_words(seconds_left)}"
    if state == "done":
        return f"{title}: {bulk_counts(action, by, total, running=False)}"
    if stopped_because is not None:
        how = f"stopped: {_bulk_stop_words(stopped_because)}"
    else:
        how = f"cancelled by <@{cancelled_by}>" if cancelled_by else "cancelled"
    under_way = by.get("deciding", 0)
    still = f"; {under_way} already under way {'is' if under_way == 1 else 'are'} finishing" if under_way and not finished else ""
    return f"{title}, {how}{still}: {bulk_counts(action, by, total, running=False)}"


def _bulk_stop_words(code: str) -> str:
    if code == LOOKUP_FAILED_OUTCOME:
        return "invitebot could not check the approver rights of the person who started it"
    if code == "reason_required":
        return "a deny reason is required"
    if code.startswith("feeder_failed"):
        return "invitebot's own attempts to go on kept failing (its log says why)"
    return "the person who started it is no longer an invite approver"


def bulk_started(action: str, filter_words: str, total: int, channel: str) -> str:
    noun = "request" if total == 1 else "requests"
    return f"{_DOING[action].capitalize()} {total} {noun} from {filter_words}; the progress is in <#{channel}>."


def bulk_not_yours(actor: str) -> str:
    return f"Only <@{actor}>, who asked for this preview, can start it. Nothing was changed."


def bulk_already(action: str, state: str) -> str:
    if state == "running":
        return f"This bulk {_VERB[Action(action)]} is already running; its progress message can cancel it."
    return f"This bulk {_VERB[Action(action)]} has already {'been cancelled' if state == 'cancelled' else 'finished'}. Nothing was changed."


def bulk_cancelled(action: str, by: dict[str | None, int]) -> str:
    left, under_way = by.get("cancelled", 0), by.get("deciding", 0)
    finishing = f"; {under_way} already under way finish" if under_way else ""
    return f"You cancelled the bulk {_VERB[Action(action)]}: {left} {'request is' if left == 1 else 'requests are'} not decided{finishing}."
