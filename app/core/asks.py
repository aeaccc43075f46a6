"""A decision someone asked for (a click, a submitted Deny form), written down before Slack is answered.

The web process does no more for a decision than verify, parse, write the ask as an outbox job and ack: decide() runs
in a worker process (app.slack.jobs.asks). So every acked ask is decided or its asker is told, even when the web
process dies the moment after its ack.

Asks that arrive together are written together: one writer thread commits whatever has queued up meanwhile in one
transaction (group commit), and each ask's ack waits only until the transaction holding it is durable. On SQLite, where
writes are serialised, 50 simultaneous clicks cost a few commits rather than 50.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session, sessionmaker

from app.core.outbox import Outbox
from app.store.models import Action, Source
from app.work import InFlight

log = logging.getLogger(__name__)

ASK = "ask"  # its outbox job's kind
# How long an ack waits for its ask to be durable. Past it the ack goes anyway, inside Slack's 3 seconds: the writer
# still writes the ask, or tells the asker it could not.
ACK_WAIT_SECONDS = 1.5


@dataclass(frozen=True)
class Ask:
    """Who asked to decide which request how, from where, and where they hear back."""

    request_id: str
    action: Action
    actor_id: str
    source: Source
    reply_to: dict[str, str]
    actor_team: str | None = None
    reason: str | None = None
    channel: str | None = None  # the channel of the surface it came from (none for the App Home)
    clicked: tuple[str, str] | None = None  # the card copy clicked (channel, ts), brought up to date whatever it shows
    log_request_id: str | None = None  # the request id of the web process's log lines for it, carried on to the decision's

    def payload(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "action": self.action.value,
            "actor": self.actor_id,
            "source": self.source.value,
            "reply_to": self.reply_to,
            "actor_team": self.actor_team,
            "reason": self.reason,
            "channel": self.channel,
            "clicked": list(self.clicked) if self.clicked else None,
            "log_request_id": self.log_request_id,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Ask:
        clicked = payload.get("clicked")
        return cls(
            request_id=str(payload["request_id"]),
            action=Action(payload["action"]),
            actor_id=str(payload["actor"]),
            source=Source(payload["source"]),
            reply_to=dict(payload["reply_to"]),
            actor_team=payload.get("actor_team"),
            reason=payload.get("reason"),
            channel=payload.get("channel"),
            clicked=(str(clicked[0]), str(clicked[1])) if clicked else None,
            log_request_id=payload.get("log_request_id"),
        )


Lost = Callable[[Ask, BaseException], None]  # told of each ask whose transaction failed: the asker must hear of it


class AskLedger:
    """The one writer of asks in a process (group commit); its thread starts with the first ask."""

    def __init__(
        self, sessions: sessionmaker[Session], outbox: Outbox, lost: Lost, in_flight: InFlight, *, ack_wait: float = ACK_WAIT_SECONDS
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._lost = lost
        self._in_flight = in_flight  # an ask not yet written is work in flight: waiting for idle waits for it
        self._ack_wait = ack_wait
        self._queued: list[tuple[Ask, threading.Event]] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def record(self, ask: Ask) -> None:
        """Queue the ask for the writer and wait until it is durable, or could not be written (the writer tells the
        asker), or the wait ran out (the writer goes on)."""
        written = threading.Event()
        with self._changed:
            if self._closed:
                raise RuntimeError("the process is stopping: it takes no more asks")
            self._in_flight.started()
            self._queued.append((ask, written))
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name="invitebot-asks", daemon=True)
                self._thread.start()
            self._changed.notify()
        written.wait(self._ack_wait)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._changed:
            self._closed = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _write_loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queued or self._closed)
                batch, self._queued = self._queued, []
            if not batch:
                return
            self._write([ask for ask, _ in batch])
            for _, done in batch:
                done.set()
                self._in_flight.ended()

    def _write(self, asks: list[Ask]) -> None:
        try:
            with self._sessions.begin() as session:
                with self._outbox.batched(session):
                    for ask in asks:
                        self._outbox.add(session, ASK, ask.payload(), request_id=ask.request_id, here=True)
        except Exception as error:  # noqa: BLE001 - the database is away or refused: each asker is told instead
            for ask in asks:
                self._lost(ask, error)
