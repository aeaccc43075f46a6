"""decide(): the one path from a click (or command) to exactly one Slack call and a truthful record."""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.core import audit, cards, notify
from app.core.audit import now
from app.slack import blocks
from app.slack.errors import Kind, SlackError, classify
from app.slack.gateway import DecisionRecord, SlackCallFailed, SlackGateway
from app.store.models import CLAIM_CLEARED, STATUS_AFTER, Action, InviteRequest, Source, Status

log = logging.getLogger(__name__)


class Result(enum.Enum):
    """How an attempt ended, from the clicker's point of view."""

    DECIDED = "decided"
    INVITE_FAILED = "invite_failed"
    DECIDED_ELSEWHERE = "decided_elsewhere"
    ALREADY_DECIDED = "already_decided"
    IN_FLIGHT = "in_flight"
    GONE = "gone"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    result: Result
    message: str
    request: InviteRequest | None = None
    error: SlackError | None = None


@dataclass(frozen=True)
class Decider:
    """What decide() needs: the database, Slack, and a name for this process's claims."""

    sessions: sessionmaker[Session]
    gateway: SlackGateway
    replica_id: str
    notify_requesters: bool = True


_VERB = {Action.APPROVE.value: "approve", Action.DENY.value: "deny"}
# Answers that leave open whether Slack carried the call out: the wire's, and a proxy's error page.
_ANSWER_LOST = frozenset({"network_error", "http_error", "request_timeout"})
_PAST = {Action.APPROVE.value: "approved", Action.DENY.value: "denied"}


def decide(
    decider: Decider, request_id: str, action: Action, actor_id: str, source: Source, reason: str | None = None
) -> Outcome:
    """Claim the request (one winner), call Slack once, record what happened, re-render the cards."""
    claim = f"{decider.replica_id}:{uuid.uuid4().hex}"
    won = _claim(decider.sessions, request_id, claim, action, actor_id, source)
    if won is None:
        return _lost(decider.sessions, request_id, action, actor_id, source)
    request, log_id = won
    attempt = _Attempt(decider, request, claim, action, actor_id, source, log_id)
    if request.team_id is None:
        return attempt.unplaced()
    result = decider.gateway.decide(action.value, request.id, request.team_id)
    outcome = attempt.finish(result.error, reason)
    cards.refresh(decider.sessions, decider.gateway, request_id)
    notify.requesters(decider, request_id)
    return outcome


def _claim(
    sessions: sessionmaker[Session], request_id: str, claim: str, action: Action, actor_id: str, source: Source
) -> tuple[InviteRequest, int] | None:
    """pending -> deciding, conditionally; the database picks the single winner, who gets the row back.

    The winner's attempt is logged (as `calling`) in the same transaction, before Slack is asked: if this process
    dies before Slack's answer is recorded, sync still knows whose call a decision Slack carried out was.
    """
    with sessions.begin() as session:
        won = session.execute(
            update(InviteRequest)
            .where(InviteRequest.id == request_id, InviteRequest.status == Status.PENDING.value)
            .values(
                status=Status.DECIDING.value,
                claim_owner=claim,
                claim_action=action.value,
                claim_actor=actor_id,
                claim_source=source.value,
                claimed_at=now(),
            )
        ).rowcount
        if not won:
            return None
        log_id = audit.begin(session, request_id=request_id, actor_id=actor_id, action=action.value, source=source.value)
        request = session.get(InviteRequest, request_id)
        return (request, log_id) if request is not None else None


_LOST_OUTCOME = {
    Result.NOT_FOUND: "not_found",
    Result.IN_FLIGHT: "in_flight",
    Result.FAILED: "released_meanwhile",
    Result.ALREADY_DECIDED: "already_decided",
}


def _lost(sessions: sessionmaker[Session], request_id: str, action: Action, actor_id: str, source: Source) -> Outcome:
    """Someone else holds or has closed the request: say who, and log the attempt."""
    with sessions.begin() as session:
        request = session.get(InviteRequest, request_id)
        if request is None:
            outcome = Outcome(Result.NOT_FOUND, f"invitebot has no invite request `{blocks.escape(request_id)}`.")
        elif request.status == Status.DECIDING.value:
            verb = "approving" if request.claim_action == Action.APPROVE.value else "denying"
            outcome = Outcome(Result.IN_FLIGHT, f"<@{request.claim_actor}> is {verb} this request right now.", request)
        elif request.status == Status.PENDING.value:
            # Released between our claim attempt and this read: the clicker may simply try again.
            outcome = Outcome(Result.FAILED, "Another attempt on this request just failed; please try again.", request)
        else:
            outcome = Outcome(Result.ALREADY_DECIDED, blocks.outcome_line(request) or "", request)
        audit.record(
            session,
            request_id=request_id,
            actor_id=actor_id,
            action=action.value,
            source=source.value,
            outcome=_LOST_OUTCOME[outcome.result],
        )
    return outcome


