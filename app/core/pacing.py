"""Slack's rate limits as budgets in the database, so every replica together stays under them.

Each budget keeps the earliest moment its next call may go out. Taking a slot moves that moment on by the budget's
interval, in the caller's transaction: calls leave evenly spaced, never in a burst Slack would answer with 429.

When Slack answers 429 all the same, its Retry-After holds the budget, but never longer than the pace's `max_hold`
(INVITES_MAX_RETRY_AFTER): one odd answer (Retry-After: 3600) must not stop a workspace's decisions for an hour. The
call that was answered so asks again after at most `max_hold`, and again, until Slack takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.core.audit import now
from app.store.dialect import insert_if_absent
from app.store.models import PaceBudget

_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_HOLD = timedelta(seconds=60)  # INVITES_MAX_RETRY_AFTER's default


@dataclass(frozen=True)
class Pace:
    """At most one call per `interval` for each key of this kind (admin calls per workspace, posts per channel); a 429's
    Retry-After holds a key's budget for at most `max_hold`."""

    prefix: str
    interval: timedelta
    max_hold: timedelta = MAX_HOLD

    @classmethod
    def per_minute(cls, prefix: str, calls: int, max_hold: timedelta = MAX_HOLD) -> "Pace":
        return cls(prefix, timedelta(seconds=60 / calls), max_hold)

    def key(self, scope: str) -> str:
        return f"{self.prefix}:{scope}"[:64]


def take(session: Session, pace: Pace, scope: str, *, not_before: datetime | None = None) -> datetime:
    """Reserve the next free slot of `scope`'s budget; returns when the call may go out.

    `not_before` is Slack's Retry-After for a call it answered 429: the slot is no earlier than that, or than `max_hold`
    from now, whichever comes first, and the budget is held (its later slots are Slack's waits) until then.

    The budget's row is locked for the rest of the transaction (PostgreSQL) or the whole transaction holds the write
    lock (SQLite), so two replicas never take the same slot.
    """
    key = pace.key(scope)
    moment = now()
    if not_before is None and _free_now(session, pace, key, moment):
        return moment
    locked = select(PaceBudget.next_at, PaceBudget.held_until).where(PaceBudget.key == key).with_for_update()
    row = session.execute(locked).first()
    if row is None:  # the budget's first use: create it (once, whoever races), then lock it
        insert_if_absent(session, PaceBudget, {"key": key, "next_at": _EPOCH})
        row = session.execute(locked).one()
    values: dict[str, datetime] = {}
    if not_before is not None:
        not_before = min(not_before, moment + pace.max_hold)
        if row.held_until is None or not_before > row.held_until:
            values["held_until"] = not_before
    slot = max(moment, row.next_at, not_before or moment)
    session.execute(update(PaceBudget).where(PaceBudget.key == key).values(next_at=slot + pace.interval, **values))
    return slot


def _free_now(session: Session, pace: Pace, key: str, moment: datetime) -> bool:
    """Take the slot at `moment` in one statement when the budget has one free by then (the usual case: the calls are
    spread out already); False leaves the budget as it was."""
    taken = session.execute(_FREE_NOW, {"budget": key, "moment": moment, "new_next_at": moment + pace.interval})
    return cast(CursorResult[Any], taken).rowcount > 0


_BUDGETS = cast(Table, PaceBudget.__table__)
_FREE_NOW = (  # built once: every decision takes a slot
    update(_BUDGETS)
    .where(_BUDGETS.c.key == bindparam("budget"), _BUDGETS.c.next_at <= bindparam("moment"))
    .values(next_at=bindparam("new_next_at"))
)


def held_until(session: Session, pace: Pace, scope: str) -> datetime | None:
    """Until when a 429 from Slack holds `scope`'s budget (None: it does not now): a slot taken meanwhile waits for Slack."""
    until = session.scalar(select(PaceBudget.held_until).where(PaceBudget.key == pace.key(scope)))
    return until if until is not None and until > now() else None
