"""Post each request's card exactly once, and re-render every copy from the database row."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core import approvals, pacing
from app.core.audit import now
from app.core.lifecycle import OPEN, PENDING
from app.core.outbox import Job
from app.core.pacing import Pace
from app.slack.api.failures import job_failure
from app.slack.api.gateway import PostUnconfirmed, SlackCallFailed, SlackGateway
from app.slack.runtime import Runtime
from app.slack.ui import blocks
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import InviteRequest, RequestCard

log = logging.getLogger(__name__)

POST_ATTEMPTS = 5  # a post Slack rate-limits this many times in a row gives up (sync posts it on its next pass)
# A reservation this old whose post never finished (the process died) may be taken over.
STALE_RESERVATION = timedelta(minutes=5)
QUEUED_SHOWN = "queued"  # rendered_status of a card that shows a decision waiting for Slack's pace
# chat.update's answer when the message itself no longer exists (someone deleted it): retrying can never succeed.
GONE_FROM_SLACK = frozenset({"message_not_found"})
# Every card carries this Slack message metadata, so a card can be told apart from other messages and tied to its request.
CARD_EVENT_TYPE = "invitebot_card"

_FIXES = {
    "is_archived": "the channel is archived: unarchive it, or set INVITES_CHANNEL to a channel that is not",
    "is_inactive": "the channel is archived: unarchive it, or set INVITES_CHANNEL to a channel that is not",
    "channel_not_found": (
        "the bot sees no such channel: check the id in INVITES_CHANNEL and invite the bot there (/invite @invitebot)"
    ),
    "not_in_channel": "the bot is not in the channel: invite it (/invite @invitebot), or set INVITES_CHANNEL to one it is in",
}


@dataclass(frozen=True)
class CardFailure:
    """A card Slack did not post or re-render: where, which call, Slack's error code."""

    channel: str
    method: str
    code: str
    unconfirmed: bool = False  # the post went out and no answer came back: it may be in the channel


_noted: ContextVar[list[CardFailure] | None] = ContextVar("card_failures", default=None)


@contextmanager
def failures_noted() -> Iterator[list[CardFailure]]:
    """Collect every card post or update that fails in this thread while the block runs (a sync pass counts them)."""
    noted: list[CardFailure] = []
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)


def describe(failures: list[CardFailure]) -> list[str]:
    """One line per channel, call and error code, with how many cards it hit and what fixes it."""
    counts: dict[CardFailure, int] = {}
    for failure in failures:
        counts[failure] = counts.get(failure, 0) + 1
    lines = []
    for failure, count in counts.items():
        line = f"{failure.channel}: {failure.method} {failure.code}"
        if count > 1:
            line += f" for {count} cards"
        if failure.unconfirmed:
            line += " — no answer came, so Slack may have posted it; invitebot posts it again if it has no ts in 5 minutes"
        elif failure.code in _FIXES:
            line += f" — {_FIXES[failure.code]}"
        lines.append(line)
    return lines


def _note(channel: str, exc: SlackCallFailed) -> None:
    noted = _noted.get()
    if noted is not None:
        noted.append(CardFailure(channel, exc.method, exc.code, isinstance(exc, PostUnconfirmed)))


def post_once(
    sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str, channel: str, *, pace: Pace | None = None
) -> bool:
    """Reserve the (request, channel) slot in the database, then post at the channel's `pace`; True when this posted it."""
    with sessions.begin() as session:
        reserved = insert_if_absent(
            session, RequestCard, {"request_id": request_id, "channel": channel, "reserved_at": now()}
        )
    if not reserved:
        return False
    return _post_reserved(sessions, gateway, request_id, channel, pace)