@dataclass(frozen=True)
class _Attempt:
    """One claimed attempt: everything needed to turn Slack's answer into a record."""

    decider: Decider
    request: InviteRequest
    claim: str
    action: Action
    actor_id: str
    source: Source
    log_id: int

    def finish(self, code: str | None, reason: str | None) -> Outcome:
        """Turn Slack's answer into the row's next state, an audit entry and the clicker's sentence."""
        if code is None:
            changes = _closed(STATUS_AFTER[self.action.value], self.actor_id, self.source.value, reason)
            return self._settle(changes, "ok", Result.DECIDED, self._you_decided(self.action.value))
        error = classify(code)
        if error.kind is Kind.ALREADY_PROCESSED:
            return self._decided_elsewhere(error)
        if code in _ANSWER_LOST:
            return self._answer_lost(error, reason)
        if error.kind is Kind.INVITE_FAILED and self.action is Action.APPROVE:
            changes = _closed(Status.APPROVED_INVITE_FAILED.value, self.actor_id, self.source.value, None)
            return self._settle(changes, code, Result.INVITE_FAILED, error.sentence, error)
        if error.kind is Kind.GONE:
            changes = _closed(Status.GONE.value, None, self.source.value, None)
            return self._settle(changes, code, Result.GONE, error.sentence, error)
        verb = _VERB[self.action.value]
        retry = f" Click {verb.capitalize()} again to retry." if error.kind is Kind.TRANSIENT else ""
        message = f"Could not {verb} the request for {blocks.escape(self.request.email)}: {error.sentence}{retry}"
        return self._settle(_released(), code, Result.FAILED, message, error)

    def unplaced(self) -> Outcome:
        """The workspace is not known yet (an org-wide event named only the org): Slack cannot be asked to decide."""
        message = (
            f"invitebot does not know yet which workspace the request for {blocks.escape(self.request.email)} "
            "was made in, so Slack cannot decide it. Nothing was decided; the next sync finds it, then try again."
        )
        return self._settle(_released(), "workspace_unknown", Result.FAILED, message)

    def _slack_record(self) -> tuple[DecisionRecord | None, bool]:
        """How Slack's approved/denied lists say this request ended (None: not decided), and whether they could be read."""
        try:
            decided = self.decider.gateway.decisions(self.request.team_id or "", within_decision=True)
            return decided.get(self.request.id), True
        except SlackCallFailed as exc:
            log.warning("could not read Slack's decided lists for %s: %s", self.request.id, exc.code)
            return None, False

    def _decided_elsewhere(self, error: SlackError) -> Outcome:
        """already_processed: read Slack's lists to learn the real outcome and who decided."""
        record, _ = self._slack_record()
        if record is None:
            message = (
                "Slack says this request was already decided elsewhere, but has not listed the decision yet; "
                "the card will be updated on the next sync."
            )
            return self._settle(_released(), error.code, Result.FAILED, message, error)
        return self._decided_as_listed(record, error.code, error)

    def _answer_lost(self, error: SlackError, reason: str | None) -> Outcome:
        """The call may have been carried out, but its answer never arrived whole: ask Slack's lists before saying anything."""
        record, readable = self._slack_record()
        if record is not None:
            return self._decided_as_listed(record, error.code, error, reason)
        verb = _VERB[self.action.value]
        if readable:  # not among the decided requests: nothing was decided, and the clicker may simply try again
            message = (
                f"Could not {verb} the request for {blocks.escape(self.request.email)}: {error.sentence}"
                f" Click {verb.capitalize()} again to retry."
            )
        else:
            message = (
                f"Slack's answer to {verb} the request for {blocks.escape(self.request.email)} was lost on the way, and "
                f"invitebot could not check whether it went through. Click {verb.capitalize()} again: if Slack did "
                "decide it, you will be told so, and the card will say who decided."
            )
        detail = audit.CHECKED_UNDECIDED if readable else None
        return self._settle(_released(), error.code, Result.FAILED, message, error, detail)

    def _decided_as_listed(
        self, record: DecisionRecord, audit_outcome: str, error: SlackError, reason: str | None = None
    ) -> Outcome:
        """Close the request as Slack's lists have it, crediting whoever's call it was, and tell the clicker."""
        gateway = self.decider.gateway
        with self.decider.sessions() as session:
            decided_by, decided_from = attribute(session, self.request.id, record, gateway.admin_user_id(), besides=self.log_id)
        if decided_by == self.actor_id and record.action == self.action.value and decided_from != Source.OUTSIDE.value:
            # This clicker's own call landed (its answer was lost, or a retried connection found it done).
            changes = _closed(STATUS_AFTER[record.action], self.actor_id, self.source.value, reason)
            return self._settle(changes, audit_outcome, Result.DECIDED, self._you_decided(record.action))
        changes = _closed(STATUS_AFTER[record.action], decided_by, decided_from, None)
        who = f"<@{decided_by}>" if decided_by else "someone"
        where = " outside invitebot" if decided_from == Source.OUTSIDE.value else ""
        message = f"No need: this request was already {_PAST[record.action]} by {who}{where}. The card now says so."
        return self._settle(changes, audit_outcome, Result.DECIDED_ELSEWHERE, message, error)

    def _you_decided(self, action: str) -> str:
        return f"You {_PAST[action]} the invite request for {blocks.escape(self.request.email)}."

    def _settle(
        self,
        changes: dict[str, object],
        audit_outcome: str,
        result: Result,
        message: str,
        error: SlackError | None = None,
        detail: str | None = None,
    ) -> Outcome:
        """Apply the outcome only if we still hold the claim, and log the attempt's outcome in the same transaction.

        A claim lost meanwhile (sync took it for a dead process's while Slack was slow) still lets a closing answer
        close the request if sync reopened it; otherwise the clicker hears how the request stands now.
        """
        with self.decider.sessions.begin() as session:
            applied = session.execute(
                update(InviteRequest)
                .where(InviteRequest.id == self.request.id, InviteRequest.claim_owner == self.claim)
                .values(**changes)
            ).rowcount
            if not applied and changes["status"] != Status.PENDING.value:
                applied = session.execute(
                    update(InviteRequest)
                    .where(InviteRequest.id == self.request.id, InviteRequest.status == Status.PENDING.value)
                    .values(**changes)
                ).rowcount
                detail = "sync had reopened the request before Slack answered; the answer closed it"
            if not applied:
                detail = "the claim had been resolved by sync before Slack answered"
            audit.finish(session, self.log_id, source=self.source.value, outcome=audit_outcome, detail=detail)
            current = session.get(InviteRequest, self.request.id)
            if not applied and current is not None:
                result, message = self._as_it_stands(current, changes, result, message)
        return Outcome(result, message, current, error)

    def _as_it_stands(
        self, current: InviteRequest, changes: dict[str, object], result: Result, message: str
    ) -> tuple[Result, str]:
        """The clicker's sentence when their attempt's outcome could not be applied: the row as it is now."""
        if current.status == changes["status"] and current.decided_by == changes.get("decided_by"):
            return result, message  # as this attempt would have left it (sync recorded it just so, or reopened it)
        if current.status == Status.DECIDING.value:
            verb = "approving" if current.claim_action == Action.APPROVE.value else "denying"
            return Result.IN_FLIGHT, f"Slack answered late; meanwhile <@{current.claim_actor}> is {verb} this request."
        if current.status == Status.PENDING.value:
            return Result.FAILED, (
                f"Slack answered too late for invitebot to record it; the request for {blocks.escape(self.request.email)} "
                "is open again. The next sync will show how it ended."
            )
        return Result.ALREADY_DECIDED, blocks.outcome_line(current) or ""


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


def _closed(status: str, decided_by: str | None, source: str, reason: str | None) -> dict[str, object]:
    return {
        "status": status,
        "decided_by": decided_by,
        "decided_at": now(),
        "decision_source": source,
        "deny_reason": reason,
        **CLAIM_CLEARED,
    }


def _released() -> dict[str, object]:
    return {"status": Status.PENDING.value, **CLAIM_CLEARED}
