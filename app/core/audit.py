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


# The widths of decision_log's columns (app.store.models.DecisionLog); detail is TEXT, kept to a readable length.
_WIDTHS = {"request_id": 32, "actor_id": 32, "action": 16, "source": 16, "outcome": 64, "detail": 500}


def now() -> datetime:
    return datetime.now(timezone.utc)


def _bounded(field: str, value: str | None) -> str | None:
    """Slack's and our own text cut to its column, so an odd answer never fails the transaction that records it."""
    if value is None:
        return None
    width = _WIDTHS[field]
    return value if len(value) <= width else value[: width - 1] + "…"


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
    outcome = _bounded("outcome", outcome) or ""
    DECISIONS.labels(outcome=outcome, source=_bounded("source", source)).inc()
    session.add(_entry(request_id, actor_id, action, source, outcome, detail))


def _entry(request_id: str, actor_id: str | None, action: str, source: str, outcome: str, detail: str | None) -> DecisionLog:
    return DecisionLog(
        request_id=_bounded("request_id", request_id),
        actor_id=_bounded("actor_id", actor_id),
        action=_bounded("action", action),
        source=_bounded("source", source),
        outcome=_bounded("outcome", outcome),
        detail=_bounded("detail", detail),
        at=now(),
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
