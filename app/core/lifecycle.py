"""A request's life: its statuses, the moves allowed between them, and the only code that changes a request's status.

Every move is one conditional UPDATE (its rowcount picks the single winner on SQLite and PostgreSQL alike) and its
audit entry, in the caller's transaction.

| move    | from               | to                                          | made by                                              |
|---------|--------------------|---------------------------------------------|------------------------------------------------------|
| claim   | pending            | deciding                                    | decide(): an approver asked; one winner              |
| settle  | deciding           | approved, denied, approved_invite_failed, gone | the claim's holder, once Slack answered its call  |
| release | deciding           | pending                                     | the claim's holder when Slack's answer left it open; sync for a claim no job will finish |
| close   | pending, deciding  | approved, denied, approved_invite_failed, gone | sync (it left Slack's pending list); an answer that came after sync reopened it |
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, bindparam, case, func, literal_column, null, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningUpdate

from app.core import audit, team_access
from app.core.audit import now
from app.core.policy.rules import Mode, Then
from app.store.models import Action, InviteRequest, RequestCard, Source, Status

PENDING, DECIDING = Status.PENDING.value, Status.DECIDING.value
APPROVED, DENIED = Status.APPROVED.value, Status.DENIED.value
INVITE_FAILED, GONE = Status.APPROVED_INVITE_FAILED.value, Status.GONE.value

OPEN = (PENDING, DECIDING)
CLOSED = (APPROVED, DENIED, INVITE_FAILED, GONE)
DECIDED = (APPROVED, DENIED, INVITE_FAILED)  # closed by a decision: the requesters hear how it ended
APPROVED_STATES = (APPROVED, INVITE_FAILED)

# A closed status, as the verdict a policy rule would have given for it (what "the policy agreed" compares).
_VERDICT_FOR = {APPROVED: Action.APPROVE.value, INVITE_FAILED: Action.APPROVE.value, DENIED: Action.DENY.value}
AGREED, DISAGREED = "policy_agreed", "policy_disagreed"

_CLAIM_CLEARED: dict[str, Any] = {
    "claim_owner": None,
    "claim_action": None,
    "claim_actor": None,
    "claim_source": None,
    "claimed_at": None,
    "call_at": None,
    "slack_wait_until": None,
}


@dataclass(frozen=True)
class Move:
    """One row of the table above."""

    name: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]


CLAIM = Move("claim", (PENDING,), (DECIDING,))
SETTLE = Move("settle", (DECIDING,), CLOSED)
RELEASE = Move("release", (DECIDING,), (PENDING,))
CLOSE = Move("close", OPEN, CLOSED)
MOVES = (CLAIM, SETTLE, RELEASE, CLOSE)


def allowed(source: str, target: str) -> bool:
    """Whether any move takes a request from `source` to `target`."""
    return any(source in move.sources and target in move.targets for move in MOVES)


_STATUS_AFTER = {Action.APPROVE.value: APPROVED, Action.DENY.value: DENIED}


def status_after(action: str) -> str:
    """Where a decision Slack carried out leaves the request."""
    return _STATUS_AFTER[action]


@dataclass(frozen=True)
class Entry:
    """The audit entry a move writes: a new one, or the outcome of the attempt logged at its claim (`log_id`)."""

    source: str
    outcome: str
    actor_id: str | None = None
    action: str = ""
    detail: str | None = None
    log_id: int | None = None

    def write(self, session: Session, request_id: str) -> None:
        if self.log_id is not None:
            audit.finish(session, self.log_id, source=self.source, outcome=self.outcome, detail=self.detail)
        else:
            audit.record(
                session,
                request_id=request_id,
                actor_id=self.actor_id,
                action=self.action,
                source=self.source,
                outcome=self.outcome,
                detail=self.detail,
            )


@dataclass(frozen=True)
class Closing:
    """How a request ended: its closed status, who decided it, from which surface, the deny reason."""

    status: str
    decided_by: str | None
    source: str
    reason: str | None = None
    at: datetime = field(default_factory=now)

    @property
    def by_a_person(self) -> bool:
        """A decision made by someone (here or in Slack's admin pages), which a policy's verdict can be compared with."""
        return self.status in _VERDICT_FOR and self.source != Source.POLICY.value

    def values(self) -> dict[str, Any]:
        return {
            "decided_by": self.decided_by,
            "decided_at": self.at,
            "decision_source": self.source,
            "deny_reason": self.reason,
            **_closed_values(self.status, self.by_a_person),
        }

    def params(self) -> dict[str, Any]:
        """values() that vary from one closing to the next, for a statement built once (_settle_statement)."""
        return {"new_decided_by": self.decided_by, "new_decided_at": self.at, "new_source": self.source, "new_reason": self.reason}


def _closed_values(status: str, by_a_person: bool) -> dict[str, Any]:
    """What every closing to `status` sets besides who, when, from where and why: the claim cleared and, for a decision
    made by a person, whether the policy agreed."""
    values = dict(_CLAIM_CLEARED)
    if by_a_person:
        verdict = InviteRequest.policy_verdict
        several = and_(verdict == Then.REQUIRE_APPROVALS.value, InviteRequest.policy_mode == Mode.SHADOW.value)
        values["policy_agreed"] = case(
            (verdict.in_(tuple(_STATUS_AFTER)), verdict == _VERDICT_FOR[status]),
            (several, _one_enough(status)),
            else_=null(),
        )
    return values


def _one_enough(status: str) -> ColumnElement[bool]:
    """A shadow require_approvals rule: one person's deny is what it would allow; one person's approval only when it
    asks for a single approval."""
    if status == DENIED:
        return true()
    return func.coalesce(InviteRequest.approvals_needed, 2) <= 1


@dataclass(frozen=True)
class Moved:
    """A request a move has just changed, as its row reads now: what the caller does next depends on these."""

    team_id: str | None
    in_digest: bool
    policy_rule: str | None
    policy_verdict: str | None
    policy_agreed: bool | None
    copies: tuple[tuple[str, str], ...] | None = None  # its posted card copies (channel, ts), when the move read them
    told: Told | None = None  # its requesters, when the move also marked them told (settle's `told_at`)


@dataclass(frozen=True)
class Told:
    """The requesters a settle marked told (`marked`; False: they were told before), and why they are not, if not."""

    requester_ids: tuple[str, ...]
    untold: str | None
    marked: bool


_REQUESTS = cast(Table, InviteRequest.__table__)
_MOVED = (
    _REQUESTS.c.team_id,
    _REQUESTS.c.in_digest,
    _REQUESTS.c.policy_rule,
    _REQUESTS.c.policy_verdict,
    _REQUESTS.c.policy_agreed,
)


def _moved(row: Row[Any] | None) -> Moved | None:
    return None if row is None else Moved(row.team_id, bool(row.in_digest), row.policy_rule, row.policy_verdict, row.policy_agreed)


# The request's posted card copies as one string, "channel ts" each, read by the settle for the cards it queues. Its
# request id is named in full: SQLite's RETURNING leaves the table off, and request_cards has an id of its own.
_POSTED = cast(Table, RequestCard.__table__).alias("posted")
_POSTED_COPIES = (
    select(func.aggregate_strings(_POSTED.c.channel + " " + _POSTED.c.ts, ","))
    .where(_POSTED.c.request_id == literal_column(f"{_REQUESTS.name}.id"), _POSTED.c.ts.is_not(None))
    .scalar_subquery()
    .label("copies")
)


def _copies(posted: str | None) -> tuple[tuple[str, str], ...]:
    pairs = (copy.split(" ", 1) for copy in (posted or "").split(",") if copy)
    return tuple((channel, ts) for channel, ts in pairs)


def _audit_agreement(session: Session, request_id: str, closing: Closing, row: Moved) -> None:
    """Shadow mode's evidence: whether the person who decided did what the matching rule would have done."""
    if row.policy_agreed is None:
        return
    audit.record(
        session,
        request_id=request_id,
        actor_id=row.policy_rule,
        action=row.policy_verdict or "",
        source=Source.POLICY.value,
        outcome=AGREED if row.policy_agreed else DISAGREED,
        detail=f"rule {row.policy_rule} would {row.policy_verdict}; {closing.decided_by or 'someone'} made it {closing.status}",
    )


def _move(
    session: Session,
    request_id: str,
    move: Move,
    target: str,
    values: dict[str, Any],
    guards: list[ColumnElement[bool]],
    entry: Entry | None,
) -> Moved | None:
    """The move, and the row as it reads after it (read by the same statement); None when it did not apply."""
    if target not in move.targets:
        raise ValueError(f"{move.name} cannot take a request to {target}")
    moved = _moved(
        session.execute(
            update(InviteRequest)
            .where(InviteRequest.id == request_id, InviteRequest.status.in_(move.sources), *guards)
            .values(status=target, **values)
            .returning(*_MOVED)
            .execution_options(synchronize_session=False)  # callers read the row again when they need it
        ).first()
    )
    if moved is not None and entry is not None:
        entry.write(session, request_id)
    return moved


# A request that waits for no other approver before its decision: no enforced policy rule asks for several.
ONE_DECIDER = or_(
    InviteRequest.policy_mode.is_(None),
    InviteRequest.policy_mode != Mode.ENFORCE.value,
    func.coalesce(InviteRequest.approvals_needed, 0) <= 1,
)


@dataclass(frozen=True)
class Claimed:
    """A claim taken: its attempt's audit entry, and the request's workspace and email."""

    log_id: int
    team_id: str
    email: str


def claim(
    session: Session, request_id: str, *, owner: str, action: str, actor_id: str, source: str, batch_id: int | None = None
) -> int | None:
    """pending -> deciding for one winner; its attempt is logged as `calling` before Slack is asked (returns the log id).

    If this process dies before Slack's answer is recorded, that entry still says whose call a decision Slack carried
    out was. `batch_id`: the bulk decision the attempt is part of, kept on its entry.
    """
    if _move(session, request_id, CLAIM, DECIDING, _claim_values(owner, action, actor_id, source), [], None) is None:
        return None
    return audit.begin(session, request_id=request_id, actor_id=actor_id, action=action, source=source, batch_id=batch_id)


def _claim_placed_statement(*guards: ColumnElement[bool]) -> ReturningUpdate[Any]:
    """claim_placed()'s statement, built once: every click's claim runs it."""
    t = _REQUESTS
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in ("claim_owner", "claim_action", "claim_actor", "claim_source", "claimed_at")}
    return (
        update(t)
        .where(t.c.id == bindparam("request_id"), t.c.status.in_(CLAIM.sources), t.c.team_id.is_not(None), *guards)
        .values(status=DECIDING, **values)
        .returning(t.c.team_id, t.c.email)
    )


