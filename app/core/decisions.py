"""decide(): the one path from any surface to exactly one Slack call and a truthful record.

decide() checks the rules (approver? reason required? enough approvers, when a policy rule asks for several?), claims
the request and writes the admin call as an outbox job in one transaction. The job (app.slack.jobs.decisions) asks Slack when the workspace's pace allows, and `Attempt.finish` settles the
request in one more transaction with everything Slack must be told next: the clicker's answer, every card copy, the requesters'
DMs and the decider's App Home.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core import approvals, audit, authz, backlog, cards, lifecycle, pacing
from app.core.audit import now
from app.core.authz import ALLOWED, Approvers, GroupMembers, Verdict
from app.core.bulk import items as batch_items
from app.core.lifecycle import Closing, Entry
from app.core.outbox import Job, Outbox
from app.core.policy import Policy
from app.core.ports import DecisionRecord, Kind, SlackAdmin, SlackCallFailed
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import Action, Approval, InviteRequest, RequestCard, Source

log = logging.getLogger(__name__)

# A call that waits longer than this for the workspace's pace is shown as queued, on the card and to the clicker.
QUEUED_NOTICE = timedelta(seconds=2)
REASON_REQUIRED_OUTCOME = "reason_required"
APPROVAL_RECORDED_OUTCOME = "approval_recorded"
ALREADY_APPROVED_OUTCOME = "already_approved"
# A decider's App Home is published this long after their decision, once for all the decisions made meanwhile.
HOME_COALESCE = timedelta(seconds=1)


class Result(enum.Enum):
    """How an attempt ended, from the clicker's point of view."""

    ACCEPTED = "accepted"  # claimed; Slack is being asked, and the answer follows
    QUEUED = "queued"  # claimed; the call waits for the workspace's pace
    DECIDED = "decided"
    INVITE_FAILED = "invite_failed"
    DECIDED_ELSEWHERE = "decided_elsewhere"
    ALREADY_DECIDED = "already_decided"
    IN_FLIGHT = "in_flight"
    GONE = "gone"
    NOT_FOUND = "not_found"
    REFUSED = "refused"
    REASON_REQUIRED = "reason_required"
    APPROVAL_RECORDED = "approval_recorded"  # one of several approvals a rule asks for; no call yet
    ALREADY_APPROVED = "already_approved"  # this approver's approval is already counted
    FAILED = "failed"
    SKIPPED = "skipped"  # a bulk decision's item that was taken, or cancelled, before this attempt (nothing was done)


class Why(enum.Enum):
    """Why an attempt FAILED (or came to another result than its own call's), beyond Slack's error code."""

    SLACK_ERROR = "slack_error"
    RELEASED_MEANWHILE = "released_meanwhile"  # another attempt just failed and gave the request back
    NOT_LISTED_YET = "not_listed_yet"  # already_processed, but Slack's lists do not show the decision yet
    ANSWER_LOST_UNDECIDED = "answer_lost_undecided"  # the answer was lost; Slack's lists show it undecided
    ANSWER_LOST_UNCHECKED = "answer_lost_unchecked"  # the answer was lost, and the lists could not be read
    UNPLACED = "unplaced"  # the workspace is not known yet
    GAVE_UP = "gave_up"  # invitebot's own attempts kept failing (its database, say); the claim was given back
    TOO_LATE = "too_late"  # Slack answered after sync had resolved the claim; the request is open again
    LATE = "late"  # Slack answered after sync had resolved the claim; the row shows how it stands now


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to, as data; app.slack.ui.replies turns it into the sentence a person reads."""

    result: Result
    action: Action
    request_id: str
    email: str | None = None
    error: str | None = None  # Slack's error code
    why: Why | None = None
    other: str | None = None  # who else holds or made the decision
    other_action: str | None = None
    outside: bool = False  # the other decision was made outside invitebot (in Slack's own admin pages)
    wait_seconds: float | None = None  # QUEUED: how long until the call may go out
    verdict: Verdict | None = None  # REFUSED: why
    approvals: tuple[str, ...] = ()  # APPROVAL_RECORDED / ALREADY_APPROVED: who has approved so far, in order
    needed: int | None = None  # how many approvals the request's rule asks for
    request: InviteRequest | None = field(default=None, compare=False)

    def payload(self) -> dict[str, Any]:
        """The outcome as an answer job carries it (the row is read again when the answer is written)."""
        return {
            "result": self.result.value,
            "action": self.action.value,
            "request_id": self.request_id,
            "email": self.email,
            "error": self.error,
            "why": self.why.value if self.why else None,
            "other": self.other,
            "other_action": self.other_action,
            "outside": self.outside,
            "wait_seconds": self.wait_seconds,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any], request: InviteRequest | None) -> "Outcome":
        return cls(
            result=Result(data["result"]),
            action=Action(data["action"]),
            request_id=str(data["request_id"]),
            email=data.get("email"),
            error=data.get("error"),
            why=Why(data["why"]) if data.get("why") else None,
            other=data.get("other"),
            other_action=data.get("other_action"),
            outside=bool(data.get("outside")),
            wait_seconds=data.get("wait_seconds"),
            request=request,
        )


@dataclass(frozen=True)
class Rules:
    """What a decision must satisfy besides being made by an approver."""

    deny_reason_required: bool = False


@dataclass(frozen=True)
class Decider:
    """What decide() needs: the database, Slack, the outbox, the rules, and a name for this process's claims."""

    sessions: sessionmaker[Session]
    gateway: SlackAdmin  # Slack's lists, read to learn who decided
    replica_id: str
    outbox: Outbox
    pace: pacing.Pace  # admin calls per workspace
    post_pace: pacing.Pace | None = None  # posts per channel (cards, digests, requester DMs)
    approvers: Approvers | None = None  # None: every caller has checked already (sync closes, never decides)
    rules: Rules = Rules()
    notify_requesters: bool = True
    reads: sessionmaker[Session] | None = None  # read-only sessions, when the database has a cheaper kind for them
    policy: Policy | None = None  # INVITES_POLICY, read at start-up
    groups: GroupMembers | None = None  # user-group members, for policy rules that name requesters by group

    def read(self) -> Session:
        return (self.reads or self.sessions)()


