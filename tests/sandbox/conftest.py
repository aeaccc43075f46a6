"""Fixtures for the stand-in's own tests: a started FakeSlack with one workspace, channel and user, and clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.sandbox import FakeSlack

TEAM, OTHER_TEAM, CHANNEL, USER = "T0ONE", "T0TWO", "C0APPROVE", "U0ALICE"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        slack.add_team(TEAM, "One", "one")
        slack.add_channel(CHANNEL, name="invite-approvals", team_id=TEAM)
        slack.add_user(USER, name="alice", team_id=TEAM, real_name="Alice A")
        yield slack


@pytest.fixture
def admin(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.api_url, token=fake.admin_token)


@pytest.fixture
def bot(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.api_url, token=fake.bot_token)


def error_of(call: Any, **kwargs: Any) -> str:
    """The Slack error code a call answers."""
    with pytest.raises(SlackApiError) as info:
        call(**kwargs)
    return info.value.response["error"]
