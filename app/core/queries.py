"""Read-only questions the admin surfaces ask of the database."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Collection

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from app.core import outbox
from app.core.audit import now
from app.core.lifecycle import APPROVED_STATES, DECIDED, DENIED, OPEN
from app.store.models import DecisionLog, InviteRequest, OutboxJob, SyncRun


def within(teams: Collection[str] | None) -> list[Any]:
    """Only requests of the workspaces `teams` (an approver's reach); None: every request, unplaced ones too."""
    return [] if teams is None else [InviteRequest.team_id.in_(sorted(teams) or [""])]


# Workspace by workspace (those not known yet last), each oldest first.
_BY_WORKSPACE = (InviteRequest.team_id.is_(None), InviteRequest.team_id, InviteRequest.date_created, InviteRequest.id)


def pending(
    session: Session, *, team: str | None = None, teams: Collection[str] | None = None, offset: int = 0, limit: int = 10
) -> tuple[list[InviteRequest], int]:
    """A page of open requests (of `team`, and of `teams` when given), grouped by workspace, each oldest first; and how
    many there are in all."""
    where = [InviteRequest.status.in_(OPEN), *within(teams)]
    if team:
        where.append(InviteRequest.team_id == team)
    total = session.scalar(select(func.count()).select_from(InviteRequest).where(*where)) or 0
    rows = session.scalars(select(InviteRequest).where(*where).order_by(*_BY_WORKSPACE).offset(offset).limit(limit)).all()
    return list(rows), total


def pending_counts(session: Session, *, teams: Collection[str] | None = None) -> dict[str | None, int]:
    """How many requests are open in each workspace (of `teams`, when given); None for those not placed yet."""
    where = [InviteRequest.status.in_(OPEN), *within(teams)]
    counted = session.execute(select(InviteRequest.team_id, func.count()).where(*where).group_by(InviteRequest.team_id)).all()
    return {team_id: int(count) for team_id, count in counted}


@dataclass(frozen=True)
class WorkspaceQueue:
    """One workspace's open requests, oldest first (at most as many as were asked for), and how many it has in all."""

    team_id: str | None
    label: str  # its name, else its id, else that it is not known yet
    requests: list[InviteRequest]
    total: int


def workspace_label(team_id: str | None, team_name: str | None) -> str:
    return team_name or team_id or "workspace not known yet"


def pending_by_workspace(session: Session, *, teams: Collection[str] | None = None, limit_each: int) -> list[WorkspaceQueue]:
    """The oldest `limit_each` open requests of each workspace (of `teams`, when given), workspace by workspace."""
    where = [InviteRequest.status.in_(OPEN), *within(teams)]
    rank = func.row_number().over(partition_by=InviteRequest.team_id, order_by=(InviteRequest.date_created, InviteRequest.id))
    ranked = select(InviteRequest.id, rank.label("rank")).where(*where).subquery()
    rows = session.scalars(
        select(InviteRequest).join(ranked, ranked.c.id == InviteRequest.id).where(ranked.c.rank <= limit_each).order_by(*_BY_WORKSPACE)
    ).all()
    totals = pending_counts(session, teams=teams)
    queues: dict[str | None, list[InviteRequest]] = {}
    for row in rows:
        queues.setdefault(row.team_id, []).append(row)
    return [
        WorkspaceQueue(team_id, workspace_label(team_id, next((r.team_name for r in found if r.team_name), None)), found, int(totals.get(team_id, len(found))))
        for team_id, found in queues.items()
    ]


def find(session: Session, ref: str) -> list[InviteRequest]:
    """Requests named by id (Ir…) or by email; for an email, open ones first, then the newest closed one."""
    if "@" not in ref:
        request = session.get(InviteRequest, ref)
        return [request] if request else []
    matches = session.scalars(
        select(InviteRequest).where(func.lower(InviteRequest.email) == ref.lower()).order_by(InviteRequest.date_created.desc())
    ).all()
    open_ones = [r for r in matches if r.status in OPEN]
    return open_ones or list(matches[:1])


def history(session: Session, limit: int, *, teams: Collection[str] | None = None) -> list[InviteRequest]:
    """The latest closed requests (of `teams`, when given), newest decision first."""
    return list(
        session.scalars(
            select(InviteRequest)
            .where(InviteRequest.decided_at.is_not(None), InviteRequest.status.not_in(OPEN), *within(teams))
            .order_by(InviteRequest.decided_at.desc())
            .limit(limit)
        ).all()
    )


def audit_trail(session: Session, request_id: str) -> list[DecisionLog]:
    return list(
        session.scalars(select(DecisionLog).where(DecisionLog.request_id == request_id).order_by(DecisionLog.at, DecisionLog.id))
    )


def _is_user_id(text: str) -> bool:
    """U… or W… followed by capitals and digits, as Slack writes user ids."""
    rest = text[1:]
    return text[:1] in ("U", "W") and len(rest) >= 2 and rest.isascii() and rest.isalnum() and rest == rest.upper()


def requested_by(session: Session, user_id: str, limit: int = 20) -> list[InviteRequest]:
    """Requests a user asked for, newest first (requester ids are a JSON list, matched as text).

    Only a Slack user id is looked for: anything else (`%`, `_`, quotes) would widen the text match to other people's.
    """
    if not _is_user_id(user_id):
        return []
    return list(
        session.scalars(
            select(InviteRequest)
            .where(cast(InviteRequest.requester_ids, String).like(f'%"{user_id}"%'))
            .order_by(InviteRequest.date_created.desc())
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True)
class Stats:
    pending_by_team: dict[str, int]
    approved_7d: int
    denied_7d: int
    median_to_decision: timedelta | None
    oldest_wait: timedelta | None = None  # how long the oldest open request has waited
    # Per workspace (by its label), the last 7 days' approved and denied, for a viewer of several workspaces.
    decided_by_team_7d: dict[str, tuple[int, int]] = field(default_factory=dict)


def stats(session: Session, *, teams: Collection[str] | None = None) -> Stats:
    """Pending per workspace, decisions in the last 7 days (in all and per workspace), the median time from request to
    decision, the oldest wait; only of `teams`, when given."""
    label = func.coalesce(InviteRequest.team_name, InviteRequest.team_id, literal(workspace_label(None, None)))
    pending_by_team = dict(
        session.execute(
            select(label, func.count()).where(InviteRequest.status.in_(OPEN), *within(teams)).group_by(label).order_by(label)
        ).all()
    )
    moment = now()
    since = moment - timedelta(days=7)
    recent = session.execute(
        select(InviteRequest.status, InviteRequest.date_created, InviteRequest.decided_at, label).where(
            InviteRequest.decided_at >= since, InviteRequest.status.in_(DECIDED), *within(teams)
        ).order_by(label)
    ).all()
    waits = [decided - created for _, created, decided, _ in recent if decided and created]
    by_team: dict[str, tuple[int, int]] = {}
    for status, _, _, team in recent:
        approved, denied = by_team.get(str(team), (0, 0))
        by_team[str(team)] = (approved + (status in APPROVED_STATES), denied + (status == DENIED))
    return Stats(
        pending_by_team={str(k): int(v) for k, v in pending_by_team.items()},
        approved_7d=sum(approved for approved, _ in by_team.values()),
        denied_7d=sum(denied for _, denied in by_team.values()),
        # typeshed types median() for numbers only; timedeltas sort, add and halve as it needs
        median_to_decision=statistics.median(waits) if waits else None,  # type: ignore[type-var]
        oldest_wait=oldest_wait(session, moment, teams=teams),
        decided_by_team_7d=by_team,
    )


def oldest_wait(session: Session, moment: datetime, *, teams: Collection[str] | None = None) -> timedelta | None:
    """How long the oldest open request (of `teams`, when given) has been waiting at `moment`; None when nothing waits."""
    oldest = session.scalar(select(func.min(InviteRequest.date_created)).where(InviteRequest.status.in_(OPEN), *within(teams)))
    return None if oldest is None else max(timedelta(0), moment - oldest)


def last_sync(session: Session) -> SyncRun | None:
    return session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)).first()


@dataclass(frozen=True)
class Undelivered:
    """Slack work given up for good that a viewer may see: how many, and the latest few with their requests."""

    total: int
    latest: list[tuple[OutboxJob, InviteRequest | None]]


def undelivered(session: Session, *, teams: Collection[str] | None = None, limit: int = 3) -> Undelivered:
    """Jobs Slack refused for good (kept until `invitebot outbox` retries or drops them) about requests of `teams`; with
    None (an approver of every workspace) also those about no request (an App Home, a bulk decision's progress)."""
    joined = select(OutboxJob, InviteRequest).outerjoin(InviteRequest, InviteRequest.id == OutboxJob.request_id)
    where = [OutboxJob.state == outbox.DEAD]
    if teams is not None:
        where.append(InviteRequest.team_id.in_(sorted(teams) or [""]))
    rows = session.execute(joined.where(*where).order_by(OutboxJob.finished_at.desc(), OutboxJob.id.desc()).limit(limit)).all()
    total = len(rows)
    if total == limit:  # as many as shown: there may be more, counted (an App Home with none needs one statement)
        total = session.scalar(select(func.count()).select_from(joined.where(*where).subquery())) or 0
    return Undelivered(int(total), [(job, request) for job, request in rows])
