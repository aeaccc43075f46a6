"""The benchmark's scenarios, each measured against one real `invitebot serve` and the Slack stand-in."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from app.sandbox import FakeSlack, SlackSender
from app.slack.api.client import make_client
from app.slack.api.gateway import SlackGateway
from bench import front_end_floor
from bench.harness import (
    APPROVE,
    EPHEMERAL,
    UPDATE,
    Sent,
    Serve,
    all_answered,
    all_updated,
    answers,
    approve_click,
    calls_since,
    fire,
    invites_command,
    percentile,
    poll,
    post_cards,
    post_requests,
    timed,
    updated,
)
from tests.support.stand_in import APPROVER, TEAM, new_request

CARDS = 50
UPDATE_TIMEOUT = 60.0
SCRATCH_CHANNEL = "C0GENERAL1"  # where the direct stand-in timing posts its card copies
ONE_AT_A_TIME = 10

SLOW_APPROVE = 5.0  # scenario 2: seconds Slack takes per admin.inviteRequests.approve
COMMANDS = 10  # scenario 2: `/invites` commands sent along with the second round of clicks
HELD_TIMEOUT = 10.0

TIER2_PER_MINUTE = 20  # scenario 4: Slack's Tier 2, per method per workspace; a minute's worth may come at once
BURST = 30
BURST_TIMEOUT = 240.0
RETRY_WORDS = re.compile(r"again|retry", re.IGNORECASE)

FLOOR_ROUNDS = 5  # scenario 1: rounds of CARDS clicks to serve, each beside a round to the do-nothing Bolt app
QUIET = 0.5  # seconds without a Web API call (and no work in flight) before a measured round
QUIET_TIMEOUT = 30.0


@dataclass(frozen=True)
class Round:
    """Approve clicks sent at once, when each card was updated, and the Web API calls the round caused."""

    clicks: list[Sent]
    updated_at: dict[str, float]
    calls: Counter[str]

    def acks(self) -> list[float]:
        return [click.ack for click in self.clicks]

    def to_updated(self) -> list[float]:
        """Click sent to its card's chat.update answered, in seconds, for every card that was updated."""
        return [self.updated_at[c.key] - c.sent_at for c in self.clicks if c.key in self.updated_at]


def concurrent_round(fake: FakeSlack, sender: SlackSender, label: str) -> Round:
    """Scenarios 1 and 3: post CARDS cards, approve them all at once, wait until every card is updated and answered."""
    return approve_all(fake, sender, post_cards(fake, sender, label, CARDS), label)


def approve_all(fake: FakeSlack, sender: SlackSender, cards: dict[str, str], label: str) -> Round:
    """Click Approve on every card (email -> ts) at once; wait until every card is updated and every clicker answered."""
    started = time.time()
    clicks = fire(sender, [(ts, approve_click(ts)) for ts in cards.values()])
    updated_at = poll(lambda: all_updated(fake, list(cards.values())), UPDATE_TIMEOUT, f"{label}: every card updated")
    poll(lambda: all_answered(fake, list(cards)), UPDATE_TIMEOUT, f"{label}: every clicker answered")
    return Round(clicks, updated_at, calls_since(fake, started))


@dataclass(frozen=True)
class AgainstFloor:
    """Scenario 1: rounds of CARDS Approve clicks to serve, each right after a round of CARDS clicks to the do-nothing Bolt
    app under the same front end (bench.front_end_floor), both from quiet: the ratio of their median rounds' p99s."""

    database: str
    serve: list[Round]
    floor: list[list[float]]  # each floor round's acks

    def serve_p(self, p: float) -> float:
        """The median round's p-th percentile ack to serve."""
        return statistics.median([percentile(round_.acks(), p) for round_ in self.serve])

    def floor_p(self, p: float) -> float:
        """The median round's p-th percentile ack to the floor."""
        return statistics.median([percentile(acks, p) for acks in self.floor])

    def ratio(self) -> float:
        return self.serve_p(99) / self.floor_p(99)