# Answers that leave open whether Slack carried the call out: the wire's, and a proxy's error page.
_ANSWER_LOST = frozenset({"network_error", "http_error", "request_timeout"})
_LOST_OUTCOME = {
    Result.NOT_FOUND: "not_found",
    Result.IN_FLIGHT: "in_flight",
    Result.FAILED: "released_meanwhile",
    Result.ALREADY_DECIDED: "already_decided",
}


def decide(
    decider: Decider,
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
) -> Outcome:
    """Check the rules, then claim the request (one winner) and queue its admin call; every refusal is audited.

    `reply_to` says where the clicker's answer goes once Slack has answered (app.slack.jobs.registry reads it); `clicked` is the
    card copy the click came from, brought up to date even if invitebot does not track it. `batch_id`: the bulk
    decision (app.core.bulk.batches) this is one item of: every audit entry of the attempt carries it, the item is taken in
    the claim's transaction (SKIPPED when it was taken or cancelled already), and its outcome is recorded when the
    decision ends (app.core.bulk.items).
    """
    by_rule = source is Source.POLICY  # INVITES_POLICY in enforce mode: the rule is the decider, checked at start-up
    asked = authz.Asked(actor_id, action.value, request_id, source.value, batch_id)
    verdict = _may_decide(decider, asked, actor_team) if not by_rule else ALLOWED
    if not verdict.allowed:
        return Outcome(Result.REFUSED, action, request_id, verdict=verdict)
    if action is Action.DENY and decider.rules.deny_reason_required and not (reason or "").strip():
        authz.refused(decider.sessions, asked, REASON_REQUIRED_OUTCOME)
        return Outcome(Result.REASON_REQUIRED, action, request_id)
    with decider.sessions.begin() as session:
        if batch_id is not None and not batch_items.take(session, batch_id, request_id):
            return Outcome(Result.SKIPPED, action, request_id)
        attempt = _Asked(decider, request_id, action, actor_id, source, reason, reply_to, clicked, batch_id)
        outcome = _claim(attempt, session, by_rule)
        if batch_id is not None:
            batch_items.ended(session, decider.outbox, batch_id, request_id, outcome.result.value, outcome.action.value)
        return outcome


@dataclass(frozen=True)
class _Asked:
    """What decide() was asked, for the transaction that claims the request."""

    decider: Decider
    request_id: str
    action: Action
    actor_id: str
    source: Source
    reason: str | None
    reply_to: dict[str, Any] | None
    clicked: tuple[str, str] | None
    batch_id: int | None

    def record(self, session: Session, outcome: str, detail: str | None = None) -> None:
        audit.record(
            session, request_id=self.request_id, actor_id=self.actor_id, action=self.action.value, source=self.source.value,
            outcome=outcome, detail=detail, batch_id=self.batch_id,
        )


