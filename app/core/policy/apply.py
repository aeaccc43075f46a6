"""What the active policy does to a stored request: record the first matching rule (or why none may decide it now, a
hold), and in enforce mode let it decide."""

from __future__ import annotations

import logging
from typing import Any

from app.core import lifecycle
from app.core.authz import GroupMembers
from app.core.decisions import decide
from app.core.outcomes import Outcome
from app.core.policy import HOLD, Facts, Hold, MemberOf, Policy, Then, evaluate
from app.core.ports import SlackCallFailed
from app.core.services import Services
from app.store.models import Action, InviteRequest, Source

log = logging.getLogger(__name__)

VERDICT_COLUMNS = ("policy_rule", "policy_verdict", "policy_mode", "approvals_needed", "policy_note")
NOTE_CHARS = 300  # policy_note's column
_ACTIONS = {Then.APPROVE.value: Action.APPROVE, Then.DENY.value: Action.DENY}


def member_of(groups: GroupMembers | None, team_id: str | None, unread: set[tuple[str, str]] | None = None) -> MemberOf:
    """Is a requester in a user group, read in the request's workspace; None while Slack will not list the group there.

    `unread` collects the (group, workspace) pairs Slack failed to list, and they are not asked for again: a sync pass
    over many requests asks a rate-limited Slack once per group, not once per request.
    """
    failed = unread if unread is not None else set()

    def check(group_id: str, user_id: str) -> bool | None:
        if groups is None or not team_id or (group_id, team_id) in failed:
            return None
        try:
            return user_id in groups.get(group_id, team_id)
        except SlackCallFailed as exc:
            log.warning("could not read user group %s in %s for the policy: %s", group_id, team_id, exc.code)
            failed.add((group_id, team_id))
            return None

    return check


def verdict(
    policy: Policy | None, values: dict[str, Any], groups: GroupMembers | None = None, unread: set[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The verdict columns for a request described by ingest's `values`: all None when no rule matches; `unread` as for
    member_of()."""
    empty = dict.fromkeys(VERDICT_COLUMNS)
    if policy is None:
        return empty
    facts = Facts(
        email=values["email"],
        invite_type=values["invite_type"],
        team_id=values["team_id"],
        requester_ids=tuple(values["requester_ids"]),
        reason=values["reason"],
        channel_ids=tuple(values["channel_ids"]),
    )
    match = evaluate(policy, facts, member_of(groups, values["team_id"], unread))
    if match is None:
        return empty
    if isinstance(match, Hold):
        log.warning("policy holds request %s for people: %s", values["id"], match.why)
        return {
            **empty,
            "policy_rule": match.rule.name if match.rule is not None else None,
            "policy_verdict": HOLD,
            "policy_mode": policy.mode.value,
            "policy_note": match.why[:NOTE_CHARS],
        }
    rule = match.rule
    return {
        **empty,
        "policy_rule": rule.name,
        "policy_verdict": rule.then.value,
        "policy_mode": policy.mode.value,
        "approvals_needed": rule.count if rule.then is Then.REQUIRE_APPROVALS else None,
    }


def enforce(services: Services, request_id: str) -> Outcome | None:
    """An enforced approve or deny rule decides a pending request through decide(), like an approver would; None otherwise.

    decide()'s claim makes this once however many times the request is seen (event retries, sync, replicas).
    """
    if services.policy is None or not services.policy.enforcing:
        return None
    with services.read() as session:
        request = session.get(InviteRequest, request_id)
    if request is None or request.status != lifecycle.PENDING or request.team_id is None or request.policy_mode != "enforce":
        return None
    action = _ACTIONS.get(request.policy_verdict or "")
    if action is None or not request.policy_rule:
        return None
    policy = services.policy
    rule = next((r for r in policy.rules if r.name == request.policy_rule), None) if policy else None
    reason = rule.reason if rule is not None and action is Action.DENY else None
    log.info("policy rule %s decides request %s: %s", request.policy_rule, request_id, action.value)
    return decide(services, request_id, action, request.policy_rule, Source.POLICY, reason)
