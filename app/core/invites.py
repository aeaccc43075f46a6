"""Direct invitations (`/invites invite …`): one admin.users.invite call, audited like a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from sqlalchemy.orm import Session, sessionmaker

from app.core import audit, authz
from app.core.authz import ALLOWED, Approvers, Verdict
from app.core.ports import SlackAdmin
from app.store.models import Source

# The audit log's subject for an invitation that answers no invite request.
DIRECT_INVITE_SUBJECT = "(direct invite)"
# A guest kind as /invites invite takes it, as Slack's invite requests name it (the export's invite_type).
INVITE_TYPES = {None: "full_member", "multi": "restricted", "single": "ultra_restricted"}


@dataclass(frozen=True)
class Invitation:
    """Who is invited where, and as what."""

    email: str
    team_id: str
    channel_ids: list[str] = field(default_factory=list)
    guest: str | None = None  # None for a full member, "multi" or "single" for guests
    expires: date | None = None  # a guest account ends at the end of this day, UTC
    message: str | None = None


@dataclass(frozen=True)
class Sent:
    """How a direct invitation ended: refused (the verdict says why), or asked of Slack (its error code, None when sent)."""

    verdict: Verdict = ALLOWED
    error: str | None = None
    foreign_channels: tuple[str, ...] = ()  # channels of another workspace: Slack would refuse them, so it was not asked


def invite(
    sessions: sessionmaker[Session],
    admin: SlackAdmin,
    approvers: Approvers | None,
    invitation: Invitation,
    actor_id: str,
    actor_team: str | None = None,
) -> Sent:
    """Invite someone into a workspace whose requests the person decides (INVITES_APPROVERS, or that workspace's own
    list), and audit it either way: a workspace's approvers invite into their workspace only."""
    invitee = invitee_of(invitation)
    asked = authz.Asked(actor_id, "invite", DIRECT_INVITE_SUBJECT, Source.SLASH.value, detail=_detail(invitation), invitee=invitee)
    verdict = authz.require(sessions, approvers, asked, workspace=invitation.team_id, actor_team=actor_team)
    if not verdict.allowed:
        return Sent(verdict)
    foreign = tuple(c for c in invitation.channel_ids if invitation.team_id not in (admin.channel_workspaces(c) or {invitation.team_id}))
    if foreign:
        return Sent(foreign_channels=foreign)
    result = admin.invite(
        team_id=invitation.team_id,
        email=invitation.email,
        channel_ids=invitation.channel_ids,
        guest=invitation.guest,
        expires_ts=int(invitee.expires_at.timestamp()) if invitee.expires_at else None,
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
            detail=_detail(invitation),
            invitee=invitee,
        )
    return Sent(error=result.error)


def invitee_of(invitation: Invitation) -> audit.Invitee:
    """Whom the invitation is for, as the audit log names them: workspace, address, guest type and expiry."""
    expires = end_of_day(invitation.expires) if invitation.expires else None
    return audit.Invitee(invitation.team_id, invitation.email, INVITE_TYPES[invitation.guest], expires)


def _detail(invitation: Invitation) -> str:
    """Who was to be invited where, for the audit log."""
    return f"{invitation.email} to {invitation.team_id} in {','.join(invitation.channel_ids)}"


def end_of_day(day: date) -> datetime:
    """A guest account expires at the end of the given day, UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)
