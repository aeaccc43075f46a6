"""The outbox: Slack work written as jobs in the transaction that made it necessary, done by any replica's workers.

A job survives a crash or a restart: a `running` job whose lease ran out belonged to a replica that died, and is taken
again. Its row is the reservation of the work it does; a run that may repeat work an earlier one did (`Job.retaken`)
looks in Slack first (app.slack.jobs.once), so a person is told once. Lanes keep the order people feel: admin calls (the decisions), then the clicker's answer and the cards, then
requester DMs and App Homes. A job that fails is tried again with backoff; one that can never succeed is kept as
`dead`, logged, and shown in /metrics, `invitebot outbox` and the App Home.
"""

from __future__ import annotations

import contextvars
import enum
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, delete, event, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import logs
from app.core import pacing
from app.core.audit import now
from app.metrics import OUTBOX_DONE, OUTBOX_FAILED
from app.store.dml import changed
from app.store.models import OutboxJob
from app.store.wakeup import announce

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)  # a running job not renewed for this long belonged to a replica that died
POLL_SECONDS = 1.0  # how often the dispatcher looks for leases that ran out, and for jobs nothing woke it for
MAX_ATTEMPTS = 6
STOP_DRAIN_SECONDS = 10.0
SOON = timedelta(seconds=2)  # work due this soon counts as due for anyone waiting until the outbox is idle
DRAIN_POLL_SECONDS = 0.05  # how often a drain looks whether what it waits for is done (by any process)
MAX_BACKOFF_SECONDS = 300.0
_NEVER = datetime.max.replace(tzinfo=timezone.utc)


class Lane(enum.IntEnum):
    """Each lane has its own workers, so a slow admin call never holds up an answer or a card."""

    DECIDE = 0
    FIRST = 1
    LATER = 2
    ASK = 3  # decisions asked for and not yet decided (app.core.asks): never behind an admin call that waits for Slack


# Every kind of job and its lane.
KINDS = {
    "ask": Lane.ASK,  # a click or a submitted Deny form, written before the ack: decide() for it
    "decide": Lane.DECIDE,
    "batch": Lane.DECIDE,  # a bulk decision's feeder: decide() for its next items as their pace slots come near
    "answer": Lane.FIRST,
    "post_card": Lane.FIRST,  # a request's card, posted once in its channel
    "card": Lane.FIRST,  # one posted copy of a card, re-rendered from its row
    "batch_progress": Lane.FIRST,  # a bulk decision's progress message
    "post_digest": Lane.FIRST,  # a workspace's backlog digest card, posted once
    "digest": Lane.FIRST,  # a workspace's backlog digest card, re-rendered when its numbers may read differently
    "notify": Lane.LATER,
    "home": Lane.LATER,
    "remind": Lane.LATER,
    "escalate": Lane.LATER,
    "expires": Lane.LATER,
}
WORKERS = {Lane.DECIDE: 8, Lane.FIRST: 8, Lane.LATER: 4, Lane.ASK: 4}
STARTS_DECISIONS = (Lane.DECIDE, Lane.ASK)  # the lanes a stopping process takes no more jobs from

QUEUED, RUNNING, DEAD = "queued", "running", "dead"
# A payload key: this job takes over work an earlier job may have done (a post whose answer was lost); its value is the
# Unix time that work was first queued at.
TAKES_OVER = "takes_over"
# The last_error of a job held back, not attempted, because its scope takes no such work now (app.core.holds): it waits
# for whoever lifts the hold, and nothing waiting for the outbox to finish waits for it.
HELD = "held: "


