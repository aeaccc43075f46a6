"""Posts a person must see once (cards, reminders, escalations, requesters' DMs): each carries Slack message metadata
naming what it is, and a job that may have posted it already looks for it before posting again.

An outbox job's row is its reservation: it is written before the post, and only one run holds it at a time. A run that
dies mid-post (its lease runs out and another replica takes the job) or loses Slack's answer (the job is tried again)
cannot know whether Slack posted; the next run (`Job.retaken`) reads the conversation, or the thread, with
`include_all_metadata` and adopts the message it finds instead of posting a second one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.outbox import Job, Retry
from app.core.pacing import Pace
from app.slack.api.failures import NEVER_SUCCEEDS, job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway

log = logging.getLogger(__name__)

NOTICE_EVENT_TYPE = "invitebot_notice"  # reminders, escalations, requesters' DMs: event_payload names request and notice
LOOK_BACK = timedelta(minutes=10)  # Slack's clock may be behind ours: look this much before the earliest possible post
# A post whose answer was lost is looked for (and posted only if not found) this much later: Slack may still be at it.
ANSWER_LOST_WAIT = 60.0
READ_SCOPES = "channels:history, groups:history and im:history"


@dataclass(frozen=True)
class Posted:
    ts: str
    adopted: bool  # an earlier run had posted it: found in Slack, not posted again


def notice(request_id: str, kind: str) -> dict[str, Any]:
    """The metadata of one notice about a request (kind: remind, escalate, decided, expires_7d, …)."""
    return {"event_type": NOTICE_EVENT_TYPE, "event_payload": {"request_id": request_id, "notice": kind}}


def post(
    gateway: SlackGateway,
    job: Job,
    channel: str,
    *,
    text: str,
    blocks: list[dict[str, Any]],
    metadata: dict[str, Any],
    match: dict[str, Any] | None = None,
    thread_ts: str | None = None,
) -> Posted:
    """Post the message `metadata` names, once: a retaken job first looks for it (posted since the job's work began, in
    `thread_ts`'s thread if given; `match`: the event_payload values that identify it, all of them by default).

    Raises what SlackGateway.post_message raises, and SlackCallFailed when the look itself failed and may work later.
    """
    if job.retaken:
        found = find(gateway, channel, metadata["event_type"], match or metadata["event_payload"], job.began, thread_ts=thread_ts)
        if found is not None:
            log.info("%s %s was posted before (ts %s): adopted, not posted again", metadata["event_type"], match or metadata["event_payload"], found)
            return Posted(found, adopted=True)
    return Posted(gateway.post_message(channel, text=text, blocks=blocks, metadata=metadata, thread_ts=thread_ts), adopted=False)


def find(
    gateway: SlackGateway,
    channel: str,
    event_type: str,
    match: dict[str, Any],
    since: datetime | None,
    *,
    thread_ts: str | None = None,
) -> str | None:
    """The ts of our message of `event_type` whose event_payload has `match`'s values, posted after `since`; None when
    there is none, or when Slack will never let us look (then the post goes out again: once more rather than never)."""
    oldest = (since - LOOK_BACK).timestamp() if since is not None else 0.0
    try:
        for message in gateway.messages_since(channel, oldest, thread_ts=thread_ts):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and all(payload.get(k) == v for k, v in match.items()):
                return str(message["ts"])
    except SlackCallFailed as exc:
        if exc.code not in NEVER_SUCCEEDS:
            raise
        log.warning(
            "could not look in %s for the %s %s before posting it again (%s): it may show twice; the bot needs %s",
            channel, event_type, match, exc.code, READ_SCOPES,
        )
    return None


def failure(exc: SlackCallFailed, slot: tuple[Pace | None, str] | None = None) -> Exception:
    """What the outbox does after a failed post: one whose answer was lost is tried again (looking first) once Slack
    has surely finished it; any other failure as app.slack.api.failures says."""
    if isinstance(exc, PostUnconfirmed):
        return Retry(exc.code, ANSWER_LOST_WAIT)
    return job_failure(exc, slot)
