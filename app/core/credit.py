"""Who decided a request Slack lists as decided: the person Slack names, or, when Slack names the user behind invitebot's
admin token (every call invitebot makes is made as that user), the latest attempt of ours that may have reached Slack."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core import audit
from app.core.ports import DecisionRecord
from app.store.models import DecisionLog, InviteRequest, Source

_NOUN = {"approve": "approval", "deny": "denial"}


@dataclass(frozen=True)
class Credit:
    """Who a decision is credited to, from which surface, and (when it is ours) what the audit says of why."""

    decided_by: str | None
    source: str
    detail: str | None = None

    @property
    def ours(self) -> bool:
        """Made through invitebot (Slack named our admin token), not in Slack's own admin pages."""
        return self.source != Source.OUTSIDE.value


def attribute(
    session: Session, request_id: str, record: DecisionRecord, admin_user_id: str | None, *, besides: int | None = None
) -> Credit:
    """Map a decision Slack names our admin token's user for back to the attempt of ours it was.

    That is the latest attempt (other than log entry `besides`) that may have reached Slack, logged before it was made,
    whatever we learned of it then: an answer that was lost, even one after which Slack's lists still showed the request
    undecided (Slack may carry a call out after we stopped waiting for it). Failing that, the claim the row still holds
    for that action (a claim older than the log of attempts).
    """
    if record.actor_id and record.actor_id != admin_user_id:
        return Credit(record.actor_id, Source.OUTSIDE.value)
    token = f"Slack lists this {_NOUN.get(record.action, record.action)} under invitebot's admin token ({admin_user_id or 'unknown'})"
    attempt = audit.last_attempt(session, request_id, record.action, besides=besides)
    if attempt is not None:
        return Credit(attempt.actor_id, attempt.source, f"{token}; credited to the latest attempt of ours: {_attempt(attempt)}")
    row = session.get(InviteRequest, request_id)
    if row is not None and row.claim_actor and row.claim_action == record.action:
        return Credit(row.claim_actor, row.claim_source or Source.OUTSIDE.value, f"{token}; credited to {row.claim_actor}'s claim")
    return Credit(record.actor_id, Source.OUTSIDE.value)


def _attempt(entry: DecisionLog) -> str:
    """W0ADA's approve from button at 2026-01-05 09:30:00 UTC (network_error: the answer was lost; …)."""
    what = entry.outcome if not entry.detail else f"{entry.outcome}: {entry.detail}"
    return f"{entry.actor_id}'s {entry.action} from {entry.source} at {entry.at:%Y-%m-%d %H:%M:%S} UTC ({what})"
