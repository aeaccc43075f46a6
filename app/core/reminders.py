"""Nudges for requests left open (a reminder, an escalation) and warnings before a guest account ends, each sent once.

A scan writes each notice's `request_notices` row and its outbox job in one transaction; the row's primary key
(request, kind) lets one scan win however many replicas scan at the same moment, and keeps a restart from sending it
again. The jobs (app/slack/jobs/notices.py) read the request again and say nothing once it no longer needs saying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.core import pacing
from app.core.lifecycle import APPROVED, OPEN
from app.core.services import Services
from app.routes import Routes
from app.store.dialect import insert_if_absent
from app.store.models import InviteRequest, RequestCard, RequestNotice

REMIND, ESCALATE = "remind", "escalate"
EXPIRES_7D, EXPIRES_1D = "expires_7d", "expires_1d"
# Each warning is due from `ahead` before the account ends until the next, shorter one is due: a scan that comes late
# (invitebot was down) sends the warning for the time left, not every warning it missed.
EXPIRY_WARNINGS = ((EXPIRES_7D, timedelta(days=7), timedelta(days=1)), (EXPIRES_1D, timedelta(days=1), timedelta(0)))
GUEST_TYPES = ("restricted", "ultra_restricted")  # the invite types whose date_expire is when the guest account ends


@dataclass(frozen=True)
class ScanSummary:
    reminded: int = 0
    escalated: int = 0
    warned: int = 0  # requests whose requesters were told their guest account ends soon

    def line(self) -> str:
        return f"reminder scan: {self.reminded} reminded, {self.escalated} escalated, {self.warned} guest time limits told"


def scan(services: Services, settings: Settings, at: datetime) -> ScanSummary:
    """Queue every reminder, escalation and guest time-limit warning due at `at` that was not queued before."""
    reminded = escalated = warned = 0
    if settings.INVITES_REMIND_AFTER is not None:
        reminded = _nudge(services, settings.routes, REMIND, at, settings.INVITES_REMIND_AFTER, None)
    if settings.INVITES_ESCALATE_AFTER is not None and settings.INVITES_ESCALATE_TO:
        escalated = _nudge(services, settings.routes, ESCALATE, at, settings.INVITES_ESCALATE_AFTER, settings.INVITES_ESCALATE_TO)
    if settings.INVITES_NOTIFY_REQUESTERS:
        warned = sum(_warn(services, kind, at, ahead, until) for kind, ahead, until in EXPIRY_WARNINGS)
    return ScanSummary(reminded, escalated, warned)


def _nudge(services: Services, routes: Routes, kind: str, at: datetime, after: timedelta, to: str | None) -> int:
    """Requests open for `after` whose card is in their approvals channel (INVITES_ROUTES, else INVITES_CHANNEL): one
    `kind` job each, on that card (posted where `to` says)."""
    with services.read() as session:
        found = session.execute(
            select(InviteRequest.id, InviteRequest.date_created, InviteRequest.team_id, RequestCard.channel, RequestCard.ts)
            .join(RequestCard, and_(RequestCard.request_id == InviteRequest.id, RequestCard.channel.in_(routes.channels())))
            .where(
                InviteRequest.status.in_(OPEN),
                InviteRequest.date_created <= at - after,
                RequestCard.ts.is_not(None),  # no card yet: the next scan after it is posted nudges it
                ~_noticed(kind),
            )
            .order_by(InviteRequest.date_created, InviteRequest.id)
        ).all()
    # A request placed after its card was posted in the fallback channel has a copy there too: the routed one is nudged.
    due = [(i, created, channel, ts) for i, created, team_id, channel, ts in found if channel == routes.channel_for(team_id)]
    if not due:
        return 0
    sent = 0
    with services.sessions.begin() as session:
        for request_id, created, channel, ts in due:
            posts_in = to if to is not None and not to.startswith("S") else channel
            payload: dict[str, Any] = {"channel": channel, "ts": ts, "age": int((at - created).total_seconds())}
            if to is not None:
                payload["to"] = to
            sent += _queue(services, session, request_id, kind, at, [(kind, payload, posts_in)])
    return sent


def _warn(services: Services, kind: str, at: datetime, ahead: timedelta, until: timedelta) -> int:
    """Approved guests whose account ends in (`until`, `ahead`] from `at`: a DM to each requester, once per request."""
    with services.read() as session:
        due = session.execute(
            select(InviteRequest.id, InviteRequest.requester_ids)
            .where(
                InviteRequest.status == APPROVED,
                InviteRequest.invite_type.in_(GUEST_TYPES),
                InviteRequest.date_expire.is_not(None),
                InviteRequest.date_expire > at + until,
                InviteRequest.date_expire <= at + ahead,
                ~_noticed(kind),
            )
            .order_by(InviteRequest.id)  # every replica takes the rows' locks in the same order
        ).all()
    if not due:
        return 0
    sent = 0
    with services.sessions.begin() as session:
        for request_id, requester_ids in due:
            jobs = [("expires", {"user": user, "kind": kind}, user) for user in requester_ids]
            sent += _queue(services, session, request_id, kind, at, jobs)
    return sent


def _noticed(kind: str) -> Any:
    return (
        select(RequestNotice.request_id).where(RequestNotice.request_id == InviteRequest.id, RequestNotice.kind == kind).exists()
    )


def _queue(
    services: Services, session: Session, request_id: str, kind: str, at: datetime, jobs: list[tuple[str, dict[str, Any], str]]
) -> int:
    """Write the notice's row and, when this scan wrote it first, its jobs (each at its channel's posting pace)."""
    if not insert_if_absent(session, RequestNotice, {"request_id": request_id, "kind": kind, "at": at}):
        return 0
    pace = services.post_pace
    for job_kind, payload, posts_in in jobs:
        slot = pacing.take(session, pace, posts_in) if pace is not None else None
        services.outbox.add(session, job_kind, payload, request_id=request_id, not_before=slot)
    return 1
