"""Bulk decisions: approve or deny every pending request from one email domain, one by one through decide().

1. **Preview** (`preview`): the filter's pending requests, oldest first, are written as a batch in state `preview` with
   its items in that order. The person sees the count and the first ones; what they confirm is exactly that list.
2. **Start** (`start`): an approver confirms; the batch is `running`, audited as `batch_started`, and two outbox jobs
   are queued: the feeder (`batch`) and the progress message (`batch_progress`).
3. **Feed** (`feed`, the `batch` job): a few items at a time, each when its workspace's next admin-call slot is near,
   go through `decide()` with the batch's id (never around it), so the outbox holds a handful of decide jobs rather
   than hundreds and other people's clicks keep their turn in the pace. The job then re-schedules itself for the next
   slot. It is durable: a restarted (or another) process goes on where it stopped; an item already taken has its own
   durable decide job, and is never taken twice (app.core.bulk.items).
4. **End**: each item's decision ends in its settle transaction, which records the item's outcome; the last one marks
   the batch `done` (audited as `batch_done`). A cancel (`cancel`) marks the items not taken yet `cancelled` (those
   under way finish) and is audited as `batch_cancelled`; a refusal by decide() (the person is no longer an approver,
   a deny reason is required) stops the batch the same way. A request the person asked for themselves is not theirs to
   approve: decide() refuses that item alone (audited as `self_approval_refused`), it is counted `self_requested`, and
   the batch goes on.

The filter's domain is read as the policy file reads `email_domain` (app.core.domains): `example.com` is that domain
exactly (not its subdomains), `*.example.com` any subdomain of it (not example.com itself), compared in ASCII (A-label)
form. A deny takes every address whose domain reads as the filter's; an approve only those typed as they read, never a
look-alike (`ada@\u212apmg.com`, with a KELVIN SIGN) nor a malformed domain: those are decided one by one.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core import authz, domains, lifecycle
from app.core.audit import now
from app.core.authz import Verdict
from app.core.bulk import items as batch_items
from app.core.bulk.items import CANCELLED, DONE, PREVIEW, RUNNING, Counts
from app.core.decisions import REASON_REQUIRED_OUTCOME, decide
from app.core.outbox import Job
from app.core.outcomes import Result
from app.core.pacing import Pace
from app.core.services import Services
from app.store.dml import changed
from app.store.models import Action, Batch, BatchItem, DecisionLog, InviteRequest, PaceBudget, Source

log = logging.getLogger(__name__)

SHOWN = 20  # requests a preview lists by name; the rest are counted
# An item is handed to decide() once its workspace's next admin-call slot is this near (under decisions.QUEUED_NOTICE,
# so its card never says "queued" for a batch's own wait).
LOOKAHEAD = timedelta(seconds=1.5)
FEED_AT_ONCE = 5  # items one run of the feeder may hand to decide() before it lets other jobs run
SCAN = 50  # untaken items one run looks at, to find one whose workspace's slot is near (batches over several)
STOPPED_BECAUSE = "stopped because "  # in a batch_cancelled entry's detail, when decide() refused and no person cancelled
INVITE_TYPES = ("full_member", "restricted", "ultra_restricted")
_LOAD = 500  # rows loaded by id per statement: well inside both backends' limits on bound parameters


@dataclass(frozen=True)
class Filter:
    """Which pending requests a batch decides: an email domain, optionally only some workspaces and invite types."""

    domain: str  # "example.com" (exactly) or "*.example.com" (any subdomain), in A-label form
    teams: tuple[str, ...] = ()  # workspace ids; empty: every workspace
    types: tuple[str, ...] = ()  # full_member, restricted, ultra_restricted; empty: every type

    def as_json(self) -> dict[str, Any]:
        return {"domain": self.domain, "teams": list(self.teams), "types": list(self.types)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Filter":
        return cls(str(data["domain"]), tuple(data.get("teams") or ()), tuple(data.get("types") or ()))

    def takes(self, email: str, action: Action) -> bool:
        """The address's domain is the filter's; to approve, it must also be typed as it reads (no look-alike)."""
        wanted, domain = domains.pattern(self.domain), domains.of_email(email)
        return wanted is not None and domains.matches(wanted, domain) and (domain.plain or action is not Action.APPROVE)


def matching(session: Session, wanted: Filter, action: Action) -> list[InviteRequest]:
    """The pending requests the filter finds for the action, oldest first (the order they are decided in).

    Domains are compared after UTS-46 mapping, which no SQL pattern can do: the addresses of the pending requests in
    the filter's workspaces and types are read and matched here, then the rows that match are loaded.
    """
    query = select(InviteRequest.id, InviteRequest.email).where(
        InviteRequest.status == lifecycle.PENDING, InviteRequest.team_id.is_not(None)
    )
    if wanted.teams:
        query = query.where(InviteRequest.team_id.in_(wanted.teams))
    if wanted.types:
        query = query.where(InviteRequest.invite_type.in_(wanted.types))
    listed = session.execute(query.order_by(InviteRequest.date_created, InviteRequest.id))
    found = [request_id for request_id, email in listed if wanted.takes(email, action)]
    rows: dict[str, InviteRequest] = {}
    for start in range(0, len(found), _LOAD):
        part = select(InviteRequest).where(InviteRequest.id.in_(found[start : start + _LOAD]))
        rows.update((row.id, row) for row in session.scalars(part))
    return [rows[request_id] for request_id in found]


def busiest_domains(
    session: Session, limit: int, *, teams: frozenset[str] | None = None, at_least: int = 2
) -> list[tuple[str, int]]:
    """Email domains with `at_least` pending requests (in `teams`, None: every workspace), the most first (then by
    name): the App Home's bulk buttons (several from one domain), a digest's chooser (any)."""
    query = select(InviteRequest.email).where(InviteRequest.status == lifecycle.PENDING, InviteRequest.team_id.is_not(None))
    if teams is not None:
        query = query.where(InviteRequest.team_id.in_(teams))
    read = (domains.of_email(email) for email in session.scalars(query))
    # Only domains typed as they read are offered: a look-alike is never counted with the domain it imitates.
    counted = Counter(domain.ascii for domain in read if domain.plain and domain.ascii and "." in domain.ascii)
    many = [(domain, n) for domain, n in counted.items() if n >= at_least]
    return sorted(many, key=lambda item: (-item[1], item[0]))[:limit]


# -- preview and start ------------------------------------------------------------------------------------------------


class Answer(enum.Enum):
    """How asking for a preview, a start or a cancel ended."""

    PREVIEWED = "previewed"
    NOTHING = "nothing"  # no pending request matches: no batch was written
    STARTED = "started"
    CANCELLED = "cancelled"
    REFUSED = "refused"  # not an approver (or their rights could not be read): `verdict` says which
    REASON_REQUIRED = "reason_required"
    NOT_YOURS = "not_yours"  # a preview someone else made
    NOT_FOUND = "not_found"
    ALREADY = "already"  # started, finished or cancelled already


@dataclass(frozen=True)
class Preview:
    answer: Answer
    action: Action
    wanted: Filter
    batch_id: int | None = None
    total: int = 0
    first: list[InviteRequest] = field(default_factory=list)  # the first SHOWN, in order
    reason: str | None = None
    verdict: Verdict | None = None
    elsewhere: int = 0  # with NOTHING: requests the filter finds in workspaces the person does not decide


@dataclass(frozen=True)
class Change:
    """The result of start() or cancel()."""

    answer: Answer
    batch: Batch | None = None
    counts: Counts | None = None
    verdict: Verdict | None = None


def _asked(subject: str, action: Action, actor_id: str, source: Source, batch_id: int | None) -> authz.Asked:
    """A bulk decision's attempt, as its audit entries name it."""
    return authz.Asked(actor_id, action.value, subject, source.value, batch_id, detail="bulk decision")


