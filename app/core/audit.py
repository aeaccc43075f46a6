"""The append-only decision log: every attempt, refused or failed ones included."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.metrics import DECISIONS
from app.store.models import DecisionLog

# Outcomes that are not attempts to reach Slack, so they never explain a decision Slack recorded.
_NOT_ATTEMPTS = (
    "not_allowed",
    "not_found",
    "already_decided",
    "in_flight",
    "released_meanwhile",
    "closed_elsewhere",
    "gone",
    "released_stale",
)


def now() -> datetime:
    return datetime.now(timezone.utc)


def record(
    session: Session,
    *,
    request_id: str,
    actor_id: str | None,
    action: str,
    source: str,
    outcome: str,
    detail: str | None = None,
) -> None:
    DECISIONS.labels(outcome=outcome, source=source).inc()
    session.add(
        DecisionLog(
            request_id=request_id,
            actor_id=actor_id,
            action=action,
            source=source,
            outcome=outcome,
            detail=detail,
            at=now(),
        )
    )


def last_attempt(session: Session, request_id: str, action: str) -> DecisionLog | None:
    """The latest attempt of ours to approve or deny a request, to name who a decision Slack recorded was for."""
    return session.scalars(
        select(DecisionLog)
        .where(
            DecisionLog.request_id == request_id,
            DecisionLog.action == action,
            DecisionLog.outcome.not_in(_NOT_ATTEMPTS),
            DecisionLog.actor_id.is_not(None),
        )
        .order_by(DecisionLog.at.desc(), DecisionLog.id.desc())
        .limit(1)
    ).first()
