"""Scenario 8: 200 Approve clicks over 4 `invitebot serve` replicas on one PostgreSQL database: one approve call each.

50 cards; each is clicked once on every replica, all 200 clicks at the same moment. Run alone from the repository root:
.venv/bin/python -m bench.replica_clicks (needs PostgreSQL at 127.0.0.1:5432, user postgres; bench/README.md).
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.sandbox import SlackSender
from bench.harness import APPROVE, Sent, all_updated, approve_click, fire, poll, post_requests, spread, start_serve
from bench.report import Row, table
from tests.support.bots import SIGNING_SECRET, serve_processes
from tests.support.databases import POSTGRES_URL
from tests.support.stand_in import running_fake

REPLICAS = 4
CARDS = 50
CLICKS = REPLICAS * CARDS
DONE_TIMEOUT = 120.0


@dataclass(frozen=True)
class ReplicaClicks:
    """Every click's ack, and the approve calls Slack received per request."""

    clicks: list[Sent]
    calls: dict[str, int]  # request id -> admin.inviteRequests.approve calls (0 for none)
    repeated: dict[str, list[str]]  # request id -> each of its approve calls' answer, when it had more than one

    def not_once(self) -> int:
        return sum(count != 1 for count in self.calls.values())


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the run, dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"invitebot_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure() -> ReplicaClicks:
    with postgres_database() as url, running_fake() as fake, serve_processes(fake, url) as start:
        serves = [start_serve(start) for _ in range(REPLICAS)]
        senders = [SlackSender(serve.url, SIGNING_SECRET, fake) for serve in serves]
        cards = post_requests(fake, senders[0], "replicas", CARDS)
        since = len(fake.calls())
        with ThreadPoolExecutor(REPLICAS) as pool:
            rounds = pool.map(lambda sender: fire(sender, [(card.ts, approve_click(card.ts)) for card in cards]), senders)
            clicks = [sent for round_ in rounds for sent in round_]
        poll(lambda: all_updated(fake, [card.ts for card in cards]), DONE_TIMEOUT, "every card shows its approval")
        approves = [call for call in fake.calls()[since:] if call.method == APPROVE]
        counts = Counter(call.params.get("invite_request_id") for call in approves)
        repeated = {
            request_id: [
                f"{call.status} {call.error or 'ok'} at +{call.at - approves[0].at:.1f} s"
                for call in approves
                if call.params.get("invite_request_id") == request_id
            ]
            for request_id, count in counts.items()
            if count > 1
        }
        return ReplicaClicks(clicks, {card.request_id: counts.get(card.request_id, 0) for card in cards}, repeated)


def rows(r: ReplicaClicks | None) -> list[Row]:
    """Scenario 8's lines of the bench table."""
    prefix = f"{CLICKS} clicks ({CARDS} cards x {REPLICAS} `serve` replicas, at once), PostgreSQL"
    measures = [f"{prefix}: requests with other than 1 approve call", f"{prefix}: approve calls / ack p50 / p99 / max"]
    if r is None:
        return [Row("8", measure, "not measured") for measure in measures]
    return [
        Row("8", measures[0], f"{r.not_once()} of {CARDS}{_repeats(r.repeated)}", "0", r.not_once() == 0),
        Row("8", measures[1], f"{sum(r.calls.values())} / {spread([click.ack for click in r.clicks])}", f"{CARDS} calls"),
    ]


def _repeats(repeated: dict[str, list[str]]) -> str:
    """Each request approved more than once, with its calls' answers (seconds from the round's first approve call)."""
    return "".join(f"; {request_id}: {', '.join(answers)}" for request_id, answers in repeated.items())


def main() -> int:
    result = measure()
    print(table(rows(result)))
    return 0 if result.not_once() == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
