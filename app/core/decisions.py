"""decide(): the one path from any surface to exactly one Slack call and a truthful record.

decide() checks the rules (an approver, and not approving their own request? reason required? enough approvers, each
still one, when a policy rule asks for several?), claims the request and writes the admin call as an outbox job in one
transaction. The job (app.slack.jobs.decisions) asks Slack when the workspace's pace allows, and app.core.settle
records what Slack answered in one more transaction, with everything Slack must be told next: the clicker's answer,
every card copy, the requesters' DMs and the decider's App Home. app.core.outcomes names how an attempt ended.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Callable, Mapping, Protocol, cast

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.orm import Session

from app.core import approvals, audit, authz, cards, lifecycle, pacing, team_access
from app.core.audit import now
from app.core.authz import ALLOWED, LOOKUP_FAILED_OUTCOME, Verdict
from app.core.bulk import items as batch_items
from app.core.outcomes import Outcome, Result, Why
from app.core.services import Services
from app.store.models import Action, InviteRequest, RequestCard, Source

log = logging.getLogger(__name__)

# A call that waits longer than this for the workspace's pace is shown as queued, on the card and to the clicker.
QUEUED_NOTICE = timedelta(seconds=2)
REASON_REQUIRED_OUTCOME = "reason_required"
APPROVAL_RECORDED_OUTCOME = "approval_recorded"
ALREADY_APPROVED_OUTCOME = "already_approved"
APPROVAL_LAPSED_OUTCOME = "approval_lapsed"  # an earlier approval that no longer counts (its approver's entry)
# A requester DM's payload key: the DM has yet to take its slot of the DM channel's pace (it does when it first runs).
TAKE_SLOT = "take_slot"


_LOST_OUTCOME = {
    Result.NOT_FOUND: "not_found",
    Result.IN_FLIGHT: "in_flight",
    Result.FAILED: "released_meanwhile",
    Result.ALREADY_DECIDED: "already_decided",
}


def decide(
    services: Services,
    request_id: str,
    action: Action,
    actor_id: str,
    source: Source,
    reason: str | None = None,
    *,
    actor_team: str | None = None,
    reply_to: dict[str, Any] | None = None,
    clicked: tuple[str, str] | None = None,
    batch_id: int | None = None,
    with_claim: Callable[[Session], object] | None = None,
) -> Outcome:
    """Check the rules, then claim the request (one winner) and queue its admin call; every refusal is audited.

    `reply_to` says where the clicker's answer goes once Slack has answered (app.slack.jobs.registry reads it); `clicked` is the
    card copy the click came from, brought up to date even if invitebot does not track it. `batch_id`: the bulk
    decision (app.core.bulk.batches) this is one item of: every audit entry of the attempt carries it, the item is taken in
    the claim's transaction (SKIPPED when it was taken or cancelled already), and its outcome is recorded when the
    decision ends (app.core.bulk.items); an item the person asked for themselves is set aside as `self_requested`.
    `with_claim` is the caller's own write, committed with the claim (or the count, or the loss) in its transaction: the
    ask that asked for this decision, marked done (app.core.asks), so a worker that dies after it is never asked again.
    """
    by_rule = source is Source.POLICY  # INVITES_POLICY in enforce mode: the rule is the decider, checked at start-up
    asked = authz.Asked(actor_id, action.value, request_id, source.value, batch_id)
    verdict, lapsed = _may_decide(services, asked, actor_team) if not by_rule else (ALLOWED, {})
    if not verdict.allowed:
        if batch_id is not None and verdict.self_requested:  # skipped, and the bulk decision goes on with the rest
            with services.sessions.begin() as session:
                batch_items.set_aside(session, services.outbox, batch_id, request_id, batch_items.SELF_REQUESTED)
        return Outcome(Result.REFUSED, action, request_id, verdict=verdict)
    if action is Action.DENY and services.rules.deny_reason_required and not (reason or "").strip():
        authz.refused(services.sessions, asked, REASON_REQUIRED_OUTCOME)
        return Outcome(Result.REASON_REQUIRED, action, request_id)
    with services.sessions.begin() as session:
        if batch_id is not None and not batch_items.take(session, batch_id, request_id):
            return Outcome(Result.SKIPPED, action, request_id)
        attempt = _Asked(services, request_id, action, actor_id, source, reason, reply_to, clicked, batch_id, actor_team, lapsed)
        outcome = _claim(attempt, session, by_rule)
        if batch_id is not None:
            batch_items.ended(session, services.outbox, batch_id, request_id, outcome.result.value, outcome.action.value)
        if with_claim is not None:
            with_claim(session)
        return outcome


@dataclass(frozen=True)
class _Asked:
    """What decide() was asked, for the transaction that claims the request."""

    services: Services
    request_id: str
    action: Action
    actor_id: str
    source: Source
    reason: str | None
    reply_to: dict[str, Any] | None
    clicked: tuple[str, str] | None
    batch_id: int | None
    actor_team: str | None = None
    lapsed: Mapping[str, str] = field(default_factory=dict)  # earlier approvers checked again and refused now, and why

    def record(self, session: Session, outcome: str, detail: str | None = None) -> None:
        audit.record(
            session, request_id=self.request_id, actor_id=self.actor_id, action=self.action.value, source=self.source.value,
            outcome=outcome, detail=detail, batch_id=self.batch_id,
        )


def _claim(asked: _Asked, session: Session, by_rule: bool) -> Outcome:
    """Claim the request and queue its admin call, or say why not (counted as one approval of several, lost, unplaced).

    The usual claim is one statement that also reads what the call needs; the request is read whole only when that
    claim did not apply, to say why or to count an approval towards a rule that asks for several.
    """
    services, request_id, action, actor_id, source = asked.services, asked.request_id, asked.action, asked.actor_id, asked.source
    claim = f"{services.replica_id}:{uuid.uuid4().hex}"
    several_possible = action is Action.APPROVE and not by_rule
    claimed = lifecycle.claim_placed(
        session, request_id, owner=claim, action=action.value, actor_id=actor_id, source=source.value, batch_id=asked.batch_id,
        one_decider=several_possible,
    )
    if claimed is not None:
        return _queue_call(asked, session, claim, claimed)
    request = session.get(InviteRequest, request_id)
    if request is not None and request.team_id is None and request.status == lifecycle.PENDING:
        asked.record(session, "workspace_unknown")
        return Outcome(Result.FAILED, action, request_id, request.email, why=Why.UNPLACED)
    if request is not None and several_possible and _needs_several(request):
        counted = _count_approval(asked, session, request)
        if counted is not None:
            return counted
    log_id = lifecycle.claim(
        session, request_id, owner=claim, action=action.value, actor_id=actor_id, source=source.value, batch_id=asked.batch_id
    )
    if log_id is None:
        return _lost(asked, session)
    assert request is not None and request.team_id is not None
    return _queue_call(asked, session, claim, lifecycle.Claimed(log_id, request.team_id, request.email))


def _queue_call(asked: _Asked, session: Session, claim: str, claimed: lifecycle.Claimed) -> Outcome:
    """The claim is ours: queue its admin call at the workspace's next free slot; a wait longer than QUEUED_NOTICE is
    shown on the cards and told to the clicker."""
    services, request_id, action, actor_id, source, clicked = (
        asked.services, asked.request_id, asked.action, asked.actor_id, asked.source, asked.clicked
    )
    log_id, team_id, email = claimed.log_id, claimed.team_id, claimed.email
    call_at = pacing.take(session, services.pace, team_id)
    wait = call_at - now()
    job = {
        "claim": claim,
        "action": action.value,
        "actor": actor_id,
        "source": source.value,
        "reason": asked.reason,
        "log_id": log_id,
        "reply_to": asked.reply_to,
        "clicked": list(clicked) if clicked else None,
        "batch_id": asked.batch_id,
    }
    services.outbox.add(session, "decide", job, request_id=request_id, not_before=call_at, here=True)
    if wait <= QUEUED_NOTICE:
        return Outcome(Result.ACCEPTED, action, request_id, email)
    held = pacing.held_until(session, services.pace, team_id)  # the wait is Slack's, not our pace's
    lifecycle.schedule(session, request_id, claim, call_at, slack_wait_until=held)
    queue_cards(services, session, request_id, clicked)
    slack_wait = (held - now()).total_seconds() if held else None
    return Outcome(Result.QUEUED, action, request_id, email, wait_seconds=wait.total_seconds(), slack_wait_seconds=slack_wait)


class _Rule(Protocol):
    """What _needs_several reads of a request: its row, or the columns _may_decide selects."""

    policy_mode: str | None
    approvals_needed: int | None
    status: str


def _needs_several(request: _Rule) -> bool:
    """An open request whose enforced policy rule asks for more than one approver."""
    return (
        request.policy_mode == "enforce"
        and (request.approvals_needed or 0) > 1
        and request.status in lifecycle.OPEN
    )


def _count_approval(asked: _Asked, session: Session, request: InviteRequest) -> Outcome | None:
    """Record one approver's approval; the outcome to return unless this was the last one needed (None: claim and call).

    The request's row is locked first (SQLite's BEGIN IMMEDIATE already serialises writers), so of approvals arriving
    together exactly one sees the count reach what the rule asks for. Earlier approvals that decide() found refused now
    (`asked.lapsed`) stop counting here, each audited once; one given after decide() looked was checked by its own
    decide() a moment ago and counts.
    """
    services, actor_id, source, clicked = asked.services, asked.actor_id, asked.source, asked.clicked
    request_id, needed = request.id, int(request.approvals_needed or 0)
    status = session.scalar(select(InviteRequest.status).where(InviteRequest.id == request_id).with_for_update())
    if status != lifecycle.PENDING:
        return None  # decided or being decided meanwhile: the claim says by whom
    counted = approvals.so_far(session, request_id)
    lapsed = tuple((approver, asked.lapsed[approver]) for approver in counted if _lapse(asked, session, approver))
    before = [approver for approver in counted if approver not in dict(lapsed)]
    if len(before) >= needed:
        return None  # enough already (their call failed and gave the request back): any approver may ask again
    if actor_id in before:
        asked.record(session, ALREADY_APPROVED_OUTCOME, f"{len(before)} of {needed}")
        if lapsed:
            queue_cards(services, session, request_id, clicked)
        return Outcome(
            Result.ALREADY_APPROVED, Action.APPROVE, request_id, request.email, approvals=tuple(before), needed=needed,
            lapsed=lapsed,
        )
    approvals.add(session, request_id, actor_id, source.value, asked.actor_team)
    after = (*before, actor_id)
    asked.record(session, APPROVAL_RECORDED_OUTCOME, f"{len(after)} of {needed}")
    if len(after) >= needed:
        return None
    queue_cards(services, session, request_id, clicked)
    return Outcome(
        Result.APPROVAL_RECORDED, Action.APPROVE, request_id, request.email, approvals=after, needed=needed, lapsed=lapsed
    )


def _lapse(asked: _Asked, session: Session, approver: str) -> bool:
    """An earlier approval refused now stops counting, audited under its approver's name; False when it still counts."""
    why = asked.lapsed.get(approver)
    if why is None or not approvals.lapse(session, asked.request_id, approver, why):
        return False
    audit.record(
        session, request_id=asked.request_id, actor_id=approver, action=Action.APPROVE.value, source=asked.source.value,
        outcome=APPROVAL_LAPSED_OUTCOME, detail=f"{why}, checked again when {asked.actor_id} approved", batch_id=asked.batch_id,
    )
    return True


