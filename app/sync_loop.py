"""The periodic reconcile pass in `serve`: one replica at a time, chosen by a database lease."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from app.core import lease
from app.runtime import Runtime

log = logging.getLogger(__name__)
LEASE_NAME = "sync"


class SyncLoop:
    """Ticks four times per interval; the lease lasts half an interval, so a dead leader is replaced within one."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._interval = runtime.settings.INVITES_SYNC_INTERVAL
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invitebot-sync", daemon=True)
        self._last_sync = float("-inf")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and hand the lease back so another replica can lead at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval)
        lease.release(self._runtime.sessions, LEASE_NAME, self._runtime.replica_id)

    def _run(self) -> None:
        tick = max(1.0, self._interval / 4)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                log.exception("sync pass failed")
            self._stop.wait(tick)

    def tick(self) -> bool:
        """Renew (or try to take) the lease; run a pass when leading and one is due. True when it ran one."""
        runtime = self._runtime
        runtime.token_check.run(runtime.gateway)
        leading = lease.acquire(runtime.sessions, LEASE_NAME, runtime.replica_id, timedelta(seconds=self._interval / 2))
        if not leading or time.monotonic() - self._last_sync < self._interval:
            return False
        self._last_sync = time.monotonic()
        summary = runtime.sync()
        log.info(summary.line())
        return True
