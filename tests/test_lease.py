"""One replica at a time holds the sync lease; when it stops renewing, another takes over."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from app.core import lease
from app.store.db import make_engine, make_session_factory
from app.store.migrate import upgrade_to_head
from tests.conftest import both_databases


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
        assert not lease.acquire(sessions, "sync", other, timedelta(minutes=5))

        assert lease.acquire(sessions, "sync", holder, timedelta(seconds=-1))  # the holder's lease runs out
        assert lease.acquire(sessions, "sync", other, timedelta(minutes=5))
        assert not lease.acquire(sessions, "sync", holder, timedelta(minutes=5))

        lease.release(sessions, "sync", other)
        assert lease.acquire(sessions, "sync", holder, timedelta(minutes=5))
    finally:
        engine.dispose()