def _claim(asked: _Asked, session: Session, by_rule: bool) -> Outcome:
    """Claim the request and queue its admin call, or say why not (counted as one approval of several, lost, unplaced)."""
    decider, request_id, action, actor_id, source, clicked = (
        asked.decider, asked.request_id, asked.action, asked.actor_id, asked.source, asked.clicked
    )
    claim = f"{decider.replica_id}:{uuid.uuid4().hex}"
    request = session.get(InviteRequest, request_id)
    if request is not None and request.team_id is None and request.status == lifecycle.PENDING:
        asked.record(session, "workspace_unknown")
        return Outcome(Result.FAILED, action, request_id, request.email, why=Why.UNPLACED)
    if request is not None and action is Action.APPROVE and not by_rule and _needs_several(request):
        counted = _count_approval(asked, session, request)
        if counted is not None:
            return counted
    log_id = lifecycle.claim(
        session, request_id, owner=claim, action=action.value, actor_id=actor_id, source=source.value, batch_id=asked.batch_id
    )
    if log_id is None:
        return _lost(asked, session)
    assert request is not None and request.team_id is not None
    call_at = pacing.take(session, decider.pace, request.team_id)
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
    decider.outbox.add(session, "decide", job, request_id=request_id, not_before=call_at, here=True)
    if wait <= QUEUED_NOTICE:
        return Outcome(Result.ACCEPTED, action, request_id, request.email)
    lifecycle.schedule(session, request_id, claim, call_at)
    queue_cards(decider, session, request_id, clicked)
    return Outcome(Result.QUEUED, action, request_id, request.email, wait_seconds=wait.total_seconds())


def _needs_several(request: InviteRequest) -> bool:
    """An open request whose enforced policy rule asks for more than one approver."""
    return (
        request.policy_mode == "enforce"
        and (request.approvals_needed or 0) > 1
        and request.status in lifecycle.OPEN
    )


def _count_approval(asked: _Asked, session: Session, request: InviteRequest) -> Outcome | None:
    """Record one approver's approval; the outcome to return unless this was the last one needed (None: claim and call).

    The request's row is locked first (SQLite's BEGIN IMMEDIATE already serialises writers), so of approvals arriving
    together exactly one sees the count reach what the rule asks for.
    """
    decider, actor_id, source, clicked = asked.decider, asked.actor_id, asked.source, asked.clicked
    request_id, needed = request.id, int(request.approvals_needed or 0)
    status = session.scalar(select(InviteRequest.status).where(InviteRequest.id == request_id).with_for_update())
    if status != lifecycle.PENDING:
        return None  # decided or being decided meanwhile: the claim says by whom
    before = approvals.so_far(session, request_id)
    if len(before) >= needed:
        return None  # enough already (their call failed and gave the request back): any approver may ask again
    if actor_id in before:
        asked.record(session, ALREADY_APPROVED_OUTCOME, f"{len(before)} of {needed}")
        return Outcome(Result.ALREADY_APPROVED, Action.APPROVE, request_id, request.email, approvals=tuple(before), needed=needed)
    insert_if_absent(session, Approval, {"request_id": request_id, "approver_id": actor_id, "source": source.value, "at": now()})
    after = [*before, actor_id]
    asked.record(session, APPROVAL_RECORDED_OUTCOME, f"{len(after)} of {needed}")
    if len(after) >= needed:
        return None
    queue_cards(decider, session, request_id, clicked)
    return Outcome(Result.APPROVAL_RECORDED, Action.APPROVE, request_id, request.email, approvals=tuple(after), needed=needed)


def _may_decide(decider: Decider, asked: authz.Asked, actor_team: str | None) -> Verdict:
    """An approver of every workspace (INVITES_APPROVERS), or of the request's own (INVITES_APPROVERS_T…)."""
    if decider.approvers is None:
        return ALLOWED
    with decider.read() as session:
        team_id = session.scalar(select(InviteRequest.team_id).where(InviteRequest.id == asked.subject))
    return authz.require(decider.sessions, decider.approvers, asked, workspace=team_id, actor_team=actor_team)


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
    decider: Decider, session: Session, request_id: str, clicked: tuple[str, str] | None = None, *, here: bool = True
) -> None:
    """Re-render every posted copy of the request's card (and the copy clicked, tracked or not) as outbox jobs, done by
    this process at once (`here`: someone is looking at the card), else by the dispatcher among the other jobs."""
    copies = {
        (channel, ts)
        for channel, ts in session.execute(
            select(RequestCard.channel, RequestCard.ts).where(RequestCard.request_id == request_id, RequestCard.ts.is_not(None))
        ).all()
        if ts is not None  # posted copies only, as the query says
    }
    if clicked is not None:
        copies.add(clicked)
    for channel, ts in sorted(copies):
        cards.queue_copy(decider.outbox, session, request_id, channel, ts, here=here)


