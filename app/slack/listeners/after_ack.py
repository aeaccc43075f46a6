"""Work after Bolt's ack, on the thread pools, through one wrapper: an unexpected failure is logged once under a short
reference, and the person who asked is given that reference on the surface they used."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Callable

from app.slack.jobs.answers import logged, tell_unexpected
from app.slack.runtime import Runtime


def run_later(runtime: Runtime, reply_to: dict[str, str] | None, fn: Callable[..., Any], *args: Any) -> Future[None]:
    """Run fn(*args) on the background pool; `reply_to` (app.slack.listeners.surfaces.reply_to_of) hears of an
    unexpected failure, None leaves it to the log."""
    return runtime.background.submit(_guarded, runtime, reply_to, fn, args)


def run_in_turn(runtime: Runtime, reply_to: dict[str, str] | None, fn: Callable[..., Any], *args: Any) -> int:
    """Run fn(*args) on the exports' one worker, after the ones already given to it; returns how many are ahead."""
    return runtime.exports.submit(_guarded, runtime, reply_to, fn, args)


def ingest_later(runtime: Runtime, fn: Callable[..., Any], *args: Any) -> Future[None]:
    """Store an incoming request and post its card on the ingest pool, where waiting for the channel's pace holds up no
    click; an event has nobody to tell."""
    return runtime.ingesting.submit(_guarded, runtime, None, fn, args)


def _guarded(runtime: Runtime, reply_to: dict[str, str] | None, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except (KeyboardInterrupt, SystemExit):
        raise  # the process is stopping
    except BaseException as error:  # noqa: BLE001 - expected failures are worded where they happen; this is the rest,
        # a database that cannot be reached or lends no connection in time included
        ref = logged(error, f"in {getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}")
        if reply_to is not None:
            tell_unexpected(runtime, reply_to, ref)
