"""Reconcile our view with Slack's: ingest new pending requests, close those decided elsewhere, resolve stale claims."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.core import backlog, cards, holds, lifecycle, outbox
from app.core.audit import now
from app.core.bulk_ingest import Stored, store_listed
from app.core.credit import attribute
from app.core.decisions import queue_cards, queue_told
from app.core.lifecycle import Closing, Entry
from app.core.policy.apply import enforce
from app.core.ports import DecisionRecord, SlackCallFailed
from app.core.services import Services
from app.core.workspaces import Workspaces
from app.metrics import LAST_SUCCESSFUL_SYNC, PENDING, SYNC_DURATION
from app.routes import Routes
from app.store.models import InviteRequest, Source, SyncRun

log = logging.getLogger(__name__)

# A claim with no decision job left (it gave up, or predates the outbox) is reopened after this long.
STALE_CLAIM = timedelta(minutes=3)
# The audit outcome of a request Slack lists as decided under our admin token: an attempt of ours landed after all.
OUR_CALL_LANDED = "our_call_landed"


@dataclass
class SyncSummary:
    new: int = 0
    closed: int = 0
    unchanged: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the pass ended early (its lease was lost, the process is stopping); None if it ran through

    def line(self) -> str:
        text = f"sync: {self.new} new, {self.closed} closed elsewhere, {self.unchanged} unchanged, {self.errors} errors"
        if self.problems:
            text = f"{text} ({'; '.join(self.problems)})"
        return f"{text}; stopped early: {self.stopped}" if self.stopped else text


def sync_once(
    services: Services,
    workspaces: Workspaces,
    routes: Routes,
    should_stop: Callable[[], str | None] | None = None,
    *,
    digest_over: int,
) -> SyncSummary:
    """One reconcile pass over invitebot's workspaces (and any other holding open requests), recorded in sync_runs.

    `should_stop` is asked before each workspace and before the closing steps: a reason (the periodic sync's lease went
    to another replica, the process is shutting down) ends the pass there, and the recorded summary says why and where.
    Each workspace's cards are posted in its channel (`routes`), as outbox jobs queued with what made them necessary:
    a card Slack will not post or update shows in outbox health, not in the pass's summary. More than `digest_over` new
    requests in one workspace get one digest card between them instead of a card each (INVITES_DIGEST_OVER).
    """
    started = now()
    summary = SyncSummary()
    with SYNC_DURATION.time():
        _reconcile(services, workspaces, routes, should_stop, summary, digest_over)
    return _record(services, started, summary)


def _reconcile(
    services: Services,
    workspaces: Workspaces,
    routes: Routes,
    should_stop: Callable[[], str | None] | None,
    summary: SyncSummary,
    digest_over: int,
) -> None:
    with services.read() as session:
        held = holds.any_held(session)
    if held:  # each pass tries again the channels that refused posts (fixed since?)
        with services.sessions.begin() as session:
            holds.lift(session, services.post_pace, routes.channels())
    try:
        team_ids = workspaces.ids()
    except SlackCallFailed as exc:
        summary.errors += 1
        summary.problems.append(f"org: {exc.method} {exc.code}")
        team_ids = []
    swept = [*team_ids, *_other_open_workspaces(services, team_ids)]
    for done, team_id in enumerate(swept):
        if _must_stop(should_stop, summary, f"before {team_id}, {done} of {len(swept)} workspaces reconciled"):
            return
        _sync_team(services, team_id, routes.channel_for(team_id), summary, workspaces.name_of(team_id), digest_over)
    if _must_stop(should_stop, summary, f"after all {len(swept)} workspaces, before the closing steps"):
        return
    _close_unplaced(services, swept, summary)
    _name_workspaces(services, workspaces.named())
    with services.sessions.begin() as session:  # posts left unfinished, and renders Slack refused, are asked for again
        cards.queue_reposts(services.outbox, session, services.post_pace)
        cards.queue_lagging(services.outbox, session)


def _must_stop(should_stop: Callable[[], str | None] | None, summary: SyncSummary, where: str) -> bool:
    reason = should_stop() if should_stop is not None else None
    if reason:
        summary.stopped = f"{reason} ({where})"
    return bool(reason)


def _record(services: Services, started: datetime, summary: SyncSummary) -> SyncSummary:
    """The pass in sync_runs; a clean, complete one also moves the last-successful-sync gauge."""
    finished = now()
    with services.sessions.begin() as session:
        session.add(SyncRun(started_at=started, finished_at=finished, summary=summary.line(), errors=summary.errors))
    if not summary.errors and not summary.stopped:
        LAST_SUCCESSFUL_SYNC.set(finished.timestamp())
    return summary


def _name_workspaces(services: Services, names: dict[str, str]) -> None:
    """Requests stored before their workspace's name was known get it, and their cards are re-rendered to show it."""
    with services.sessions.begin() as session:
        unnamed = session.execute(
            select(InviteRequest.id, InviteRequest.team_id).where(
                InviteRequest.team_name.is_(None), InviteRequest.team_id.in_(list(names) or [""])
            )
        ).all()
        for team_id in {team_id for _, team_id in unnamed}:
            assert team_id is not None  # the query picked requests of named workspaces only
            session.execute(
                update(InviteRequest)
                .where(InviteRequest.team_id == team_id, InviteRequest.team_name.is_(None))
                .values(team_name=names[team_id])
            )
        for request_id, _ in unnamed:
            queue_cards(services, session, request_id, here=False)


