"""/invites answers about requests: the pending list with its pager, one request in full, the latest decisions."""

from __future__ import annotations

import json
from typing import Any

from app.core.approvals import Tally
from app.core.policy import Policy
from app.slack.ids import ActionId
from app.slack.ui import blocks, limits
from app.slack.ui.replies.attempts import attempt_line
from app.slack.ui.replies.policy import request_policy
from app.slack.ui.replies.words import LIST_REASON_CHARS, _sections, source_words, status_words
from app.store.models import DecisionLog, InviteRequest

LIST_PAGE_SIZE = 10  # 2 blocks each, with a title and the pager well within a message's 50 blocks


def request_summary(request: InviteRequest, *, workspace: bool = True) -> str:
    """One request in one mrkdwn paragraph; `workspace=False` under a heading that already names its workspace."""
    where = f" in {blocks.workspace_words(request)}" if workspace else ""
    return (
        f"{blocks.who(request)} as {blocks.invite_type_words(request.invite_type).lower()}{where}\n"
        f"Asked by {blocks.mentions(request.requester_ids)}{blocks.slack_date(request.date_created, lead=', ')} · `{request.id}`"
    )


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
    order = "workspace by workspace, oldest first" if grouped else "oldest first"
    items: list[list[dict[str, Any]]] = []
    previous: str | None = "-"  # no workspace has this id: the first request starts a group
    for request in requests:
        summary = request_summary(request, workspace=not (team or grouped is not None))
        item = [blocks.mrkdwn_section(summary), blocks.decision_buttons(request, block_id=f"list-{request.id}")]
        if grouped is not None and request.team_id != previous:
            previous = request.team_id
            item.insert(0, blocks.mrkdwn_section(f"*{blocks.workspace_words(request)}* ({grouped.get(request.team_id, 0)} waiting)"))
        items.append(item)

    def head(shown: int) -> list[dict[str, Any]]:
        return [blocks.mrkdwn_section(f"*Pending invite requests{where}* ({offset + 1}–{offset + shown} of {total}, {order})")]

    def more(left: int) -> str:
        return f"{left} more on this page did not fit in one message: Next starts with them."

    def pager(shown: int) -> list[dict[str, Any]]:
        buttons = []
        if offset > 0:
            buttons.append(_page_button("Previous", max(0, offset - LIST_PAGE_SIZE), team))
        if offset + shown < total:
            buttons.append(_page_button("Next", offset + shown, team))
        return [{"type": "actions", "block_id": f"pager-{offset}", "elements": buttons}] if buttons else []

    shown = min(len(items), max(1, limits.fitting(head(len(items)), items, more, tail=pager)))  # the head at its longest
    left = [blocks.context(more(len(items) - shown))] if shown < len(items) else []
    return limits.fit(head(shown), items[:shown], more, tail=lambda fitted: left + pager(fitted))


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

    return limits.fit(head, items, more)


def request_in_full(
    request: InviteRequest,
    trail: list[DecisionLog],
    approved: Tally | None = None,
    policy: Policy | None = None,
    *,
    decidable: bool = True,
) -> list[dict[str, Any]]:
    """`/invites show`: the card as the channel shows it, what the policy said of it, then every recorded attempt.
    `decidable`: the viewer may decide it; otherwise the card loses its buttons and says whose it is."""
    approved = approved or Tally()
    out = blocks.request_card(request, approvals=approved.counted, lapsed=approved.lapsed)
    if not decidable:
        out = [b for b in out if b.get("type") != "actions"]
        out.append(blocks.context("Its workspace's own approvers (or the org's) decide this request, not you."))
    said = request_policy(request, list(approved.counted), policy)
    if said is not None:
        out.append(blocks.mrkdwn_section(said))
    lines = [attempt_line(entry) for entry in trail]
    if not lines:
        return [*out, blocks.mrkdwn_section("*History*\nNo attempts to decide yet.")]
    more = lambda left: (  # noqa: E731
        f"{left} later attempts not shown. The card above shows how the request stands; "
        "invitebot's decision_log table has every attempt."
    )
    return _sections(out, ["*History*", *lines], more=more)


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
    return _sections([blocks.mrkdwn_section(f"*Latest {len(requests)} decisions*")], lines, more=more)
