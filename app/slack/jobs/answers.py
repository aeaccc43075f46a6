"""The outbox's answers to people: the clicker's outcome on the surface they used (or, when invitebot failed, a
reference to its log), and each requester's DM."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core import pacing
from app.core.audit import now
from app.core.decisions import TAKE_SLOT
from app.core.lifecycle import DECIDED
from app.core.outbox import GiveUp, Job, Retry
from app.core.outcomes import Outcome, Result
from app.core.pacing import Pace
from app.slack.api.failures import NEVER_SUCCEEDS, job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway
from app.slack.jobs import once
from app.slack.jobs.home import publish_home
from app.slack.runtime import Runtime
from app.slack.ui import blocks, replies
from app.store.models import InviteRequest, Source

log = logging.getLogger(__name__)

# An attempt Slack refused and nothing will try again: on-call sees each one in the log, as they see a 429.
FAILED_FOR_GOOD = frozenset({Result.FAILED, Result.INVITE_FAILED})
DECIDED_NOTICE = "decided"  # the requester's DM saying how their request ended, in its metadata


def answer(runtime: Runtime, job: Job) -> None:
    """Tell the clicker how their attempt ended, on the surface they used."""
    reply_to = job.payload["reply_to"]
    with runtime.reads() as session:
        request = session.get(InviteRequest, str(job.request_id))
    outcome = Outcome.from_payload(job.payload["outcome"], request)
    user = str(reply_to.get("user") or "")
    text = replies.decision(outcome, user, per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE)
    if outcome.result in FAILED_FOR_GOOD:
        log.warning(
            "the decision by %s to %s %s failed for good: %s; they were told: %s",
            user, outcome.action.value, outcome.request_id, outcome.error, text,
        )
    tell(runtime, reply_to, text)


# A response_url that will take no more posts: 30 minutes have passed, its 5 uses are spent, or Slack does not know it.
RESPONSE_URL_GONE = frozenset({"expired_url", "used_url", "no_service", "invalid_url"})


def tell(
    runtime: Runtime, reply_to: dict[str, str], text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
) -> None:
    """A message to a person where they asked: their App Home, an ephemeral in the channel, or a command's response_url.

    A response_url lives 30 minutes and takes 5 posts (a decision queued behind Slack's pace can outlive it): once it
    takes no more, the answer goes as an ephemeral in the channel the command was typed in, else as a direct message.
    """
    surface, user = reply_to.get("surface"), str(reply_to.get("user") or "")
    if surface == "home":
        publish_home(runtime, user, notice=text)
        return
    try:
        if surface == "response_url":
            try:
                runtime.gateway.respond(str(reply_to["url"]), text=text, blocks=blocks, replace=replace)
                return
            except SlackCallFailed as exc:
                if exc.code not in RESPONSE_URL_GONE:
                    raise
                log.info("the response_url for %s answered %s: telling them in the channel or a direct message", user, exc.code)
            _ephemeral_or_direct(runtime, str(reply_to.get("channel") or ""), user, text, blocks)
        elif reply_to.get("channel"):
            runtime.gateway.post_ephemeral(str(reply_to["channel"]), user, text=text, blocks=blocks)
    except SlackCallFailed as exc:
        log.warning("could not tell %s: %s", user, exc.code)
        raise job_failure(exc) from exc


def tell_now(
    runtime: Runtime, reply_to: dict[str, str], text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
) -> None:
    """tell() at once, outside the outbox: a failure has nothing to try it again, and tell() has logged it."""
    try:
        tell(runtime, reply_to, text, blocks, replace=replace)
    except (Retry, GiveUp):
        pass


def _ephemeral_or_direct(runtime: Runtime, channel: str, user: str, text: str, shown: list[dict[str, Any]] | None) -> None:
    """An ephemeral in `channel`; a direct message when there is none or Slack will never take it there (the bot is not
    in that channel, or it is a conversation between people). A direct message whose answer was lost is not sent again."""
    if channel:
        try:
            runtime.gateway.post_ephemeral(channel, user, text=text, blocks=shown)
            return
        except SlackCallFailed as exc:
            if exc.code not in NEVER_SUCCEEDS:
                raise
            log.info("no ephemeral for %s in %s (%s): telling them in a direct message", user, channel, exc.code)
    try:
        runtime.gateway.post_message(user, text=text, blocks=shown or [blocks.mrkdwn_section(text)])
    except PostUnconfirmed:
        log.warning("the direct message to %s may or may not have arrived: not sent again", user)


def tell_requester(sessions: sessionmaker[Session], gateway: SlackGateway, pace: Pace | None, job: Job) -> None:
    """DM one requester how their request ended, once (app.slack.jobs.once), at the DM channel's pace: the job takes its
    slot when it first runs, and waits for it when it is not now; a 429 waits for the channel's next slot."""
    user_id = str(job.payload["user"])
    if pace is not None and job.payload.get(TAKE_SLOT):
        with sessions.begin() as session:
            at = pacing.take(session, pace, user_id)
            if at > now():
                taken = {key: value for key, value in job.payload.items() if key != TAKE_SLOT}
                job.postpone(session, at, f"DM pace of {user_id}", payload=taken)
                return
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


@dataclass(frozen=True)
class Surface:
    """Where a click came from, and so where its answer goes: the channel (ephemeral) or the App Home."""

    source: Source
    channel: str | None = None

    @classmethod
    def of(cls, body: dict[str, Any]) -> "Surface":
        container = body.get("container") or {}
        if container.get("type") == "view":
            return cls(Source.HOME)
        return cls(Source.BUTTON, container.get("channel_id") or (body.get("channel") or {}).get("id"))

    def reply_to(self, user_id: str) -> dict[str, str]:
        """Where the outbox sends this clicker's answer once Slack has answered."""
        if self.source is Source.HOME:
            return {"surface": "home", "user": user_id}
        return {"surface": "ephemeral", "channel": self.channel or "", "user": user_id}

    def answer(self, runtime: Runtime, user_id: str, outcome: Outcome) -> None:
        """An outcome known at once is told here; one that waits for Slack's answer is told by the outbox."""
        if outcome.result is Result.ACCEPTED:
            return
        self.tell(runtime, user_id, replies.decision(outcome, user_id, per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE))
        if self.source is not Source.HOME and outcome.result not in (Result.REFUSED, Result.REASON_REQUIRED):
            publish_home(runtime, user_id)

    def tell(self, runtime: Runtime, user_id: str, text: str) -> None:
        try:
            tell(runtime, self.reply_to(user_id), text)
        except (Retry, GiveUp):
            pass  # told at once, not as an outbox job: nothing to try again, and the failure was logged


def logged(error: BaseException, where: str) -> str:
    """Log an unexpected failure once, at ERROR with its traceback, under a new reference; returns the reference."""
    ref = secrets.token_hex(4)
    log.error("unexpected failure %s (ref %s)", where, ref, exc_info=error, extra={"ref": ref})
    return ref


def tell_unexpected(runtime: Runtime, reply_to: dict[str, str], ref: str) -> None:
    """Tell the person that what they asked for failed, with the reference; if even that fails, log it and stop."""
    user = reply_to.get("user")
    try:
        tell(runtime, reply_to, replies.unexpected(ref))
    except (Retry, GiveUp):
        log.warning("could not tell %s of the failure with ref %s", user, ref)  # tell() logged Slack's answer
    except Exception:  # noqa: BLE001 - nothing more can be done for them
        log.exception("could not tell %s of the failure with ref %s", user, ref)