def _may_decide(services: Services, asked: authz.Asked, actor_team: str | None) -> tuple[Verdict, dict[str, str]]:
    """An approver of every workspace (INVITES_APPROVERS), or of the request's own (INVITES_APPROVERS_T…), and for an
    approval not one of its requesters; with it, for a request that needs several approvals, the earlier approvers the
    same rule refuses now, and why (their approvals stop counting). When Slack cannot say, nothing is decided."""
    if services.approvers is None:
        return ALLOWED, {}
    with services.read() as session:
        request = session.execute(_RULES_OF, {"request_id": asked.subject}).first()
        team_id, requesters = (request.team_id, list(request.requester_ids or [])) if request is not None else (None, [])
        several = request is not None and asked.action == Action.APPROVE.value and _needs_several(request)
        earlier = approvals.earlier(session, asked.subject) if several else []
    verdict = authz.require(
        services.sessions, services.approvers, asked, workspace=team_id, actor_team=actor_team, requesters=requesters
    )
    others = [(approver, team) for approver, team in earlier if approver != asked.actor_id]
    if not verdict.allowed or not others:
        return verdict, {}
    refused = authz.recheck(services.approvers, others, workspace=team_id, requesters=requesters)
    for approver, why in refused.items():
        if why.outcome == LOOKUP_FAILED_OUTCOME:
            authz.refused(services.sessions, replace(asked, detail=f"could not check {approver} again: {why.code}"), why.outcome)
            return replace(why, about=approver), {}
    return verdict, {approver: why.outcome for approver, why in refused.items()}


