"""The table of moves on a database: each move changes a request's status only from its allowed sources, picks one
winner, and writes its audit entry in the caller's transaction (a rolled-back transaction leaves neither).

The table itself is checked as data in tests/unit/core/test_lifecycle.py."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.core import lifecycle
from app.core.lifecycle import Closing, Entry
from app.store.db import make_engine, make_session_factory
from app.store.migrate import upgrade_to_head
from app.store.models import DecisionLog, InviteRequest, Status
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, GROUP_APPROVER, REQUESTER, TEAM

STATUSES = [status.value for status in Status]
CLOSED = ["approved", "denied", "approved_invite_failed", "gone"]


class Interrupted(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _request(sessions, status="pending", *, owner=None):
    """A stored request in `status` (a deciding one held by `owner`); returns its id."""
    request_id = f"Ir{uuid.uuid4().hex[:10].upper()}"
    moment = datetime.now(timezone.utc)
    held = status == "deciding"
    with sessions.begin() as session:
        session.add(
            InviteRequest(
                id=request_id,
                team_id=TEAM,
                email=f"{request_id.lower()}@example.com",
                requester_ids=[REQUESTER],
                channel_ids=[],
                invite_type="full_member",
                date_created=moment,
                status=status,
                decided_by=APPROVER if status in CLOSED else None,
                claim_owner=(owner or "replica-a:claim") if held else None,
                claim_action="approve" if held else None,
                claim_actor=APPROVER if held else None,
                claim_source="button" if held else None,
                claimed_at=moment if held else None,
                first_seen=moment,
                last_seen=moment,
            )
        )
    return request_id


def _row(sessions, request_id):
    with sessions() as session:
        return session.get(InviteRequest, request_id)


def _entries(sessions, request_id):
    with sessions() as session:
        return session.scalars(select(DecisionLog).where(DecisionLog.request_id == request_id).order_by(DecisionLog.id)).all()


def _claim(session, request_id, owner="replica-b:claim", actor=GROUP_APPROVER):
    return lifecycle.claim(session, request_id, owner=owner, action="approve", actor_id=actor, source="button")


def _entry(outcome="ok"):
    return Entry("button", outcome, actor_id=GROUP_APPROVER, action="approve")


# -- one test per row: the status changes only from the row's sources, with exactly one entry ------------------


@both_databases
@pytest.mark.parametrize("source", STATUSES)
def test_claim_takes_only_a_pending_request_to_deciding(sessions, source):
    request_id = _request(sessions, source)
    before = _row(sessions, request_id)

    with sessions.begin() as session:
        log_id = _claim(session, request_id)

    row, entries = _row(sessions, request_id), _entries(sessions, request_id)
    if source == "pending":
        assert log_id is not None
        assert (row.status, row.claim_owner, row.claim_actor, row.claim_action) == (
            "deciding",
            "replica-b:claim",
            GROUP_APPROVER,
            "approve",
        )
        assert row.claimed_at is not None
        assert [(e.id, e.actor_id, e.outcome) for e in entries] == [(log_id, GROUP_APPROVER, "calling")]
    else:
        assert log_id is None
        assert (row.status, row.claim_owner) == (source, before.claim_owner)
        assert entries == []


@both_databases
@pytest.mark.parametrize("source", STATUSES)
def test_settle_closes_only_a_deciding_request_and_only_for_its_holder(sessions, source):
    request_id = _request(sessions, source, owner="replica-a:claim")
    closing = Closing("approved", APPROVER, "button")

    with sessions.begin() as session:
        by_other = lifecycle.settle(session, request_id, "replica-z:not-the-holder", closing, _entry())
    assert not by_other
    assert _row(sessions, request_id).status == source and _entries(sessions, request_id) == []

    with sessions.begin() as session:
        applied = lifecycle.settle(session, request_id, "replica-a:claim", closing, _entry())

    row, entries = _row(sessions, request_id), _entries(sessions, request_id)
    if source == "deciding":
        assert applied
        assert (row.status, row.decided_by, row.decision_source, row.claim_owner, row.claimed_at) == (
            "approved",
            APPROVER,
            "button",
            None,
            None,
        )
        assert [e.outcome for e in entries] == ["ok"]
    else:
        assert not applied
        assert row.status == source
        assert entries == []


@both_databases
@pytest.mark.parametrize("target", CLOSED)
def test_settle_reaches_every_closed_status(sessions, target):
    request_id = _request(sessions, "deciding", owner="replica-a:claim")

    with sessions.begin() as session:
        assert lifecycle.settle(session, request_id, "replica-a:claim", Closing(target, APPROVER, "button"), _entry(target))

    assert _row(sessions, request_id).status == target
    assert [e.outcome for e in _entries(sessions, request_id)] == [target]


@both_databases
def test_settle_finishes_the_attempt_its_claim_logged_instead_of_adding_one(sessions):
    request_id = _request(sessions)
    with sessions.begin() as session:
        log_id = _claim(session, request_id, owner="replica-b:claim")

    with sessions.begin() as session:
        entry = Entry("button", "ok", log_id=log_id)
        assert lifecycle.settle(session, request_id, "replica-b:claim", Closing("approved", GROUP_APPROVER, "button"), entry)

    assert [(e.id, e.actor_id, e.outcome) for e in _entries(sessions, request_id)] == [(log_id, GROUP_APPROVER, "ok")]
    assert _row(sessions, request_id).status == "approved"


@both_databases
@pytest.mark.parametrize("source", STATUSES)
def test_release_reopens_only_a_deciding_request(sessions, source):
    request_id = _request(sessions, source, owner="replica-a:claim")

    with sessions.begin() as session:
        assert not lifecycle.release(session, request_id, _entry("released"), owner="replica-z:not-the-holder")
    assert _row(sessions, request_id).status == source and _entries(sessions, request_id) == []

    with sessions.begin() as session:
        applied = lifecycle.release(session, request_id, _entry("released"), owner="replica-a:claim")

    row, entries = _row(sessions, request_id), _entries(sessions, request_id)
    if source == "deciding":
        assert applied
        assert (row.status, row.claim_owner, row.claim_actor, row.claimed_at, row.call_at) == ("pending", None, None, None, None)
        assert [e.outcome for e in entries] == ["released"]
    else:
        assert not applied
        assert row.status == source
        assert entries == []


@both_databases
@pytest.mark.parametrize("source", STATUSES)
def test_close_closes_only_an_open_request(sessions, source):
    request_id = _request(sessions, source)
    closing = Closing("denied", "W0SOMEONE1", "outside", reason="not now")

    with sessions.begin() as session:
        applied = lifecycle.close(
            session, request_id, closing, Entry("sync", "denied_outside", actor_id="W0SOMEONE1", action="deny")
        )

    row, entries = _row(sessions, request_id), _entries(sessions, request_id)
    if source in ("pending", "deciding"):
        assert applied
        assert (row.status, row.decided_by, row.decision_source, row.deny_reason, row.claim_owner) == (
            "denied",
            "W0SOMEONE1",
            "outside",
            "not now",
            None,
        )
        assert [(e.source, e.outcome) for e in entries] == [("sync", "denied_outside")]
    else:
        assert not applied
        assert (row.status, row.decided_by) == (source, APPROVER)
        assert entries == []


@both_databases
def test_close_only_from_narrows_the_sources(sessions):
    deciding = _request(sessions, "deciding")

    with sessions.begin() as session:
        applied = lifecycle.close(session, deciding, Closing("approved", APPROVER, "button"), _entry(), only_from=("pending",))

    assert not applied
    assert _row(sessions, deciding).status == "deciding" and _entries(sessions, deciding) == []


# -- a move to a status its row does not allow ------------------------------------------------------------------


@both_databases
@pytest.mark.parametrize("target", ["pending", "deciding"])
def test_settle_or_close_to_an_open_status_raises_and_changes_nothing(sessions, target):
    deciding = _request(sessions, "deciding", owner="replica-a:claim")
    pending = _request(sessions, "pending")

    with sessions.begin() as session:
        with pytest.raises(ValueError):
            lifecycle.settle(session, deciding, "replica-a:claim", Closing(target, APPROVER, "button"), _entry())
        with pytest.raises(ValueError):
            lifecycle.close(session, pending, Closing(target, APPROVER, "button"), _entry())
        with pytest.raises(ValueError):
            lifecycle.close(session, deciding, Closing(target, APPROVER, "button"), _entry())

    assert (_row(sessions, deciding).status, _row(sessions, pending).status) == ("deciding", "pending")
    assert _entries(sessions, deciding) == [] and _entries(sessions, pending) == []


@pytest.mark.parametrize("move", lifecycle.MOVES, ids=lambda move: move.name)
def test_every_row_refuses_a_target_outside_its_own(sessions, move):
    """claim and release name their one target themselves; the rule behind all four is the row's own targets."""
    outside = [status for status in STATUSES if status not in move.targets]
    request_id = _request(sessions, move.sources[0])

    for target in outside:
        with sessions.begin() as session:
            with pytest.raises(ValueError):
                lifecycle._move(session, request_id, move, target, {}, [], _entry())

    assert _row(sessions, request_id).status == move.sources[0]
    assert _entries(sessions, request_id) == []