def _other_open_workspaces(services: Services, team_ids: list[str]) -> list[str]:
    """Workspaces outside INVITES_TEAM_IDS whose requests reached us by event: reconciled too, so their cards close."""
    with services.sessions() as session:
        found = session.scalars(
            select(InviteRequest.team_id)
            .where(
                InviteRequest.status.in_(lifecycle.OPEN),
                InviteRequest.team_id.is_not(None),
                InviteRequest.team_id.not_in(team_ids or [""]),
            )
            .distinct()
        ).all()
    return sorted(team_id for team_id in found if team_id)


def _close_unplaced(services: Services, team_ids: list[str], summary: SyncSummary) -> None:
    """Requests whose workspace is still unknown and that no pending list showed: decided already? Then place and close."""
    with services.sessions() as session:
        unplaced = set(
            session.scalars(
                select(InviteRequest.id).where(InviteRequest.team_id.is_(None), InviteRequest.status == lifecycle.PENDING)
            ).all()
        )
    for team_id in team_ids:
        if not unplaced:
            return
        decided = _decisions(services, team_id, summary, unplaced)
        if decided is None:
            continue
        found = sorted(unplaced & decided.keys())
        admin_user_id = _admin_user(services, team_id, summary) if found else None
        if admin_user_id is None:
            continue
        for request_id in found:
            with services.sessions.begin() as session:
                session.execute(
                    update(InviteRequest)
                    .where(InviteRequest.id == request_id, InviteRequest.team_id.is_(None))
                    .values(team_id=team_id)
                )
            if _close(services, request_id, lifecycle.PENDING, decided[request_id], now() - STALE_CLAIM, admin_user_id):
                summary.closed += 1
            unplaced.discard(request_id)


def _sync_team(
    services: Services, team_id: str, channel: str, summary: SyncSummary, team_name: str | None, digest_over: int
) -> None:
    listed_at = now()  # a request first seen after this may be missing from the list only because it is that new
    try:
        pending = list(services.gateway.pending_requests(team_id))
    except SlackCallFailed as exc:
        summary.errors += 1
        summary.problems.append(f"{team_id}: {exc.method} {exc.code}")
        return
    PENDING.labels(team=team_id).set(len(pending))
    stored = _ingest_listed(services, pending, team_id, channel, team_name, summary, digest_over)
    listed = set(stored.listed)
    pending_ids = {str(raw.get("id")) for raw in pending if str(raw.get("id"))[:32] in listed}
    _close_missing(services, team_id, listed_at, pending_ids, summary)
    with services.sessions.begin() as session:
        backlog.queue_keep(services.outbox, session, services.post_pace, team_id, channel)


def _ingest_listed(
    services: Services,
    pending: list[dict[str, Any]],
    team_id: str,
    channel: str,
    team_name: str | None,
    summary: SyncSummary,
    digest_over: int,
) -> Stored:
    """Store the listed requests in bulk, queueing with each change the card work it owes: a new request's post (none for
    a backlog's, which its digest stands for), a re-render of a known one whose workspace or verdict changed. A known
    request still without a card in the channel (its post failed for good, say) has its post queued again. Then an
    enforced policy decides."""

    def post(session: Session, request_ids: list[str]) -> None:
        for request_id in cards.uncarded(session, request_ids, channel):
            cards.queue_post(services.outbox, session, services.post_pace, request_id, channel)

    stored = store_listed(
        services.sessions,
        pending,
        team_id=team_id,
        team_name=team_name,
        digest_over=digest_over,
        policy=services.policy,
        groups=services.groups,
        added=post,
        changed=lambda session, request_id: queue_cards(services, session, request_id, here=False),
    )
    summary.errors += len(stored.problems)
    summary.problems.extend(f"{team_id}: {problem}" for problem in stored.problems)
    summary.new += len(stored.inserted)
    summary.unchanged += len(stored.listed) - len(stored.inserted)
    inserted = set(stored.inserted)
    with services.read() as session:
        owed = cards.uncarded(session, [request_id for request_id in stored.listed if request_id not in inserted], channel)
    for start in range(0, len(owed), cards.CHUNK):
        with services.sessions.begin() as session:
            post(session, owed[start : start + cards.CHUNK])
    if services.policy is not None and services.policy.enforcing:
        for request_id in stored.listed:
            enforce(services, request_id)
    return stored


