"""A bulk decision's items as their decisions go: the one place that writes `batch_items.outcome` and ends a batch.

decide() takes an item (outcome NULL -> `deciding`) in the very transaction that claims its request, so an item is
decided once however many feeders, restarts or cancels race: a cancel marks the items nobody took yet `cancelled`, and
a take that comes after it finds nothing to take. The transaction that settles the item's decision records how it ended
(or decide()'s own, when it ended at once: decided elsewhere, gone), ends the batch when it was the last, and queues
the progress message's update. Lock order, everywhere: the item rows, then the batch row, then the progress pace.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core import audit, pacing
from app.core.audit import now
from app.core.outbox import QUEUED, Outbox
from app.store.dml import changed
from app.store.models import Batch, BatchItem, OutboxJob

# A batch's states.
PREVIEW, RUNNING, CANCELLED, DONE = "preview", "running", "cancelled", "done"

# An item's outcome: NULL until it is taken, `deciding` while its decision is under way, then one of the rest.
DECIDING = "deciding"
APPROVED, DENIED, INVITE_FAILED = "approved", "denied", "invite_failed"
ELSEWHERE = "elsewhere"  # decided (or being decided) by someone else, here or in Slack's admin pages
GONE = "gone"  # Slack no longer has the request, or invitebot does not
APPROVAL_RECORDED = "approval_recorded"  # counted as one approval of several that a policy rule asks for
SELF_REQUESTED = "self_requested"  # the person approving in bulk asked for this request: not theirs to approve
FAILED = "failed"
CANCELLED_ITEM = "cancelled"  # not taken before the batch was cancelled or stopped

# Audit outcomes of the batch's own entries (DecisionLog rows with batch_id set and no request of their own).
BATCH_STARTED, BATCH_CANCELLED, BATCH_DONE = "batch_started", "batch_cancelled", "batch_done"

# The progress message is re-rendered at most this often (one outbox job per batch, coalesced by its key).
PROGRESS_PACE = pacing.Pace("batch_progress", timedelta(seconds=2.5))

# decide()'s results (app.core.outcomes.Result values) as an item's outcome; None: not ended yet (accepted or queued).
_BY_RESULT: dict[str, str | None] = {
    "accepted": None,
    "queued": None,
    "invite_failed": INVITE_FAILED,
    "decided_elsewhere": ELSEWHERE,
    "already_decided": ELSEWHERE,
    "in_flight": ELSEWHERE,
    "gone": GONE,
    "not_found": GONE,
    "approval_recorded": APPROVAL_RECORDED,
    "already_approved": APPROVAL_RECORDED,
}
_DECIDED = {"approve": APPROVED, "deny": DENIED}


def subject(batch_id: int) -> str:
    """The request_id of a batch's own audit entries (it has no request of its own)."""
    return f"batch:{batch_id}"


def item_outcome(result: str, action: str) -> str | None:
    """How an item ended, from decide()'s result and the action that was carried out; None while it is under way."""
    if result == "decided":
        return _DECIDED.get(action, FAILED)
    return _BY_RESULT.get(result, FAILED)


def take(session: Session, batch_id: int, request_id: str) -> bool:
    """The item is this caller's to decide (NULL -> deciding); False when it was taken, or cancelled, already."""
    return bool(
        changed(
            session,
            update(BatchItem)
            .where(BatchItem.batch_id == batch_id, BatchItem.request_id == request_id, BatchItem.outcome.is_(None))
            .values(outcome=DECIDING)
        )
    )


def set_aside(session: Session, outbox: Outbox, batch_id: int, request_id: str, outcome: str) -> None:
    """An item decide() would not carry out for this batch (its approver asked for it), taken and ended in one step."""
    recorded = changed(
        session,
        update(BatchItem)
        .where(BatchItem.batch_id == batch_id, BatchItem.request_id == request_id, BatchItem.outcome.is_(None))
        .values(outcome=outcome, done_at=now())
    )
    if recorded:
        finish_if_done(session, outbox, batch_id)
        queue_progress(session, outbox, batch_id)


def ended(session: Session, outbox: Outbox, batch_id: int, request_id: str, result: str, action: str) -> None:
    """Record how an item's decision ended (nothing while it is still under way), in the transaction that ended it."""
    outcome = item_outcome(result, action)
    if outcome is None:
        return
    recorded = changed(
        session,
        update(BatchItem)
        .where(BatchItem.batch_id == batch_id, BatchItem.request_id == request_id, BatchItem.outcome == DECIDING)
        .values(outcome=outcome, done_at=now())
    )
    if recorded:
        finish_if_done(session, outbox, batch_id)
        queue_progress(session, outbox, batch_id)


