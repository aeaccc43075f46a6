"""The periodic reconcile pass in `serve`: one replica at a time, chosen by a database lease."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from types import TracebackType
from typing import Callable

from app.core import lease
from app.core.sync import sync_once
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)
LEASE_NAME = "sync"
# How long stopping waits for a tick under way. A tick reads Slack (auth.test, the lists) and writes in transactions, so
# one cut short by the process's exit loses nothing; waiting out retries against a Slack that is gone would.
STOP_WAIT_SECONDS = 2.0


class SyncLoop:
    """Ticks four times per interval; the lease lasts half an interval, so a dead leader is replaced within one.

    A pass can last longer than the lease: while it runs, a heartbeat renews the lease every tick, and the pass renews
    it before each workspace. A pass that finds the lease in another replica's hands (its renewals were late, say the
    database stalled) stops there, so two passes never work side by side for longer than one workspace.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._interval = runtime.settings.INVITES_SYNC_INTERVAL
        self._ttl = timedelta(seconds=self._interval / 2)
        self._tick = max(1.0, self._interval / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invitebot-sync", daemon=True)
        self._last_sync = float("-inf")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (a pass under way ends before its next workspace) and hand the lease back at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT_SECONDS)
        lease.release(self._runtime.sessions, LEASE_NAME, self._runtime.replica_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                log.exception("sync pass failed")
            self._stop.wait(self._tick)

    def tick(self) -> bool:
        """Renew (or try to take) the lease; run a pass when leading and one is due. True when it ran one."""
        runtime = self._runtime
        runtime.token_check.run(runtime.gateway)
        if not self._renew() or time.monotonic() - self._last_sync < self._interval:
            return False
        self._last_sync = time.monotonic()
        with _Heartbeat(self._renew, self._tick) as heartbeat:
            summary = sync_once(
                runtime.services,
                runtime.workspaces,
                runtime.settings.routes,
                should_stop=lambda: self._why_stop(heartbeat),
                digest_over=runtime.settings.INVITES_DIGEST_OVER,
            )
        if summary.stopped:
            log.warning(summary.line())
        else:
            log.info(summary.line())
        return True

    def _renew(self) -> bool:
        return lease.acquire(self._runtime.sessions, LEASE_NAME, self._runtime.replica_id, self._ttl)

    def _why_stop(self, heartbeat: _Heartbeat) -> str | None:
        """Asked by the pass before each workspace: None to go on, or why it must stop (renewing the lease meanwhile)."""
        if self._stop.is_set():
            return "this replica is shutting down"
        try:
            leading = not heartbeat.lost.is_set() and self._renew()
        except Exception:  # noqa: BLE001 - without the database the lease cannot be vouched for
            log.exception("could not renew the sync lease")
            return "the sync lease could not be renewed"
        if leading:
            return None
        heartbeat.lost.set()
        holder = lease.current_holder(self._runtime.sessions, LEASE_NAME)
        return f"the sync lease passed to {holder or 'another replica'}, which runs the passes now"


class _Heartbeat:
    """Renews the lease every `every` seconds while a pass runs; `lost` is set once a renewal finds another holder."""

    def __init__(self, renew: Callable[[], bool], every: float) -> None:
        self._renew = renew
        self._every = every
        self._done = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invitebot-sync-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._every) and not self.lost.is_set():
            try:
                if not self._renew():
                    self.lost.set()
            except Exception:  # noqa: BLE001 - a database hiccup; the next beat (or the pass's own check) tries again
                log.exception("could not renew the sync lease")