def against_floor(fake: FakeSlack, sender: SlackSender, serve: Serve, floor_port: int, database: str) -> AgainstFloor:
    """FLOOR_ROUNDS times: post CARDS cards; once the bot is quiet, a round to the floor, then CARDS clicks to serve, whose
    cards and answers are waited for."""
    rounds, floors = [], []
    for n in range(FLOOR_ROUNDS):
        label = f"floor-{database.lower()}{n}"
        cards = post_cards(fake, sender, label, CARDS)
        quiet(fake, serve)
        floors.append(front_end_floor.click_round(floor_port))
        rounds.append(approve_all(fake, sender, cards, label))
    return AgainstFloor(database, rounds, floors)


def quiet(fake: FakeSlack, serve: Serve) -> None:
    """Until serve has no work in flight and has made no Web API call for QUIET seconds (what a posted card or a decision
    leaves behind would otherwise land in the next measured round)."""

    def idle() -> bool:
        calls = fake.calls()
        silent = not calls or time.time() - calls[-1].at >= QUIET
        return silent and serve.metric("invitebot_work_in_flight") in (0, None)

    poll(idle, QUIET_TIMEOUT, "the bot quiet before a measured round")


def standin_path(fake: FakeSlack, card: dict[str, Any]) -> dict[str, list[float]]:
    """Scenario 3's baseline: the stand-in's own round trips on a click's path, CARDS paths in a row, bot idle."""
    gateway = SlackGateway(admin=make_client(fake.admin_token, fake.api_url), bot=make_client(fake.bot_token, fake.api_url))
    content = {"text": card["text"], "blocks": card["blocks"]}
    times: dict[str, list[float]] = {APPROVE: [], UPDATE: [], EPHEMERAL: []}
    for n in range(CARDS):
        request = new_request(fake, f"direct-{n:02d}@example.com")
        ts = gateway.post_message(SCRATCH_CHANNEL, **content)
        seconds, decided = timed(lambda: gateway.decide("approve", request["id"], TEAM))
        assert decided.ok, f"direct approve failed: {decided.error}"
        times[APPROVE].append(seconds)
        times[UPDATE].append(timed(lambda: gateway.update_message(SCRATCH_CHANNEL, ts, **content))[0])
        text = f"You approved the invite request for {request['email']}."
        times[EPHEMERAL].append(timed(lambda: gateway.post_ephemeral(SCRATCH_CHANNEL, APPROVER, text=text))[0])
    return times


def path_seconds(standin: dict[str, list[float]]) -> list[float]:
    """approve + chat.update per direct path: what a click needs from Slack before its card is updated."""
    return [approve + update for approve, update in zip(standin[APPROVE], standin[UPDATE])]


@dataclass(frozen=True)
class Single:
    """Scenario 3 without concurrency: each click sent only after the previous one was answered."""

    clicks: list[Sent]
    to_updated: list[float]


def one_at_a_time(fake: FakeSlack, sender: SlackSender) -> Single:
    cards = post_cards(fake, sender, "single", ONE_AT_A_TIME)
    clicks, to_updated = [], []
    for email, ts in cards.items():
        [click] = fire(sender, [(ts, approve_click(ts))])
        at = fake.wait_for(lambda: updated(fake, [ts]).get(ts), UPDATE_TIMEOUT, f"single: card of {email} updated")
        fake.wait_for(lambda: all_answered(fake, [email]), UPDATE_TIMEOUT, f"single: clicker of {email} answered")
        clicks.append(click)
        to_updated.append(at - click.sent_at)
    return Single(clicks, to_updated)


@dataclass(frozen=True)
class SlowSlack:
    """Scenario 2: a round of clicks that queues decisions behind a slow approve, then requests sent meanwhile."""

    queued: list[Sent]
    clicks: list[Sent]
    commands: list[Sent]
    held_at_start: int  # approve calls Slack was holding when the measured requests left
    in_flight_at_start: float | None  # the bot's invitebot_work_in_flight then
    held_at_end: int  # ... and when their last ack had come back
    approvals: int  # approve calls made over the whole scenario


