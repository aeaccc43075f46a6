"""Post each request's card exactly once, and re-render every copy from the database row."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.audit import now
from app.slack import blocks
from app.slack.gateway import SlackCallFailed, SlackGateway
from app.store.dialect import insert_if_absent
from app.store.models import InviteRequest, RequestCard, Status

log = logging.getLogger(__name__)

# A reservation this old whose post never finished (the process died) may be taken over.
STALE_RESERVATION = timedelta(minutes=5)
_OPEN = (Status.PENDING.value, Status.DECIDING.value)


def post_once(sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str, channel: str) -> bool:
    """Reserve the (request, channel) slot in the database, then post; True when this call posted the card."""
    with sessions.begin() as session:
        reserved = insert_if_absent(
            session, RequestCard, {"request_id": request_id, "channel": channel, "reserved_at": now()}
        )
    if not reserved:
        return False
    return _post_reserved(sessions, gateway, request_id, channel)


def repost_stale(sessions: sessionmaker[Session], gateway: SlackGateway) -> int:
    """Post cards whose reservation was left behind by a crash; returns how many were posted."""
    cutoff = now() - STALE_RESERVATION
    with sessions() as session:
        stale = session.execute(
            select(RequestCard.request_id, RequestCard.channel).where(
                RequestCard.ts.is_(None), RequestCard.reserved_at < cutoff
            )
        ).all()
    posted = 0
    for request_id, channel in stale:
        with sessions.begin() as session:
            taken = session.execute(
                update(RequestCard)
                .where(
                    RequestCard.request_id == request_id,
                    RequestCard.channel == channel,
                    RequestCard.ts.is_(None),
                    RequestCard.reserved_at < cutoff,
                )
                .values(reserved_at=now())
            ).rowcount
        if taken and _post_reserved(sessions, gateway, request_id, channel):
            posted += 1
    return posted


def _post_reserved(sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str, channel: str) -> bool:
    with sessions() as session:
        request = session.get(InviteRequest, request_id)
    if request is None:
        return False
    try:
        ts = gateway.post_message(channel, text=blocks.card_text(request), blocks=blocks.request_card(request))
    except SlackCallFailed as exc:
        log.error("could not post the card for %s in %s: %s", request_id, channel, exc.code)
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
            .values(ts=ts, rendered_status=_shown(request.status))
        )
    # A decision may have landed while we were posting; it could not see this card yet, so render it now.
    with sessions() as session:
        current = session.get(InviteRequest, request_id)
    if current is not None and _shown(current.status) != _shown(request.status):
        _update(sessions, gateway, current, channel, ts)
    return True


def refresh(sessions: sessionmaker[Session], gateway: SlackGateway, request_id: str) -> None:
    """Re-render every posted copy of a request's card from its current row."""
    with sessions() as session:
        request = session.get(InviteRequest, request_id)
        copies = session.execute(
            select(RequestCard.channel, RequestCard.ts).where(
                RequestCard.request_id == request_id, RequestCard.ts.is_not(None)
            )
        ).all()
    if request is None:
        return
    for channel, ts in copies:
        _update(sessions, gateway, request, channel, ts)


def heal(sessions: sessionmaker[Session], gateway: SlackGateway) -> int:
    """Re-render cards whose last successful render is behind their request (a chat.update that failed)."""
    with sessions() as session:
        lagging = session.scalars(
            select(RequestCard.request_id)
            .join(InviteRequest, InviteRequest.id == RequestCard.request_id)
            .where(
                RequestCard.ts.is_not(None),
                InviteRequest.status.not_in(_OPEN),
                or_(RequestCard.rendered_status.is_(None), RequestCard.rendered_status != InviteRequest.status),
            )
            .distinct()
        ).all()
    for request_id in lagging:
        refresh(sessions, gateway, request_id)
    return len(lagging)


def _shown(status: str) -> str:
    """A claim in flight looks like pending on the card."""
    return Status.PENDING.value if status in _OPEN else status


def _update(sessions: sessionmaker[Session], gateway: SlackGateway, request: InviteRequest, channel: str, ts: str) -> None:
    try:
        gateway.update_message(channel, ts, text=blocks.card_text(request), blocks=blocks.request_card(request))
    except SlackCallFailed as exc:
        log.error("could not update the card for %s in %s: %s", request.id, channel, exc.code)
        return
    with sessions.begin() as session:
        session.execute(
            update(RequestCard)
            .where(RequestCard.request_id == request.id, RequestCard.channel == channel)
            .values(rendered_status=_shown(request.status))
        )