def _reach(services: Services, actor_id: str, actor_team: str | None) -> frozenset[str] | None:
    """The workspaces whose requests the person may decide; None for every one."""
    reach = getattr(services.approvers, "reach", None)  # Approvers without per-workspace lists know no reach
    return reach(actor_id, actor_team).teams if reach is not None else None


def refusal(
    services: Services,
    action: Action,
    wanted: Filter,
    actor_id: str,
    source: Source,
    reason: str | None = None,
    *,
    actor_team: str | None = None,
    ask_reason: bool = False,
) -> Preview | None:
    """Why this person may not ask for this preview (audited), or None: not an approver, or a deny without the reason
    INVITES_DENY_REASON_REQUIRED asks for. `ask_reason`: the reason is asked for in the preview (the App Home's), so a
    required one is checked when it is confirmed."""
    asked = _asked(f"bulk:{wanted.domain}"[:32], action, actor_id, source, None)
    verdict = authz.require(services.sessions, services.approvers, asked, actor_team=actor_team)
    if not verdict.allowed:
        return Preview(Answer.REFUSED, action, wanted, verdict=verdict)
    if action is Action.DENY and services.rules.deny_reason_required and not (reason or "").strip() and not ask_reason:
        authz.refused(services.sessions, asked, REASON_REQUIRED_OUTCOME)
        return Preview(Answer.REASON_REQUIRED, action, wanted)
    return None


