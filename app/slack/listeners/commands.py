"""The /invites slash command: parse and ack at once, do the work after, answer through response_url."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from slack_bolt import Ack, App

from app.core import approvals, audit, authz, invites, queries, receipts
from app.core.authz import NOT_ALLOWED_OUTCOME
from app.core.bulk import batches
from app.core.bulk.batches import Filter
from app.core.decisions import decide
from app.core.outcomes import Result
from app.core.policy import stats as policy_stats
from app.slack.ids import ActionId
from app.slack.jobs.answers import tell_now
from app.slack.jobs.home import publish_home
from app.slack.listeners import bulk, exports
from app.slack.listeners.after_ack import run_later
from app.slack.listeners.command_parse import USAGE, Command, DirectInvite, UsageError, parse
from app.slack.listeners.surfaces import reply_to_of
from app.slack.runtime import Runtime
from app.slack.ui import blocks, replies
from app.store.models import Action, Source

log = logging.getLogger(__name__)
OPEN_TO_ALL = ("mine", "help")
REPLAYED = "invitebot already received this command and did not run it again."
_GUEST_WORDS = {None: "a full member", "multi": "a multi-channel guest", "single": "a single-channel guest"}


def register(app: App, runtime: Runtime) -> None:
    @app.command("/invites")
    def on_invites(ack: Ack, body: dict[str, Any]) -> None:
        """Usage mistakes are answered in the ack itself; everything else after it."""
        try:
            command = parse(body.get("text") or "", datetime.now(timezone.utc).date())
        except UsageError as exc:
            ack(text=exc.answer())
            return
        if command.name == "help":
            ack(text=USAGE)
            return
        ack()
        run_later(runtime, reply_to_of(body), run, runtime, command, body)

    @app.action(re.compile(f"^{ActionId.LIST_PAGE.value}_"))
    def on_page(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        run_later(runtime, reply_to_of(body), turn_page, runtime, body)


def run(runtime: Runtime, command: Command, body: dict[str, Any]) -> None:
    """One subcommand, answered ephemerally through the command's response_url; a replayed one only says so.

    The replay check writes to the database, so it runs here, after the ack: an ack never waits for a write lock.
    """
    user_id, reply_to = body["user_id"], reply_to_of(body)
    assert reply_to is not None  # a slash command always has a response_url and a user
    if not receipts.first_delivery(runtime.sessions, str(body.get("trigger_id") or ""), body.get("user_id")):
        tell_now(runtime, reply_to, REPLAYED)
        return
    if command.name in OPEN_TO_ALL:
        verdict = authz.ALLOWED
    else:
        asked = authz.Asked(user_id, command.name, _subject(runtime, command), Source.SLASH.value, invitee=_invitee(runtime, command, body))
        verdict = authz.require(runtime.sessions, runtime.approvers, asked, actor_team=body.get("team_id"))
    if not verdict.allowed:
        if verdict.outcome == NOT_ALLOWED_OUTCOME and verdict.group is None:
            text = f"Only invite approvers can use `/invites {command.name}`. You can use `/invites mine` and `/invites help`."
        else:
            text = replies.refusal(verdict, user_id)
        tell_now(runtime, reply_to, text)
        return
    reply = _HANDLERS[command.name](runtime, command, body)
    if reply is not None:
        text, blocks = reply
        tell_now(runtime, reply_to, text, blocks)


# What a subcommand answers; None when the outbox answers (a decision, once Slack has answered).
Reply = tuple[str, list[dict[str, Any]] | None] | None


def _invitee(runtime: Runtime, command: Command, body: dict[str, Any]) -> audit.Invitee | None:
    """Whom a direct invitation was for, so even a refused one names them in the audit log."""
    invite = command.invite
    if invite is None:
        return None
    team_id, _ = _invite_workspace(runtime, invite, body)
    invitation = invites.Invitation(invite.email, team_id or "", invite.channel_ids, invite.guest, invite.expires)
    return replace(invites.invitee_of(invitation), team_id=team_id)


def _subject(runtime: Runtime, command: Command) -> str:
    """The request an attempt was about, for the audit log: its id when the reference names exactly one."""
    if command.invite is not None:
        return invites.DIRECT_INVITE_SUBJECT
    if command.bulk is not None:
        return f"bulk:{command.bulk.domain}"[:32]
    if command.ref is None:
        return "-"
    with runtime.sessions() as session:
        matches = queries.find(session, command.ref)
    return matches[0].id if len(matches) == 1 else command.ref[:32]


def _teams(runtime: Runtime, user_id: str, team_id: str | None) -> frozenset[str] | None:
    """The workspaces whose requests the viewer may decide (None: every one), which is all their lists and stats show."""
    return runtime.approvers.reach(user_id, team_id).teams


def _list(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    teams = _teams(runtime, body["user_id"], body.get("team_id"))
    if command.team is None:
        return _page(runtime, offset=0, team=None, teams=teams)
    found = runtime.workspaces.find(command.team)
    if found is None:
        choices = ", ".join(blocks.escape(w.label()) for w in runtime.workspaces.known()) or "none configured"
        shown = blocks.escape(command.team.replace("`", "'")[:80])
        return f"No workspace is called {shown}", [
            blocks.mrkdwn_section(f"No workspace of invitebot's is called `{shown}`. Its workspaces: {choices}.")
        ]
    if teams is not None and found.id not in teams:
        yours = ", ".join(blocks.escape(runtime.workspaces.name_of(t) or t) for t in sorted(teams))
        text = f"You decide the invite requests of {yours}, not of {blocks.escape(found.label())}; `/invites list` shows yours."
        return text, [blocks.mrkdwn_section(text)]
    return _page(runtime, offset=0, team=found.id, teams=teams)


def _page(runtime: Runtime, *, offset: int, team: str | None, teams: frozenset[str] | None) -> tuple[str, list[dict[str, Any]]]:
    """One page of the pending requests the viewer may decide (`teams`; None: all), in one workspace (by id) or in all,
    workspace by workspace."""
    if team is None and teams is not None and len(teams) == 1:
        [team] = teams  # an approver of one workspace: the list is that workspace's
    with runtime.sessions() as session:
        requests, total = queries.pending(session, team=team, teams=teams, offset=offset, limit=replies.LIST_PAGE_SIZE)
        counts = queries.pending_counts(session, teams=teams) if team is None else {}
    label = (runtime.workspaces.name_of(team) or team) if team else None
    grouped = counts if len(counts) > 1 else None
    page = replies.pending_page(requests, total=total, offset=offset, team=team, label=label, grouped=grouped)
    return f"{total} pending invite requests", page


def _decide(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    if command.bulk is not None:
        return _bulk(runtime, command, body)
    assert command.ref is not None
    with runtime.sessions() as session:
        matches = queries.find(session, command.ref)
    if not matches:
        return f"No invite request matches {command.ref}. Try `/invites list`.", None
    if len(matches) > 1:
        return f"{len(matches)} requests match {command.ref}", replies.choose_one(command.ref, matches)
    action = Action.APPROVE if command.name == "approve" else Action.DENY
    user_id = body["user_id"]
    outcome = decide(
        runtime.services,
        matches[0].id,
        action,
        user_id,
        Source.SLASH,
        command.reason,
        actor_team=body.get("team_id"),
        reply_to=reply_to_of(body),
    )
    if outcome.result is Result.ACCEPTED:
        return None
    if outcome.result not in (Result.REFUSED, Result.REASON_REQUIRED):
        publish_home(runtime, user_id)
    return replies.decision(outcome, user_id, per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE), None


def _bulk(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    """`/invites approve|deny --domain …`: the preview modal, opened with the command's trigger_id; nothing is decided
    until it is confirmed. A deny without the reason INVITES_DENY_REASON_REQUIRED asks for is refused here."""
    assert command.bulk is not None
    teams: list[str] = []
    for typed in command.bulk.teams:
        found = runtime.workspaces.find(typed)
        if found is None:
            choices = ", ".join(f"`{blocks.escape(w.domain or w.id)}`" for w in runtime.workspaces.known()) or "none configured"
            shown = blocks.escape(typed.replace("`", "'")[:80])
            return f"`{shown}` is not one of invitebot's workspaces ({choices}). Nothing was changed.", None
        teams.append(found.id)
    action = Action.APPROVE if command.name == "approve" else Action.DENY
    wanted = Filter(command.bulk.domain, tuple(dict.fromkeys(teams)), command.bulk.types)
    user_id, team_id = body["user_id"], body.get("team_id")
    refused = batches.refusal(runtime.services, action, wanted, user_id, Source.SLASH, command.bulk.reason, actor_team=team_id)
    if refused is not None:
        return bulk.refusal_words(refused, user_id), None
    failed = bulk.open_preview(
        runtime,
        trigger_id=str(body.get("trigger_id") or ""),
        user_id=user_id,
        team_id=team_id,
        action=action,
        wanted=wanted,
        source=Source.SLASH,
        reason=command.bulk.reason,
        ask_reason=action is Action.DENY and not command.bulk.reason,
        channel=body.get("channel_id"),
        checked=True,
    )
    return (failed, None) if failed else None


def _show(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    assert command.ref is not None
    with runtime.sessions() as session:
        matches = queries.find(session, command.ref)
        trails = {m.id: queries.audit_trail(session, m.id) for m in matches}
        approved = approvals.tally(session, matches[0].id) if len(matches) == 1 else approvals.Tally()
    if not matches:
        return f"No invite request matches {command.ref}.", None
    if len(matches) > 1:
        return f"{len(matches)} requests match {command.ref}", replies.choose_one(command.ref, matches)
    request = matches[0]
    reach = runtime.approvers.reach(body["user_id"], body.get("team_id"))
    shown = replies.request_in_full(
        request, trails[request.id], approved, runtime.policy, decidable=reach.teams is None or reach.covers(request.team_id)
    )
    return f"Invite request {request.id}", shown


def _history(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    teams = _teams(runtime, body["user_id"], body.get("team_id"))
    with runtime.sessions() as session:
        decided = queries.history(session, command.count, teams=teams)
    return f"Latest {len(decided)} decisions", replies.history_lines(decided)


def _stats(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    teams = _teams(runtime, body["user_id"], body.get("team_id"))
    scope = None if teams is None else [runtime.workspaces.name_of(t) or t for t in sorted(teams)]
    with runtime.sessions() as session:
        text = replies.stats_text(queries.stats(session, teams=teams), queries.last_sync(session), scope=scope)
        text += "\n" + replies.agreement_text(policy_stats.agreement(session, teams=teams), runtime.policy)
    return text, None


def _sync(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    summary = runtime.sync()
    return summary.line(), None


def _mine(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    with runtime.sessions() as session:
        requests = queries.requested_by(session, body["user_id"])
    return "Your invite requests", replies.mine(requests)


def _invite(runtime: Runtime, command: Command, body: dict[str, Any]) -> Reply:
    """Invite directly with admin.users.invite, audited like a decision."""
    invite = command.invite
    assert invite is not None
    team_id, problem = _invite_workspace(runtime, invite, body)
    if team_id is None:
        return f"Could not invite {invite.email}: {problem}", None
    invitation = invites.Invitation(invite.email, team_id, invite.channel_ids, invite.guest, invite.expires, invite.message)
    sent = invites.invite(runtime.sessions, runtime.gateway, runtime.approvers, invitation, body["user_id"], body.get("team_id"))
    where = runtime.workspaces.name_of(team_id) or team_id
    if not sent.verdict.allowed:
        return replies.invite_refusal(sent.verdict, body["user_id"], invite.email, blocks.escape(where)), None
    if sent.foreign_channels:
        return replies.foreign_channels(invite.email, sent.foreign_channels, blocks.escape(where)), None
    if sent.error:
        return replies.invite_failed(invite.email, sent.error), None
    channels = " ".join(f"<#{c}>" for c in invite.channel_ids)
    expiry = f", until {invite.expires.isoformat()}" if invite.expires else ""
    return f"Invited {invite.email} to {blocks.escape(where)}, to join {channels} as {_GUEST_WORDS[invite.guest]}{expiry}.", None


def _invite_workspace(runtime: Runtime, invite: DirectInvite, body: dict[str, Any]) -> tuple[str | None, str]:
    """The workspace to invite into: the one named after `in`, else the one the command was typed in."""
    known = runtime.workspaces.known()
    choices = ", ".join(f"`{blocks.escape(w.domain or w.id)}`" for w in known) or "none configured"
    if invite.workspace is not None:
        found = runtime.workspaces.find(invite.workspace)
        if found is None:
            shown = blocks.escape(invite.workspace.replace("`", "'")[:80])
            return None, f"`{shown}` is not one of invitebot's workspaces ({choices}). Nothing was sent."
        return found.id, ""
    typed_in = str(body.get("team_id") or "")
    if typed_in.startswith("T"):
        return typed_in, ""
    return None, f"name the workspace to invite into with `in <workspace>` ({choices}). Nothing was sent."


_HANDLERS = {
    "list": _list,
    "approve": _decide,
    "deny": _decide,
    "show": _show,
    "history": _history,
    "stats": _stats,
    "sync": _sync,
    "mine": _mine,
    "invite": _invite,
    "export": exports.queue,
}


def turn_page(runtime: Runtime, body: dict[str, Any]) -> None:
    """Previous/Next under `/invites list`: replace the list in place."""
    user_id, url = body["user"]["id"], body.get("response_url")
    if not url:
        return
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id") or ""
    reply_to = {"surface": "response_url", "url": url, "user": user_id, "channel": channel}
    asked = authz.Asked(user_id, "list", source=Source.SLASH.value)
    verdict = authz.require(runtime.sessions, runtime.approvers, asked, actor_team=(body.get("user") or {}).get("team_id"))
    if not verdict.allowed:
        only = verdict.outcome == NOT_ALLOWED_OUTCOME and verdict.group is None
        tell_now(runtime, reply_to, "Only invite approvers can list invite requests." if only else replies.refusal(verdict, user_id))
        return
    try:
        value = json.loads(body["actions"][0]["value"])
        offset, team = max(0, int(value["offset"])), value.get("team")
    except (KeyError, IndexError, TypeError, ValueError):
        log.warning("ignored a page click with an unreadable value")
        return
    teams = _teams(runtime, user_id, (body.get("user") or {}).get("team_id"))
    text, blocks = _page(runtime, offset=offset, team=team if isinstance(team, str) else None, teams=teams)
    tell_now(runtime, reply_to, text, blocks, replace=True)
