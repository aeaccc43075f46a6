"""The cards Slack owes us, as outbox jobs: a request's card posted once per channel at the channel's pace, a post left
unfinished taken over, and every copy that lags behind its row rendered again.

A post is reserved in `request_cards` in the transaction that queues its job, so it is queued once per request and
channel across replicas and restarts; the job (app.slack.jobs.cards) posts the reserved card and records its ts. A
reservation whose job is gone without a ts (no answer came to the post) is taken over once it is STALE_RESERVATION old,
by a job that first looks for the card Slack may have posted and adopts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from app.core.audit import now
from app.core.lifecycle import OPEN
from app.core.outbox import Outbox, takeover
from app.core.pacing import Pace
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import InviteRequest, RequestCard

# A reservation this old whose job ended without a ts (no answer came to its post) may be taken over.
STALE_RESERVATION = timedelta(minutes=5)
CHUNK = 500  # request ids per statement: well inside both backends' limits on bound parameters


def post_key(request_id: str, channel: str) -> str:
    """One queued post per request and channel."""
    return f"post:{request_id}:{channel}"[:64]


def copy_key(channel: str, ts: str) -> str:
    """One queued re-render per posted copy."""
    return f"card:{channel}:{ts}"[:64]


def queue_post(outbox: Outbox, session: Session, pace: Pace | None, request_id: str, channel: str, *, here: bool = False) -> None:
    """Reserve the request's card in `channel` and queue its post at the channel's next free slot; nothing when a card is
    reserved or posted there already."""
    if insert_if_absent(session, RequestCard, {"request_id": request_id, "channel": channel, "reserved_at": now()}):
        _queue(outbox, session, pace, request_id, channel, here=here)


def give_back(session: Session, request_id: str, channel: str) -> None:
    """A post given up for good leaves no reservation behind: the next sync reserves and queues it again."""
    session.execute(
        delete(RequestCard).where(RequestCard.request_id == request_id, RequestCard.channel == channel, RequestCard.ts.is_(None))
    )


def _queue(
    outbox: Outbox,
    session: Session,
    pace: Pace | None,
    request_id: str,
    channel: str,
    *,
    here: bool = False,
    taking_over: datetime | None = None,
) -> None:
    """Queue the post; `taking_over`: the reservation time of a post left unfinished, which this one takes over."""
    payload = takeover({"channel": channel}, taking_over)
    outbox.add_paced(session, "post_card", payload, pace, channel, request_id=request_id, key=post_key(request_id, channel), here=here)


def queue_copy(outbox: Outbox, session: Session, request_id: str, channel: str, ts: str, *, here: bool = True) -> None:
    """One copy of the request's card is rendered again from its row."""
    outbox.add(session, "card", {"channel": channel, "ts": ts}, request_id=request_id, here=here, key=copy_key(channel, ts))


def uncarded(session: Session, request_ids: list[str], channel: str) -> list[str]:
    """Of these requests, those with no card posted or reserved in `channel` and no digest standing for them."""
    found: set[str] = set()
    for start in range(0, len(request_ids), CHUNK):
        part = request_ids[start : start + CHUNK]
        carded = exists().where(RequestCard.request_id == InviteRequest.id, RequestCard.channel == channel)
        found.update(
            session.scalars(select(InviteRequest.id).where(InviteRequest.id.in_(part), InviteRequest.in_digest.is_(False), ~carded))
        )
    return [request_id for request_id in request_ids if request_id in found]


def queue_reposts(outbox: Outbox, session: Session, pace: Pace | None) -> None:
    """Posts left unfinished (no answer came to them: Slack may or may not show them) are taken over and queued again
    once their reservation is stale and no job of theirs is left, never for a request a digest stands for."""
    cutoff = now() - STALE_RESERVATION
    stale = session.execute(
        select(RequestCard.request_id, RequestCard.channel, RequestCard.reserved_at)
        .join(InviteRequest, InviteRequest.id == RequestCard.request_id)
        .where(RequestCard.ts.is_(None), RequestCard.reserved_at < cutoff, InviteRequest.in_digest.is_(False))
    ).all()
    for request_id, channel, reserved_at in stale:
        if outbox.queued(session, post_key(request_id, channel), or_running=True):
            continue
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
        if taken:
            _queue(outbox, session, pace, request_id, channel, taking_over=reserved_at)  # it may have landed: look first


def queue_lagging(outbox: Outbox, session: Session) -> None:
    """Copies of closed requests whose last render Slack took is behind their row (a chat.update that failed), and that
    no job is rendering already, are rendered again."""
    lagging = session.execute(
        select(RequestCard.request_id, RequestCard.channel, RequestCard.ts)
        .join(InviteRequest, InviteRequest.id == RequestCard.request_id)
        .where(
            RequestCard.ts.is_not(None),
            InviteRequest.status.not_in(OPEN),
            or_(RequestCard.rendered_status.is_(None), RequestCard.rendered_status != InviteRequest.status),
        )
    ).all()
    for request_id, channel, ts in lagging:
        assert ts is not None  # the query picked posted copies only
        if not outbox.queued(session, copy_key(channel, ts), or_running=True):
            queue_copy(outbox, session, request_id, channel, ts, here=False)