# -- one winner -------------------------------------------------------------------------------------------------


@both_databases
def test_exactly_one_of_two_concurrent_claims_wins(sessions):
    rounds = 12
    request_ids = [_request(sessions) for _ in range(rounds)]
    results: dict[str, dict[str, int | None]] = {request_id: {} for request_id in request_ids}
    errors: list[BaseException] = []

    def claimer(name, barrier, request_id):
        try:
            barrier.wait(timeout=10)
            with sessions.begin() as session:
                results[request_id][name] = _claim(session, request_id, owner=f"{name}:claim", actor=name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for request_id in request_ids:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=claimer, args=(name, barrier, request_id)) for name in ("W0FIRST001", "W0SECOND01")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    for request_id in request_ids:
        winners = [name for name, log_id in results[request_id].items() if log_id is not None]
        assert len(results[request_id]) == 2 and len(winners) == 1, results[request_id]
        row = _row(sessions, request_id)
        assert (row.status, row.claim_owner, row.claim_actor) == ("deciding", f"{winners[0]}:claim", winners[0])
        assert [(e.actor_id, e.outcome) for e in _entries(sessions, request_id)] == [(winners[0], "calling")]


@both_databases
def test_a_claim_waiting_behind_an_open_claim_loses_once_that_one_commits(sessions):
    """The second claim runs while the first one's transaction is still open; it must not win too."""
    request_id = _request(sessions)
    second: dict[str, int | None] = {}
    first_done = threading.Event()

    with sessions.begin() as session:
        first = _claim(session, request_id, owner="first:claim", actor="W0FIRST001")
        assert first is not None

        def claim_second():
            with sessions.begin() as other:
                second["log_id"] = _claim(other, request_id, owner="second:claim", actor="W0SECOND01")
            first_done.set()

        thread = threading.Thread(target=claim_second)
        thread.start()
        assert not first_done.wait(0.3), "a second claim went through while the first one's transaction was open"
    thread.join(timeout=30)

    assert second == {"log_id": None}
    assert _row(sessions, request_id).claim_owner == "first:claim"
    assert [e.actor_id for e in _entries(sessions, request_id)] == ["W0FIRST001"]