def _close_missing(services: Services, team_id: str, listed_at: datetime, pending_ids: set[str], summary: SyncSummary) -> None:
    """Open requests that Slack's pending list no longer shows: decided elsewhere or gone; abandoned claims reopened."""
    cutoff = now() - STALE_CLAIM
    with services.sessions() as session:
        open_rows = session.execute(
            select(InviteRequest.id, InviteRequest.status).where(
                InviteRequest.team_id == team_id,
                InviteRequest.first_seen < listed_at,
                or_(
                    InviteRequest.status == lifecycle.PENDING,
                    and_(InviteRequest.status == lifecycle.DECIDING, *_abandoned(cutoff)),
                ),
            )
        ).all()
    for request_id, status in open_rows:
        if status == lifecycle.DECIDING and request_id in pending_ids:
            _release_stale(services, request_id, cutoff)
    left = [(request_id, status) for request_id, status in open_rows if request_id not in pending_ids]
    if not left:
        return
    decided = _decisions(services, team_id, summary, {request_id for request_id, _ in left})
    if decided is None:
        return
    admin_user_id = _admin_user(services, team_id, summary) if decided.keys() & {request_id for request_id, _ in left} else None
    for request_id, status in left:
        record = decided.get(request_id)
        if record is not None and admin_user_id is None:
            continue
        if _close(services, request_id, status, record, cutoff, admin_user_id):
            summary.closed += 1


def _decisions(
    services: Services, team_id: str, summary: SyncSummary, wanted: set[str]
) -> dict[str, DecisionRecord] | None:
    """Slack's decided lists for a workspace, read as far as `wanted` needs; None (an error in the summary) if unreadable."""
    try:
        return services.gateway.decisions(team_id, wanted=wanted)
    except SlackCallFailed as exc:
        summary.errors += 1
        summary.problems.append(f"{team_id}: {exc.method} {exc.code}")
        return None


def _abandoned(cutoff: datetime) -> list[Any]:
    """A claim nobody will finish: older than `cutoff`, with no decision job queued or running (its job gave up, or it
    was made before the outbox). A queued claim is never abandoned, however long Slack's pace makes it wait."""
    return [InviteRequest.claimed_at < cutoff, ~outbox.live_job(InviteRequest.id)]


def _release_stale(services: Services, request_id: str, cutoff: datetime) -> None:
    """An abandoned claim whose request is still pending at Slack: reopen it."""
    with services.sessions.begin() as session:
        released = lifecycle.release(session, request_id, Entry(Source.SYNC.value, "released_stale", action="release"), guards=_abandoned(cutoff))
        if released:
            queue_cards(services, session, request_id, here=False)


def _close(
    services: Services, request_id: str, status: str, record: DecisionRecord | None, cutoff: datetime, admin_user_id: str | None
) -> bool:
    """The request left Slack's pending list: record how it ended, if nobody else got there first.

    A decision Slack lists under our admin token's user (`admin_user_id`) is credited to our latest attempt, and its
    audit entry says which (app.core.credit); any other is closed as made outside invitebot, by whom Slack names.
    """
    guards = _abandoned(cutoff) if status == lifecycle.DECIDING else []
    with services.sessions.begin() as session:
        if record is None:
            closing = Closing(lifecycle.GONE, None, Source.SYNC.value)
            entry = Entry(Source.SYNC.value, "gone", action="close")
        else:
            credit = attribute(session, request_id, record, admin_user_id)
            closing = Closing(lifecycle.status_after(record.action), credit.decided_by, credit.source)
            if credit.ours:
                entry = Entry(Source.SYNC.value, OUR_CALL_LANDED, actor_id=credit.decided_by, action=record.action, detail=credit.detail)
            else:
                entry = Entry(Source.OUTSIDE.value, "closed_elsewhere", actor_id=record.actor_id, action=record.action)
        closed = lifecycle.close(session, request_id, closing, entry, only_from=(status,), guards=guards)
        if closed:
            queue_cards(services, session, request_id, here=False)
        if closed and closing.status in lifecycle.DECIDED:
            queue_told(services, session, request_id)
    return closed is not None


def _admin_user(services: Services, team_id: str, summary: SyncSummary) -> str | None:
    """Whom Slack names for invitebot's own decisions (auth.test); None, with an error in the summary, when Slack will not
    say: the decided requests then wait for the next pass, so none of ours is closed as made outside invitebot."""
    admin_user_id = services.gateway.admin_user_id()
    if admin_user_id is None:
        summary.errors += 1
        summary.problems.append(f"{team_id}: auth.test failed, so invitebot cannot tell its own decisions from others'; they close on a later sync")
    return admin_user_id
