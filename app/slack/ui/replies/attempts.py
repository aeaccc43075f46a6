"""What each recorded attempt to decide came to, in words: one mapping of audit outcomes that every surface reads."""

from __future__ import annotations

from app.core.audit import CALLING
from app.core.authz import LOOKUP_FAILED_OUTCOME, NOT_ALLOWED_OUTCOME, SELF_APPROVAL_OUTCOME
from app.core.decisions import (
    ALREADY_APPROVED_OUTCOME,
    APPROVAL_LAPSED_OUTCOME,
    APPROVAL_RECORDED_OUTCOME,
    REASON_REQUIRED_OUTCOME,
)
from app.core.lifecycle import AGREED, DISAGREED
from app.core.sync import OUR_CALL_LANDED
from app.slack.ui import blocks
from app.slack.ui.replies.words import source_words
from app.store.models import DecisionLog, Source

_PAST = {"approve": "approved", "deny": "denied", "invite": "invited", "require_approvals": "asked for more approvals"}
_TRIED = {"approve": "approve", "deny": "deny", "invite": "invite"}

# {past}: the action done ("approved"); {verb}: the action tried ("approve"). Words for outcomes not listed: Slack's code.
OUTCOME_WORDS = {
    "ok": "{past}",
    CALLING: "asked Slack to {verb}; no answer yet",
    NOT_ALLOWED_OUTCOME: "tried to {verb}: refused, not an approver",
    SELF_APPROVAL_OUTCOME: "tried to {verb}: refused, they asked for this invite themselves",
    LOOKUP_FAILED_OUTCOME: "tried to {verb}: refused, approver rights could not be checked",
    REASON_REQUIRED_OUTCOME: "tried to {verb}: refused, no reason given",
    APPROVAL_RECORDED_OUTCOME: "approved: counted as one approval of several",
    ALREADY_APPROVED_OUTCOME: "approved again: their approval was already counted",
    APPROVAL_LAPSED_OUTCOME: "approval no longer counts",
    "in_flight": "tried to {verb}: someone was deciding it at that moment",
    "not_found": "tried to {verb}: the request was not found",
    "already_decided": "tried to {verb}: it was already closed",
    "released_meanwhile": "tried to {verb}: another attempt had just failed",
    "gave_up": "tried to {verb}: invitebot's own attempts kept failing",
    "closed_elsewhere": "{past} outside invitebot",
    OUR_CALL_LANDED: "{past} (Slack's lists confirmed it)",
    "already_processed": "{past} (Slack had already recorded it)",
    "gone": "Slack no longer has the request",
    "released_stale": "a decision left unfinished was given back; the request is open again",
    AGREED: "would have {past}: the decision agreed",
    DISAGREED: "would have {past}: the decision did not agree",
}


def outcome_words(outcome: str, action: str) -> str:
    """approved; tried to deny: refused, not an approver; tried to approve: Slack answered `user_disabled`."""
    words = OUTCOME_WORDS.get(outcome)
    past, verb = _PAST.get(action, action or "decided"), _TRIED.get(action, "decide")
    if words is None:
        return f"tried to {verb}: Slack answered `{blocks.escape(outcome)}`"
    return words.format(past=past, verb=verb)


def actor_words(entry: DecisionLog) -> str:
    """Who made the attempt: a mention, the policy rule ("policy *employees*"), or invitebot itself."""
    if entry.source == Source.POLICY.value and entry.actor_id:
        return f"policy *{blocks.safe(entry.actor_id, 64)}*"
    return f"<@{entry.actor_id}>" if entry.actor_id else "invitebot"


def attempt_line(entry: DecisionLog) -> str:
    """• Dec 7: @ada tried to approve from the card: refused, not an approver"""
    where = "" if entry.source in (Source.POLICY.value, Source.SYNC.value) else f" (from {source_words(entry.source)})"
    return f"• {blocks.slack_date(entry.at)}: {actor_words(entry)} {outcome_words(entry.outcome, entry.action)}{where}"
