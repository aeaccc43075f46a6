"""The reminder scan in `serve` and `socket`: every replica scans about once a minute; the notice rows make each
reminder, escalation and guest time-limit warning go out once, so no lease is needed and none waits for a sync."""

from __future__ import annotations

import logging
import threading

from app.core import audit
from app.core.reminders import scan
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)
TICK_SECONDS = 60.0


class ReminderLoop:
    def __init__(self, runtime: Runtime, every: float = TICK_SECONDS) -> None:
        self._runtime = runtime
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invitebot-reminders", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking; a scan under way finishes first (what it queued is in the outbox)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._every)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                summary = scan(self._runtime.services, self._runtime.settings, audit.now())
                if summary.reminded or summary.escalated or summary.warned:
                    log.info(summary.line())
            except Exception:  # noqa: BLE001 - the database may be away for a while; the next tick tries again
                log.exception("reminder scan failed")
            self._stop.wait(self._every)