def preview(
    services: Services,
    action: Action,
    wanted: Filter,
    actor_id: str,
    source: Source,
    reason: str | None = None,
    *,
    actor_team: str | None = None,
) -> Preview:
    """Write the batch (state preview) with the requests the filter finds now, in the order they would be decided.

    Only requests of workspaces the person may decide are taken (a workspace's own approvers, INVITES_APPROVERS_T…,
    decide only its requests). Nothing is decided until start(), which checks the person again; surfaces ask refusal()
    first.
    """
    reason = (reason or "").strip() or None
    teams = _reach(services, actor_id, actor_team)
    with services.sessions.begin() as session:
        every = matching(session, wanted, action)
        found = [r for r in every if teams is None or r.team_id in teams]
        if not found:
            return Preview(Answer.NOTHING, action, wanted, elsewhere=len(every))
        batch = Batch(
            action=action.value,
            actor_id=actor_id,
            source=source.value,
            filters=wanted.as_json(),
            reason=reason,
            state=PREVIEW,
            total=len(found),
            created_at=now(),
        )
        session.add(batch)
        session.flush()
        session.add_all(BatchItem(batch_id=batch.id, request_id=r.id, position=n) for n, r in enumerate(found))
        session.flush()
        return Preview(Answer.PREVIEWED, action, wanted, batch.id, len(found), found[:SHOWN], reason)


def start(
    services: Services, batch_id: int, actor_id: str, *, actor_team: str | None = None, reason: str | None = None
) -> Change:
    """The person who previewed the batch confirmed it: decide its items, from now on, at the workspace's pace."""
    with services.read() as session:
        batch = session.get(Batch, batch_id)
    if batch is None:
        return Change(Answer.NOT_FOUND)
    action, source = Action(batch.action), Source(batch.source)
    asked = _asked(batch_items.subject(batch_id), action, actor_id, source, batch_id)
    verdict = authz.require(services.sessions, services.approvers, asked, actor_team=actor_team)
    if not verdict.allowed:
        return Change(Answer.REFUSED, batch, verdict=verdict)
    if batch.actor_id != actor_id:
        return Change(Answer.NOT_YOURS, batch)
    reason = (reason or "").strip() or batch.reason
    if action is Action.DENY and services.rules.deny_reason_required and not reason:
        authz.refused(services.sessions, asked, REASON_REQUIRED_OUTCOME)
        return Change(Answer.REASON_REQUIRED, batch)
    with services.sessions.begin() as session:
        started = changed(
            session,
            update(Batch)
            .where(Batch.id == batch_id, Batch.state == PREVIEW)
            .values(state=RUNNING, started_at=now(), reason=reason)
            .execution_options(synchronize_session=False)
        )
        if not started:
            return Change(Answer.ALREADY, batch)
        batch = session.get(Batch, batch_id, populate_existing=True)
        assert batch is not None
        batch_items.record(session, batch, batch_items.BATCH_STARTED, actor_id, f"{batch.total} requests")
        services.outbox.add(session, "batch", {"batch": batch_id, "actor_team": actor_team}, here=True)
        batch_items.queue_progress(session, services.outbox, batch_id, here=True)
    return Change(Answer.STARTED, batch)