def queue_told(decider: Decider, session: Session, request_id: str) -> None:
    """Each requester hears how a decided request ended, once, at the pace their DM channel takes."""
    if not decider.notify_requesters:
        return
    marked = changed(
        session,
        update(InviteRequest)
        .where(InviteRequest.id == request_id, InviteRequest.requesters_notified_at.is_(None))
        .values(requesters_notified_at=now())
    )
    request = session.get(InviteRequest, request_id) if marked else None
    for user_id in request.requester_ids if request is not None else []:
        at = pacing.take(session, decider.post_pace, user_id) if decider.post_pace else None
        decider.outbox.add(session, "notify", {"user": user_id}, request_id=request_id, not_before=at)


# -- the decision job -----------------------------------------------------------------------------------------------


def load_attempt(decider: Decider, job: Job) -> Attempt | None:
    """The `decide` job's attempt, ready for its one Slack call (app.slack.jobs.decisions makes it, then `finish`es).

    None when sync resolved the claim while the job waited: the clicker is told how the request stands now.
    """
    attempt = Attempt.of(decider, job)
    with decider.read() as session:
        request = session.get(InviteRequest, attempt.request_id)
    if request is None or request.claim_owner != attempt.claim:
        attempt.settle(None, "claim_resolved", Outcome(Result.FAILED, attempt.action, attempt.request_id, why=Why.LATE))
        return None
    attempt.email = request.email
    attempt.team_id = request.team_id or ""
    return attempt


def give_up_decision(decider: Decider, job: Job, error: str) -> None:
    """A decision job that failed for good: give the claim back, show the card as it is, and tell the clicker.

    Should Slack have carried the call out before the failure, the next sync closes the request as Slack lists it,
    credited to this attempt (logged before it was made).
    """
    attempt = Attempt.of(decider, job)
    with decider.sessions.begin() as session:
        entry = Entry(attempt.source.value, "gave_up", detail=error, log_id=attempt.log_id)
        released = lifecycle.release(session, attempt.request_id, entry, owner=attempt.claim)
        attempt.batch_ended(session, attempt.outcome(Result.FAILED, error, Why.GAVE_UP))
        if not released:
            return
        request = session.get(InviteRequest, attempt.request_id)
        attempt.email = request.email if request is not None else None
        queue_cards(decider, session, attempt.request_id, _clicked(job))
        attempt.answer(session, attempt.outcome(Result.FAILED, error, Why.GAVE_UP))


