"""Which workspaces the org-wide app may act in, as Slack's team_access_granted / team_access_revoked events say.

Where it may not, Slack refuses the bot's messages to that workspace's people (`team_access_not_granted`), so
requesters there are not sent a DM, and their card says so. Every replica reads the same rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Exists, exists, select, update
from sqlalchemy.orm import Session

from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import TeamAccess

REVOKED = "team_access_revoked"  # InviteRequest.requesters_untold: the workspace's access was revoked


def record(session: Session, team_ids: list[str], granted: bool, said_at: datetime) -> list[str]:
    """What one event says of its workspaces; those whose recorded access it changed. An event older than the one
    recorded for a workspace (a retry delivered late) changes nothing there."""
    moved = []
    for team_id in dict.fromkeys(team_ids):
        before = session.scalar(select(TeamAccess.granted).where(TeamAccess.team_id == team_id))
        if insert_if_absent(session, TeamAccess, {"team_id": team_id, "granted": granted, "said_at": said_at}):
            moved.append(team_id)
            continue
        newer = changed(
            session,
            update(TeamAccess)
            .where(TeamAccess.team_id == team_id, TeamAccess.said_at <= said_at)
            .values(granted=granted, said_at=said_at),
        )
        if newer and before is not granted:
            moved.append(team_id)
    return moved


def revoked(session: Session, team_id: str | None) -> bool:
    """Slack said the app may no longer act in this workspace (and has not said otherwise since)."""
    if team_id is None:
        return False
    return session.scalar(select(TeamAccess.granted).where(TeamAccess.team_id == team_id)) is False


def revoked_in(team_id: Any) -> Exists:
    """revoked(), as a condition on the workspace `team_id` names (a column of the statement it is used in)."""
    return exists().where(TeamAccess.team_id == team_id, TeamAccess.granted.is_(False))


def revoked_teams(session: Session) -> list[str]:
    """Every workspace the app may not act in now, by id."""
    return list(session.scalars(select(TeamAccess.team_id).where(TeamAccess.granted.is_(False)).order_by(TeamAccess.team_id)))