def cancel(services: Services, batch_id: int, actor_id: str, source: Source, *, actor_team: str | None = None) -> Change:
    """Take no more of the batch's items (those under way finish); approvers only, audited either way."""
    with services.read() as session:
        batch = session.get(Batch, batch_id)
    if batch is None:
        return Change(Answer.NOT_FOUND)
    asked = _asked(batch_items.subject(batch_id), Action(batch.action), actor_id, source, batch_id)
    verdict = authz.require(services.sessions, services.approvers, asked, actor_team=actor_team)
    if not verdict.allowed:
        return Change(Answer.REFUSED, batch, verdict=verdict)
    return _end_early(services, batch_id, actor_id, f"cancelled by {actor_id}")


def stop(services: Services, batch_id: int, why: str) -> Change:
    """decide() refused an item (the person is no longer an approver, a reason is required): take no more."""
    return _end_early(services, batch_id, None, f"{STOPPED_BECAUSE}{why}")


def _end_early(services: Services, batch_id: int, actor_id: str | None, how: str) -> Change:
    with services.sessions.begin() as session:
        running = select(Batch.id).where(Batch.id == batch_id, Batch.state == RUNNING).exists()
        left = changed(  # the items first, then the batch: the order every transaction keeps
            session,
            update(BatchItem)
            .where(BatchItem.batch_id == batch_id, BatchItem.outcome.is_(None), running)
            .values(outcome=batch_items.CANCELLED_ITEM, done_at=now())
            .execution_options(synchronize_session=False)
        )
        ended = changed(
            session,
            update(Batch).where(Batch.id == batch_id, Batch.state == RUNNING).values(state=CANCELLED)
            .execution_options(synchronize_session=False)
        )
        batch = session.get(Batch, batch_id, populate_existing=True)
        if not ended or batch is None:
            return Change(Answer.ALREADY, batch)
        counts = batch_items.counts(session, batch_id)
        batch_items.record(session, batch, batch_items.BATCH_CANCELLED, actor_id or batch.actor_id,
                           f"{how}: {left} not started; {counts.words(batch.action)}")
        batch_items.finish_if_done(session, services.outbox, batch_id)
        batch_items.queue_progress(session, services.outbox, batch_id)
    return Change(Answer.CANCELLED, batch, counts)


# -- the feeder ---------------------------------------------------------------------------------------------------------


def feed(services: Services, job: Job) -> None:
    """The `batch` job: hand the next items whose workspace's slot is near to decide(), then come back for the next."""
    batch_id = int(job.payload["batch"])
    actor_team = job.payload.get("actor_team")
    with services.read() as session:
        batch = session.get(Batch, batch_id)
    if batch is None or batch.state != RUNNING:
        return
    action, source = Action(batch.action), Source(batch.source)
    for _ in range(FEED_AT_ONCE):
        with services.read() as session:
            untaken = session.execute(
                select(BatchItem.request_id, InviteRequest.team_id)
                .join(InviteRequest, InviteRequest.id == BatchItem.request_id, isouter=True)
                .where(BatchItem.batch_id == batch_id, BatchItem.outcome.is_(None))
                .order_by(BatchItem.position)
                .limit(SCAN)
            ).all()
            slots = next_slots(session, services.pace, {team for _, team in untaken if team})
        if not untaken:
            return  # every item is taken: the last one's settle ends the batch
        near = now() + LOOKAHEAD
        pick = next((request_id for request_id, team in untaken if team is None or slots[team] <= near), None)
        if pick is None:
            _come_back(services, job, min(slots.values()) - LOOKAHEAD)
            return
        outcome = decide(
            services, pick, action, batch.actor_id, source, batch.reason, actor_team=actor_team, batch_id=batch_id
        )
        if outcome.verdict is not None and outcome.verdict.self_requested:
            continue  # that item alone is set aside; the person may approve the others
        if outcome.result in (Result.REFUSED, Result.REASON_REQUIRED):
            why = outcome.verdict.outcome if outcome.verdict is not None else REASON_REQUIRED_OUTCOME
            log.warning("bulk decision %s stopped: decide() refused %s for %s (%s)", batch_id, pick, batch.actor_id, why)
            stop(services, batch_id, why)
            return
    _come_back(services, job, now())