def _lost(asked: _Asked, session: Session) -> Outcome:
    """Someone else holds or has closed the request: say who, and log the attempt."""
    request_id, action = asked.request_id, asked.action
    request = session.get(InviteRequest, request_id, populate_existing=True)
    if request is None:
        outcome = Outcome(Result.NOT_FOUND, action, request_id)
    elif request.status == lifecycle.DECIDING:
        outcome = Outcome(
            Result.IN_FLIGHT, action, request_id, request.email, other=request.claim_actor, other_action=request.claim_action
        )
    elif request.status == lifecycle.PENDING:  # released between our claim attempt and this read: try again
        outcome = Outcome(Result.FAILED, action, request_id, request.email, why=Why.RELEASED_MEANWHILE)
    else:
        outcome = Outcome(Result.ALREADY_DECIDED, action, request_id, request.email, request=request)
    asked.record(session, _LOST_OUTCOME[outcome.result])
    return outcome


def queue_cards(
    services: Services,
    session: Session,
    request_id: str,
    clicked: tuple[str, str] | None = None,
    *,
    here: bool = True,
    posted: tuple[tuple[str, str], ...] | None = None,
) -> None:
    """Re-render every posted copy of the request's card (and the copy clicked, tracked or not) as outbox jobs, done by
    this process at once (`here`: someone is looking at the card), else by the dispatcher among the other jobs;
    `posted`: the posted copies, when the caller's statement read them already (app.core.lifecycle.settle)."""
    if posted is None:
        posted = tuple((channel, ts) for channel, ts in session.execute(_POSTED_COPIES, {"request_id": request_id}).all())
    copies = {(channel, ts) for channel, ts in posted if ts is not None}  # posted copies only, as the query says
    if clicked is not None:
        copies.add(clicked)
    for channel, ts in sorted(copies):
        cards.queue_copy(services.outbox, session, request_id, channel, ts, here=here)