class Retry(Exception):
    """Try this job again later: after `seconds`, or at the next free slot of a pace (its 429s do not count as attempts)."""

    def __init__(self, error: str, seconds: float = 0.0, *, pace: tuple[pacing.Pace, str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.seconds = seconds
        self.pace = pace


class GiveUp(Exception):
    """This job can never succeed (Slack's answer will not change by asking again)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Job:
    id: int
    kind: str
    request_id: str | None
    payload: dict[str, Any]
    attempts: int
    owner: str
    # Set by postpone(): the row is queued again and may already be this process's next claim, so finishing this run
    # must not delete it.
    handed_back: bool = False
    completed: bool = False  # set by complete(): finishing this run has nothing left to write
    # The context of the work that queued a job this process runs itself: its log lines carry that work's request id.
    context: contextvars.Context | None = field(default=None, repr=False, compare=False)
    created_at: datetime | None = None  # when the job was queued

    @property
    def retaken(self) -> bool:
        """An earlier run may have done this job's Slack work already (it died mid-post and its lease ran out, or it lost
        Slack's answer and was tried again), or it takes over such a run's work (TAKES_OVER in its payload): a post
        looks for its message before posting again."""
        return self.attempts > 1 or bool(self.payload.get(TAKES_OVER))

    @property
    def began(self) -> datetime | None:
        """When the work this job does was first queued (by the job it takes over, if any): nothing it posted is older."""
        taken_over = self.payload.get(TAKES_OVER)
        return datetime.fromtimestamp(float(taken_over), timezone.utc) if taken_over else self.created_at

    def complete(self, session: Session) -> bool:
        """Mark the job done in the caller's transaction (with the work it did); False if another replica took it over."""
        self.completed = True
        done = session.execute(_COMPLETE, {"job_id": self.id, "owner": self.owner})
        return cast(CursorResult[Any], done).rowcount > 0


    def postpone(self, session: Session, until: datetime, error: str, *, payload: dict[str, Any] | None = None) -> None:
        """Back in the queue until `until`, in the caller's transaction, without counting this as a failed attempt;
        `payload` replaces the job's own (what it has done towards its work meanwhile)."""
        more = {} if payload is None else {"payload": payload}
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == self.id, OutboxJob.locked_by == self.owner)
            .values(
                state=QUEUED, not_before=until, locked_by=None, locked_until=None, last_error=error[:64], attempts=OutboxJob.attempts - 1,
                **more,
            )
        )
        self.handed_back = True

    def hold(self, session: Session, until: datetime, why: str) -> None:
        """Back in the queue, not attempted, until `until` or until the hold on its scope is lifted (due_again)."""
        self.postpone(session, until, f"{HELD}{why}")


def held_jobs(session: Session, kinds: frozenset[str]) -> list[OutboxJob]:
    """The queued jobs of `kinds` that are held (Job.hold), oldest first."""
    return list(
        session.scalars(
            select(OutboxJob)
            .where(OutboxJob.kind.in_(sorted(kinds)), OutboxJob.state == QUEUED, _held())
            .order_by(OutboxJob.not_before, OutboxJob.id)
        ).all()
    )


def due_again(session: Session, job: OutboxJob, at: datetime) -> None:
    """A held job is due at `at`, its hold lifted. One never attempted counts as queued now, so what waits for the work
    queued since a moment (drain) waits for it too; one attempted before keeps its age, within which it looks for what
    an earlier attempt may have posted (Job.began)."""
    again = {"created_at": now()} if job.attempts == 0 else {}
    session.execute(
        update(OutboxJob).where(OutboxJob.id == job.id, OutboxJob.state == QUEUED).values(not_before=at, last_error=None, **again)
    )


_BATCH = "invitebot_outbox_batch"  # Session.info key: the jobs add() was given inside Outbox.batched()