def repost_stale(sessions: sessionmaker[Session], gateway: SlackGateway, pace: Pace | None = None) -> int:
    """Post cards whose reservation was left behind by a crash (never for a request a digest stands for); how many were posted."""
    cutoff = now() - STALE_RESERVATION
    with sessions() as session:
        stale = session.execute(
            select(RequestCard.request_id, RequestCard.channel)
            .join(InviteRequest, InviteRequest.id == RequestCard.request_id)
            .where(RequestCard.ts.is_(None), RequestCard.reserved_at < cutoff, InviteRequest.in_digest.is_(False))
        ).all()
    posted = 0
    for request_id, channel in stale:
        with sessions.begin() as session:
            taken = changed(
                session,
                update(RequestCard)
                .where(
                    RequestCard.request_id == request_id,
                    RequestCard.channel == channel,
                    RequestCard.ts.is_(None),
                    RequestCard.reserved_at < cutoff,
                )
                .values(reserved_at=now())
            )
        if taken and _post_reserved(sessions, gateway, request_id, channel, pace):
            posted += 1
    return posted


def wait_for_turn(sessions: sessionmaker[Session], pace: Pace | None, channel: str, *, after: float = 0.0) -> None:
    """Take the channel's next posting slot (shared by replicas), no sooner than `after` seconds, and wait for it."""
    if pace is None:
        return
    with sessions.begin() as session:
        slot = pacing.take(session, pace, channel, not_before=now() + timedelta(seconds=after))
    wait = (slot - now()).total_seconds()
    if wait > 0:
        time.sleep(wait)


def _post_reserved(
    sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str, channel: str, pace: Pace | None = None
) -> bool:
    request, approved = _load(sessions, request_id)
    if request is None:
        return False
    metadata = {"event_type": CARD_EVENT_TYPE, "event_payload": {"request_id": request.id, "team_id": request.team_id or ""}}
    try:
        ts = post_paced(
            sessions, gateway, pace, channel, text=blocks.card_text(request), blocks=blocks.request_card(request, approvals=approved), metadata=metadata
        )
    except PostUnconfirmed as exc:
        # Posting again now could show two cards; the reservation stays, and repost_stale posts it once it is stale.
        log.error("no answer to posting the card for %s in %s (%s); it may be there untracked", request_id, channel, exc.code)
        _note(channel, exc)
        return False
    except SlackCallFailed as exc:
        log.error("could not post the card for %s in %s: %s", request_id, channel, exc.code)
        _note(channel, exc)
        with sessions.begin() as session:
            session.execute(
                delete(RequestCard).where(
                    RequestCard.request_id == request_id, RequestCard.channel == channel, RequestCard.ts.is_(None)
                )
            )
        return False
    with sessions.begin() as session:
        session.execute(
            update(RequestCard)
            .where(RequestCard.request_id == request_id, RequestCard.channel == channel)
            .values(ts=ts, rendered_status=_shown(request))
        )
    # A decision (or an approval) may have landed while we were posting; it could not see this card yet, so render it now.
    current, now_approved = _load(sessions, request_id)
    if current is not None and (_shown(current) != _shown(request) or now_approved != approved):
        _update(sessions, gateway, current, channel, ts, now_approved)
    return True


def post_paced(
    sessions: sessionmaker[Session],
    gateway: SlackGateway,
    pace: Pace | None,
    channel: str,
    *,
    text: str,
    blocks: list[dict[str, Any]],
    metadata: dict[str, Any] | None = None,
) -> str:
    """chat.postMessage at the channel's pace; a 429 waits for Retry-After and the next free slot, a few times."""
    after, attempt = 0.0, 1
    while True:
        wait_for_turn(sessions, pace, channel, after=after)
        try:
            return gateway.post_message(channel, text=text, blocks=blocks, metadata=metadata)
        except SlackCallFailed as exc:
            if exc.code != "ratelimited" or attempt >= POST_ATTEMPTS:
                raise
            after, attempt = exc.retry_after or 1.0, attempt + 1


