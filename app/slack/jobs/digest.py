"""Each workspace's digest card: posted once for a backlog, re-rendered only when its numbers change.

`digests.posted_at` is when the card last showed its numbers (its post, or its latest re-render): a request that joined
or left the backlog after it, or an oldest age that reads differently now, means the card is behind.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.core import backlog
from app.core.audit import now
from app.core.backlog import Backlog
from app.core.outbox import Job
from app.core.services import Services
from app.slack.api.failures import job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway
from app.slack.jobs import once
from app.slack.ui import blocks, replies
from app.store.dialect import insert_if_absent
from app.store.models import Digest

log = logging.getLogger(__name__)

DIGEST_EVENT_TYPE = "invitebot_digest"  # the Slack message metadata every digest card carries, with its workspace id


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


def _shown(sessions: sessionmaker[Session], team_id: str, moment: datetime, *, ts: str) -> None:
    with sessions.begin() as session:
        session.execute(update(Digest).where(Digest.team_id == team_id).values(ts=ts, posted_at=moment))


def post_digest(services: Services, gateway: SlackGateway, job: Job) -> None:
    """Post the digest card reserved for a workspace (app.core.backlog reserved it with the job) and record its ts; a
    digest posted already is left alone. A refused post keeps its reservation while the outbox tries again (a 429 at the
    channel's next free slot), and gives it back once given up for good; a post whose answer was lost keeps it until it
    is stale, and the job taking it over adopts the digest if Slack had posted it (app.slack.jobs.once)."""
    team_id, channel = str(job.payload["team"]), str(job.payload["channel"])
    moment = now()
    with services.read() as session:
        reserved = session.get(Digest, team_id)
        found = backlog.read(session, team_id)
    if reserved is not None and reserved.ts is not None:
        return
    if reserved is None and not _reserve(services.sessions, team_id, channel):
        return  # queued again by hand after it gave its reservation back, and another job reserved it meanwhile
    text, card = render(found, moment)
    metadata = {"event_type": DIGEST_EVENT_TYPE, "event_payload": {"team_id": team_id}}
    try:
        posted = once.post(gateway, job, channel, text=text, blocks=card, metadata=metadata)
    except PostUnconfirmed:
        log.error("no answer to posting the digest for %s in %s; it is posted again if it has no ts in 5 minutes", team_id, channel)
        return
    except SlackCallFailed as exc:
        log.error("could not post the backlog digest of %s in %s: %s", team_id, channel, exc.code)
        raise job_failure(exc, (services.post_pace, channel)) from exc
    shown_at = (job.began or moment) if posted.adopted else moment  # an adopted digest shows its numbers of then
    with services.sessions.begin() as session:
        session.execute(update(Digest).where(Digest.team_id == team_id).values(ts=posted.ts, posted_at=shown_at))
        if posted.adopted or backlog.changed_since(session, team_id, moment):  # a decision landed while it was being posted
            backlog.queue_refresh(services.outbox, session, team_id)
        job.complete(session)


def give_back_digest(services: Services, job: Job) -> None:
    """A digest post given up for good gives its reservation back, so the next sync queues it again."""
    with services.sessions.begin() as session:
        backlog.give_back(session, str(job.payload["team"]))


def _reserve(sessions: sessionmaker[Session], team_id: str, channel: str) -> bool:
    with sessions.begin() as session:
        return insert_if_absent(session, Digest, {"team_id": team_id, "channel": channel, "ts": None, "posted_at": now()})


def update_digest(sessions: sessionmaker[Session], gateway: SlackGateway, job: Job) -> None:
    """Re-render a workspace's backlog digest when its numbers may read differently."""
    try:
        refresh(sessions, gateway, str(job.payload["team"]))
    except SlackCallFailed as exc:
        log.error("could not update the backlog digest of %s: %s", job.payload["team"], exc.code)
        raise job_failure(exc) from exc