@dataclass(frozen=True)
class _New:
    """A job add() was given, not written yet."""

    kind: str
    payload: dict[str, Any]
    request_id: str | None
    not_before: datetime | None
    here: bool
    key: str | None
    at: datetime

    def values(self, owner: str, here: bool) -> dict[str, Any]:
        """Its row: taken by this process at once (`here`), or queued for any replica's dispatcher."""
        return {
            "kind": self.kind,
            "lane": int(KINDS[self.kind]),
            "request_id": self.request_id,
            "key": self.key,
            "payload": self.payload,
            "state": RUNNING if here else QUEUED,
            "not_before": self.not_before or self.at,
            "attempts": 1 if here else 0,
            "locked_by": owner if here else None,
            "locked_until": self.at + LEASE if here else None,
            "created_at": self.at,
        }


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows in one statement; their ids, in the rows' order.

    SQLAlchemy sends one statement per row when asked for the ids in order on SQLite, where RETURNING's order is not
    promised; but SQLite numbers the rows of one INSERT in the order it is given them, so the ids sorted are in order.
    """
    if session.get_bind().dialect.name == "sqlite":
        return sorted(session.scalars(_INSERT, rows).all())
    return list(session.scalars(_INSERT_IN_ORDER, rows).all())


# Statements every decision runs, built once.
_JOBS = cast(Table, OutboxJob.__table__)
_INSERT = insert(_JOBS).returning(_JOBS.c.id)
_INSERT_IN_ORDER = insert(_JOBS).returning(_JOBS.c.id, sort_by_parameter_order=True)
_KEYED = select(_JOBS.c.key, _JOBS.c.state).where(_JOBS.c.key.in_(bindparam("keys", expanding=True)), _JOBS.c.state.in_((QUEUED, DEAD)))
_COMPLETE = delete(_JOBS).where(_JOBS.c.id == bindparam("job_id"), _JOBS.c.locked_by == bindparam("owner"), _JOBS.c.state == RUNNING)


def takeover(payload: dict[str, Any], began: datetime | None) -> dict[str, Any]:
    """The payload of a job taking over work an earlier job began at `began` and may have done (None: nothing taken over)."""
    return payload if began is None else {**payload, TAKES_OVER: began.timestamp()}


Handler = Callable[[Job], None]
GiveUpHandler = Callable[[Job, str], None]  # what to set right when a job of that kind is given up for good


class Outbox:
    """This process's share of the outbox: the dispatcher that takes due jobs, and a pool of workers per lane."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        reads: sessionmaker[Session] | None = None,
        *,
        poll: float = POLL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._poll = poll
        self._reads = reads or sessions
        self.owner = owner
        self._handlers: dict[str, Handler] = {}
        self._on_give_up: dict[str, GiveUpHandler] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._busy = {lane: 0 for lane in Lane}
        self._running: set[int] = set()
        self._pools = {lane: ThreadPoolExecutor(count, thread_name_prefix=f"invitebot-{lane.name.lower()}") for lane, count in WORKERS.items()}
        self._dispatcher: threading.Thread | None = None
        self._lanes = set(Lane)  # the lanes this process takes jobs from (a stopping one takes no new decisions)
        self._renewed = now()
        # When the dispatcher looks next on its own (the latest moment while it looks): a job due later wakes nobody.
        self._next_look = _NEVER
        self._full: set[Lane] = set()  # lanes whose last look left due jobs for lack of free workers

    def handle(self, kind: str, handler: Handler, on_give_up: GiveUpHandler | None = None) -> None:
        """This process does jobs of `kind` (a process that does not, such as `invitebot sync`, leaves them to others);
        `on_give_up` sets right what a job of that kind leaves behind when it fails for good."""
        self._handlers[kind] = handler
        if on_give_up is not None:
            self._on_give_up[kind] = on_give_up

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds of job this process does."""
        return frozenset(self._handlers)

    def add(
        self,
        session: Session,
        kind: str,
        payload: dict[str, Any],
        *,
        request_id: str | None = None,
        not_before: datetime | None = None,
        here: bool = False,
        key: str | None = None,
    ) -> None:
        """Write a job in the caller's transaction; the workers hear of it when that transaction commits.

        `here`: a job due now is taken by this process in the same transaction and handed to its workers on commit,
        with no round trip through the dispatcher (the clicker's decision, answer and cards). Should this process die
        first, its lease runs out and any replica takes the job, as for any job.

        `key`: nothing is added while a job with the same key is still queued (it will do the same work, later); a job
        with the same key that failed for good is replaced by this one, so the outbox shows what is failing now.
        """
        new = _New(kind, payload, request_id, not_before, here, key, now())
        pending = session.info.get(_BATCH)
        if pending is not None:
            pending.append(new)
        else:
            self._write(session, [new])

    @contextmanager
    def batched(self, session: Session) -> Iterator[None]:
        """The jobs add() is given inside the block are written together when it ends: one look for their keys, one
        INSERT for all of them (a transaction that queues several follow-up jobs at once)."""
        if _BATCH in session.info:
            yield  # an outer batch writes them
            return
        pending: list[_New] = []
        session.info[_BATCH] = pending
        try:
            yield
        finally:
            del session.info[_BATCH]
        if pending:
            self._write(session, pending)

    def _write(self, session: Session, new: list[_New]) -> None:
        """Insert the jobs, skipping any whose key is queued already and replacing any whose key failed for good."""
        keys = {job.key for job in new if job.key is not None}
        queued: set[str] = set()
        if keys:
            found = session.execute(_KEYED, {"keys": sorted(keys)}).all()
            queued = {str(key) for key, state in found if state == QUEUED}
            dead = sorted({str(key) for key, state in found if state == DEAD} - queued)
            if dead:
                session.execute(delete(OutboxJob).where(OutboxJob.key.in_(dead), OutboxJob.state == DEAD))
        rows, mine = [], []
        for job in new:
            if job.key is not None and job.key in queued:
                continue
            here = job.here and self._dispatcher is not None and job.kind in self._handlers
            here = here and (job.not_before is None or job.not_before <= job.at)
            if not here and job.key is not None:
                queued.add(job.key)  # a second job with this key in the same batch would wait behind this one
            rows.append(job.values(self.owner, here))
            mine.append(here)
        if not rows:
            return
        ids = _insert(session, rows)
        ours = [
            Job(job_id, row["kind"], row["request_id"], row["payload"], 1, self.owner, context=contextvars.copy_context(), created_at=row["created_at"])
            for job_id, row, here in zip(ids, rows, mine)
            if here
        ]
        if len(ours) < len(rows):
            due = min(row["not_before"] for row, here in zip(rows, mine) if not here)
            announce(session, due)  # to the workers of every process, at commit
            event.listen(session, "after_commit", lambda _session: self.wake(due), once=True)
        if not ours:
            return
        self._hold(ours)  # counted from now: waiting for idle sees them; a rollback lets go of them

        def submit(_session: Session) -> None:
            for job in ours:
                self._submit(job)

        event.listen(session, "after_commit", submit, once=True)
        event.listen(session, "after_rollback", lambda _session: self._let_go(ours), once=True)

    def add_paced(
        self,
        session: Session,
        kind: str,
        payload: dict[str, Any],
        pace: pacing.Pace | None,
        scope: str,
        *,
        request_id: str | None = None,
        key: str | None = None,
        here: bool = False,
    ) -> None:
        """Write a job due at the next free slot of `scope`'s pace, in the caller's transaction (a job whose `key` is
        queued already takes no slot: it is not added)."""
        if key is not None and self.queued(session, key):
            return
        at = pacing.take(session, pace, scope) if pace is not None else None
        self.add(session, kind, payload, request_id=request_id, not_before=at, key=key, here=here)

    @staticmethod
    def queued(session: Session, key: str, *, or_running: bool = False) -> bool:
        """A job with this key waits in the queue (or, `or_running`, is being done)."""
        states = (QUEUED, RUNNING) if or_running else (QUEUED,)
        found = session.scalar(select(OutboxJob.id).where(OutboxJob.key == key, OutboxJob.state.in_(states)).limit(1))
        return found is not None

    # -- running -----------------------------------------------------------------------------

    def wake(self, due: datetime | None = None) -> None:
        """Look for due jobs now: a job was written (app.store.wakeup hears of other processes' jobs). `due`, when
        known, is when the earliest new job may be taken: one due after the dispatcher's own next look wakes nobody."""
        if due is None or due <= self._next_look:
            self._wake.set()

    def start(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(target=self._dispatch_loop, name="invitebot-outbox", daemon=True)
            self._dispatcher.start()

    def stop(self, drain_seconds: float = STOP_DRAIN_SECONDS) -> None:
        """Start no new decision, finish what decisions made owe (answers, cards, DMs) for up to `drain_seconds`, then
        take no more jobs and let the running ones finish; queued jobs wait in the database for the next start."""
        self._lanes.difference_update(STARTS_DECISIONS)
        if self._dispatcher is not None:
            self.wait_until_idle(drain_seconds)
        self._stopping.set()
        self._wake.set()
        if self._dispatcher is not None:
            self._dispatcher.join()
        for pool in self._pools.values():
            pool.shutdown(wait=True)

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until no job of ours runs and none is due (or due within SOON); False if time ran out first."""
        deadline = now() + timedelta(seconds=timeout)
        while True:
            with self._idle:
                if not self._idle.wait_for(lambda: not self._running, max(0.0, (deadline - now()).total_seconds())):
                    return False
            if not self._due_count():
                with self._idle:
                    if not self._running:
                        return True
            if now() >= deadline:
                return False
            self._wake.set()
            with self._idle:
                self._idle.wait(0.02)

    def drain(self, since: datetime, grace: float) -> bool:
        """Wait until the jobs of our kinds queued since `since` are done, by this process or another, however far ahead
        their pace put them, allowing `grace` seconds past the last one's slot; False if time ran out first (what is left
        waits in the database for another process). A held job is not waited for: its hold outlasts any grace."""
        owed = and_(OutboxJob.kind.in_(list(self._handlers)), OutboxJob.created_at >= since, ~and_(OutboxJob.state == QUEUED, _held()))
        with self._reads() as session:
            last = session.scalar(select(func.max(OutboxJob.not_before)).where(owed))
        deadline = max(now(), last or now()) + timedelta(seconds=grace)
        while True:
            with self._reads() as session:
                left = session.scalar(select(func.count()).select_from(OutboxJob).where(owed, OutboxJob.state.in_((QUEUED, RUNNING))))
            if not left:
                return True
            if now() >= deadline:
                return False
            self._wake.set()
            with self._idle:
                self._idle.wait(DRAIN_POLL_SECONDS)

    def _due_count(self) -> int:
        """Jobs this process could take now or within SOON (an App Home held back a moment to publish once for a burst);
        none while the database cannot be read (the dispatcher logs why)."""
        moment = now() + SOON
        try:
            with self._reads() as session:
                lanes = [int(lane) for lane in self._lanes]
                due = select(func.count()).select_from(OutboxJob).where(
                    OutboxJob.kind.in_(list(self._handlers)), OutboxJob.lane.in_(lanes), _takeable(moment)
                )
                return int(session.scalar(due) or 0)
        except Exception:  # noqa: BLE001 - whatever the driver raises, there is nothing to wait for
            return 0

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            self._next_look = _NEVER  # while it looks, any new job may have been missed: each one wakes it again
            try:
                delay = self._dispatch()
                self._renew_leases()
            except Exception:  # noqa: BLE001 - the database may be away for a while; keep trying
                log.exception("the outbox could not take jobs; trying again shortly")
                delay = min(self._poll, POLL_SECONDS)
            self._next_look = now() + timedelta(seconds=delay)
            self._wake.wait(delay)

    def _dispatch(self) -> float:
        """Take as many due jobs as each lane has free workers for; returns how long to wait before looking again."""
        taken: list[Job] = []
        try:
            with self._sessions.begin() as session:
                moment = now()
                for lane in sorted(self._lanes):
                    room = WORKERS[lane] - self._busy[lane]
                    took = self._take(session, lane, room, moment) if room > 0 else []
                    taken.extend(took)
                    if room <= 0 or len(took) == room:  # due jobs may be left: a worker that frees up looks again
                        self._full.add(lane)
                    else:
                        self._full.discard(lane)
                self._hold(taken)  # counted as ours before the commit, so nobody waiting for idle misses them
                later = session.scalar(
                    select(func.min(OutboxJob.not_before)).where(
                        OutboxJob.state == QUEUED, OutboxJob.kind.in_(list(self._handlers)), OutboxJob.not_before > moment
                    )
                )
        except BaseException:
            self._let_go(taken)
            raise
        for job in taken:
            self._submit(job)
        if later is None:
            return self._poll
        return max(0.0, min(self._poll, (later - now()).total_seconds()))

    def _take(self, session: Session, lane: Lane, room: int, moment: datetime) -> list[Job]:
        ids = session.scalars(
            select(OutboxJob.id)
            .where(OutboxJob.lane == int(lane), OutboxJob.kind.in_(list(self._handlers)), _takeable(moment))
            .order_by(OutboxJob.not_before, OutboxJob.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return []
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(ids), _takeable(moment))
            .values(state=RUNNING, locked_by=self.owner, locked_until=moment + LEASE, attempts=OutboxJob.attempts + 1)
        )
        rows = session.scalars(
            select(OutboxJob).where(OutboxJob.id.in_(ids), OutboxJob.locked_by == self.owner, OutboxJob.state == RUNNING)
        ).all()
        return [Job(r.id, r.kind, r.request_id, dict(r.payload), r.attempts, self.owner, created_at=r.created_at) for r in rows]

    def _submit(self, job: Job) -> None:
        """Hand a job taken (and already counted as running) to its lane's workers, its log lines under one request id:
        that of the work which queued it in this process, else one of its own."""
        lane = KINDS.get(job.kind, Lane.LATER)
        context = job.context
        if context is None:
            context = contextvars.Context()
            context.run(logs.new_request_id)
        self._pools[lane].submit(context.run, self._run, job, lane)

    def _hold(self, jobs: list[Job]) -> None:
        with self._idle:
            for job in jobs:
                self._busy[KINDS.get(job.kind, Lane.LATER)] += 1
                self._running.add(job.id)

    def _let_go(self, jobs: list[Job]) -> None:
        with self._idle:
            for job in jobs:
                self._busy[KINDS.get(job.kind, Lane.LATER)] -= 1
                self._running.discard(job.id)
            self._idle.notify_all()

    def _run(self, job: Job, lane: Lane) -> None:
        requeued = False
        try:
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise GiveUp(f"no_handler_{job.kind}"[:64])
            handler(job)
        except Retry as retry:
            requeued = True
            self._retry(job, retry)
        except GiveUp as give_up:
            self._bury(job, give_up.error)
        except Exception as exc:  # noqa: BLE001 - a bug or an outage must not lose the job
            requeued = True
            log.exception("outbox job %s (%s) failed", job.id, job.kind)
            self._retry(job, Retry(type(exc).__name__[:64], _backoff(job.attempts)))
        else:
            if not job.handed_back:
                if not job.completed:
                    with self._sessions.begin() as session:
                        job.complete(session)
                OUTBOX_DONE.labels(kind=job.kind).inc()
        finally:
            with self._idle:
                self._busy[lane] -= 1
                self._running.discard(job.id)
                self._idle.notify_all()
            # Look again when this job went back in the queue (its new time may come before the next look), or when
            # the lane's last look left due jobs behind for lack of workers (this one is free now); not after each job
            if requeued or job.handed_back or lane in self._full:
                self._wake.set()

    def _retry(self, job: Job, retry: Retry) -> None:
        """Back in the queue for later; a job out of attempts is buried instead (rate limits do not count)."""
        counted = retry.pace is None
        if counted and job.attempts >= MAX_ATTEMPTS:
            self._bury(job, retry.error)
            return
        with self._sessions.begin() as session:
            at = now() + timedelta(seconds=retry.seconds or _backoff(job.attempts))
            if retry.pace is not None:
                at = pacing.take(session, retry.pace[0], retry.pace[1], not_before=now() + timedelta(seconds=retry.seconds))
            session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == job.id, OutboxJob.locked_by == self.owner)
                .values(
                    state=QUEUED,
                    not_before=at,
                    locked_by=None,
                    locked_until=None,
                    last_error=retry.error[:64],
                    attempts=OutboxJob.attempts - (0 if counted else 1),
                )
            )
        log.info("outbox job %s (%s) will be tried again at %s: %s", job.id, job.kind, at.isoformat(), retry.error)

    def _bury(self, job: Job, error: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == job.id, OutboxJob.locked_by == self.owner)
                .values(state=DEAD, last_error=error[:64], finished_at=now(), locked_until=None)
            )
        OUTBOX_FAILED.labels(kind=job.kind).inc()
        log.error(
            "outbox job %s (%s for %s) failed for good after %s attempts: %s", job.id, job.kind, job.request_id, job.attempts, error
        )
        on_give_up = self._on_give_up.get(job.kind)
        if on_give_up is not None:
            on_give_up(job, error)

    def _renew_leases(self) -> None:
        """Keep our running jobs' leases fresh, so no other replica takes them over while they run."""
        moment = now()
        if moment - self._renewed < LEASE / 3:
            return
        self._renewed = moment
        with self._idle:
            running = list(self._running)
        if not running:
            return
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxJob)
                .where(OutboxJob.id.in_(running), OutboxJob.locked_by == self.owner, OutboxJob.state == RUNNING)
                .values(locked_until=moment + LEASE)
            )


