"""Block Kit for /invites answers: lists with buttons, one request in full, history, stats, a requester's own requests."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from app.core.queries import Stats
from app.slack import blocks
from app.slack.ids import ActionId
from app.store.models import DecisionLog, InviteRequest, Source, SyncRun

LIST_PAGE_SIZE = 10
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
    workspace = blocks.escape(request.team_name) if request.team_name else f"`{request.team_id}`"
    return (
        f"{blocks.who(request)} as {blocks.invite_type_words(request.invite_type).lower()} in {workspace}\n"
        f"Asked by {blocks.mentions(request.requester_ids)} {blocks.slack_date(request.date_created)} · `{request.id}`"
    )


def status_words(request: InviteRequest) -> str:
    """How a request stands, in a sentence."""
    return blocks.outcome_line(request) or ":hourglass_flowing_sand: Waiting for a decision"


def pending_page(requests: list[InviteRequest], *, total: int, offset: int, team: str | None) -> list[dict[str, Any]]:
    """A page of pending requests with Approve/Deny on each, and paging buttons."""
    where = f" in {blocks.escape(team)}" if team else ""
    if not total:
        return [blocks.mrkdwn_section(f"No invite requests are waiting{where}. :tada:")]
    shown = f"{offset + 1}–{offset + len(requests)} of {total}"
    out = [blocks.mrkdwn_section(f"*Pending invite requests{where}* ({shown}, oldest first)")]
    for request in requests:
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
    """Several pending requests share an email (several workspaces): list them, never guess."""
    out = [blocks.mrkdwn_section(f"{len(matches)} pending requests match {blocks.escape(ref)}. Choose one:")]
    for request in matches:
        out.append(blocks.mrkdwn_section(request_summary(request)))
        out.append(blocks.decision_buttons(request, block_id=f"choose-{request.id}"))
    return out


def request_in_full(request: InviteRequest, trail: list[DecisionLog]) -> list[dict[str, Any]]:
    """`/invites show`: the card as the channel shows it, then every recorded attempt."""
    out = blocks.request_card(request)
    lines = [
        f"• {blocks.slack_date(entry.at)}: {f'<@{entry.actor_id}>' if entry.actor_id else 'invitebot'} "
        f"{entry.action} from {source_words(entry.source)}: `{entry.outcome}`"
        for entry in trail
    ]
    out.append(blocks.mrkdwn_section("*History*\n" + ("\n".join(lines) if lines else "No attempts to decide yet.")))
    return out


def history_lines(requests: list[InviteRequest]) -> list[dict[str, Any]]:
    if not requests:
        return [blocks.mrkdwn_section("No decisions yet.")]
    lines = [f"• {blocks.escape(r.email)}: {status_words(r)} (from {source_words(r.decision_source)})" for r in requests]
    return [blocks.mrkdwn_section(f"*Latest {len(requests)} decisions*"), *_sections(lines)]


def stats_text(stats: Stats, last_sync: SyncRun | None) -> str:
    pending = ", ".join(f"{blocks.escape(team)}: {count}" for team, count in stats.pending_by_team.items()) or "none"
    median = _duration(stats.median_to_decision) if stats.median_to_decision is not None else "no decisions yet"
    synced = f"{blocks.slack_date(last_sync.finished_at)} ({last_sync.summary})" if last_sync else "never"
    return (
        f"*Pending:* {pending}\n"
        f"*Last 7 days:* {stats.approved_7d} approved, {stats.denied_7d} denied\n"
        f"*Median time to decision (7 days):* {median}\n"
        f"*Last sync:* {synced}"
    )


def mine(requests: list[InviteRequest]) -> list[dict[str, Any]]:
    """A requester's own requests and how each stands."""
    if not requests:
        return [blocks.mrkdwn_section("You have not asked to invite anyone yet.")]
    lines = [f"• *{blocks.escape(r.email)}* ({blocks.slack_date(r.date_created)}): {status_words(r)}" for r in requests]
    return [blocks.mrkdwn_section("*Your invite requests*"), *_sections(lines)]


def _sections(lines: list[str]) -> list[dict[str, Any]]:
    """Lines grouped into sections under Slack's 3000-character limit."""
    out, chunk = [], ""
    for line in lines:
        if chunk and len(chunk) + len(line) + 1 > 2900:
            out.append(blocks.mrkdwn_section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        out.append(blocks.mrkdwn_section(chunk))
    return out


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