def refresh(sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str) -> None:
    """Re-render every posted copy of a request's card from its current row."""
    with sessions() as session:
        copies = session.execute(
            select(RequestCard.channel, RequestCard.ts).where(
                RequestCard.request_id == request_id, RequestCard.ts.is_not(None)
            )
        ).all()
    request, approved = _load(sessions, request_id)
    if request is None:
        return
    for channel, ts in copies:
        assert ts is not None  # the query picked posted copies only
        _update(sessions, gateway, request, channel, ts, approved)


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
        card = blocks.request_card(request, per_minute=per_minute, approvals=approved)
        gateway.update_message(channel, ts, text=blocks.card_text(request), blocks=card)
    except SlackCallFailed as exc:
        if exc.code in GONE_FROM_SLACK:
            _forget(sessions, request.id, channel, ts, exc.code)
            return
        raise
    _rendered(sessions, request, channel, ts)


def heal(sessions: sessionmaker[Session], gateway: SlackGateway) -> int:
    """Re-render cards whose last successful render is behind their request (a chat.update that failed)."""
    with sessions() as session:
        lagging = session.scalars(
            select(RequestCard.request_id)
            .join(InviteRequest, InviteRequest.id == RequestCard.request_id)
            .where(
                RequestCard.ts.is_not(None),
                InviteRequest.status.not_in(OPEN),
                or_(RequestCard.rendered_status.is_(None), RequestCard.rendered_status != InviteRequest.status),
            )
            .distinct()
        ).all()
    for request_id in lagging:
        refresh(sessions, gateway, request_id)
    return len(lagging)


def _shown(request: InviteRequest) -> str:
    """What the card shows: a claim in flight looks like pending, unless it is queued for Slack's pace."""
    if blocks.is_queued(request):
        return QUEUED_SHOWN
    return PENDING if request.status in OPEN else request.status


def _load(sessions: sessionmaker[Session], request_id: str) -> tuple[InviteRequest | None, list[str]]:
    """The request as a card shows it: its row, and who has approved it so far when its rule asks for several."""
    with sessions() as session:
        request = session.get(InviteRequest, request_id)
        needs_several = request is not None and (request.approvals_needed or 0) > 1
        return request, approvals.so_far(session, request_id) if needs_several else []


def _update(
    sessions: sessionmaker[Session], gateway: SlackGateway, request: InviteRequest, channel: str, ts: str, approved: list[str]
) -> None:
    try:
        card = blocks.request_card(request, approvals=approved)
        gateway.update_message(channel, ts, text=blocks.card_text(request), blocks=card)
    except SlackCallFailed as exc:
        if exc.code in GONE_FROM_SLACK:
            _forget(sessions, request.id, channel, ts, exc.code)
            return
        log.error("could not update the card for %s in %s: %s", request.id, channel, exc.code)
        _note(channel, exc)
        return
    _rendered(sessions, request, channel, ts)


def _rendered(sessions: sessionmaker[Session], request: InviteRequest, channel: str, ts: str) -> None:
    """Slack took this render of a tracked copy: sync need not render it again."""
    with sessions.begin() as session:
        session.execute(
            update(RequestCard)
            .where(RequestCard.request_id == request.id, RequestCard.channel == channel, RequestCard.ts == ts)
            .values(rendered_status=_shown(request))
        )


def _forget(sessions: sessionmaker[Session], request_id: str, channel: str, ts: str, code: str) -> None:
    """Someone deleted the card (or its channel) in Slack: stop trying to update it, so sync does not fail forever."""
    log.warning("the card for %s in %s is gone from Slack (%s): invitebot stops updating it", request_id, channel, code)
    with sessions.begin() as session:
        session.execute(
            delete(RequestCard).where(RequestCard.request_id == request_id, RequestCard.channel == channel, RequestCard.ts == ts)
        )


# -- the outbox job --------------------------------------------------------------------------------------------------


def update_card(runtime: Runtime, job: Job) -> None:
    """Re-render one copy of a request's card from its row."""
    try:
        update_copy(
            runtime.sessions,
            runtime.gateway,
            str(job.request_id),
            str(job.payload["channel"]),
            str(job.payload["ts"]),
            per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE,
        )
    except SlackCallFailed as exc:
        log.error("could not update the card for %s in %s: %s", job.request_id, job.payload["channel"], exc.code)
        raise job_failure(exc) from exc
