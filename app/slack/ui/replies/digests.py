"""The backlog digest: one card standing for many requests, and its chooser of bulk decisions."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core.authz import NOT_ALLOWED_OUTCOME, Verdict
from app.core.backlog import Backlog
from app.slack.ui import blocks
from app.slack.ui.replies.decisions import refusal
from app.slack.ui.replies.words import _count, age_words


def digest_line(backlog: Backlog, at: datetime) -> str:
    """214 pending requests in Alpha Corp, oldest 9 days (as of `at`); once none is left, All 214 decided."""
    where = blocks.safe(backlog.label, blocks.MAX_NAME_CHARS)
    if not backlog.open:
        return f"All {backlog.total} decided in {where}"
    noun = "request" if backlog.open == 1 else "requests"
    oldest = f", oldest {_oldest_words(at - backlog.oldest)}" if backlog.oldest is not None else ""
    return f"{backlog.open} pending {noun} in {where}{oldest}"


def _oldest_words(span: timedelta) -> str:
    """9 days; under a day, as precise as age_words."""
    return _count(span.days, "day") if span.days else age_words(max(0, int(span.total_seconds())))


NOT_ALLOWED_TO_LIST = "Only invite approvers can list invite requests."
NOT_ALLOWED_IN_BULK = "Only invite approvers can decide invite requests, one by one or in bulk."


def digest_refusal(verdict: Verdict, user_id: str, not_allowed: str) -> str:
    """Why a digest button does nothing for this person: `not_allowed` for someone who is no approver."""
    only = verdict.outcome == NOT_ALLOWED_OUTCOME and verdict.group is None and not verdict.elsewhere
    return not_allowed if only else refusal(verdict, user_id)


DIGEST_EXPLAINED = (
    "Too many requests arrived at once for a card each, so this card stands for them: list them, or decide them in bulk. "
    "Requests that arrive from now on get cards of their own."
)


def bulk_choose_head(backlog: Backlog) -> str:
    """The head of a digest's chooser: what is pending and what a button does."""
    where = blocks.safe(backlog.label, blocks.MAX_NAME_CHARS)
    if not backlog.open:
        return f"Every request of this backlog in {where} has been decided."
    noun = "request" if backlog.open == 1 else "requests"
    return (
        f"*{backlog.open} pending {noun}* in {where}. Pick an email domain: invitebot lists the requests it would decide "
        "before anything is sent to Slack."
    )


def bulk_how(backlog: Backlog) -> str:
    """The chooser's footnote: the same from `/invites`, for a domain without a button or a subdomain pattern."""
    return (
        f"Or type `/invites approve --domain example.com --team {backlog.team_id}` "
        f"(`/invites deny --domain … --team {backlog.team_id} --reason \"…\"`); `*.example.com` takes its subdomains. "
        f"`/invites list {backlog.team_id}` lists them one by one."
    )
