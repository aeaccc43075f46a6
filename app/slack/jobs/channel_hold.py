"""Posts in an approvals channel that refused one as a whole are held, not each tried into the same refusal.

A post job for a held channel (app.core.holds) goes back to the outbox without calling Slack, at its own slot of the
channel's pace after the hold. The first post a channel refuses with an answer that is the channel's (CHANNEL_ERRORS)
holds it, and the log says once what is wrong and how to fix it. Until a channel took a post of this process, the
process posts there one at a time: a post due while another is under way takes the channel's next slot instead, so a
refusal is known before the next post leaves, even when many were due at once (a backlog after a restart). Each
channel is held alone: a bad route stops no other channel's cards.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from app.core import holds, pacing
from app.core.audit import now
from app.core.outbox import GiveUp, Handler, Job
from app.core.services import Services
from app.routes import Routes
from app.slack.jobs.cards import CHANNEL_ERRORS, channel_fix

log = logging.getLogger(__name__)


class ChannelHold:
    """This process's posts in approvals channels: none in a held one, and one at a time in a channel until it took one."""

    def __init__(self, services: Services, routes: Routes) -> None:
        self._services = services
        self._routes = routes
        self._lock = threading.Lock()
        self._posting: set[str] = set()  # channels not known to take posts that a post of ours is under way in
        self._taking: set[str] = set()  # channels that took a post of ours: their posts may leave side by side

    def wrap(self, handler: Handler) -> Handler:
        """`handler` for a post job, run only while the channel is not held, and while no other post of ours is under
        way in it unless it took one already; a refusal that is the channel's holds it."""

        def run(job: Job) -> None:
            channel = str(job.payload["channel"])
            alone = self._start(channel)
            if alone is None:
                self._later(job, channel)
                return
            try:
                self._post(handler, job, channel, looked=not alone)
            finally:
                if alone:
                    with self._lock:
                        self._posting.discard(channel)

        return run

    def _start(self, channel: str) -> bool | None:
        """False: the channel takes posts, go ahead; True: go ahead, the only post of ours in it; None: wait your turn."""
        with self._lock:
            if channel in self._taking:
                return False
            if channel in self._posting:
                return None
            self._posting.add(channel)
            return True

    def _later(self, job: Job, channel: str) -> None:
        """Another post is under way in the channel: this one takes the channel's next free slot (held, if that post
        found the channel refusing)."""
        services = self._services
        with services.sessions.begin() as session:
            until = holds.held_until(session, channel)
            if until is not None:
                self._hold(session, job, channel, until)
                return
            at = pacing.take(session, services.post_pace, channel) if services.post_pace else now()
            job.postpone(session, at, f"after another post in {channel}")

    def _hold(self, session: Session, job: Job, channel: str, until: datetime) -> None:
        """Back in the queue without calling Slack, at its own slot of the channel's pace after the hold."""
        pace = self._services.post_pace
        at = pacing.take(session, replace(pace, max_hold=holds.HOLD), channel, not_before=until) if pace else until
        job.hold(session, at, channel)

    def _post(self, handler: Handler, job: Job, channel: str, *, looked: bool) -> None:
        """Post, unless the channel is held; `looked`: it took a post of ours, so its hold is not looked up first (another
        replica's hold on it is found by this process's own refusal)."""
        services = self._services
        if not looked:
            with services.read() as session:
                until = holds.held_until(session, channel)
            if until is not None:
                with services.sessions.begin() as session:
                    self._hold(session, job, channel, until)
                return
        try:
            handler(job)
        except GiveUp as refused:
            if refused.error in CHANNEL_ERRORS:
                with self._lock:
                    self._taking.discard(channel)
                with services.sessions.begin() as session:
                    holds.hold(session, channel)
                log.error(
                    "%s refused a post (%s): %s Its other cards are held until the next sync tries the channel again.",
                    channel, refused.error, channel_fix(refused.error, self._routes.setting_of(channel)),
                )
            raise
        with self._lock:
            self._taking.add(channel)
