"""The worker process `invitebot serve` keeps beside its web process: `invitebot work` as a child that never outlives
serve (on Linux the kernel sends it SIGTERM when serve dies), stopped after serve's web process, and started again when
it dies, with the reason logged.

Its exit status is read with a waitpid of its own pid before gunicorn's master reaps children with waitpid(-1)
(app.main.serve's arbiter calls reap() first); should gunicorn take it anyway, the child is still found gone.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from app.tether import tethered

log = logging.getLogger(__name__)

FIRST_RESTART_SECONDS = 1.0  # a worker that died soon after it started is started again after this, then twice as long
MAX_RESTART_SECONDS = 60.0
STEADY_SECONDS = 60.0  # a worker that ran this long before it died is started again at once
COMMAND = [sys.executable, "-m", "app", "work", "--beside-serve"]


class WorkerChild:
    """One `invitebot work` child at a time; every method is called from the master's one thread."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None  # reaped here, never by Popen (see _ended)
        self.pid: int | None = None
        self._started = 0.0
        self._delay = 0.0
        self._next_start = 0.0
        self._stopping = False

    def keep_alive(self) -> None:
        """Start the worker if none runs and its restart is due (the master's loop asks about once a second)."""
        self.reap()
        if self.pid is None and not self._stopping and time.monotonic() >= self._next_start:
            self._spawn()

    def reap(self) -> None:
        """Collect the worker's exit status if it has exited, and log why it did."""
        if self.pid is None:
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self._ended("its exit status was collected elsewhere")
            return
        if pid:
            self._ended(_why(status))

    def stopping(self) -> None:
        """serve is stopping: the worker's exit from now on is expected (Ctrl-C reaches it too), and none is started."""
        self._stopping = True

    def stop(self, grace: float) -> None:
        """SIGTERM (it finishes running jobs; queued ones wait in the database), SIGKILL if it takes over `grace` seconds."""
        self._stopping = True
        self.reap()
        if self.pid is None:
            return
        _signal(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)
            self.reap()
        if self.pid is not None:
            log.warning("the worker process (pid %d) did not stop within %g s; killing it", self.pid, grace)
            _signal(self.pid, signal.SIGKILL)
            while self.pid is not None:
                time.sleep(0.05)
                self.reap()

    def _spawn(self) -> None:
        self._process = subprocess.Popen(COMMAND, stdin=subprocess.DEVNULL, preexec_fn=tethered(os.getpid()))
        self.pid, self._started = self._process.pid, time.monotonic()
        log.info("started the worker process (pid %d)", self.pid)

    def _ended(self, why: str) -> None:
        lived = time.monotonic() - self._started
        pid, self.pid = self.pid, None
        if self._process is not None:  # reaped: Popen must never waitpid() this pid again, which may be reused by then
            self._process.returncode = -1
            self._process = None
        if self._stopping:
            log.info("the worker process (pid %s) stopped: %s", pid, why)
            return
        self._delay = 0.0 if lived >= STEADY_SECONDS else min(MAX_RESTART_SECONDS, max(FIRST_RESTART_SECONDS, self._delay * 2))
        self._next_start = time.monotonic() + self._delay
        when = "at once" if not self._delay else f"in {self._delay:g} s"
        log.error("the worker process (pid %s) ended after %.0f s: %s; starting another %s", pid, lived, why, when)


def _why(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
        return f"killed by {name}" + (" (out of memory, perhaps)" if number == signal.SIGKILL else "")
    return f"exit status {os.WEXITSTATUS(status)}"


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass  # gone already; the next reap says so


