"""Turn an invite request from Slack (event or list) into a stored row, with its card owed as an outbox job."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session

from app.core import cards, lifecycle
from app.core.audit import now
from app.core.decisions import queue_cards
from app.core.policy.apply import VERDICT_COLUMNS, verdict
from app.core.ports import SlackAdmin, SlackCallFailed
from app.core.services import Services
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import InviteRequest, RequestCard

log = logging.getLogger(__name__)

# last_seen moves only when it is this far behind: it stays true to the day without a write per request per pass.
LAST_SEEN_STEP = timedelta(days=1)


class MalformedRequest(ValueError):
    """Slack sent an invite request we cannot store (no id or email)."""


def _timestamp(value: Any) -> datetime | None:
    """Slack documents these as ints but shows strings in one example; accept both."""
    if value in (None, "", 0, "0"):
        return None
    try:
        return datetime.fromtimestamp(int(float(value)), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _ids(value: Any) -> list[str]:
    return [str(item) for item in value if isinstance(item, str) and item] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def workspace_of(raw: dict[str, Any], outer_team_id: str | None) -> str | None:
    """The request's workspace as the payload says it: its own `team`, else a T… id outside; never the org's E… id."""
    team = raw["team"] if isinstance(raw.get("team"), dict) else {}
    for candidate in (_text(team.get("id")), outer_team_id):
        if candidate and candidate.startswith("T"):
            return candidate
    return None


def row_values(raw: dict[str, Any], team_id: str | None, team_name: str | None = None) -> dict[str, Any]:
    """Column values for one request as Slack describes it; raises MalformedRequest."""
    request_id, email = _text(raw.get("id")), _text(raw.get("email"))
    if not request_id or not email:
        raise MalformedRequest("invite request without id or email")
    team = raw["team"] if isinstance(raw.get("team"), dict) else {}
    moment = now()
    return {
        "id": request_id[:32],
        "team_id": workspace_of(raw, team_id),
        "team_name": _text(team.get("name")) or team_name,
        "email": email[:320],
        "real_name": _text(raw.get("real_name")),
        "requester_ids": _ids(raw.get("requester_ids")),
        "channel_ids": _ids(raw.get("channel_ids")),
        "invite_type": _text(raw.get("invite_type")) or "full_member",
        "reason": _text(raw.get("request_reason")),
        "date_created": _timestamp(raw.get("date_created")) or moment,
        "date_expire": _timestamp(raw.get("date_expire")),
        "status": lifecycle.PENDING,
        "first_seen": moment,
        "last_seen": moment,
    }


def store(session: Session, values: dict[str, Any]) -> tuple[bool, bool]:
    """Insert the request if it is new, else write only what changed, so a pass over known requests writes nothing.

    A pending request's policy verdict follows the policy in force (it changes on restart); a closed one keeps the
    verdict it was decided under. Returns (inserted, an existing row changed in a way its card shows: its workspace, the
    workspace's name, its verdict).
    """
    seen = _seen(session, values["id"])
    if seen is None:
        if insert_if_absent(session, InviteRequest, values):
            return True, False
        seen = _seen(session, values["id"])  # stored by another process a moment ago
        assert seen is not None  # the insert found the row there, and requests are never deleted
    return False, apply_changes(session, seen, values)


def apply_changes(session: Session, seen: Row[Any], values: dict[str, Any]) -> bool:
    """Write what changed of a known request (`seen` as SEEN_COLUMNS read it); True when its card shows the change."""
    row = InviteRequest.id == values["id"]
    learned = 0
    if values["team_id"] and seen.team_id is None:
        learned += changed(
            session,
            update(InviteRequest).where(row, InviteRequest.team_id.is_(None)).values(team_id=values["team_id"])
        )
    if values["team_name"] and seen.team_name != values["team_name"]:
        renamed = or_(InviteRequest.team_name.is_(None), InviteRequest.team_name != values["team_name"])
        learned += changed(
            session,
            update(InviteRequest).where(row, renamed).values(team_name=values["team_name"])
        )
    if seen.last_seen < values["last_seen"] - LAST_SEEN_STEP:
        session.execute(update(InviteRequest).where(row).values(last_seen=values["last_seen"]))
    judged = {name: values.get(name) for name in VERDICT_COLUMNS}
    if seen.status == lifecycle.PENDING and judged != {name: getattr(seen, name) for name in VERDICT_COLUMNS}:
        learned += changed(
            session,
            update(InviteRequest).where(row, InviteRequest.status == lifecycle.PENDING).values(**judged)
        )
    return bool(learned)


# What store() compares with: the stored workspace, its name, when the request was last seen, its policy verdict; and
# whether a backlog digest stands for it instead of a card.
SEEN_COLUMNS = (
    InviteRequest.id,
    InviteRequest.team_id,
    InviteRequest.team_name,
    InviteRequest.last_seen,
    InviteRequest.status,
    InviteRequest.in_digest,
    *(getattr(InviteRequest, name) for name in VERDICT_COLUMNS),
)


def _seen(session: Session, request_id: str) -> Row[Any] | None:
    return session.execute(select(*SEEN_COLUMNS).where(InviteRequest.id == request_id)).first()


def _has_card(session: Session, request_id: str, channel: str) -> bool:
    """A card is posted or reserved for the request in the channel: a post job would find its reservation taken."""
    found = session.scalar(
        select(RequestCard.request_id).where(RequestCard.request_id == request_id, RequestCard.channel == channel)
    )
    return found is not None


def _in_digest(session: Session, request_id: str) -> bool:
    """A backlog's digest card stands for the request: it gets no card of its own."""
    return bool(session.scalar(select(InviteRequest.in_digest).where(InviteRequest.id == request_id)))


def ingest(services: Services, raw: dict[str, Any], *, team_id: str | None, channel: str, team_name: str | None = None) -> bool:
    """Store the request with its policy verdict and, in the same transaction, queue what its card needs: its post in
    `channel` (once, at the channel's pace), or a re-render of the posted copies when it changed as they show it.

    True when it was new.
    """
    values = row_values(raw, team_id, team_name)
    values.update(verdict(services.policy, values, services.groups))
    with services.sessions.begin() as session:
        new, learned = store(session, values)
        if learned:  # the card showed no workspace, or only its id: show what is known now
            queue_cards(services, session, values["id"])
        if new or not (_has_card(session, values["id"], channel) or _in_digest(session, values["id"])):
            cards.queue_post(services.outbox, session, services.post_pace, values["id"], channel, here=True)
    return new


def locate(gateway: SlackAdmin, team_ids: list[str], request_id: str) -> str | None:
    """Which workspace's pending list holds this request; None when no listing shows it (sync will look again)."""
    for team_id in team_ids:
        try:
            if any(item.get("id") == request_id for item in gateway.pending_requests(team_id)):
                return team_id
        except SlackCallFailed as exc:
            log.warning("could not list %s while looking for request %s: %s", team_id, request_id, exc.code)
    return None
