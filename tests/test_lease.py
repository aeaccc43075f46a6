"""One replica at a time holds the sync lease; when it stops renewing, another takes over; a pass keeps it while it runs."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from app.core import lease
from app.core.audit import now
from app.main.sync_loop import SyncLoop
from app.store.db import make_engine, make_session_factory
from app.store.migrate import upgrade_to_head
from app.store.models import Lease, SyncRun
from tests.support.databases import both_databases
from tests.support.stand_in import OTHER_TEAM, TEAM


@both_databases
def test_only_one_holder_and_takeover_after_expiry(database_url):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    try:
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(lambda n: lease.acquire(sessions, "sync", f"replica-{n}", timedelta(minutes=5)), range(8)))
        assert won.count(True) == 1
        holder = f"replica-{won.index(True)}"
        other = "replica-x"
        assert lease.acquire(sessions, "sync", holder, timedelta(minutes=5))  # renewal
        assert lease.current_holder(sessions, "sync") == holder
        assert not lease.acquire(sessions, "sync", other, timedelta(minutes=5))

        assert lease.acquire(sessions, "sync", holder, timedelta(seconds=-1))  # the holder's lease runs out
        assert lease.acquire(sessions, "sync", other, timedelta(minutes=5))
        assert not lease.acquire(sessions, "sync", holder, timedelta(minutes=5))

        lease.release(sessions, "sync", other)
        assert lease.acquire(sessions, "sync", holder, timedelta(minutes=5))
    finally:
        engine.dispose()


def _long_org(fake, count):
    """`count` workspaces; with a latency on the pending list, one pass takes about count x latency."""
    teams = [TEAM, OTHER_TEAM, *(f"T0LONG{n:03d}" for n in range(count - 2))]
    for team_id in teams[2:]:
        fake.add_team(team_id, f"Long {team_id}", team_id.lower())
    return teams


def _runs(runtime):
    with runtime.sessions() as session:
        return session.execute(select(SyncRun.started_at, SyncRun.finished_at, SyncRun.summary).order_by(SyncRun.id)).all()


def _listed(fake):
    return [call.params["team_id"] for call in fake.calls("admin.inviteRequests.list")]


@both_databases
def test_a_pass_longer_than_the_lease_keeps_it_so_passes_never_overlap(fake, start_bot, database_url):
    # Interval 10 s: the lease lasts 5 s and each loop ticks every 2.5 s. The pass lists 10 workspaces, 1 s each: twice
    # as long as the lease, so without renewals the other loop takes the lease half-way and starts a second pass.
    teams = _long_org(fake, 10)
    settings = {"INVITES_SYNC_INTERVAL": "10", "INVITES_TEAM_IDS": ",".join(teams)}
    first, second = start_bot(**settings).runtime, start_bot(**settings).runtime
    fake.set_latency("admin.inviteRequests.list", 1.0)
    loops = [SyncLoop(first), SyncLoop(second)]
    for loop in loops:
        loop.start()
    try:
        fake.wait_for(lambda: _runs(first), timeout=60, message="no pass finished")  # woken by each tick's auth.test
    finally:
        for loop in loops:
            loop.stop()

    listed = _listed(fake)
    assert listed == (teams * 2)[: len(listed)], "the list calls of two passes interleaved"
    runs = _runs(first)
    assert "stopped early" not in runs[0].summary
    for earlier, later in zip(runs, runs[1:]):
        assert later.started_at >= earlier.finished_at, f"two passes ran at once: {runs}"


@both_databases
def test_a_pass_whose_lease_was_taken_stops_before_the_next_workspace(fake, start_bot, database_url, caplog):
    teams = _long_org(fake, 4)
    runtime = start_bot(INVITES_SYNC_INTERVAL="10", INVITES_TEAM_IDS=",".join(teams)).runtime
    fake.set_latency("admin.inviteRequests.list", 1.0)
    loop = SyncLoop(runtime)
    caplog.set_level(logging.WARNING, logger="app.main.sync_loop")

    with ThreadPoolExecutor(1) as pool:
        ran = pool.submit(loop.tick)
        fake.wait_for(lambda: fake.calls("admin.inviteRequests.list"), message="the pass never listed a workspace")
        with runtime.sessions.begin() as session:  # another replica takes over, as after renewals that came too late
            session.execute(update(Lease).values(holder="replica-b", expires_at=now() + timedelta(minutes=5)))
        assert ran.result(timeout=30)

    assert len(_listed(fake)) <= 2 < len(teams)  # the workspace being listed when the lease went is finished, no more
    [run] = _runs(runtime)
    assert "stopped early: the sync lease passed to replica-b" in run.summary
    assert f"of {len(teams)} workspaces reconciled" in run.summary
    assert any("stopped early" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert lease.current_holder(runtime.sessions, "sync") == "replica-b"
    assert not loop.tick()  # and it does not lead again while the other replica holds the lease
