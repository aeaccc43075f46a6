"""The decision job's core: load the claimed attempt, and settle what Slack answered in one transaction.

app.slack.jobs.decisions makes the one admin call between load_attempt() and Attempt.finish(); everything else here
is the database: the row's next state, its audit entry, and the jobs that tell people (answer, cards, DMs, App Home).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from app.core import audit, backlog, lifecycle, pacing
from app.core.audit import now
from app.core.bulk import items as batch_items
from app.core.credit import attribute
from app.core.decisions import QUEUED_NOTICE, queue_cards, queue_told
from app.core.lifecycle import Closing, Entry
from app.core.outbox import Job
from app.core.outcomes import Outcome, Result, Why
from app.core.ports import DecisionRecord, Kind, SlackCallFailed
from app.core.services import Services
from app.store.models import Action, InviteRequest, Source

log = logging.getLogger(__name__)

# A decider's App Home is published this long after their decision, once for all the decisions made meanwhile.
HOME_COALESCE = timedelta(seconds=1)

# Answers that leave open whether Slack carried the call out: the wire's, and a proxy's error page.
_ANSWER_LOST = frozenset({"network_error", "http_error", "request_timeout"})


def load_attempt(services: Services, job: Job) -> Attempt | None:
    """The `decide` job's attempt, ready for its one Slack call (app.slack.jobs.decisions makes it, then `finish`es).

    None when sync resolved the claim while the job waited: the clicker is told how the request stands now.
    """
    attempt = Attempt.of(services, job)
    with services.read() as session:
        request = session.execute(_CLAIM_OF, {"request_id": attempt.request_id}).first()
    if request is None or request.claim_owner != attempt.claim:
        attempt.settle(None, "claim_resolved", Outcome(Result.FAILED, attempt.action, attempt.request_id, why=Why.LATE))
        return None
    attempt.email = request.email
    attempt.team_id = request.team_id or ""
    return attempt


_REQUESTS = cast(Table, InviteRequest.__table__)
_CLAIM_OF = select(_REQUESTS.c.claim_owner, _REQUESTS.c.email, _REQUESTS.c.team_id).where(_REQUESTS.c.id == bindparam("request_id"))


def give_up_decision(services: Services, job: Job, error: str) -> None:
    """A decision job that failed for good: give the claim back, show the card as it is, and tell the clicker.

    Should Slack have carried the call out before the failure, the next sync closes the request as Slack lists it,
    credited to this attempt (logged before it was made).
    """
    attempt = Attempt.of(services, job)
    with services.sessions.begin() as session:
        entry = Entry(attempt.source.value, "gave_up", detail=error, log_id=attempt.log_id)
        released = lifecycle.release(session, attempt.request_id, entry, owner=attempt.claim)
        attempt.batch_ended(session, attempt.outcome(Result.FAILED, error, Why.GAVE_UP))
        if not released:
            return
        request = session.get(InviteRequest, attempt.request_id)
        attempt.email = request.email if request is not None else None
        queue_cards(services, session, attempt.request_id, _clicked(job))
        attempt.answer(session, attempt.outcome(Result.FAILED, error, Why.GAVE_UP))


@dataclass
class Attempt:
    """One claimed attempt: everything needed to turn Slack's answer into a record and what to tell whom."""

    services: Services
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
    def of(cls, services: Services, job: Job) -> "Attempt":
        p = job.payload
        return cls(
            services, job, str(job.request_id), p["claim"], Action(p["action"]), p["actor"], Source(p["source"]), p.get("reason"), p["log_id"]
        )

    def wait_for_slack(self, retry_after: float) -> None:
        """Slack answered 429: the claim is kept, and the call asks again at the workspace's next free slot once Retry-After
        has passed, or once the pace's hold (INVITES_MAX_RETRY_AFTER) has, whichever comes first; then again, until Slack
        takes it. The card says the wait is Slack's; the clicker hears so once, and again only after the wait they were told of."""
        services = self.services
        asked = now() + timedelta(seconds=retry_after)
        with services.sessions.begin() as session:
            at = pacing.take(session, services.pace, self.team_id, not_before=asked)
            self.job.postpone(session, at, "ratelimited")
            row = session.get(InviteRequest, self.request_id)
            told = row.slack_wait_until if row is not None else None
            moment = now()
            if max(at, asked) - moment > QUEUED_NOTICE:
                lifecycle.schedule(session, self.request_id, self.claim, at, slack_wait_until=asked)
                queue_cards(services, session, self.request_id, _clicked(self.job))
                if told is None or told <= moment:
                    wait = (at - moment).total_seconds()
                    outcome = self.outcome(Result.QUEUED, "ratelimited", wait_seconds=wait, slack_wait_seconds=retry_after)
                    self.answer(session, outcome, publish_home=False)
        log.info("Slack asked to wait %s s before deciding %s; the call asks again at %s", retry_after, self.request_id, at.isoformat())

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

    def _closed(self, status: str, audit_outcome: str, outcome: Outcome, reason: str | None, detail: str | None = None) -> None:
        self.settle(Closing(status, self.actor_id, self.source.value, reason), audit_outcome, outcome, detail)

    def _slack_record(self) -> tuple[DecisionRecord | None, bool]:
        """How Slack's approved/denied lists say this request ended (None: not decided), and whether they could be read."""
        try:
            decided = self.services.gateway.decisions(self.team_id, within_decision=True, wanted={self.request_id})
            return decided.get(self.request_id), True
        except SlackCallFailed as exc:
            log.warning("could not read Slack's decided lists for %s: %s", self.request_id, exc.code)
            return None, False

    def _decided_elsewhere(self, code: str) -> None:
        """already_processed: read Slack's lists to learn the real outcome and who decided.

        This call did not do it, unless this attempt was made before (its job was taken over or tried again): then the
        earlier try may have, and this attempt is the latest candidate; otherwise an earlier attempt is.
        """
        record, _ = self._slack_record()
        if record is None:
            self.settle(None, code, self.outcome(Result.FAILED, code, Why.NOT_LISTED_YET))
            return
        self._decided_as_listed(record, code, mine=self.job.attempts > 1)

    def _answer_lost(self, code: str) -> None:
        """The call may have been carried out, but its answer never arrived whole: ask Slack's lists before saying anything."""
        record, readable = self._slack_record()
        if record is not None:
            self._decided_as_listed(record, code, self.reason, mine=True)
            return
        why = Why.ANSWER_LOST_UNDECIDED if readable else Why.ANSWER_LOST_UNCHECKED
        detail = audit.CHECKED_UNDECIDED if readable else None
        self.settle(None, code, self.outcome(Result.FAILED, code, why), detail)

    def _decided_as_listed(self, record: DecisionRecord, audit_outcome: str, reason: str | None = None, *, mine: bool) -> None:
        """Close the request as Slack's lists have it, crediting whoever's call it was (`mine`: this one may have been),
        and tell the clicker."""
        admin_user_id = self.services.gateway.admin_user_id()
        with self.services.sessions() as session:
            credit = attribute(session, self.request_id, record, admin_user_id, besides=None if mine else self.log_id)
        status = lifecycle.status_after(record.action)
        if credit.decided_by == self.actor_id and record.action == self.action.value and credit.ours:
            # This clicker's own call landed (its answer was lost, or a retried connection found it done).
            self._closed(status, audit_outcome, self.outcome(Result.DECIDED, other_action=record.action), reason, credit.detail)
            return
        outcome = self.outcome(
            Result.DECIDED_ELSEWHERE, audit_outcome, other=credit.decided_by, other_action=record.action, outside=not credit.ours
        )
        self.settle(Closing(status, credit.decided_by, credit.source), audit_outcome, outcome, credit.detail)

    def settle(self, closing: Closing | None, audit_outcome: str, outcome: Outcome, detail: str | None = None) -> None:
        """Apply the outcome while we still hold the claim, with its audit entry, its follow-up jobs and this job's end.

        A claim lost meanwhile (sync resolved it while Slack was slow) still lets a closing answer close the request if
        sync reopened it; otherwise the clicker hears how the request stands now.
        """
        services = self.services
        with services.sessions.begin() as session, services.outbox.batched(session):
            entry = Entry(self.source.value, audit_outcome, detail=detail, log_id=self.log_id)
            closed: lifecycle.Moved | None = None
            if closing is None:
                applied = lifecycle.release(session, self.request_id, entry, owner=self.claim)
            else:
                telling = closing.status in lifecycle.DECIDED and services.notify_requesters
                told_at = now() if telling else None
                closed = lifecycle.settle(session, self.request_id, self.claim, closing, entry, told_at=told_at)
                if closed is None:
                    late = Entry(self.source.value, audit_outcome, log_id=self.log_id,
                                 detail="sync had reopened the request before Slack answered; the answer closed it")
                    closed = lifecycle.close(session, self.request_id, closing, late, only_from=(lifecycle.PENDING,))
                applied = closed is not None
            if not applied:
                detail = "the claim had been resolved by sync before Slack answered"
                audit.finish(session, self.log_id, source=self.source.value, outcome=audit_outcome, detail=detail)
                current = session.get(InviteRequest, self.request_id, populate_existing=True)
                if current is not None:
                    outcome = _as_it_stands(outcome, current, closing)
            else:
                posted = closed.copies if closed is not None else None  # read by the settle, when it closed the request
                queue_cards(services, session, self.request_id, _clicked(self.job), posted=posted)
                if closing is not None and closing.status in lifecycle.DECIDED:
                    queue_told(services, session, self.request_id, closed.told if closed is not None else None)
                if closed is not None:
                    backlog.queue_closed(services.outbox, session, closed.team_id, closed.in_digest)
            self.batch_ended(session, outcome)
            self.answer(session, outcome)
            self.job.complete(session)

    def batch_ended(self, session: Session, outcome: Outcome) -> None:
        """When this attempt is a bulk decision's item: record how it ended, in the transaction that ended it."""
        batch_id = self.job.payload.get("batch_id")
        if batch_id is not None:
            done = outcome.other_action if outcome.result is Result.DECIDED and outcome.other_action else self.action.value
            batch_items.ended(session, self.services.outbox, int(batch_id), self.request_id, outcome.result.value, done)

    def answer(self, session: Session, outcome: Outcome, *, publish_home: bool = True) -> None:
        """The clicker's answer, then (unless they clicked in it) their App Home brought up to date."""
        reply_to = self.job.payload.get("reply_to")
        if not reply_to:
            return
        self.services.outbox.add(
            session, "answer", {"reply_to": reply_to, "outcome": outcome.payload()}, request_id=self.request_id, here=True
        )
        if publish_home and reply_to.get("surface") != "home" and reply_to.get("user"):
            user = str(reply_to["user"])
            later = now() + HOME_COALESCE
            self.services.outbox.add(session, "home", {"user": user}, key=f"home:{user}"[:64], not_before=later)


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
