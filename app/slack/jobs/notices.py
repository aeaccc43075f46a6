"""The outbox's reminder, escalation and guest time-limit jobs: each reads its request again and stays quiet when the
notice no longer applies (decided meanwhile, account already ended)."""

from __future__ import annotations

import logging

from app.core import team_access
from app.core.audit import now
from app.core.lifecycle import APPROVED, OPEN
from app.core.outbox import Job
from app.slack.api.gateway import SlackCallFailed
from app.slack.jobs import once
from app.slack.runtime import Runtime
from app.slack.ui import blocks, replies
from app.store.models import InviteRequest

log = logging.getLogger(__name__)


def register(runtime: Runtime) -> None:
    """Give the notice jobs their workers."""
    runtime.outbox.handle("remind", lambda job: remind(runtime, job))
    runtime.outbox.handle("escalate", lambda job: escalate(runtime, job))
    runtime.outbox.handle("expires", lambda job: tell_expiry(runtime, job))


def remind(runtime: Runtime, job: Job) -> None:
    """A reply on the request's card naming its approvers (its workspace's own, else INVITES_APPROVERS), while open."""
    request = _request(runtime, job, OPEN)
    if request is None:
        return
    text = replies.reminder(int(job.payload["age"]), runtime.settings.approvers_named_for(request.team_id))
    _post(runtime, job, str(job.payload["channel"]), text, "remind", thread_ts=str(job.payload["ts"]))


def escalate(runtime: Runtime, job: Job) -> None:
    """A user group mentioned on the card's thread, or a post in the escalation channel linking to the card."""
    request = _request(runtime, job, OPEN)
    if request is None:
        return
    to, channel, ts, age = str(job.payload["to"]), str(job.payload["channel"]), str(job.payload["ts"]), int(job.payload["age"])
    if to.startswith("S"):
        _post(runtime, job, channel, replies.escalation_to_group(to, age), "escalate", thread_ts=ts)
        return
    try:
        link: str | None = runtime.gateway.permalink(channel, ts)
    except SlackCallFailed as exc:
        log.warning("no link to the card of %s (%s); the escalation names the approvals channel instead", request.id, exc.code)
        link = None
    _post(runtime, job, to, replies.escalation(request, age, permalink=link, channel=channel), "escalate")


def tell_expiry(runtime: Runtime, job: Job) -> None:
    """DM one requester when the guest account they asked for ends, while it is approved and has not ended yet."""
    request = _request(runtime, job, (APPROVED,))
    if request is None or request.date_expire is None or request.date_expire <= now():
        return
    with runtime.reads() as session:
        if team_access.revoked(session, request.team_id):  # Slack would refuse it: team_access_not_granted
            log.info("no guest time-limit DM for %s: invitebot is not added to %s", request.id, request.team_id)
            return
    _post(runtime, job, str(job.payload["user"]), replies.guest_expiry_dm(request), str(job.payload["kind"]))


def _request(runtime: Runtime, job: Job, statuses: tuple[str, ...]) -> InviteRequest | None:
    with runtime.reads() as session:
        request = session.get(InviteRequest, str(job.request_id))
    return request if request is not None and request.status in statuses else None


def _post(runtime: Runtime, job: Job, channel: str, text: str, kind: str, *, thread_ts: str | None = None) -> None:
    """One message, posted once (app.slack.jobs.once), at the channel's pace: a 429 waits for its next slot, what can
    never work is given up."""
    try:
        once.post(
            runtime.gateway,
            job,
            channel,
            text=text,
            blocks=[blocks.mrkdwn_section(text)],
            metadata=once.notice(str(job.request_id), kind),
            thread_ts=thread_ts,
        )
    except SlackCallFailed as exc:
        log.warning("could not post a notice in %s: %s", channel, exc.code)
        raise once.failure(exc, (runtime.services.post_pace, channel)) from exc
