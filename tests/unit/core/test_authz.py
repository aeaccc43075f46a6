"""The self-approval rule as data: a requester is recognised under either form of their id, a denial stays theirs, and a
Slack that cannot translate ids refuses for now rather than letting a requester through."""

from __future__ import annotations

from typing import Any, cast

import pytest

from app.core import authz
from app.core.authz import ALLOWED, LOOKUP_FAILED_OUTCOME, SELF_APPROVAL, Approvers, Asked
from app.core.ports import SlackAdmin, SlackCallFailed
from app.core.workspaces import Workspaces

TEAM = "T0ALPHA01"
ORG_IDS = {"U0ADA00001": "W0ADA00001", "U0BOB00001": "W0BOB00001"}


class _Gateway:
    """users.info as far as the rule needs it: local ids to org-wide ones, or Slack's error."""

    def __init__(self, failure: str | None = None) -> None:
        self.failure = failure
        self.asked: list[tuple[str, str]] = []

    def org_user_id(self, user_id: str, team_id: str) -> str:
        self.asked.append((user_id, team_id))
        if self.failure is not None:
            raise SlackCallFailed("users.info", self.failure)
        if user_id not in ORG_IDS:
            raise SlackCallFailed("users.info", "user_not_found")
        return ORG_IDS[user_id]


def _approvers(gateway: _Gateway, **kw: Any) -> Approvers:
    admin = cast(SlackAdmin, gateway)
    return Approvers(["W0ADA00001", "W0BOB00001"], admin, Workspaces([TEAM], admin, cast(Any, None)), **kw)


@pytest.mark.parametrize(
    ("actor", "requesters", "expected"),
    [
        ("W0ADA00001", ["W0ADA00001"], SELF_APPROVAL),
        ("W0ADA00001", ["U0ADA00001"], SELF_APPROVAL),
        ("U0ADA00001", ["W0ADA00001"], SELF_APPROVAL),
        ("W0ADA00001", ["W0BOB00001", "U0ADA00001"], SELF_APPROVAL),
        ("W0ADA00001", ["U0BOB00001"], ALLOWED),
        ("W0ADA00001", ["U0GONE0001"], ALLOWED),  # a requester Slack no longer knows is nobody who clicks
        ("W0ADA00001", [], ALLOWED),
    ],
)
def test_a_requester_is_recognised_under_either_form_of_their_id(actor, requesters, expected):
    assert _approvers(_Gateway()).not_requester(actor, requesters, team_id=TEAM, workspace=TEAM) == expected


def test_ids_of_one_form_are_compared_without_asking_slack():
    gateway = _Gateway()
    assert _approvers(gateway).not_requester("W0ADA00001", ["W0BOB00001"], team_id=TEAM, workspace=TEAM) == ALLOWED
    assert gateway.asked == []


def test_a_slack_that_cannot_translate_ids_refuses_for_now():
    verdict = _approvers(_Gateway("ratelimited")).not_requester("W0ADA00001", ["U0BOB00001"], team_id=TEAM, workspace=TEAM)
    assert (verdict.allowed, verdict.outcome, verdict.code) == (False, LOOKUP_FAILED_OUTCOME, "users.info ratelimited")


def test_self_approval_may_be_allowed():
    approvers = _approvers(_Gateway(), allow_self_approval=True)
    assert approvers.not_requester("W0ADA00001", ["W0ADA00001"], team_id=TEAM, workspace=TEAM) == ALLOWED


@pytest.mark.parametrize(("action", "allowed"), [("approve", False), ("deny", True)])
def test_a_requester_may_deny_but_not_approve(action, allowed):
    asked = Asked("W0ADA00001", action, "Ir0001")
    verdict = authz.judge(_approvers(_Gateway()), asked, workspace=TEAM, actor_team=TEAM, requesters=["W0ADA00001"])
    assert verdict.allowed is allowed


def test_earlier_approvals_are_checked_again_by_the_same_rule():
    refused = authz.recheck(
        _approvers(_Gateway()),
        [("W0ADA00001", TEAM), ("W0BOB00001", TEAM), ("W0EVE00001", TEAM)],
        workspace=TEAM,
        requesters=["U0ADA00001"],
    )
    assert {approver: verdict.outcome for approver, verdict in refused.items()} == {
        "W0ADA00001": "self_approval_refused",
        "W0EVE00001": "not_allowed",
    }
