"""The Slack stand-in, seeded with a small Enterprise org whose ids the tests (and the benchmarks) name."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import pytest

from app.sandbox import FakeSlack

CHANNEL = "C0INVITES1"
TEAM = "T0ALPHA01"
OTHER_TEAM = "T0BETA001"
APPROVER = "W0APPROV01"
GROUP_APPROVER = "W0GROUPAP1"
OUTSIDER = "W0OUTSID01"
REQUESTER = "W0REQUES01"
SLACK_ADMIN = "W0SLACKAD1"
APPROVER_GROUP = "S0APPROVE1"
MANY_APPROVERS = [f"W0MANY{n:04d}" for n in range(20)]


def seed(fake: FakeSlack) -> None:
    """A small Enterprise org: two workspaces, approvers, a user group, an outsider, an approvals channel."""
    fake.add_team(TEAM, "Alpha Corp", "alpha")
    fake.add_team(OTHER_TEAM, "Beta Labs", "beta")
    fake.add_channel(CHANNEL, name="invite-approvals", team_id=TEAM)
    fake.add_channel("C0GENERAL1", name="general", team_id=TEAM)
    fake.add_channel("C0DESIGN01", name="design", team_id=TEAM)
    for user_id, name in [
        (APPROVER, "grace"),
        (GROUP_APPROVER, "linus"),
        (OUTSIDER, "mallory"),
        (REQUESTER, "alan"),
        (SLACK_ADMIN, "margaret"),
        *[(user_id, user_id.lower()) for user_id in MANY_APPROVERS],
    ]:
        fake.add_user(user_id, name=name, team_id=TEAM, real_name=name.capitalize())
    fake.add_usergroup(APPROVER_GROUP, team_id=TEAM, handle="invite-approvers", user_ids=[GROUP_APPROVER, *MANY_APPROVERS])


@contextmanager
def running_fake() -> Iterator[FakeSlack]:
    """A started, seeded stand-in (also used by the benchmarks)."""
    with FakeSlack(admin_user_id="W0INVBOTAD") as slack:
        seed(slack)
        yield slack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with running_fake() as slack:
        yield slack


def new_request(fake: FakeSlack, email: str = "ada@example.com", **kw: Any) -> dict[str, Any]:
    """A pending request in the stand-in, with sensible defaults."""
    params: dict[str, Any] = {
        "team_id": TEAM,
        "email": email,
        "real_name": "Ada Lovelace",
        "requester_ids": [REQUESTER],
        "channel_ids": ["C0GENERAL1", "C0DESIGN01"],
        "request_reason": "Joining the analytical engine project",
        "date_expire": 1_900_000_000,
    }
    params.update(kw)
    return fake.add_invite_request(**params)
