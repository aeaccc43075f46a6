"""The card jobs: post a request's card exactly once per channel, and re-render any copy from the database row."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core import approvals, cards
from app.core.audit import now
from app.core.lifecycle import OPEN, PENDING
from app.core.outbox import Job
from app.core.services import Services
from app.slack.api.failures import job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway
from app.slack.jobs import once
from app.slack.ui import blocks
from app.store.dialect import insert_if_absent
from app.store.models import InviteRequest, RequestCard

log = logging.getLogger(__name__)

QUEUED_SHOWN = "queued"  # rendered_status of a card that shows a decision waiting for Slack's pace
# chat.update's answer when the message itself no longer exists (someone deleted it): retrying can never succeed.
GONE_FROM_SLACK = frozenset({"message_not_found"})
# Every card carries this Slack message metadata, so a card can be told apart from other messages and tied to its request.
CARD_EVENT_TYPE = "invitebot_card"
# The jobs that post or update a message in an approvals channel: their failures may be the channel's.
CHANNEL_JOBS = frozenset({"post_card", "card", "post_digest", "digest"})

# What to do about an approvals channel that refuses posts, worded once for `invitebot doctor`, `invitebot sync`,
# `invitebot outbox`, /readyz and the log; {setting} is the setting that names the channel.
_ARCHIVED = "The channel is archived: unarchive it or choose another in {setting}."
_CHANNEL_FIXES = {
    "channel_not_found": "{setting} names no channel the bot can see: check the id (C…) and invite the bot.",
    "not_in_channel": "Invite the bot to that channel (/invite @invitebot in it); {setting} names it.",
    "is_archived": _ARCHIVED,
    "is_inactive": _ARCHIVED,
}
# Slack's answers that are the approvals channel's trouble, not one card's.
CHANNEL_ERRORS = frozenset(_CHANNEL_FIXES)


def channel_fix(error: str | None, setting: str) -> str | None:
    """What to do when Slack answers `error` for a post in the channel `setting` names; None if the channel is not the cause."""
    fixing = _CHANNEL_FIXES.get(error or "")
    return fixing.format(setting=setting) if fixing else None


def fix(kind: str, error: str | None, setting: str) -> str | None:
    """What on-call does about a card or digest job Slack refused for good, when its channel (named by `setting`) is the cause."""
    return channel_fix(error, setting) if kind in CHANNEL_JOBS else None


def post_card(services: Services, gateway: SlackGateway, job: Job) -> None:
    """Post the card reserved for the request in the job's channel (app.core.cards reserved it with the job) and record
    its ts; a card posted already is left alone.

    A post Slack refused keeps its reservation while the outbox tries again (a 429 at the channel's next free slot);
    given up for good, it gives the reservation back (give_back). A post whose answer was lost keeps it: a sync takes it
    over once stale, and the job taking it over adopts the card if Slack had posted it (app.slack.jobs.once).
    """
    request_id, channel = str(job.request_id), str(job.payload["channel"])
    with services.read() as session:  # nothing written between the job's slot and its post, so posts keep their spacing
        request, approved = _as_shown(session, request_id)
        reserved = session.scalar(select(RequestCard).where(RequestCard.request_id == request_id, RequestCard.channel == channel))
    if request is None or (reserved is not None and reserved.ts is not None):
        return
    if reserved is None and not _reserve(services.sessions, request_id, channel):
        return  # queued again by hand after it gave its reservation back, and another job reserved it meanwhile
    metadata = {"event_type": CARD_EVENT_TYPE, "event_payload": {"request_id": request.id, "team_id": request.team_id or ""}}
    card = blocks.request_card(request, approvals=approved.counted, lapsed=approved.lapsed)
    try:
        # Taking over a post whose answer was lost: the card Slack may have posted is found by its metadata and adopted.
        posted = once.post(
            gateway,
            job,
            channel,
            text=blocks.card_text(request),
            blocks=card,
            metadata=metadata,
            match={"request_id": request.id},
        )
    except PostUnconfirmed as exc:
        # Posting again now could show two cards; the reservation stays, and a sync takes it over once it is stale.
        log.error(
            "no answer to posting the card for %s in %s (%s): it may be there untracked; a sync posts it again if it still"
            " has no ts in 5 minutes", request_id, channel, exc.code,
        )
        return
    except SlackCallFailed as exc:
        log.error("could not post the card for %s in %s: %s", request_id, channel, exc.code)
        raise job_failure(exc, (services.post_pace, channel)) from exc
    with services.sessions.begin() as session:
        session.execute(
            update(RequestCard)
            .where(RequestCard.request_id == request_id, RequestCard.channel == channel)
            .values(ts=posted.ts, rendered_status=None if posted.adopted else _shown(request))
        )
        # A decision (or an approval) may have landed while we were posting, or since an adopted card was posted; it could
        # not see this card yet: render it.
        current, now_approved = _as_shown(session, request_id)
        if current is not None and (posted.adopted or _shown(current) != _shown(request) or now_approved != approved):
            cards.queue_copy(services.outbox, session, request_id, channel, posted.ts)
        job.complete(session)


def give_back_card(services: Services, job: Job) -> None:
    """A card post given up for good gives its reservation back, so the next sync queues it again."""
    with services.sessions.begin() as session:
        cards.give_back(session, str(job.request_id), str(job.payload["channel"]))


def _reserve(sessions: sessionmaker[Session], request_id: str, channel: str) -> bool:
    with sessions.begin() as session:
        return insert_if_absent(session, RequestCard, {"request_id": request_id, "channel": channel, "reserved_at": now()})


def update_copy(
    sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str, channel: str, ts: str, *, per_minute: int | None = None
) -> None:
    """Bring one copy of a card (tracked or not: a click may come from a copy whose post answer was lost) up to date.

    A copy deleted in Slack is forgotten; any other failure is raised, for the outbox to try again or give up.
    """
    request, approved = _load(sessions, request_id)
    if request is None:
        return
    try:
        card = blocks.request_card(request, per_minute=per_minute, approvals=approved.counted, lapsed=approved.lapsed)
        gateway.update_message(channel, ts, text=blocks.card_text(request), blocks=card)
    except SlackCallFailed as exc:
        if exc.code in GONE_FROM_SLACK:
            _forget(sessions, request.id, channel, ts, exc.code)
            return
        raise
    _rendered(sessions, request, channel, ts)


def _shown(request: InviteRequest) -> str:
    """What the card shows: a claim in flight looks like pending, unless it is queued for Slack's pace."""
    if blocks.is_queued(request):
        return QUEUED_SHOWN
    return PENDING if request.status in OPEN else request.status


def _load(sessions: sessionmaker[Session], request_id: str) -> tuple[InviteRequest | None, approvals.Tally]:
    with sessions() as session:
        return _as_shown(session, request_id)


def _as_shown(session: Session, request_id: str) -> tuple[InviteRequest | None, approvals.Tally]:
    """The request as a card shows it: its row, and its approvals so far when its rule asks for several."""
    request = session.get(InviteRequest, request_id)
    needs_several = request is not None and (request.approvals_needed or 0) > 1
    return request, approvals.tally(session, request_id) if needs_several else approvals.Tally()


def _rendered(sessions: sessionmaker[Session], request: InviteRequest, channel: str, ts: str) -> None:
    """Slack took this render of a tracked copy: sync need not render it again."""
    with sessions.begin() as session:
        session.execute(
            update(RequestCard)
            .where(RequestCard.request_id == request.id, RequestCard.channel == channel, RequestCard.ts == ts)
            .values(rendered_status=_shown(request))
        )


def _forget(sessions: sessionmaker[Session], request_id: str, channel: str, ts: str, code: str) -> None:
    """Someone deleted the card (or its channel) in Slack: stop updating it, so no job nor sync asks for it again."""
    log.warning("the card for %s in %s is gone from Slack (%s): invitebot stops updating it", request_id, channel, code)
    with sessions.begin() as session:
        session.execute(
            delete(RequestCard).where(RequestCard.request_id == request_id, RequestCard.channel == channel, RequestCard.ts == ts)
        )


def update_card(sessions: sessionmaker[Session], gateway: SlackGateway, per_minute: int, job: Job) -> None:
    """Re-render one copy of a request's card from its row (`per_minute`: the admin-call pace a queued card cites)."""
    try:
        update_copy(sessions, gateway, str(job.request_id), str(job.payload["channel"]), str(job.payload["ts"]), per_minute=per_minute)
    except SlackCallFailed as exc:
        log.error("could not update the card for %s in %s: %s", job.request_id, job.payload["channel"], exc.code)
        raise job_failure(exc) from exc
