"""Slack's rate limits as budgets in the database, so every replica together stays under them.

Each budget keeps the earliest moment its next call may go out. Taking a slot moves that moment on by the budget's
interval, in the caller's transaction: calls leave evenly spaced, never in a burst Slack would answer with 429.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.audit import now
from app.store.dialect import insert_if_absent
from app.store.models import PaceBudget

_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Pace:
    """At most one call per `interval` for each key of this kind (admin calls per workspace, posts per channel)."""

    prefix: str
    interval: timedelta

    @classmethod
    def per_minute(cls, prefix: str, calls: int) -> "Pace":
        return cls(prefix, timedelta(seconds=60 / calls))

    def key(self, scope: str) -> str:
        return f"{self.prefix}:{scope}"[:64]


def take(session: Session, pace: Pace, scope: str, *, not_before: datetime | None = None) -> datetime:
    """Reserve the next free slot of `scope`'s budget (no earlier than `not_before`); returns when the call may go out.

    The budget's row is locked for the rest of the transaction (PostgreSQL) or the whole transaction holds the write
    lock (SQLite), so two replicas never take the same slot.
    """
    key = pace.key(scope)
    moment = now()
    locked = select(PaceBudget.next_at).where(PaceBudget.key == key).with_for_update()
    next_at = session.scalars(locked).first()
    if next_at is None:  # the budget's first use: create it (once, whoever races), then lock it
        insert_if_absent(session, PaceBudget, {"key": key, "next_at": _EPOCH})
        next_at = session.scalars(locked).one()
    slot = max(moment, next_at, not_before or moment)
    session.execute(update(PaceBudget).where(PaceBudget.key == key).values(next_at=slot + pace.interval))
    return slot
