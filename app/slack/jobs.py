"""The outbox's Slack work: the decision call, the clicker's answer, card copies, requester DMs and App Homes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from app.core.decisions import Outcome, give_up_decision, run_decision
from app.core.lifecycle import DECIDED
from app.core.outbox import GiveUp, Job, Retry
from app.core.pacing import Pace
from app.slack import blocks, cards, digest, replies
from app.slack.gateway import SlackCallFailed, SlackGateway
from app.slack.home import publish_home
from app.store.models import InviteRequest

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)

# Slack answers that asking again will not change: the job is given up (and shows on /readyz and /metrics).
NEVER_SUCCEEDS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "is_inactive",
        "cant_update_message",
        "edit_window_closed",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "user_not_found",
        "user_not_in_channel",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "used_url",
        "expired_url",
        "invalid_url",
        "no_service",
    }
)


def register(runtime: "Runtime") -> None:
    """Give each kind of outbox job its worker."""
    outbox = runtime.outbox
    outbox.handle(
        "decide",
        lambda job: run_decision(runtime.decider, job),
        on_give_up=lambda job, error: give_up_decision(runtime.decider, job, error),
    )
    outbox.handle("card", lambda job: update_card(runtime, job))
    outbox.handle("answer", lambda job: answer(runtime, job))
    outbox.handle("notify", lambda job: tell_requester(runtime.sessions, runtime.gateway, runtime.decider.post_pace, job))
    outbox.handle("home", lambda job: publish_home(runtime, str(job.payload["user"])))
    outbox.handle("digest", lambda job: update_digest(runtime, job))

    from app.slack import bulk, notices  # they read NEVER_SUCCEEDS from this module, so they are imported once this one is

    notices.register(runtime)
    bulk.register_jobs(runtime)


def _failed(exc: SlackCallFailed) -> Exception:
    """What the outbox should do about a failed call: give up for good, or try again later."""
    return GiveUp(exc.code) if exc.code in NEVER_SUCCEEDS else Retry(exc.code)


def update_card(runtime: "Runtime", job: Job) -> None:
    """Re-render one copy of a request's card from its row."""
    try:
        cards.update_copy(
            runtime.sessions,
            runtime.gateway,
            str(job.request_id),
            str(job.payload["channel"]),
            str(job.payload["ts"]),
            per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE,
        )
    except SlackCallFailed as exc:
        log.error("could not update the card for %s in %s: %s", job.request_id, job.payload["channel"], exc.code)
        raise _failed(exc) from exc


def update_digest(runtime: "Runtime", job: Job) -> None:
    """Re-render a workspace's backlog digest once requests it stands for were decided."""
    try:
        digest.refresh(runtime.sessions, runtime.gateway, str(job.payload["team"]))
    except SlackCallFailed as exc:
        log.error("could not update the backlog digest of %s: %s", job.payload["team"], exc.code)
        raise _failed(exc) from exc


def answer(runtime: "Runtime", job: Job) -> None:
    """Tell the clicker how their attempt ended, on the surface they used."""
    reply_to = job.payload["reply_to"]
    with runtime.reads() as session:
        request = session.get(InviteRequest, str(job.request_id))
    outcome = Outcome.from_payload(job.payload["outcome"], request)
    user = str(reply_to.get("user") or "")
    text = replies.decision(outcome, user, per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE)
    tell(runtime, reply_to, text)


def tell(runtime: "Runtime", reply_to: dict[str, str], text: str) -> None:
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
        raise _failed(exc) from exc


def tell_requester(sessions: sessionmaker[Session], gateway: SlackGateway, pace: Pace | None, job: Job) -> None:
    """DM one requester how their request ended; a 429 waits for the DM channel's next slot."""
    user_id = str(job.payload["user"])
    with sessions() as session:
        request = session.get(InviteRequest, str(job.request_id))
    if request is None or request.status not in DECIDED:
        return
    text = replies.requester_dm(request)
    try:
        gateway.post_message(user_id, text=text, blocks=[blocks.mrkdwn_section(text)])
    except SlackCallFailed as exc:
        log.warning("could not tell requester %s about %s: %s", user_id, request.id, exc.code)
        if exc.code == "ratelimited":
            raise Retry(exc.code, exc.retry_after or 1.0, pace=(pace, user_id) if pace else None) from exc
        raise _failed(exc) from exc
