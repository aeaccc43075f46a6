"""Posts in an approvals channel that refused one as a whole are held, not each tried into the same refusal.

A post job for a held channel (app.core.holds) goes back to the outbox without calling Slack, at its own slot of the
channel's pace after the hold. The first post a channel refuses with an answer that is the channel's (CHANNEL_ERRORS)
holds it, and the log says once what is wrong and how to fix it. A process posts in one channel at a time: a post due
while another is under way there takes the channel's next slot instead, so the refusal is known before the next post
leaves, even when many were due at once (a backlog). Each channel is held alone: a bad route stops no other channel.
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
    """This process's posts in approvals channels: one at a time per channel, none in a held one."""

    def __init__(self, services: Services, routes: Routes) -> None:
        self._services = services
        self._routes = routes
        self._lock = threading.Lock()
        self._posting: set[str] = set()  # channels a post of this process is under way in

    def wrap(self, handler: Handler) -> Handler:
        """`handler` for a post job, run only while no other post of ours is under way in its channel and the channel
        is not held; a refusal that is the channel's holds it."""

        def run(job: Job) -> None:
            channel = str(job.payload["channel"])
            if not self._start(channel):
                self._later(job, channel)
                return
            try:
                self._post(handler, job, channel)
            finally:
                with self._lock:
                    self._posting.discard(channel)

        return run

    def _start(self, channel: str) -> bool:
        with self._lock:
            if channel in self._posting:
                return False
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

    def _post(self, handler: Handler, job: Job, channel: str) -> None:
        services = self._services
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
                with services.sessions.begin() as session:
                    holds.hold(session, channel)
                log.error(
                    "%s refused a post (%s): %s Its other cards are held until the next sync tries the channel again.",
                    channel, refused.error, channel_fix(refused.error, self._routes.setting_of(channel)),
                )
            raise