_CLAIM_PLACED = {False: _claim_placed_statement(), True: _claim_placed_statement(ONE_DECIDER)}


def claim_placed(
    session: Session,
    request_id: str,
    *,
    owner: str,
    action: str,
    actor_id: str,
    source: str,
    batch_id: int | None = None,
    one_decider: bool = False,
) -> Claimed | None:
    """claim() of a request placed in a workspace (and, `one_decider`, that waits for no other approver: ONE_DECIDER),
    reading what the call needs in the same statement; None when it is not pending, not placed or not one decider's
    (claim() tells these apart)."""
    params = {f"new_{name}": value for name, value in _claim_values(owner, action, actor_id, source).items()}
    row = session.execute(_CLAIM_PLACED[one_decider], {"request_id": request_id, **params}).first()
    if row is None:
        return None
    log_id = audit.begin(session, request_id=request_id, actor_id=actor_id, action=action, source=source, batch_id=batch_id)
    return Claimed(log_id, str(row.team_id), str(row.email))


def _claim_values(owner: str, action: str, actor_id: str, source: str) -> dict[str, Any]:
    return {"claim_owner": owner, "claim_action": action, "claim_actor": actor_id, "claim_source": source, "claimed_at": now()}


def schedule(
    session: Session, request_id: str, owner: str, call_at: datetime | None, *, slack_wait_until: datetime | None = None
) -> None:
    """When the claim's call may go out (None: at once), and until when Slack asked us to wait (None: the wait is our pace);
    the status does not change."""
    session.execute(
        update(InviteRequest)
        .where(InviteRequest.id == request_id, InviteRequest.claim_owner == owner)
        .values(call_at=call_at, slack_wait_until=slack_wait_until)
    )


