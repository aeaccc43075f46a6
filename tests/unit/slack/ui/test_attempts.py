"""`/invites show`'s history in words: who tried what and how it ended, never a raw outcome code or a rule as a mention."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from app.slack.ui import replies
from app.store.models import DecisionLog
from tests.support.rows import request_row

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)


def _history(*entries: DecisionLog) -> str:
    shown = replies.request_in_full(request_row(id="Ir00000001", status="approved"), list(entries))
    return str(shown[-1]["text"]["text"])


def _entry(outcome: str, action: str = "approve", source: str = "button", actor: str | None = "U0ADA0001") -> DecisionLog:
    return DecisionLog(request_id="Ir00000001", actor_id=actor, action=action, source=source, outcome=outcome, at=MOMENT)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (_entry("ok", source="policy", actor="employees"), "policy *employees* approved"),
        (_entry("not_allowed", action="deny"), "<@U0ADA0001> tried to deny: refused, not an approver (from card)"),
        (_entry("approval_recorded"), "<@U0ADA0001> approved: counted as one approval of several"),
        (_entry("already_approved"), "approved again: their approval was already counted"),
        (_entry("closed_elsewhere", action="deny", source="sync"), "<@U0ADA0001> denied outside invitebot"),
        (_entry("in_flight"), "tried to approve: someone was deciding it at that moment"),
        (_entry("policy_agreed", action="deny", source="policy", actor="personal-mail"), "policy *personal-mail* would have denied: the decision agreed"),
        (_entry("ok", action="deny", source="slash"), "<@U0ADA0001> denied (from /invites)"),
        (_entry("user_disabled"), "tried to approve: Slack answered `user_disabled`"),
    ],
)
def test_each_attempt_is_said_in_words(entry: DecisionLog, says: str) -> None:
    history = _history(entry)
    assert says in history
    assert "<@employees>" not in history and "<@personal-mail>" not in history


@pytest.mark.parametrize(
    "outcome", ["ok", "not_allowed", "approval_recorded", "already_approved", "closed_elsewhere", "in_flight", "policy_agreed"]
)
def test_no_known_outcome_is_shown_as_its_code(outcome: str) -> None:
    history = _history(_entry(outcome, source="policy" if outcome.startswith("policy") else "button"))
    assert not re.search(rf"`{outcome}`|\b{outcome}\b", history)
