"""The Cards port (app.core.ports) as Slack carries it out: the bot posts and updates, at each channel's pace."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy.orm import Session, sessionmaker

from app.core.pacing import Pace
from app.slack.api.gateway import SlackGateway
from app.slack.jobs import cards, digest


@dataclass(frozen=True)
class NotedFailures:
    """The card failures one block of work met, for a sync pass's summary."""

    noted: list[cards.CardFailure]

    def count(self) -> int:
        return len(self.noted)

    def lines(self) -> list[str]:
        return cards.describe(self.noted)


@dataclass(frozen=True)
class CardDesk:
    """Cards and digest cards for core: each posted once, every copy re-rendered from its row."""

    sessions: sessionmaker[Session]
    gateway: SlackGateway
    pace: Pace | None  # card posts per channel

    def refresh(self, request_id: str) -> None:
        cards.refresh(self.sessions, self.gateway, request_id)

    def post_once(self, request_id: str, channel: str) -> None:
        cards.post_once(self.sessions, self.gateway, request_id, channel, pace=self.pace)

    def repost_stale(self) -> None:
        cards.repost_stale(self.sessions, self.gateway, self.pace)

    def heal(self) -> None:
        cards.heal(self.sessions, self.gateway)

    def keep_digest(self, team_id: str, channel: str, *, backlog_found: bool) -> None:
        digest.keep(self.sessions, self.gateway, team_id, channel, backlog_found=backlog_found, pace=self.pace)

    @contextmanager
    def failures_noted(self) -> Iterator[NotedFailures]:
        with cards.failures_noted() as noted:
            yield NotedFailures(noted)
