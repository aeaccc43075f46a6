"""Ack latency and click-to-card-updated time for 50 concurrent Approve clicks on one real `invitebot serve`.

Run from the repository root: .venv/bin/python -m bench.ack_latency
"""

from __future__ import annotations

import math
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from app.sandbox import FakeSlack, SlackSender
from app.slack.gateway import SlackGateway, make_client
from app.slack.ids import ActionId
from tests.conftest import (
    APPROVER,
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    new_request,
    running_fake,
    serve_processes,
    wait_for_card,
)

CARDS = 50
ACK_LIMIT = 3.0  # Slack shows the clicker an error when the ack takes longer
UPDATE_TIMEOUT = 60.0
SLOW_APPROVE = 1.0
POLL = 0.25  # seconds between looks at the call log; timings come from Call.at, not from when we look
APPROVE, UPDATE, EPHEMERAL = "admin.inviteRequests.approve", "chat.update", "chat.postEphemeral"
SCRATCH_CHANNEL = "C0GENERAL1"  # where the direct stand-in timing posts its card copies
T = TypeVar("T")


@dataclass(frozen=True)
class Click:
    """One Approve click: its card, when its HTTP request left (time.time(), the clock of Call.at), its ack."""

    ts: str
    sent_at: float
    ack: float
    status: int


@dataclass(frozen=True)
class Round:
    """One round of concurrent clicks: the clicks, when each card was updated, and the Web API calls caused."""

    clicks: list[Click]
    updated_at: dict[str, float]
    calls: Counter[str]

    def acks(self) -> list[float]:
        """Ack latency of every click, in seconds."""
        return [click.ack for click in self.clicks]

    def to_updated(self) -> list[float]:
        """Click sent to chat.update answered, per card, in seconds."""
        return [self.updated_at[click.ts] - click.sent_at for click in self.clicks]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 50 samples is the slowest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, one decimal."""
    return f"{seconds * 1000:.1f}"


def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """check()'s first truthy value, looked for every POLL seconds; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(POLL)
    return found


def has_actions(blocks: list[dict[str, Any]] | None) -> bool:
    """Whether a card still shows an actions block (its buttons)."""
    return any(block.get("type") == "actions" for block in blocks or [])


def post_cards(fake: FakeSlack, sender: SlackSender, label: str) -> dict[str, str]:
    """Create CARDS pending requests, deliver each as a signed event, wait for their cards; email -> card ts."""
    emails = [f"{label}-{n:02d}@example.com" for n in range(CARDS)]
    for email in emails:
        reply = sender.invite_requested(new_request(fake, email))
        assert reply.status == 200, f"invite_requested for {email} answered {reply.status}"
    return {email: wait_for_card(fake, email)["ts"] for email in emails}


def click_all(sender: SlackSender, card_ts: list[str]) -> list[Click]:
    """Approve every card at once, one thread per card, released together by a barrier."""
    barrier = threading.Barrier(len(card_ts))

    def click(ts: str) -> Click:
        barrier.wait()
        reply = sender.click(user_id=APPROVER, channel=CHANNEL, message_ts=ts, action_id=ActionId.APPROVE.value)
        return Click(ts, time.time() - reply.elapsed, reply.elapsed, reply.status)

    with ThreadPoolExecutor(len(card_ts)) as pool:
        return list(pool.map(click, card_ts))


def updates(fake: FakeSlack, card_ts: list[str]) -> dict[str, float] | None:
    """Card ts -> Call.at of the first successful chat.update that removed its buttons, once every card has one."""
    wanted, found = set(card_ts), {}
    for call in fake.calls(UPDATE):
        ts = call.params.get("ts")
        if call.error is None and ts in wanted and ts not in found and not has_actions(call.params.get("blocks")):
            found[ts] = call.at
    return found if len(found) == len(wanted) else None


def all_answered(fake: FakeSlack, emails: list[str]) -> bool:
    """Whether the approver has had an ephemeral answer naming each email (the bot's last call per click)."""
    texts = [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=APPROVER)]
    return all(any(email in text for text in texts) for email in emails)


def run_round(fake: FakeSlack, sender: SlackSender, label: str) -> Round:
    """Post CARDS cards, approve them all at once, and wait until every card is updated and every clicker told."""
    cards = post_cards(fake, sender, label)
    started = time.time()
    clicks = click_all(sender, list(cards.values()))
    updated_at = poll(lambda: updates(fake, list(cards.values())), UPDATE_TIMEOUT, f"{label}: every card updated")
    poll(lambda: all_answered(fake, list(cards)), UPDATE_TIMEOUT, f"{label}: every clicker answered")
    calls = Counter(call.method for call in fake.calls() if call.at >= started)
    return Round(clicks, updated_at, calls)


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds one call took, and what it returned."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def standin_times(fake: FakeSlack, card: dict[str, Any]) -> dict[str, list[float]]:
    """The stand-in's own round trip for each call on a click's path: CARDS paths one after another, bot idle."""
    gateway = SlackGateway(
        admin=make_client(fake.admin_token, fake.api_url), bot=make_client(fake.bot_token, fake.api_url)
    )
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


