"""The outbox's answers to people: the clicker's outcome on the surface they used, and each requester's DM."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from app.core.lifecycle import DECIDED
from app.core.outbox import Job
from app.core.outcomes import Outcome
from app.core.pacing import Pace
from app.slack.api.failures import job_failure
from app.slack.api.gateway import SlackCallFailed, SlackGateway
from app.slack.jobs import once
from app.slack.jobs.home import publish_home
from app.slack.runtime import Runtime
from app.slack.ui import blocks, replies
from app.store.models import InviteRequest

log = logging.getLogger(__name__)

DECIDED_NOTICE = "decided"  # the requester's DM saying how their request ended, in its metadata


def answer(runtime: Runtime, job: Job) -> None:
    """Tell the clicker how their attempt ended, on the surface they used."""
    reply_to = job.payload["reply_to"]
    with runtime.reads() as session:
        request = session.get(InviteRequest, str(job.request_id))
    outcome = Outcome.from_payload(job.payload["outcome"], request)
    user = str(reply_to.get("user") or "")
    text = replies.decision(outcome, user, per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE)
    tell(runtime, reply_to, text)


def tell(runtime: Runtime, reply_to: dict[str, str], text: str) -> None:
    """One sentence to a person where they asked: their App Home, an ephemeral in the channel, or a command's response_url."""
    surface, user = reply_to.get("surface"), str(reply_to.get("user") or "")
    if surface == "home":
        publish_home(runtime, user, notice=text)
        return
    try:
        if surface == "response_url":
            runtime.gateway.respond(str(reply_to["url"]), text=text)
        elif reply_to.get("channel"):
            runtime.gateway.post_ephemeral(str(reply_to["channel"]), user, text=text)
    except SlackCallFailed as exc:
        log.warning("could not tell %s: %s", user, exc.code)
        raise job_failure(exc) from exc


def tell_requester(sessions: sessionmaker[Session], gateway: SlackGateway, pace: Pace | None, job: Job) -> None:
    """DM one requester how their request ended, once (app.slack.jobs.once); a 429 waits for the DM channel's next slot."""
    user_id = str(job.payload["user"])
    with sessions() as session:
        request = session.get(InviteRequest, str(job.request_id))
    if request is None or request.status not in DECIDED:
        return
    text = replies.requester_dm(request)
    try:
        once.post(
            gateway,
            job,
            user_id,
            text=text,
            blocks=[blocks.mrkdwn_section(text)],
            metadata=once.notice(request.id, DECIDED_NOTICE),
        )
    except SlackCallFailed as exc:
        log.warning("could not tell requester %s about %s: %s", user_id, request.id, exc.code)
        raise once.failure(exc, (pace, user_id)) from exc
