"""Who has approved a request whose policy rule asks for several approvers, in the order they did."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Approval


def so_far(session: Session, request_id: str) -> list[str]:
    return list(
        session.scalars(select(Approval.approver_id).where(Approval.request_id == request_id).order_by(Approval.at, Approval.id))
    )