@dataclass(frozen=True)
class Health:
    counts: dict[str, int]
    recent_dead: int
    latest_dead: OutboxJob | None  # the job given up for good most recently
    dead_by_cause: dict[tuple[str, str], int]  # jobs given up for good, by kind and Slack's error


def health(sessions: sessionmaker[Session], *, since: datetime) -> Health:
    """Jobs by state, and the jobs given up for good since `since` (and the latest one)."""
    with sessions() as session:
        rows = session.execute(select(OutboxJob.state, func.count()).group_by(OutboxJob.state)).all()
        recent = int(
            session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.state == DEAD, OutboxJob.finished_at >= since))
            or 0
        )
        latest = session.scalars(
            select(OutboxJob).where(OutboxJob.state == DEAD).order_by(OutboxJob.finished_at.desc(), OutboxJob.id.desc()).limit(1)
        ).first()
        causes = session.execute(
            select(OutboxJob.kind, OutboxJob.last_error, func.count())
            .where(OutboxJob.state == DEAD)
            .group_by(OutboxJob.kind, OutboxJob.last_error)
        ).all()
    counts = {QUEUED: 0, RUNNING: 0, DEAD: 0}
    counts.update({str(state): int(count) for state, count in rows})
    return Health(counts, recent, latest, {(str(kind), str(error or "")): int(count) for kind, error, count in causes})


