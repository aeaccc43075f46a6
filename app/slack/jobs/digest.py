"""Each workspace's digest card: posted once for a backlog, re-rendered only when its numbers change.

`digests.posted_at` is when the card last showed its numbers (its post, or its latest re-render): a request that joined
or left the backlog after it, or an oldest age that reads differently now, means the card is behind.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from app.core import backlog
from app.core.audit import now
from app.core.backlog import Backlog
from app.core.outbox import Job
from app.core.pacing import Pace
from app.slack.api.failures import job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway
from app.slack.jobs.cards import STALE_RESERVATION, post_paced
from app.slack.runtime import Runtime
from app.slack.ui import blocks, replies
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import Digest

log = logging.getLogger(__name__)


def render(found: Backlog, at: datetime) -> tuple[str, list[dict[str, Any]]]:
    """The digest's notification text and blocks, its ages as of `at`."""
    line = replies.digest_line(found, at)
    return line, blocks.digest_card(line, replies.DIGEST_EXPLAINED, found.team_id, open_left=found.open > 0)


def keep(
    sessions: sessionmaker[Session], gateway: SlackGateway, team_id: str, channel: str, *, backlog_found: bool, pace: Pace | None
) -> None:
    """After a sync's pass over a workspace: post its digest if this pass found a backlog and none is posted (one
    replica posts it), else bring the posted one up to date. Raises SlackCallFailed when Slack refused the card."""
    with sessions() as session:
        row = session.get(Digest, team_id)
    if row is None:
        if backlog_found and _reserve(sessions, team_id, channel):
            _post(sessions, gateway, team_id, channel, pace)
    elif row.ts is None:
        if _take_over(sessions, row):
            _post(sessions, gateway, team_id, row.channel, pace)
    else:
        refresh(sessions, gateway, team_id)


def refresh(sessions: sessionmaker[Session], gateway: SlackGateway, team_id: str) -> None:
    """Re-render the posted digest when a request joined or left the backlog, or its oldest age reads differently now."""
    moment = now()
    with sessions() as session:
        row = session.get(Digest, team_id)
        if row is None or row.ts is None:
            return
        found = backlog.read(session, team_id)
        behind = backlog.changed_since(session, team_id, row.posted_at)
    if not behind and render(found, row.posted_at)[0] == render(found, moment)[0]:
        return
    text, card = render(found, moment)
    gateway.update_message(row.channel, row.ts, text=text, blocks=card)
    _shown(sessions, team_id, moment, ts=row.ts)


def _reserve(sessions: sessionmaker[Session], team_id: str, channel: str) -> bool:
    """The digest's row with no ts yet: whoever inserts it posts the card."""
    with sessions.begin() as session:
        return insert_if_absent(session, Digest, {"team_id": team_id, "channel": channel, "ts": None, "posted_at": now()})


def _take_over(sessions: sessionmaker[Session], row: Digest) -> bool:
    """A reservation whose post never finished (its process died, or no answer came) is posted again once stale."""
    cutoff = now() - STALE_RESERVATION
    if row.posted_at >= cutoff:
        return False
    with sessions.begin() as session:
        taken = changed(
            session,
            update(Digest).where(Digest.team_id == row.team_id, Digest.ts.is_(None), Digest.posted_at < cutoff).values(posted_at=now())
        )
    return bool(taken)


def _post(sessions: sessionmaker[Session], gateway: SlackGateway, team_id: str, channel: str, pace: Pace | None) -> None:
    """Post the reserved digest at the channel's pace; a refused post gives its reservation back for the next sync."""
    moment = now()
    with sessions() as session:
        found = backlog.read(session, team_id)
    text, card = render(found, moment)
    try:
        ts = post_paced(sessions, gateway, pace, channel, text=text, blocks=card)
    except PostUnconfirmed:
        log.error("no answer to posting the digest for %s in %s; it is posted again if it has no ts in 5 minutes", team_id, channel)
        raise
    except SlackCallFailed:
        with sessions.begin() as session:
            session.execute(delete(Digest).where(Digest.team_id == team_id, Digest.ts.is_(None)))
        raise
    _shown(sessions, team_id, moment, ts=ts)
    refresh(sessions, gateway, team_id)  # a decision may have landed while it was being posted


def _shown(sessions: sessionmaker[Session], team_id: str, moment: datetime, *, ts: str) -> None:
    with sessions.begin() as session:
        session.execute(update(Digest).where(Digest.team_id == team_id).values(ts=ts, posted_at=moment))


# -- the outbox job --------------------------------------------------------------------------------------------------


def update_digest(runtime: Runtime, job: Job) -> None:
    """Re-render a workspace's backlog digest once requests it stands for were decided."""
    try:
        refresh(runtime.sessions, runtime.gateway, str(job.payload["team"]))
    except SlackCallFailed as exc:
        log.error("could not update the backlog digest of %s: %s", job.payload["team"], exc.code)
        raise job_failure(exc) from exc