def queued_behind_slow_slack(fake: FakeSlack, sender: SlackSender, serve: Serve) -> SlowSlack:
    """Approve takes SLOW_APPROVE s: click CARDS cards, then, while those decisions wait, CARDS more and COMMANDS `/invites`.

    Once the measured acks are back Slack is fast again, so the queue drains in seconds whatever the bot's concurrency.
    """
    first = post_cards(fake, sender, "queued", CARDS)
    second = post_cards(fake, sender, "meanwhile", CARDS)
    started = time.time()
    fake.set_latency(APPROVE, SLOW_APPROVE)
    try:
        queued = fire(sender, [(ts, approve_click(ts)) for ts in first.values()])
        fake.wait_for(lambda: fake.calls_in_progress(APPROVE) > 0, HELD_TIMEOUT, "no approve call reached Slack")
        held_at_start, in_flight = fake.calls_in_progress(APPROVE), serve.metric("invitebot_work_in_flight")
        sent = fire(
            sender,
            [(ts, approve_click(ts)) for ts in second.values()] + [(f"/invites {n}", invites_command()) for n in range(COMMANDS)],
        )
        held_at_end = fake.calls_in_progress(APPROVE)
    finally:
        fake.set_latency(APPROVE, 0.0)
    cards = [*first.values(), *second.values()]
    wait = UPDATE_TIMEOUT + SLOW_APPROVE
    poll(lambda: all_updated(fake, cards), wait, "slow Slack: every card updated")
    poll(lambda: all_answered(fake, [*first, *second]), wait, "slow Slack: every clicker answered")
    clicks = [s for s in sent if not s.key.startswith("/invites")]
    commands = [s for s in sent if s.key.startswith("/invites")]
    approvals = calls_since(fake, started)[APPROVE]
    return SlowSlack(queued, clicks, commands, held_at_start, in_flight, held_at_end, approvals)


@dataclass(frozen=True)
class Tier2:
    """Scenario 4: BURST clicks within a second while Slack enforces Tier 2 (TIER2_PER_MINUTE per method per workspace)."""

    clicks: list[Sent]
    approve_calls: int  # every admin.inviteRequests.approve the stand-in answered, 429s included
    approvals: int  # ... of which carried the approval out
    last_approved_at: float | None
    limited: Counter[str]  # 429 answers by method
    told_to_retry: list[str]  # the approver's ephemerals saying "again" or "retry"
    complete: bool  # every request decided at Slack or its clicker told to retry, within BURST_TIMEOUT
    seconds: float  # how long the scenario waited for that

    def to_last_approval(self) -> float | None:
        first = min(click.sent_at for click in self.clicks)
        return None if self.last_approved_at is None else self.last_approved_at - first

    @staticmethod
    def ideal_even() -> float:
        """BURST calls evenly spaced at TIER2_PER_MINUTE: the last one (BURST - 1) intervals after the first."""
        return (BURST - 1) * 60 / TIER2_PER_MINUTE

    @staticmethod
    def ideal_bucket() -> float:
        """The earliest the stand-in's bucket takes the last call: a minute's worth at once, then one per interval."""
        return max(0, BURST - TIER2_PER_MINUTE) * 60 / TIER2_PER_MINUTE


def tier2_burst(fake: FakeSlack, sender: SlackSender) -> Tier2:
    """Cards are posted before the limits are switched on; then BURST clicks at once, and wait for every outcome."""
    cards = post_requests(fake, sender, "burst", BURST)
    fake.enforce_rate_limits(tier2_per_minute=TIER2_PER_MINUTE)
    started = time.time()
    clicks = fire(sender, [(card.ts, approve_click(card.ts)) for card in cards])

    def settled() -> bool:
        """Every request decided at Slack, or its clicker told to retry (a card may change before its decision)."""
        retry = [text for text in answers(fake) if RETRY_WORDS.search(text)]
        return all(
            fake.invite_request_status(card.request_id) != "pending" or any(card.email in text for text in retry)
            for card in cards
        )

    try:
        poll(settled, BURST_TIMEOUT, "tier 2 burst: every request decided at Slack or its clicker told to retry")
        complete = True
    except AssertionError:
        complete = False
    seconds = time.time() - started
    calls = [call for call in fake.calls() if call.at >= started]
    approves = [call for call in calls if call.method == APPROVE]
    successes = [call.at for call in approves if call.status == 200 and call.error is None]
    return Tier2(
        clicks=clicks,
        approve_calls=len(approves),
        approvals=len(successes),
        last_approved_at=max(successes) if successes else None,
        limited=Counter(call.method for call in calls if call.status == 429),
        told_to_retry=[text for text in answers(fake) if RETRY_WORDS.search(text)],
        complete=complete,
        seconds=seconds,
    )
