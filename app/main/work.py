"""`invitebot work`: the worker role on its own: the outbox's jobs (every Slack call a decision, a card, an answer or a DM
needs), the periodic sync, the reminders, and the heartbeat by which web replicas know a worker runs. It serves no HTTP:
Slack's requests go to `invitebot serve`, which starts one of these beside itself unless told not to."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import ExitStack

from app.config import Settings
from app.main.container import build_runtime
from app.main.reminder_loop import ReminderLoop
from app.main.sync_loop import SyncLoop
from app.slack.runtime import Runtime
from app.store.health import Role
from app.store.migrate import upgrade_to_head

log = logging.getLogger(__name__)
RUNNING = "invitebot worker running"


def run_worker(settings: Settings) -> int:
    """Work until SIGTERM/SIGINT, then let go in order: the reminders, the sync lease, the outbox (decisions stop being
    taken, what running ones owe is finished, running jobs end; queued jobs wait in the database). Exit 0."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as cleanup:  # unwinds last-in first-out
        runtime = build_runtime(settings)
        cleanup.callback(runtime.close)
        upgrade_to_head(runtime.engine)
        if stop.is_set():  # stopped while it started (serve stopping at once, say): it has taken no job yet
            return 0
        runtime.start(Role.WORKER)
        start_loops(runtime, cleanup)
        log.info("%s as %s", RUNNING, runtime.replica_id)
        stop.wait()
        log.info("invitebot worker stopping: running jobs finish; queued ones wait in the database")
    return 0


def start_loops(runtime: Runtime, cleanup: ExitStack) -> None:
    """The worker role's loops beside the outbox (the periodic sync, the reminders), each stopped by `cleanup`."""
    loop = SyncLoop(runtime)
    loop.start()
    cleanup.callback(loop.stop)
    reminders = ReminderLoop(runtime)
    reminders.start()
    cleanup.callback(reminders.stop)
