"""Direct invitations (`/invites invite …`): one admin.users.invite call, audited like a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from sqlalchemy.orm import Session, sessionmaker

from app.core import audit
from app.core.ports import SlackAdmin
from app.store.models import Source

# The audit log's subject for an invitation that answers no invite request.
DIRECT_INVITE_SUBJECT = "(direct invite)"


@dataclass(frozen=True)
class Invitation:
    """Who is invited where, and as what."""

    email: str
    team_id: str
    channel_ids: list[str] = field(default_factory=list)
    guest: str | None = None  # None for a full member, "multi" or "single" for guests
    expires: date | None = None  # a guest account ends at the end of this day, UTC
    message: str | None = None


def invite(sessions: sessionmaker[Session], admin: SlackAdmin, invitation: Invitation, actor_id: str) -> str | None:
    """Send the invitation and audit it; Slack's error code, or None when it was sent."""
    result = admin.invite(
        team_id=invitation.team_id,
        email=invitation.email,
        channel_ids=invitation.channel_ids,
        guest=invitation.guest,
        expires_ts=end_of_day(invitation.expires) if invitation.expires else None,
        message=invitation.message,
    )
    with sessions.begin() as session:
        audit.record(
            session,
            request_id=DIRECT_INVITE_SUBJECT,
            actor_id=actor_id,
            action="invite",
            source=Source.SLASH.value,
            outcome=result.error or "ok",
            detail=f"{invitation.email} to {invitation.team_id} in {','.join(invitation.channel_ids)}",
        )
    return result.error


def end_of_day(day: date) -> int:
    """A guest account expires at the end of the given day, UTC."""
    return int(datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc).timestamp())
