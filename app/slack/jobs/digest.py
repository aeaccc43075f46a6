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
from app.core.cards import STALE_RESERVATION
from app.core.decisions import Decider
from app.core.outbox import Job
from app.slack.api.failures import job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway
from app.slack.ui import blocks, replies
from app.store.dialect import insert_if_absent
from app.store.models import Digest

log = logging.getLogger(__name__)


def render(found: Backlog, at: datetime) -> tuple[str, list[dict[str, Any]]]:
    """The digest's notification text and blocks, its ages as of `at`."""
    line = replies.digest_line(found, at)
    return line, blocks.digest_card(line, replies.DIGEST_EXPLAINED, found.team_id, open_left=found.open > 0)


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
    """The digest's row is ours to post: newly inserted with no ts, or a reservation left unfinished for long enough."""
    cutoff = now() - STALE_RESERVATION
    with sessions.begin() as session:
        if insert_if_absent(session, Digest, {"team_id": team_id, "channel": channel, "ts": None, "posted_at": now()}):
            return True
        return bool(
            session.execute(
                update(Digest).where(Digest.team_id == team_id, Digest.ts.is_(None), Digest.posted_at < cutoff).values(posted_at=now())
            ).rowcount
        )


def _shown(sessions: sessionmaker[Session], team_id: str, moment: datetime, *, ts: str) -> None:
    with sessions.begin() as session:
        session.execute(update(Digest).where(Digest.team_id == team_id).values(ts=ts, posted_at=moment))


def post_digest(decider: Decider, gateway: SlackGateway, job: Job) -> None:
    """Post a workspace's digest card once: the job that reserves its `digests` row (or takes over a reservation left
    unfinished) posts it. A refused post gives the reservation back and is tried again (a 429 at the channel's next
    free slot) or given up for good; a post whose answer was lost keeps it until it is stale."""
    team_id, channel = str(job.payload["team"]), str(job.payload["channel"])
    moment = now()
    with decider.sessions() as session:
        found = backlog.read(session, team_id)
    text, card = render(found, moment)
    if not _reserve(decider.sessions, team_id, channel):
        return
    try:
        ts = gateway.post_message(channel, text=text, blocks=card)
    except PostUnconfirmed:
        log.error("no answer to posting the digest for %s in %s; it is posted again if it has no ts in 5 minutes", team_id, channel)
        return
    except SlackCallFailed as exc:
        log.error("could not post the backlog digest of %s in %s: %s", team_id, channel, exc.code)
        with decider.sessions.begin() as session:
            session.execute(delete(Digest).where(Digest.team_id == team_id, Digest.ts.is_(None)))
        raise job_failure(exc, (decider.post_pace, channel)) from exc
    with decider.sessions.begin() as session:
        session.execute(update(Digest).where(Digest.team_id == team_id).values(ts=ts, posted_at=moment))
        if backlog.changed_since(session, team_id, moment):  # a decision landed while it was being posted
            backlog.queue_refresh(decider.outbox, session, team_id)


def update_digest(sessions: sessionmaker[Session], gateway: SlackGateway, job: Job) -> None:
    """Re-render a workspace's backlog digest when its numbers may read differently."""
    try:
        refresh(sessions, gateway, str(job.payload["team"]))
    except SlackCallFailed as exc:
        log.error("could not update the backlog digest of %s: %s", job.payload["team"], exc.code)
        raise job_failure(exc) from exc
