"""Everything measured, as one table of lines that read the same from run to run (so two runs can be set side by side)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from bench.harness import ACK_LIMIT, APPROVE, Memory, Sent, ms, percentile, spread
from bench.scenarios import (
    BURST,
    CARDS,
    COMMANDS,
    FLOOR_ROUNDS,
    ONE_AT_A_TIME,
    SLOW_APPROVE,
    TIER2_PER_MINUTE,
    UPDATE_TIMEOUT,
    AgainstFloor,
    Round,
    Single,
    SlowSlack,
    Tier2,
    path_seconds,
)

ACK_P99 = 0.020  # scenario 1's goal
QUEUED_ACK_P99 = 0.100  # scenario 2's
OVERHEAD_P50 = 0.010  # scenario 3's
FLOOR_RATIO = 1.25  # scenario 1's: serve's ack p99 at most this many times the do-nothing Bolt app's, same front end
DATABASES = ("SQLite", "PostgreSQL")


@dataclass
class Results:
    """What the scenarios measured; a scenario that failed leaves its field None and says why in `errors`."""

    first: Round | None = None
    steady: Round | None = None
    floors: dict[str, AgainstFloor] = field(default_factory=dict)  # scenario 1 against the floor, by database
    standin: dict[str, list[float]] | None = None
    single: Single | None = None
    slow: SlowSlack | None = None
    memory_fast: Memory | None = None
    tier2: Tier2 | None = None
    memory_tier2: Memory | None = None
    errors: list[str] = field(default_factory=list)
    more: list[Row] = field(default_factory=list)  # the lines of scenarios 6-8 (bench.backlog, bulk_pace, replica_clicks)


@dataclass(frozen=True)
class Row:
    scenario: str
    measure: str
    value: str
    target: str = ""
    met: bool | None = None


def _p(values: list[float], p: float) -> float:
    return percentile(values, p) if values else float("inf")


def _ack_row(scenario: str, measure: str, sent: list[Sent] | None, goal: float | None = None, *, strict: bool = True) -> Row:
    """Ack p50 / p99 / max; with a goal, whether p99 is under it (strict) or at most it."""
    if sent is None:
        return Row(scenario, measure, "not measured")
    acks = [s.ack for s in sent]
    if goal is None:
        return Row(scenario, measure, spread(acks))
    p99 = _p(acks, 99)
    met = p99 < goal if strict else p99 <= goal
    return Row(scenario, measure, spread(acks), f"p99 {'<' if strict else '<='} {ms(goal)} ms", met)


def _floor_row(database: str, f: AgainstFloor | None) -> Row:
    """Scenario 1's ack p99 against the do-nothing Bolt app's under the same front end, measured beside it."""
    measure = (
        f"ack p99 / Bolt floor's p99, {CARDS} concurrent clicks, {database} (median of {FLOOR_ROUNDS} rounds each;"
        " p50s in brackets)"
    )
    if f is None:
        hint = " (run with --postgres or INVITEBOT_BENCH_DATABASE_URL)" if database == "PostgreSQL" else ""
        return Row("1", measure, "not measured" + hint)
    value = f"{ms(f.serve_p(99))} / {ms(f.floor_p(99))} ms = {f.ratio():.2f}x ({ms(f.serve_p(50))} / {ms(f.floor_p(50))} ms)"
    return Row("1", measure, value, f"<= {FLOOR_RATIO:.2f}x", f.ratio() <= FLOOR_RATIO)


def _overheads(to_updated: list[float], standin: dict[str, list[float]]) -> list[float]:
    baseline = percentile(path_seconds(standin), 50)
    return [seconds - baseline for seconds in to_updated]


def rows(r: Results) -> list[Row]:
    """The table, one line per measure, in scenario order; missing measurements say so instead of disappearing."""
    slow = r.slow
    out = [
        _ack_row(
            "1",
            f"ack, {CARDS} concurrent Approve clicks (steady round): p50 / p99 / max",
            r.steady and r.steady.clicks,
            ACK_P99,
            strict=False,
        ),
        _ack_row("1", f"ack, the first {CARDS} clicks after start: p50 / p99 / max", r.first and r.first.clicks),
        *(_floor_row(database, r.floors.get(database)) for database in DATABASES),
        _ack_row(
            "2",
            f"ack, {CARDS} more clicks while {CARDS} decisions wait on a {SLOW_APPROVE:.0f} s approve: p50 / p99 / max",
            slow and slow.clicks,
            QUEUED_ACK_P99,
        ),
        _ack_row(
            "2",
            f"ack, {COMMANDS} `/invites` commands sent with those clicks: p50 / p99 / max",
            slow and slow.commands,
            QUEUED_ACK_P99,
        ),
        _ack_row("2", f"ack, the {CARDS} clicks that queued those decisions: p50 / p99 / max", slow and slow.queued),
    ]
    standin = r.standin
    to_card = spread(r.steady.to_updated()) if r.steady else "not measured"
    out.append(Row("3", f"click-to-card-updated, {CARDS} concurrent clicks: p50 / p99 / max", to_card))
    out.append(
        Row(
            "3",
            "stand-in approve + chat.update alone (bot idle): p50 / p99 / max",
            spread(path_seconds(standin)) if standin else "not measured",
        )
    )
    for measure, to_updated in (
        (
            f"overhead, {CARDS} concurrent clicks (click-to-card minus stand-in p50): p50 / p99 / max",
            r.steady and r.steady.to_updated(),
        ),
        (f"overhead, {ONE_AT_A_TIME} clicks one at a time: p50 / p99 / max", r.single and r.single.to_updated),
    ):
        if to_updated and standin:
            overhead = _overheads(to_updated, standin)
            out.append(Row("3", measure, spread(overhead), f"p50 <= {ms(OVERHEAD_P50)} ms", _p(overhead, 50) <= OVERHEAD_P50))
        else:
            out.append(Row("3", measure, "not measured"))
    out += _tier2_rows(r.tier2)
    out += [
        Row(
            "5",
            "serve RSS after 1-3: web and worker processes, peak (VmHWM) / at end (VmRSS); arbiter",
            r.memory_fast.text() if r.memory_fast else "not measured",
        ),
        Row(
            "5",
            "serve RSS after 4: web and worker processes, peak (VmHWM) / at end (VmRSS); arbiter",
            r.memory_tier2.text() if r.memory_tier2 else "not measured",
        ),
    ]
    return out + r.more


def _tier2_rows(t: Tier2 | None) -> list[Row]:
    prefix = f"Tier-2 burst, {BURST} clicks in 1 s at {TIER2_PER_MINUTE}/min"
    measures = [
        f"{prefix}: ack p50 / p99 / max",
        f"{prefix}: first click to last successful approval",
        f"{prefix}: successful approvals / approve calls made",
        f"{prefix}: 429 answers from Slack, approve / all methods",
        f'{prefix}: clickers told to retry ("again"/"retry")',
    ]
    if t is None:
        return [Row("4", measure, "not measured") for measure in measures]
    last = t.to_last_approval()
    short = "" if t.approvals >= BURST else f" (only {t.approvals} approved)"
    ideal = f"~{t.ideal_even():.0f} s even pacing; bucket allows {t.ideal_bucket():.0f} s"
    return [
        Row("4", measures[0], spread([click.ack for click in t.clicks])),
        Row("4", measures[1], "none approved" if last is None else f"{last:.1f} s{short}", ideal),
        Row(
            "4", measures[2], f"{t.approvals} / {t.approve_calls}", f"{BURST} / {BURST}", t.approvals == BURST == t.approve_calls
        ),
        Row("4", measures[3], f"{t.limited[APPROVE]} / {sum(t.limited.values())}"),
        Row("4", measures[4], f"{len(t.told_to_retry)} of {BURST}", "0", not t.told_to_retry),
    ]


def table(lines: list[Row]) -> str:
    """A Markdown table, padded so that it also reads as plain text."""
    cells = [("#", "measure", "value", "target", "met")] + [
        (row.scenario, row.measure, row.value, row.target, "" if row.met is None else "yes" if row.met else "NO") for row in lines
    ]
    widths = [max(len(cell[i]) for cell in cells) for i in range(5)]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " |"

    return "\n".join([line(cells[0]), line(tuple("-" * width for width in widths)), *map(line, cells[1:])])


def notes(r: Results) -> list[str]:
    """What the table's numbers rest on, one sentence each."""
    out = []
    if r.steady is not None:
        per_click = ", ".join(f"{method} {count / CARDS:.2f}" for method, count in sorted(r.steady.calls.items()))
        out.append(f"steady round, Web API calls per click: {per_click}")
    if r.standin is not None:
        alone = {method: ms(percentile(times, 50)) for method, times in r.standin.items()}
        out.append(
            "stand-in p50s, bot idle: "
            + ", ".join(f"{method} {value} ms" for method, value in alone.items())
            + " (the ephemeral comes after the card update, so it is not in the path)"
        )
    if r.slow is not None:
        s = r.slow
        in_flight = "unknown" if s.in_flight_at_start is None else f"{s.in_flight_at_start:.0f}"
        out.append(
            f"scenario 2: when the measured requests left, Slack was holding {s.held_at_start} approve calls and the bot had"
            f" {in_flight} pieces of work in flight; when their last ack came back Slack still held {s.held_at_end}"
        )
    if r.tier2 is not None:
        t = r.tier2
        limited = ", ".join(f"{method} {count}" for method, count in sorted(t.limited.items())) or "none"
        out.append(f"scenario 4: 429s by method: {limited}; waited {t.seconds:.1f} s for every outcome")
        out += [f"scenario 4: told to retry: {text}" for text in _distinct(t.told_to_retry)[:3]]
    return out


