"""Words several /invites answers share: how a request stands, where a decision came from, how long something took."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from app.slack.ui import blocks, limits
from app.store.models import Action, InviteRequest, Source

LIST_REASON_CHARS = 300  # deny reasons in lists of many requests; /invites show has the whole reason
SOURCE_WORDS = {
    Source.BUTTON.value: "card",
    Source.SLASH.value: "/invites",
    Source.HOME.value: "App Home",
    Source.OUTSIDE.value: "Slack admin pages",
    Source.SYNC.value: "sync",
}


def source_words(source: str | None) -> str:
    return SOURCE_WORDS.get(source or "", source or "unknown")


def status_words(request: InviteRequest, *, reason_chars: int = blocks.MAX_REASON_CHARS) -> str:
    """How a request stands, in a sentence (a deny reason shortened to `reason_chars`)."""
    return blocks.outcome_line(request, reason_chars=reason_chars) or ":hourglass_flowing_sand: Waiting for a decision"


def _sections(head: list[dict[str, Any]], lines: list[str], *, more: Callable[[int], str]) -> list[dict[str, Any]]:
    """`head`, then as many lines as one message holds (limits.fit), grouped into sections under Slack's
    3000-character limit: when they do not all fit, the last block says how many lines were left out (`more(n)`) and
    what to do about it."""

    def grouped(count: int) -> list[list[dict[str, Any]]]:
        groups: list[list[str]] = []
        size = 0
        for line in lines[:count]:
            if groups and size + len(line) + 1 <= limits.SECTION_TEXT - 100:
                groups[-1].append(line)
                size += len(line) + 1
            else:
                groups.append([line])
                size = len(line)
        return [[blocks.mrkdwn_section("\n".join(group))] for group in groups]

    def rest(count: int) -> list[dict[str, Any]]:
        return [blocks.context(more(len(lines) - count))] if count < len(lines) else []

    low, high = 0, len(lines)  # the most lines that fit, found by halving: fewer lines never take more room
    while low < high:
        middle = (low + high + 1) // 2
        sections = grouped(middle)
        if limits.fitting(head, sections, more, tail=lambda _: rest(middle)) == len(sections):
            low = middle
        else:
            high = middle - 1
    return limits.fit(head, grouped(low), more, tail=lambda _: rest(low))


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"


_VERB = {Action.APPROVE: "approve", Action.DENY: "deny"}
_PAST = {Action.APPROVE.value: "approved", Action.DENY.value: "denied"}
_DOING = {Action.APPROVE.value: "approving", Action.DENY.value: "denying"}


def oldest_words(span: timedelta | None) -> str:
    """After the pending count: how long the oldest open request has waited."""
    return f" (the oldest has waited {_duration(span)})" if span is not None else ""


def age_words(seconds: int) -> str:
    """How long a request has waited: 45 minutes, 4 hours, 1 day 12 hours, 3 days."""
    minutes = seconds // 60
    days, hours = minutes // 1440, minutes % 1440 // 60
    if days:
        return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")
    if minutes >= 60:
        return _count(minutes // 60, "hour")
    return _count(minutes, "minute")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
