"""The periodic auth.test of both tokens in a web process, which runs no sync loop (the sync loop checks them in a
worker): /readyz and the request guard read what Slack last said."""

from __future__ import annotations

import logging
import threading

from app.main.sync_loop import STOP_WAIT_SECONDS
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)


class TokenLoop:
    """Checks at once, then as often as the sync loop does (a quarter of INVITES_SYNC_INTERVAL)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._every = max(1.0, runtime.settings.INVITES_SYNC_INTERVAL / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invitebot-tokens", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """A check under way is only a read: stopping waits briefly for it, never for its retries."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT_SECONDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._runtime.token_check.run(self._runtime.gateway)
            except Exception:  # noqa: BLE001 - Slack may be out of reach a while; the next tick asks again
                log.exception("could not check the tokens")
            self._stop.wait(self._every)