def finish_if_done(session: Session, outbox: Outbox, batch_id: int) -> bool:
    """A batch with no item left to take or under way is done (a cancelled one keeps its state); audited once."""
    locked = select(Batch).where(Batch.id == batch_id).with_for_update().execution_options(populate_existing=True)
    batch = session.scalars(locked).first()
    if batch is None or batch.finished_at is not None or batch.state not in (RUNNING, CANCELLED):
        return False
    left = session.scalar(
        select(func.count()).select_from(BatchItem).where(
            BatchItem.batch_id == batch_id, (BatchItem.outcome.is_(None)) | (BatchItem.outcome == DECIDING)
        )
    )
    if left:
        return False
    finished = changed(
        session,
        update(Batch)
        .where(Batch.id == batch_id, Batch.finished_at.is_(None))
        .values(state=DONE if batch.state == RUNNING else batch.state, finished_at=now())
        .execution_options(synchronize_session=False)
    )
    if finished and batch.state == RUNNING:
        record(session, batch, BATCH_DONE, batch.actor_id, counts(session, batch_id).words(batch.action))
    if finished:  # the person who started it sees the queue and the domains as they are now
        user = batch.actor_id
        outbox.add(session, "home", {"user": user}, key=f"home:{user}"[:64], not_before=now() + timedelta(seconds=1))
    return bool(finished)


def queue_progress(session: Session, outbox: Outbox, batch_id: int, *, here: bool = False) -> None:
    """The progress message re-rendered from the database, once for everything that changed meanwhile, and never more
    often than PROGRESS_PACE allows."""
    key = progress_key(batch_id)
    if session.scalar(select(OutboxJob.id).where(OutboxJob.key == key, OutboxJob.state == QUEUED).limit(1)):
        return
    at = pacing.take(session, PROGRESS_PACE, str(batch_id))
    outbox.add(session, "batch_progress", {"batch": batch_id}, key=key, not_before=at, here=here)


def progress_key(batch_id: int) -> str:
    return f"batch:{batch_id}"


def record(session: Session, batch: Batch, outcome: str, actor_id: str | None, detail: str) -> None:
    """One of the batch's own audit entries: what it decides, from where, the filter, and the counts."""
    audit.record(
        session,
        request_id=subject(batch.id),
        actor_id=actor_id,
        action=batch.action,
        source=batch.source,
        outcome=outcome,
        detail=f"{describe(batch.filters)}; {detail}",
        batch_id=batch.id,
    )


def describe(filters: dict[str, Any]) -> str:
    """The filter as the audit log keeps it: domain example.com, workspaces T1 T2, types full_member."""
    parts = [f"domain {filters.get('domain')}"]
    if filters.get("teams"):
        parts.append("workspaces " + " ".join(str(t) for t in filters["teams"]))
    if filters.get("types"):
        parts.append("types " + " ".join(str(t) for t in filters["types"]))
    return ", ".join(parts)


@dataclass(frozen=True)
class Counts:
    """A batch's items by outcome (None: not taken yet)."""

    total: int
    by: Counter[str | None] = field(default_factory=Counter)

    def of(self, *outcomes: str | None) -> int:
        return sum(self.by.get(outcome, 0) for outcome in outcomes)

    @property
    def decided(self) -> int:
        """Decided as the batch asked (approved, with or without the invitation sent, or denied)."""
        return self.of(APPROVED, DENIED, INVITE_FAILED)

    @property
    def untaken(self) -> int:
        return self.of(None)

    @property
    def under_way(self) -> int:
        return self.of(DECIDING)

    def words(self, action: str) -> str:
        """For the audit log: 118 approved, 2 elsewhere, 0 failed (and the rarer outcomes when there are any)."""
        past = "approved" if action == "approve" else "denied"
        parts = [f"{self.decided} {past}", f"{self.of(ELSEWHERE)} elsewhere", f"{self.of(FAILED)} failed"]
        for outcome in (GONE, APPROVAL_RECORDED, SELF_REQUESTED, CANCELLED_ITEM, INVITE_FAILED):
            if self.of(outcome):
                parts.append(f"{self.of(outcome)} {outcome}")
        return f"{', '.join(parts)} of {self.total}"


def counts(session: Session, batch_id: int) -> Counts:
    rows = session.execute(
        select(BatchItem.outcome, func.count()).where(BatchItem.batch_id == batch_id).group_by(BatchItem.outcome)
    ).all()
    by: Counter[str | None] = Counter({outcome: int(n) for outcome, n in rows})
    return Counts(total=sum(by.values()), by=by)