# -- the entry and the move share one transaction ----------------------------------------------------------------


def _apply(name, session, request_id):
    if name == "claim":
        return _claim(session, request_id, owner="replica-b:claim") is not None
    if name == "settle":
        return lifecycle.settle(session, request_id, "replica-a:claim", Closing("approved", APPROVER, "button"), _entry())
    if name == "release":
        return lifecycle.release(session, request_id, _entry("released"), owner="replica-a:claim")
    return lifecycle.close(session, request_id, Closing("approved", APPROVER, "outside"), _entry("approved_outside"))


MOVE_SOURCE = {"claim": "pending", "settle": "deciding", "release": "deciding", "close": "pending"}
MOVE_TARGET = {"claim": "deciding", "settle": "approved", "release": "pending", "close": "approved"}


@both_databases
@pytest.mark.parametrize("name", list(MOVE_SOURCE))
def test_a_rolled_back_move_leaves_neither_the_status_nor_the_entry(sessions, name):
    request_id = _request(sessions, MOVE_SOURCE[name], owner="replica-a:claim")

    with pytest.raises(Interrupted):
        with sessions.begin() as session:
            assert _apply(name, session, request_id)
            session.flush()
            raise Interrupted

    assert _row(sessions, request_id).status == MOVE_SOURCE[name]
    assert _entries(sessions, request_id) == []


@both_databases
@pytest.mark.parametrize("name", list(MOVE_SOURCE))
def test_an_applied_move_and_its_one_entry_appear_together_at_commit(sessions, name):
    request_id = _request(sessions, MOVE_SOURCE[name], owner="replica-a:claim")

    with sessions.begin() as session:
        assert _apply(name, session, request_id)
        session.flush()
        with session.no_autoflush:
            mine = session.scalar(select(func.count()).select_from(DecisionLog).where(DecisionLog.request_id == request_id))
        assert mine == 1
        if sessions.kw["bind"].dialect.name == "postgresql":  # SQLite's one writer holds the lock: nobody reads this
            assert _row(sessions, request_id).status == MOVE_SOURCE[name]
            assert _entries(sessions, request_id) == []

    assert _row(sessions, request_id).status == MOVE_TARGET[name]
    assert len(_entries(sessions, request_id)) == 1