@dataclass(frozen=True)
class Results:
    """Everything measured: the first burst on a fresh process, the steady round, the stand-in alone, slow Slack."""

    first: Round
    steady: Round
    standin: dict[str, list[float]]
    slow: Round


def measure() -> Results:
    """Stand-in, temporary SQLite database and one `invitebot serve`, all cleaned up even on failure."""
    with (
        tempfile.TemporaryDirectory(prefix="invitebot-bench-") as tmp,
        running_fake() as fake,
        serve_processes(fake, f"sqlite:///{Path(tmp) / 'invitebot.db'}") as start_serve,
    ):
        sender = SlackSender(start_serve(), SIGNING_SECRET, fake)
        first = run_round(fake, sender, "first")
        steady = run_round(fake, sender, "steady")
        standin = standin_times(fake, fake.message(CHANNEL, steady.clicks[0].ts))
        fake.set_latency(APPROVE, SLOW_APPROVE)
        slow = run_round(fake, sender, "slow")
    return Results(first, steady, standin, slow)


def spread(values: list[float], *, with_max: bool = False) -> str:
    """p50 and p99 (and max) of durations in seconds, as milliseconds."""
    text = f"p50 {ms(percentile(values, 50))}  p99 {ms(percentile(values, 99))}"
    return f"{text}  max {ms(max(values))}" if with_max else text


def check_round(label: str, result: Round) -> list[str]:
    """Print a round's approve count and ack verdict; return what failed."""
    slowest, approvals = max(result.acks()), result.calls[APPROVE]
    statuses = Counter(click.status for click in result.clicks)
    under = "yes" if slowest < ACK_LIMIT and set(statuses) == {200} else "NO"
    print(
        f"{label}: approve calls {approvals} (must be {CARDS}); every ack HTTP 200 and under {ACK_LIMIT:.0f} s:"
        f" {under} (slowest {ms(slowest)})"
    )
    failures = [f"{label}: an ack took {ms(slowest)} ms"] if slowest >= ACK_LIMIT else []
    failures += [f"{label}: acks answered HTTP {dict(statuses)}"] if set(statuses) != {200} else []
    failures += [f"{label}: {approvals} approve calls"] if approvals != CARDS else []
    if max(result.to_updated()) >= UPDATE_TIMEOUT:
        failures.append(f"{label}: a card took {max(result.to_updated()):.1f} s to update")
    return failures


def report(results: Results) -> list[str]:
    """Print the numbers (all in ms); return what failed."""
    steady, standin = results.steady, results.standin
    path = [approve + update for approve, update in zip(standin[APPROVE], standin[UPDATE])]
    overhead = [seconds - percentile(path, 50) for seconds in steady.to_updated()]
    per_click = ", ".join(f"{method} {count / CARDS:.2f}" for method, count in sorted(steady.calls.items()))
    alone = {method: ms(percentile(times, 50)) for method, times in standin.items()}
    print(f"{CARDS} concurrent Approve clicks on one `invitebot serve` (SQLite), Slack stand-in on 127.0.0.1; ms")
    print(f"ack latency: {spread(steady.acks(), with_max=True)}")
    print(f"click-to-card-updated: {spread(steady.to_updated())}")
    print(f"Web API calls per click: {per_click}")
    print(
        f"stand-in time per decision path: {spread(path)}  [approve p50 {alone[APPROVE]} + chat.update p50"
        f" {alone[UPDATE]}; chat.postEphemeral p50 {alone[EPHEMERAL]} comes after the card update]"
    )
    print(f"our overhead (click-to-card-updated minus stand-in path p50): {spread(overhead)}")
    print(f"first burst after start: ack {spread(results.first.acks(), with_max=True)}")
    print(f"first burst after start: click-to-card-updated {spread(results.first.to_updated())}")
    print(f"approve slowed to {SLOW_APPROVE:.0f} s: ack {spread(results.slow.acks(), with_max=True)}")
    print(f"approve slowed to {SLOW_APPROVE:.0f} s: click-to-card-updated {spread(results.slow.to_updated())}")
    rounds = {"steady": steady, "first burst": results.first, "slow approve": results.slow}
    return [failure for label, result in rounds.items() for failure in check_round(label, result)]


def main() -> int:
    """Measure, print, and exit 1 on a slow ack, a missing approval or a card not updated in time."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the serve process is terminated too
    started = time.monotonic()
    try:
        failures = report(measure())
    except AssertionError as exc:
        failures = [str(exc)]
    for failure in failures:
        print(f"FAIL: {failure}")
    print(f"result: {'FAIL' if failures else 'PASS'} ({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
