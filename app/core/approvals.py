"""Who has approved a request whose policy rule asks for several approvers, in the order they did, and whose approvals
stopped counting (their approver was removed, or asked for the request): the count a two-person rule reaches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.audit import now
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import Approval


@dataclass(frozen=True)
class Tally:
    """A request's approvals as a card shows them: those that count, in order, and those that no longer do, with why."""

    counted: tuple[str, ...] = ()
    lapsed: tuple[tuple[str, str], ...] = ()  # (approver, the refusal app.core.authz gives them now)


def so_far(session: Session, request_id: str) -> list[str]:
    """The approvers whose approvals count, in the order they approved."""
    return [approver for approver, _ in earlier(session, request_id)]


def earlier(session: Session, request_id: str) -> list[tuple[str, str | None]]:
    """The approvals that count, as (approver, the workspace they acted in), in the order they were given."""
    rows = session.execute(
        select(Approval.approver_id, Approval.actor_team)
        .where(Approval.request_id == request_id, Approval.lapsed.is_(None))
        .order_by(Approval.at, Approval.id)
    ).all()
    return [(approver, team) for approver, team in rows]


def tally(session: Session, request_id: str) -> Tally:
    rows = session.execute(
        select(Approval.approver_id, Approval.lapsed).where(Approval.request_id == request_id).order_by(Approval.at, Approval.id)
    ).all()
    return Tally(
        tuple(approver for approver, why in rows if why is None),
        tuple((approver, why) for approver, why in rows if why is not None),
    )


def add(session: Session, request_id: str, approver_id: str, source: str, actor_team: str | None) -> None:
    """Count this approver's approval: a new one, or one that had lapsed and is given again (they are an approver again)."""
    values = {"source": source, "at": now(), "actor_team": actor_team, "lapsed": None}
    revived = changed(
        session,
        update(Approval)
        .where(Approval.request_id == request_id, Approval.approver_id == approver_id, Approval.lapsed.is_not(None))
        .values(**values)
    )
    if not revived:
        insert_if_absent(session, Approval, {"request_id": request_id, "approver_id": approver_id, **values})


def lapse(session: Session, request_id: str, approver_id: str, why: str) -> bool:
    """The approval stops counting, for `why`; False when it did not count already."""
    return bool(
        changed(
            session,
            update(Approval)
            .where(Approval.request_id == request_id, Approval.approver_id == approver_id, Approval.lapsed.is_(None))
            .values(lapsed=why)
        )
    )