def describe(job: OutboxJob) -> str:
    """A job given up for good, as on-call reads it: "card for Ir… at …: channel_not_found"."""
    when = job.finished_at.isoformat() if job.finished_at else "?"
    return f"{job.kind} for {job.request_id or '-'} at {when}: {job.last_error}"


def failed(
    sessions: sessionmaker[Session],
    *,
    since: datetime | None = None,
    kinds: frozenset[str] | None = None,
    errors: frozenset[str] | None = None,
) -> list[OutboxJob]:
    """Every job given up for good (since `since`, of `kinds`, with one of `errors`, if given), oldest first: what
    on-call looks at before retrying or dropping them."""
    dead = select(OutboxJob).where(OutboxJob.state == DEAD).order_by(OutboxJob.id)
    if since is not None:
        dead = dead.where(OutboxJob.finished_at >= since)
    if kinds is not None:
        dead = dead.where(OutboxJob.kind.in_(sorted(kinds)))
    if errors is not None:
        dead = dead.where(OutboxJob.last_error.in_(sorted(errors)))
    with sessions() as session:
        return list(session.scalars(dead).all())


def retry_failed(sessions: sessionmaker[Session]) -> int:
    """Put every job given up for good back in the queue, due now with fresh attempts (once what failed is fixed)."""
    with sessions.begin() as session:
        announce(session, now())
        return changed(
            session,
            update(OutboxJob)
            .where(OutboxJob.state == DEAD)
            .values(state=QUEUED, not_before=now(), attempts=0, finished_at=None)
        )


def drop_failed(sessions: sessionmaker[Session]) -> int:
    """Forget every job given up for good (what it would have said no longer matters)."""
    with sessions.begin() as session:
        return changed(session, delete(OutboxJob).where(OutboxJob.state == DEAD))


def _takeable(moment: datetime) -> Any:
    """Due and queued, or running under a lease that ran out (its replica died)."""
    return or_(
        and_(OutboxJob.state == QUEUED, OutboxJob.not_before <= moment),
        and_(OutboxJob.state == RUNNING, OutboxJob.locked_until < moment),
    )


def _held() -> Any:
    return func.coalesce(OutboxJob.last_error, "").like(f"{HELD}%")


def _backoff(attempts: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts))


def live_job(request_id_column: Any) -> Any:
    """A condition: the request has a decision job that is queued or running (sync must not take its claim as stale)."""
    return (
        select(OutboxJob.id)
        .where(OutboxJob.request_id == request_id_column, OutboxJob.kind == "decide", OutboxJob.state.in_((QUEUED, RUNNING)))
        .exists()
    )