@dataclass
class Attempt:
    """One claimed attempt: everything needed to turn Slack's answer into a record and what to tell whom."""

    decider: Decider
    job: Job
    request_id: str
    claim: str
    action: Action
    actor_id: str
    source: Source
    reason: str | None
    log_id: int
    email: str | None = None
    team_id: str = ""

    @classmethod
    def of(cls, decider: Decider, job: Job) -> "Attempt":
        p = job.payload
        return cls(
            decider, job, str(job.request_id), p["claim"], Action(p["action"]), p["actor"], Source(p["source"]), p.get("reason"), p["log_id"]
        )

    def wait_for_slack(self, retry_after: float) -> None:
        """Slack's limit is tighter than our pace just now: the claim is kept and the call waits for Retry-After (and the
        workspace's next free slot), shown as queued on the card and to the clicker."""
        decider = self.decider
        with decider.sessions.begin() as session:
            at = pacing.take(session, decider.pace, self.team_id, not_before=now() + timedelta(seconds=retry_after))
            self.job.postpone(session, at, "ratelimited")
            wait = at - now()
            if wait > QUEUED_NOTICE:
                lifecycle.schedule(session, self.request_id, self.claim, at)
                queue_cards(decider, session, self.request_id, _clicked(self.job))
                outcome = self.outcome(Result.QUEUED, "ratelimited", wait_seconds=wait.total_seconds())
                self.answer(session, outcome, publish_home=False)
        log.info("Slack asked to wait %s s before deciding %s; the call waits until %s", retry_after, self.request_id, at.isoformat())

    def finish(self, code: str | None, kind: Kind | None) -> None:
        """Turn Slack's answer (its error code and what that means, None for ok) into the row's next state, an audit entry
        and the clicker's answer."""
        if code is None:
            self._closed(lifecycle.status_after(self.action.value), "ok", self.outcome(Result.DECIDED), self.reason)
            return
        if kind is Kind.ALREADY_PROCESSED:
            self._decided_elsewhere(code)
        elif code in _ANSWER_LOST:
            self._answer_lost(code)
        elif kind is Kind.INVITE_FAILED and self.action is Action.APPROVE:
            self._closed(lifecycle.INVITE_FAILED, code, self.outcome(Result.INVITE_FAILED, code), None)
        elif kind is Kind.GONE:
            closing = Closing(lifecycle.GONE, None, self.source.value)
            self.settle(closing, code, self.outcome(Result.GONE, code))
        else:
            self.settle(None, code, self.outcome(Result.FAILED, code, Why.SLACK_ERROR))

    def outcome(self, result: Result, code: str | None = None, why: Why | None = None, **more: Any) -> Outcome:
        return Outcome(result, self.action, self.request_id, self.email, error=code, why=why, **more)

    def _closed(self, status: str, audit_outcome: str, outcome: Outcome, reason: str | None) -> None:
        self.settle(Closing(status, self.actor_id, self.source.value, reason), audit_outcome, outcome)

    def _slack_record(self) -> tuple[DecisionRecord | None, bool]:
        """How Slack's approved/denied lists say this request ended (None: not decided), and whether they could be read."""
        try:
            decided = self.decider.gateway.decisions(self.team_id, within_decision=True, wanted={self.request_id})
            return decided.get(self.request_id), True
        except SlackCallFailed as exc:
            log.warning("could not read Slack's decided lists for %s: %s", self.request_id, exc.code)
            return None, False

    def _decided_elsewhere(self, code: str) -> None:
        """already_processed: read Slack's lists to learn the real outcome and who decided."""
        record, _ = self._slack_record()
        if record is None:
            self.settle(None, code, self.outcome(Result.FAILED, code, Why.NOT_LISTED_YET))
            return
        self._decided_as_listed(record, code)

    def _answer_lost(self, code: str) -> None:
        """The call may have been carried out, but its answer never arrived whole: ask Slack's lists before saying anything."""
        record, readable = self._slack_record()
        if record is not None:
            self._decided_as_listed(record, code, self.reason)
            return
        why = Why.ANSWER_LOST_UNDECIDED if readable else Why.ANSWER_LOST_UNCHECKED
        detail = audit.CHECKED_UNDECIDED if readable else None
        self.settle(None, code, self.outcome(Result.FAILED, code, why), detail)

    def _decided_as_listed(self, record: DecisionRecord, audit_outcome: str, reason: str | None = None) -> None:
        """Close the request as Slack's lists have it, crediting whoever's call it was, and tell the clicker."""
        with self.decider.sessions() as session:
            decided_by, decided_from = attribute(
                session, self.request_id, record, self.decider.gateway.admin_user_id(), besides=self.log_id
            )
        status = lifecycle.status_after(record.action)
        if decided_by == self.actor_id and record.action == self.action.value and decided_from != Source.OUTSIDE.value:
            # This clicker's own call landed (its answer was lost, or a retried connection found it done).
            self._closed(status, audit_outcome, self.outcome(Result.DECIDED, other_action=record.action), reason)
            return
        outcome = self.outcome(
            Result.DECIDED_ELSEWHERE, audit_outcome, other=decided_by, other_action=record.action,
            outside=decided_from == Source.OUTSIDE.value,
        )
        self.settle(Closing(status, decided_by, decided_from), audit_outcome, outcome)

    def settle(self, closing: Closing | None, audit_outcome: str, outcome: Outcome, detail: str | None = None) -> None:
        """Apply the outcome while we still hold the claim, with its audit entry, its follow-up jobs and this job's end.

        A claim lost meanwhile (sync resolved it while Slack was slow) still lets a closing answer close the request if
        sync reopened it; otherwise the clicker hears how the request stands now.
        """
        decider = self.decider
        with decider.sessions.begin() as session:
            entry = Entry(self.source.value, audit_outcome, detail=detail, log_id=self.log_id)
            if closing is None:
                applied = lifecycle.release(session, self.request_id, entry, owner=self.claim)
            else:
                applied = lifecycle.settle(session, self.request_id, self.claim, closing, entry)
                if not applied:
                    late = Entry(self.source.value, audit_outcome, log_id=self.log_id,
                                 detail="sync had reopened the request before Slack answered; the answer closed it")
                    applied = lifecycle.close(session, self.request_id, closing, late, only_from=(lifecycle.PENDING,))
            current = session.get(InviteRequest, self.request_id, populate_existing=True)
            if not applied:
                detail = "the claim had been resolved by sync before Slack answered"
                audit.finish(session, self.log_id, source=self.source.value, outcome=audit_outcome, detail=detail)
                if current is not None:
                    outcome = _as_it_stands(outcome, current, closing)
            else:
                queue_cards(decider, session, self.request_id, _clicked(self.job))
                if closing is not None and closing.status in lifecycle.DECIDED:
                    queue_told(decider, session, self.request_id)
                if closing is not None:
                    backlog.queue_update(decider.outbox, session, self.request_id)
            self.batch_ended(session, outcome)
            self.answer(session, outcome)
            self.job.complete(session)

    def batch_ended(self, session: Session, outcome: Outcome) -> None:
        """When this attempt is a bulk decision's item: record how it ended, in the transaction that ended it."""
        batch_id = self.job.payload.get("batch_id")
        if batch_id is not None:
            done = outcome.other_action if outcome.result is Result.DECIDED and outcome.other_action else self.action.value
            batch_items.ended(session, self.decider.outbox, int(batch_id), self.request_id, outcome.result.value, done)

    def answer(self, session: Session, outcome: Outcome, *, publish_home: bool = True) -> None:
        """The clicker's answer, then (unless they clicked in it) their App Home brought up to date."""
        reply_to = self.job.payload.get("reply_to")
        if not reply_to:
            return
        self.decider.outbox.add(
            session, "answer", {"reply_to": reply_to, "outcome": outcome.payload()}, request_id=self.request_id, here=True
        )
        if publish_home and reply_to.get("surface") != "home" and reply_to.get("user"):
            user = str(reply_to["user"])
            later = now() + HOME_COALESCE
            self.decider.outbox.add(session, "home", {"user": user}, key=f"home:{user}"[:64], not_before=later)


