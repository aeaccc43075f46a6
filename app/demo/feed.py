"""A change counter over the stand-in (via FakeSlack.wait_for) and the demo's own state, for long polling."""

from __future__ import annotations

import threading
import time
from typing import Callable

from app.sandbox import FakeSlack

WATCH_SLICE = 2.0  # seconds per wait_for round, so close() is noticed promptly


class ChangeFeed:
    """version() goes up after every change; wait_past(seen) blocks until it does (or time runs out)."""

    def __init__(self, fake: FakeSlack, on_change: Callable[[], None] | None = None) -> None:
        self._fake = fake
        self._on_change = on_change
        self._version = 0
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="demo-change-feed", daemon=True)

    def start(self) -> ChangeFeed:
        self._thread.start()
        return self

    def close(self) -> None:
        """Wake every waiter; the watcher thread (a daemon) ends at its next slice."""
        self._closed.set()
        self.bump()

    def version(self) -> int:
        with self._changed:
            return self._version

    def bump(self) -> None:
        """Something changed (in the stand-in, or in the demo's own state): wake every waiter."""
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def wait_past(self, seen: int, timeout: float) -> int:
        """The version once it differs from `seen`, or the same version after `timeout` seconds (or on close)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._version == seen and not self._closed.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._version

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _watch(self) -> None:
        """FakeSlack.wait_for calls its predicate once per change in the stand-in: count each call."""
        while not self._closed.is_set():
            try:
                self._fake.wait_for(self._tick, timeout=WATCH_SLICE)
            except AssertionError:
                pass  # no change in this slice; each new round's first call is a harmless extra bump

    def _tick(self) -> bool:
        if self._on_change is not None:
            self._on_change()
        self.bump()
        return self._closed.is_set()