def settle(
    session: Session, request_id: str, owner: str, closing: Closing, entry: Entry, *, told_at: datetime | None = None
) -> Moved | None:
    """deciding -> closed, only while `owner` still holds the claim (every decision's end: its statement is built once);
    what it returns names the request's posted card copies too. `told_at`: the requesters are marked told then, unless
    they were before, in the same statement (app.core.decisions.queue_told queues their DMs)."""
    if closing.status not in SETTLE.targets:
        raise ValueError(f"settle cannot take a request to {closing.status}")
    statement = _settle_statement(closing.status, closing.by_a_person, told_at is not None)
    params = {"request_id": request_id, "owner": owner, "told_at": told_at, **closing.params()}
    row = session.execute(statement, params).first()
    moved = _moved(row)
    if row is None or moved is None:
        return None
    told = None
    if told_at is not None:  # marked by this statement only if the moment it wrote is this one
        told = Told(tuple(row.requester_ids or ()), row.requesters_untold, row.requesters_notified_at == told_at)
    moved = replace(moved, copies=_copies(row.copies), told=told)
    entry.write(session, request_id)
    if closing.by_a_person:
        _audit_agreement(session, request_id, closing, moved)
    return moved


@functools.cache
def _settle_statement(status: str, by_a_person: bool, mark_told: bool) -> ReturningUpdate[Any]:
    t = _REQUESTS
    given: dict[str, Any] = {
        "decided_by": bindparam("new_decided_by"),
        "decided_at": bindparam("new_decided_at"),
        "decision_source": bindparam("new_source"),
        "deny_reason": bindparam("new_reason"),
    }
    told: dict[str, Any] = {}
    returned: tuple[Any, ...] = ()
    if mark_told:  # as app.core.decisions marks them, once: a workspace whose access was revoked keeps them untold
        untold = t.c.requesters_notified_at.is_(None)
        told = {
            "requesters_notified_at": func.coalesce(
                t.c.requesters_notified_at, bindparam("told_at", type_=t.c.requesters_notified_at.type)
            ),
            "requesters_untold": case(
                (and_(untold, team_access.revoked_in(t.c.team_id)), team_access.REVOKED), else_=t.c.requesters_untold
            ),
        }
        returned = (t.c.requester_ids, t.c.requesters_untold, t.c.requesters_notified_at)
    return (
        update(t)
        .where(t.c.id == bindparam("request_id"), t.c.status.in_(SETTLE.sources), t.c.claim_owner == bindparam("owner"))
        .values(status=status, **given, **_closed_values(status, by_a_person), **told)
        .returning(*_MOVED, _POSTED_COPIES, *returned)
    )