def _clicked(job: Job) -> tuple[str, str] | None:
    clicked = job.payload.get("clicked")
    return (str(clicked[0]), str(clicked[1])) if clicked else None


def _as_it_stands(outcome: Outcome, current: InviteRequest, closing: Closing | None) -> Outcome:
    """The clicker's outcome when their attempt's result could not be applied: the row as it is now."""
    wanted = closing.status if closing else lifecycle.PENDING
    wanted_by = closing.decided_by if closing else None
    if current.status == wanted and current.decided_by == wanted_by:
        return outcome  # as this attempt would have left it (sync recorded it just so, or reopened it)
    base = Outcome(outcome.result, outcome.action, outcome.request_id, current.email, request=current)
    if current.status == lifecycle.DECIDING:
        return Outcome(
            Result.IN_FLIGHT, base.action, base.request_id, base.email, why=Why.LATE, other=current.claim_actor, other_action=current.claim_action
        )
    if current.status == lifecycle.PENDING:
        return Outcome(Result.FAILED, base.action, base.request_id, base.email, why=Why.TOO_LATE)
    return Outcome(Result.ALREADY_DECIDED, base.action, base.request_id, base.email, request=current)


def attribute(
    session: Session, request_id: str, record: DecisionRecord, admin_user_id: str | None, *, besides: int | None = None
) -> tuple[str | None, str]:
    """Who decided, and from where: Slack names our admin token's user for our own calls, so map those back.

    To the latest call of ours (other than log entry `besides`) that may have landed, logged before it was made;
    failing that, to the claim the row still holds for that action (a claim older than the log of attempts).
    """
    if record.actor_id and record.actor_id != admin_user_id:
        return record.actor_id, Source.OUTSIDE.value
    attempt = audit.last_attempt(session, request_id, record.action, besides=besides)
    if attempt is not None:
        return attempt.actor_id, attempt.source
    row = session.get(InviteRequest, request_id)
    if row is not None and row.claim_actor and row.claim_action == record.action:
        return row.claim_actor, row.claim_source or Source.OUTSIDE.value
    return record.actor_id, Source.OUTSIDE.value
