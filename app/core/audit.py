"""The decision log: every attempt, refused or failed ones included, each written before its outcome is known."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.metrics import DECISIONS
from app.store.models import DecisionLog

# Outcomes of calls that may have been carried out by Slack: asked and never answered ("calling": the process died,
# or the database failed, before the answer was recorded), answered ok, answered in a way that hides whether it was, or
# given up for good by the outbox (perhaps after Slack had carried it out).
MAY_HAVE_LANDED = ("calling", "ok", "network_error", "http_error", "request_timeout", "gave_up")
CALLING = "calling"
# The detail of a lost answer after which Slack's lists showed the request undecided: not carried out yet, but Slack may
# still carry it out (it held the call longer than we waited), and its lists then name our admin token.
CHECKED_UNDECIDED = "the answer was lost; Slack's decided lists showed the request undecided"

# The widths of decision_log's columns (app.store.models.DecisionLog); detail is TEXT, kept to a readable length.
_WIDTHS = {"request_id": 32, "actor_id": 32, "action": 16, "source": 16, "outcome": 64, "detail": 500}


@dataclass(frozen=True)
class Invitee:
    """Whom an attempt that answers no invite request (a direct invitation) is about, so the audit names them."""

    team_id: str | None  # None when the workspace could not be told (a refusal before it was looked up)
    email: str
    invite_type: str  # full_member, restricted or ultra_restricted, as Slack's invite requests say
    expires_at: datetime | None = None  # when the guest account ends


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
    batch_id: int | None = None,
    invitee: Invitee | None = None,
) -> None:
    """One entry; `batch_id` names the bulk decision it is part of (app.core.bulk.batches), `invitee` whom an attempt
    about no request was for."""
    outcome = _bounded("outcome", outcome) or ""
    DECISIONS.labels(outcome=outcome, source=_bounded("source", source)).inc()
    entry = _entry(request_id, actor_id, action, source, outcome, detail, batch_id)
    if invitee is not None:
        entry.team_id, entry.email = invitee.team_id and invitee.team_id[:32], invitee.email[:320]
        entry.invite_type, entry.expires_at = invitee.invite_type, invitee.expires_at
    session.add(entry)


def begin(session: Session, *, request_id: str, actor_id: str, action: str, source: str, batch_id: int | None = None) -> int:
    """Log an attempt as `calling`, before Slack is asked; finish() fills in the outcome (and keeps `batch_id`).
    Returns the entry's id."""
    if session.new:
        session.flush()  # entries recorded before this one keep their order
    columns = _columns(request_id, actor_id, action, source, CALLING, None, batch_id)
    return int(session.execute(_BEGIN, columns).scalar_one())


_LOG = cast(Table, DecisionLog.__table__)
_BEGIN = insert(_LOG).returning(_LOG.c.id)  # built once: every decision begins with it
_FINISH = (
    update(_LOG)
    .where(_LOG.c.id == bindparam("entry_id"))
    .values(outcome=bindparam("new_outcome"), detail=bindparam("new_detail"))
)


def finish(session: Session, entry_id: int, *, source: str, outcome: str, detail: str | None = None) -> None:
    """The outcome of an attempt begin() logged."""
    outcome = _bounded("outcome", outcome) or ""
    DECISIONS.labels(outcome=outcome, source=_bounded("source", source)).inc()
    session.execute(_FINISH, {"entry_id": entry_id, "new_outcome": outcome, "new_detail": _bounded("detail", detail)})


def _entry(
    request_id: str, actor_id: str | None, action: str, source: str, outcome: str, detail: str | None, batch_id: int | None = None
) -> DecisionLog:
    return DecisionLog(**_columns(request_id, actor_id, action, source, outcome, detail, batch_id))


def _columns(
    request_id: str, actor_id: str | None, action: str, source: str, outcome: str, detail: str | None, batch_id: int | None = None
) -> dict[str, Any]:
    return dict(
        request_id=_bounded("request_id", request_id),
        actor_id=_bounded("actor_id", actor_id),
        action=_bounded("action", action),
        source=_bounded("source", source),
        outcome=_bounded("outcome", outcome),
        detail=_bounded("detail", detail),
        at=now(),
        batch_id=batch_id,
    )


def last_attempt(session: Session, request_id: str, action: str, *, besides: int | None = None) -> DecisionLog | None:
    """The latest call of ours to approve or deny a request that Slack may have carried out (other than `besides`),
    to name whom a decision Slack records under the admin token's user was for (app.core.credit)."""
    query = select(DecisionLog).where(
        DecisionLog.request_id == request_id,
        DecisionLog.action == action,
        DecisionLog.outcome.in_(MAY_HAVE_LANDED),
        DecisionLog.actor_id.is_not(None),
    )
    if besides is not None:
        query = query.where(DecisionLog.id != besides)
    return session.scalars(query.order_by(DecisionLog.at.desc(), DecisionLog.id.desc()).limit(1)).first()