def give_up_feeding(services: Services, job: Job, error: str) -> None:
    """The feeder failed for good (its database kept failing, say): stop the batch visibly rather than leave it running."""
    stop(services, int(job.payload["batch"]), f"feeder_failed ({error})")


def _come_back(services: Services, job: Job, at: datetime) -> None:
    with services.sessions.begin() as session:
        job.postpone(session, max(at, now()), "waiting_for_pace")


def next_slots(session: Session, pace: Pace, teams: set[str]) -> dict[str, datetime]:
    """When each workspace's next admin call may go out, read (not taken) from its budget."""
    keys = {pace.key(team): team for team in teams}
    rows = session.execute(select(PaceBudget.key, PaceBudget.next_at).where(PaceBudget.key.in_(list(keys)))).all() if keys else []
    found = {keys[key]: at for key, at in rows}
    moment = now()
    return {team: max(moment, found.get(team, moment)) for team in teams}


# -- how a batch stands -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    batch: Batch
    counts: Counts
    seconds_left: float  # until the last item's admin call may go out, at the pace in force
    cancelled_by: str | None = None
    stopped_because: str | None = None  # decide()'s refusal (not_allowed, reason_required, …) that stopped it

    @property
    def wanted(self) -> Filter:
        return Filter.from_json(self.batch.filters)

    @property
    def running(self) -> bool:
        return self.batch.state == RUNNING

    @property
    def finished(self) -> bool:
        return self.batch.state in (DONE, CANCELLED) and self.batch.finished_at is not None


def progress(session: Session, batch_id: int, pace: Pace) -> Progress | None:
    """Counts by outcome, an honest time left, and who cancelled it (or what stopped it)."""
    batch = session.get(Batch, batch_id)
    if batch is None:
        return None
    counts = batch_items.counts(session, batch_id)
    per_team: dict[str, int] = {}
    for team, n in session.execute(
        select(InviteRequest.team_id, func.count())
        .select_from(BatchItem)
        .join(InviteRequest, InviteRequest.id == BatchItem.request_id)
        .where(BatchItem.batch_id == batch_id, BatchItem.outcome.is_(None), InviteRequest.team_id.is_not(None))
        .group_by(InviteRequest.team_id)
    ).all():
        assert team is not None  # the query leaves out items whose workspace is unknown
        per_team[team] = int(n)
    slots = next_slots(session, pace, set(per_team))
    moment = now()
    left = max(
        [(slots[team] - moment).total_seconds() + (n - 1) * pace.interval.total_seconds() for team, n in per_team.items()],
        default=0.0,
    )
    cancelled_by = stopped_because = None
    if batch.state == CANCELLED:
        entry = session.scalars(
            select(DecisionLog)
            .where(DecisionLog.batch_id == batch_id, DecisionLog.outcome == batch_items.BATCH_CANCELLED)
            .order_by(DecisionLog.id.desc())
            .limit(1)
        ).first()
        detail = entry.detail or "" if entry is not None else ""
        if STOPPED_BECAUSE in detail:
            stopped_because = detail.split(STOPPED_BECAUSE, 1)[1].split(":", 1)[0]
        elif entry is not None:
            cancelled_by = entry.actor_id
    return Progress(batch, counts, max(0.0, left), cancelled_by, stopped_because)