def queue_told(services: Services, session: Session, request_id: str, told: lifecycle.Told | None = None) -> None:
    """Each requester hears how a decided request ended, once, at the pace their DM channel takes: the DM takes its
    slot when it runs (app.slack.jobs.answers), not in this transaction. `told`: the statement that closed the request
    marked them already (app.core.lifecycle.settle)."""
    if not services.notify_requesters:
        return
    if told is not None:
        marked = (told.requester_ids, told.untold) if told.marked else None
    else:
        marked = session.execute(_MARK_TOLD, {"request_id": request_id, "moment": now()}).first()
    if marked is None:
        return
    requester_ids, untold = marked
    if untold == team_access.REVOKED:  # Slack would refuse the DMs; the card queued with this says so
        return
    for user_id in requester_ids or []:
        services.outbox.add(session, "notify", {"user": user_id, TAKE_SLOT: True}, request_id=request_id, here=True)


# Statements every click runs, built once.
_REQUESTS, _CARDS = cast(Table, InviteRequest.__table__), cast(Table, RequestCard.__table__)
_RULES_OF = select(
    _REQUESTS.c.team_id, _REQUESTS.c.requester_ids, _REQUESTS.c.policy_mode, _REQUESTS.c.approvals_needed, _REQUESTS.c.status
).where(_REQUESTS.c.id == bindparam("request_id"))
_POSTED_COPIES = select(_CARDS.c.channel, _CARDS.c.ts).where(_CARDS.c.request_id == bindparam("request_id"), _CARDS.c.ts.is_not(None))
_MARK_TOLD = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request_id"), _REQUESTS.c.requesters_notified_at.is_(None))
    .values(
        requesters_notified_at=bindparam("moment"),
        requesters_untold=case((team_access.revoked_in(_REQUESTS.c.team_id), team_access.REVOKED), else_=_REQUESTS.c.requesters_untold),
    )
    .returning(_REQUESTS.c.requester_ids, _REQUESTS.c.requesters_untold)
)
