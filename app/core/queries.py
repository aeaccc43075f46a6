"""Read-only questions the admin surfaces ask of the database."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from app.core.audit import now
from app.core.lifecycle import APPROVED_STATES, DECIDED, OPEN
from app.store.models import DecisionLog, InviteRequest, Status, SyncRun


def pending(session: Session, *, team: str | None = None, offset: int = 0, limit: int = 10) -> tuple[list[InviteRequest], int]:
    """A page of open requests, oldest first, and how many there are in all."""
    where = [InviteRequest.status.in_(OPEN)]
    if team:
        where.append(InviteRequest.team_id == team)
    total = session.scalar(select(func.count()).select_from(InviteRequest).where(*where)) or 0
    rows = session.scalars(
        select(InviteRequest).where(*where).order_by(InviteRequest.date_created, InviteRequest.id).offset(offset).limit(limit)
    ).all()
    return list(rows), total


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


def history(session: Session, limit: int) -> list[InviteRequest]:
    """The latest closed requests, newest decision first."""
    return list(
        session.scalars(
            select(InviteRequest)
            .where(InviteRequest.decided_at.is_not(None), InviteRequest.status.not_in(OPEN))
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


def stats(session: Session) -> Stats:
    """Pending per workspace, decisions in the last 7 days, the median time from request to decision, the oldest wait."""
    label = func.coalesce(InviteRequest.team_name, InviteRequest.team_id, literal("workspace not known yet"))
    pending_by_team = dict(
        session.execute(
            select(label, func.count()).where(InviteRequest.status.in_(OPEN)).group_by(label).order_by(label)
        ).all()
    )
    moment = now()
    since = moment - timedelta(days=7)
    recent = session.execute(
        select(InviteRequest.status, InviteRequest.date_created, InviteRequest.decided_at).where(
            InviteRequest.decided_at >= since, InviteRequest.status.in_(DECIDED)
        )
    ).all()
    waits = [decided - created for _, created, decided in recent if decided and created]
    return Stats(
        pending_by_team={str(k): int(v) for k, v in pending_by_team.items()},
        approved_7d=sum(1 for status, _, _ in recent if status in APPROVED_STATES),
        denied_7d=sum(1 for status, _, _ in recent if status == Status.DENIED.value),
        median_to_decision=statistics.median(waits) if waits else None,
        oldest_wait=oldest_wait(session, moment),
    )


def oldest_wait(session: Session, moment: datetime) -> timedelta | None:
    """How long the oldest open request has been waiting at `moment`; None when nothing waits."""
    oldest = session.scalar(select(func.min(InviteRequest.date_created)).where(InviteRequest.status.in_(OPEN)))
    return None if oldest is None else max(timedelta(0), moment - oldest)


def last_sync(session: Session) -> SyncRun | None:
    return session.scalars(select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)).first()
