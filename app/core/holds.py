"""A channel that refused a post as a whole (gone, archived, the bot not in it) takes no other post until a sync lifts it.

Without the hold, every card queued for a channel Slack will never take was posted into the same refusal, one by one.
The first refusal holds the channel; the posts queued for it wait in the outbox (held, not attempted, not lost), and
the next sync pass, or HOLD running out, lets them try again at the channel's pace. The hold is a row in pace_budgets,
keyed like a pace: the budget of the channel's refusals.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.core import backlog, cards, pacing
from app.core.audit import now
from app.core.outbox import due_again, held_jobs
from app.store.dialect import insert_if_absent
from app.store.models import PaceBudget

HOLD = timedelta(minutes=10)  # a channel nobody fixed is tried again this long after its refusal, if no sync came first
_PREFIX = "refused"
POST_KINDS = frozenset({"post_card", "post_digest"})  # the jobs a held channel holds: each would post a new message in it


def _key(channel: str) -> str:
    return f"{_PREFIX}:{channel}"[:64]


def hold(session: Session, channel: str) -> datetime:
    """Hold `channel` from now for HOLD; returns until when."""
    until = now() + HOLD
    if not insert_if_absent(session, PaceBudget, {"key": _key(channel), "next_at": until, "held_until": until}):
        session.execute(update(PaceBudget).where(PaceBudget.key == _key(channel)).values(next_at=until, held_until=until))
    return until


def held_until(session: Session, channel: str) -> datetime | None:
    """Until when `channel` is held (None: it takes posts)."""
    until = session.scalar(select(PaceBudget.held_until).where(PaceBudget.key == _key(channel)))
    return until if until is not None and until > now() else None


def any_held(session: Session) -> bool:
    """Whether a channel is held or a post waits on a hold: a sync with nothing to lift writes nothing."""
    if session.scalar(select(PaceBudget.key).where(PaceBudget.key.like(f"{_PREFIX}:%")).limit(1)) is not None:
        return True
    return bool(held_jobs(session, POST_KINDS))


def lift(session: Session, pace: pacing.Pace | None, channels: list[str]) -> None:
    """Every hold ends: the posts held for a channel in `channels` are due again, each at its own slot of the channel's
    pace (the first finds out whether the channel was fixed); those held for a channel no longer routed are dropped and
    give their reservation back, so the sync queues them where their cards go now."""
    session.execute(delete(PaceBudget).where(PaceBudget.key.like(f"{_PREFIX}:%")))
    waiting = held_jobs(session, POST_KINDS)
    if pace is not None:  # the slots the held posts took end at the hold's end: start again from now
        keys = sorted({pace.key(str(job.payload.get("channel"))) for job in waiting})
        session.execute(
            update(PaceBudget).where(PaceBudget.key.in_(keys), PaceBudget.next_at > now()).values(next_at=now(), held_until=None)
        )
    for job in waiting:
        channel = str(job.payload.get("channel"))
        if channel in channels:
            at = pacing.take(session, pace, channel) if pace is not None else now()
            due_again(session, job, at)
            continue
        if job.kind == "post_card":
            cards.give_back(session, str(job.request_id), channel)
        else:
            backlog.give_back(session, str(job.payload.get("team")))
        session.delete(job)

