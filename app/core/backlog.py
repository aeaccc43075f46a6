"""A workspace's backlog: the requests its digest card stands for, counted as the card shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.core.audit import now
from app.core.cards import STALE_RESERVATION
from app.core.lifecycle import OPEN
from app.core.outbox import Outbox, takeover
from app.core.pacing import Pace
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import Digest, InviteRequest

# Decisions settling within this long of each other re-render the digest once.
DIGEST_COALESCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Backlog:
    """How many of a workspace's digest requests are still open, of how many, and when the oldest open one was made."""

    team_id: str
    label: str  # the workspace's name, else its id
    open: int
    total: int
    oldest: datetime | None


def read(session: Session, team_id: str) -> Backlog:
    """The workspace's digest requests as they stand now."""
    mine = (InviteRequest.team_id == team_id, InviteRequest.in_digest.is_(True))
    total, name = session.execute(select(func.count(), func.max(InviteRequest.team_name)).where(*mine)).one()
    still_open, oldest = session.execute(
        select(func.count(), func.min(InviteRequest.date_created)).where(*mine, InviteRequest.status.in_(OPEN))
    ).one()
    return Backlog(team_id, name or team_id, still_open or 0, total or 0, oldest)


def changed_since(session: Session, team_id: str, moment: datetime) -> bool:
    """A digest request joined the backlog or was closed after `moment` (when the card last showed its numbers)."""
    found = session.scalar(
        select(InviteRequest.id)
        .where(
            InviteRequest.team_id == team_id,
            InviteRequest.in_digest.is_(True),
            or_(InviteRequest.first_seen > moment, InviteRequest.decided_at > moment),
        )
        .limit(1)
    )
    return found is not None


def queue_closed(outbox: Outbox, session: Session, team_id: str | None, in_digest: bool) -> None:
    """A request of `team_id` was closed: if a digest stands for it (`in_digest`), that digest is re-rendered shortly
    (once for a run of decisions)."""
    if in_digest and team_id is not None:
        queue_refresh(outbox, session, team_id, not_before=now() + DIGEST_COALESCE)


def queue_refresh(outbox: Outbox, session: Session, team_id: str, *, not_before: datetime | None = None) -> None:
    """The workspace's digest is re-rendered if its numbers read differently by then (one job queued at a time)."""
    outbox.add(session, "digest", {"team": team_id}, key=f"digest:{team_id}"[:64], not_before=not_before)


def queue_keep(outbox: Outbox, session: Session, pace: Pace | None, team_id: str, channel: str) -> None:
    """After a sync's pass over a workspace: a backlog with open requests and no digest card gets one, reserved in
    `digests` and posted once in `channel` at its pace (a post left unfinished is taken over once stale and without a
    job); a posted digest is re-rendered if its numbers or its oldest age may read differently now (the job renders only
    what changed)."""
    row = session.get(Digest, team_id)
    if row is None:
        reservation = {"team_id": team_id, "channel": channel, "ts": None, "posted_at": now()}
        if read(session, team_id).open and insert_if_absent(session, Digest, reservation):
            _queue_post(outbox, session, pace, team_id, channel)
    elif row.ts is None:
        cutoff = now() - STALE_RESERVATION
        if row.posted_at < cutoff and not outbox.queued(session, _post_key(team_id), or_running=True):
            reserved_at = row.posted_at  # read before the update below refreshes the row
            taken = changed(
                session,
                update(Digest).where(Digest.team_id == team_id, Digest.ts.is_(None), Digest.posted_at < cutoff).values(posted_at=now()),
            )
            if taken:  # the unfinished post may have landed: the job looks for it first
                _queue_post(outbox, session, pace, team_id, row.channel, taking_over=reserved_at)
    elif read(session, team_id).open or changed_since(session, team_id, row.posted_at):
        queue_refresh(outbox, session, team_id)


def give_back(session: Session, team_id: str) -> None:
    """A digest post given up for good leaves no reservation behind: the next sync reserves and queues it again."""
    session.execute(delete(Digest).where(Digest.team_id == team_id, Digest.ts.is_(None)))


def _post_key(team_id: str) -> str:
    return f"post_digest:{team_id}"[:64]


def _queue_post(
    outbox: Outbox, session: Session, pace: Pace | None, team_id: str, channel: str, *, taking_over: datetime | None = None
) -> None:
    payload = takeover({"team": team_id, "channel": channel}, taking_over)
    outbox.add_paced(session, "post_digest", payload, pace, channel, key=_post_key(team_id))
