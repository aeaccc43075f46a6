"""What approvers are shown of a policy at work: how often people agreed with each rule, and who has approved so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Collection

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.core.audit import now
from app.core.lifecycle import DECIDED, OPEN
from app.core.queries import within
from app.store.models import Approval, InviteRequest

AGREEMENT_DAYS = 30


@dataclass(frozen=True)
class RuleAgreement:
    """Of `total` requests a person decided that the rule had a verdict on, how many went the rule's way."""

    rule: str
    agreed: int
    total: int


@dataclass(frozen=True)
class Waiting:
    """An open request that needs several approvals and has some: who approved, in order, and how many it takes."""

    request: InviteRequest
    approvers: tuple[str, ...]
    needed: int


def agreement(session: Session, *, days: int = AGREEMENT_DAYS, teams: Collection[str] | None = None) -> list[RuleAgreement]:
    """Per rule, over the decisions of the last `days` (in `teams`, when given): how many people agreed with it, of how
    many; by rule name."""
    since = now() - timedelta(days=days)
    agreed = func.sum(case((InviteRequest.policy_agreed.is_(True), 1), else_=0))
    rows = session.execute(
        select(InviteRequest.policy_rule, agreed, func.count())
        .where(
            InviteRequest.policy_agreed.is_not(None),
            InviteRequest.policy_rule.is_not(None),
            InviteRequest.status.in_(DECIDED),
            InviteRequest.decided_at >= since,
            *within(teams),
        )
        .group_by(InviteRequest.policy_rule)
        .order_by(InviteRequest.policy_rule)
    ).all()
    return [RuleAgreement(str(rule), int(yes or 0), int(total)) for rule, yes, total in rows]


def waiting_for_approvals(session: Session, *, limit: int, teams: Collection[str] | None = None) -> list[Waiting]:
    """Open requests (of `teams`, when given) that need several approvals and have at least one, the longest waiting first."""
    requests = list(
        session.scalars(
            select(InviteRequest)
            .where(
                InviteRequest.status.in_(OPEN),
                *within(teams),
                InviteRequest.approvals_needed.is_not(None),
                select(Approval.id).where(Approval.request_id == InviteRequest.id, Approval.lapsed.is_(None)).exists(),
            )
            .order_by(InviteRequest.date_created, InviteRequest.id)
            .limit(limit)
        )
    )
    by_request: dict[str, list[str]] = {r.id: [] for r in requests}
    if by_request:
        for request_id, approver_id in session.execute(
            select(Approval.request_id, Approval.approver_id)
            .where(Approval.request_id.in_(by_request), Approval.lapsed.is_(None))
            .order_by(Approval.at, Approval.id)
        ):
            by_request[request_id].append(approver_id)
    return [Waiting(r, tuple(by_request[r.id]), int(r.approvals_needed or 1)) for r in requests]
