"""Thread pools that count what they have accepted, so shutdown (and tests) can wait for in-flight work."""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

log = logging.getLogger(__name__)


class InFlight:
    """A counter of accepted, unfinished work with a condition to wait on."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def started(self) -> None:
        with self._changed:
            self._count += 1

    def finished(self, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            log.error("background work failed", exc_info=error)
        self.ended()

    def ended(self) -> None:
        """One piece of accepted work is over (a pool's task, or an ask written down)."""
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def count(self) -> int:
        with self._changed:
            return self._count

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until everything accepted has finished; False if time ran out first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


class CountedPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose every task is counted in an InFlight from submission to completion."""

    def __init__(self, in_flight: InFlight, *, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._in_flight = in_flight

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self._in_flight.started()
        context = contextvars.copy_context()  # the request id travels with the work
        try:
            future = super().submit(context.run, fn, *args, **kwargs)
        except BaseException:
            self._in_flight.finished(_done_future())
            raise
        future.add_done_callback(self._in_flight.finished)
        return future


class Turns:
    """One worker taking tasks in the order given, each told how many are ahead of it: for work a process must not do
    twice at once (an audit export holds a temporary file and a database cursor while it runs)."""

    def __init__(self, in_flight: InFlight, *, thread_name_prefix: str) -> None:
        self._pool = CountedPool(in_flight, max_workers=1, thread_name_prefix=thread_name_prefix)
        self._lock = threading.Lock()
        self._unfinished = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> int:
        """Queue fn(*args) behind the tasks already given; returns how many of them have not finished yet."""
        with self._lock:
            future = self._pool.submit(fn, *args)
            ahead = self._unfinished
            self._unfinished += 1
        future.add_done_callback(self._finished)
        return ahead

    def _finished(self, future: Future[Any]) -> None:
        with self._lock:
            self._unfinished -= 1

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


def _done_future() -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(None)
    return future