def _distinct(texts: list[str]) -> list[str]:
    """Texts with the email addresses blanked, each shape once, most frequent first."""
    shapes = Counter(re.sub(r"[\w.+-]+@[\w.-]+", "<email>", text) for text in texts)
    return [f"{count} x {shape}" for shape, count in shapes.most_common()]


def _check_acks(label: str, sent: list[Sent]) -> list[str]:
    slowest = max(s.ack for s in sent)
    statuses = Counter(s.status for s in sent)
    failures = [f"{label}: an ack took {ms(slowest)} ms (Slack gives up at {ACK_LIMIT:.0f} s)"] if slowest >= ACK_LIMIT else []
    return failures + ([f"{label}: acks answered HTTP {dict(statuses)}"] if set(statuses) != {200} else [])


def failures(r: Results) -> list[str]:
    """What makes the run fail (as opposed to missing a target): lost or slow acks, wrong approve counts, stuck cards."""
    found = list(r.errors)
    checks: list[tuple[str, Round | None, int]] = [("first burst", r.first, CARDS)]
    for database, floor in r.floors.items():
        checks += [(f"against the floor, {database}, round {n + 1}", round_, CARDS) for n, round_ in enumerate(floor.serve)]
    for label, result, expected in checks:
        if result is None:
            continue
        found += _check_acks(label, result.clicks)
        if result.calls[APPROVE] != expected:
            found.append(f"{label}: {result.calls[APPROVE]} approve calls, not {expected}")
        if max(result.to_updated()) >= UPDATE_TIMEOUT:
            found.append(f"{label}: a card took {max(result.to_updated()):.1f} s to update")
    if r.slow is not None:
        s = r.slow
        for label, sent in (
            ("slow Slack, queued", s.queued),
            ("slow Slack, clicks", s.clicks),
            ("slow Slack, /invites", s.commands),
        ):
            found += _check_acks(label, sent)
        if s.approvals != 2 * CARDS:
            found.append(f"slow Slack: {s.approvals} approve calls, not {2 * CARDS}")
    if r.single is not None:
        found += _check_acks("one at a time", r.single.clicks)
    if r.tier2 is not None:
        t = r.tier2
        found += _check_acks("tier 2 burst", t.clicks)
        if t.approvals != BURST:
            found.append(f"tier 2 burst: {t.approvals} of {BURST} requests approved")
        if not t.complete:
            found.append("tier 2 burst: not every request was decided at Slack or its clicker told to retry in time")
    return found


def missed(lines: list[Row]) -> list[Row]:
    return [row for row in lines if row.met is False]


Printer = Callable[[str], None]


def show(r: Results, header: list[str], out: Printer = print) -> list[str]:
    """Print the header, the table, the notes and the verdict lines; return the failures."""
    lines = rows(r)
    for text in header:
        out(text)
    out("")
    out(table(lines))
    out("")
    for text in notes(r):
        out(f"- {text}")
    found = failures(r)
    for failure in found:
        out(f"FAIL: {failure}")
    targets = [row for row in lines if row.met is not None]
    out(f"targets met: {len(targets) - len(missed(lines))} of {len(targets)}")
    return found