def _closed(
    session: Session, request_id: str, move: Move, closing: Closing, guards: list[ColumnElement[bool]], entry: Entry
) -> Moved | None:
    moved = _move(session, request_id, move, closing.status, closing.values(), guards, entry)
    if moved is not None and closing.by_a_person:
        _audit_agreement(session, request_id, closing, moved)
    return moved


def release(
    session: Session, request_id: str, entry: Entry, *, owner: str | None = None, guards: list[ColumnElement[bool]] | None = None
) -> bool:
    """deciding -> pending: by the claim's holder (`owner`), or by sync under its own `guards` (a claim nobody will finish)."""
    conditions = list(guards or [])
    if owner is not None:
        conditions.append(InviteRequest.claim_owner == owner)
    return _move(session, request_id, RELEASE, PENDING, dict(_CLAIM_CLEARED), conditions, entry) is not None


def close(
    session: Session,
    request_id: str,
    closing: Closing,
    entry: Entry,
    *,
    only_from: tuple[str, ...] = OPEN,
    guards: list[ColumnElement[bool]] | None = None,
) -> Moved | None:
    """open -> closed, for a request that left Slack's pending list (or whose late answer closes it after all)."""
    conditions = [InviteRequest.status.in_(only_from), *(guards or [])]
    return _closed(session, request_id, CLOSE, closing, conditions, entry)
