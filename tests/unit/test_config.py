"""Settings from an environment given as a dict: each one read and typed, and each problem named in one line that says
what the variable should hold, never in pydantic's words and never with a token in it."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from app.config import (
    SPECS,
    WORKSPACE_APPROVERS_PREFIX,
    ConfigError,
    DatabaseSettings,
    Settings,
    load,
    problems,
    setting_of,
)
from app.store.db import DatabaseOptions

PYDANTIC_WORDS = ("Input should", "unable to", "Value error", "valid integer", "valid boolean", "errors.pydantic.dev")


@pytest.fixture
def environment(monkeypatch):
    """Make the process environment exactly `env` as far as settings go: nothing of the real one leaks in."""

    def use(env: dict[str, str]) -> None:
        for name in list(os.environ):
            if setting_of(name) in SPECS or name.startswith(WORKSPACE_APPROVERS_PREFIX):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return use


GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-good",
    "SLACK_ADMIN_TOKEN": "xoxp-1-good",
    "INVITES_CHANNEL": "C0INVITES1",
    "INVITES_APPROVERS": "W0APPROV01",
    "INVITES_TEAM_IDS": "T0ALPHA01",
    "DATABASE_URL": "sqlite://",
}
EXAMPLE_DB = "sqlite:///data/invitebot.db or postgresql://invitebot:secret@db.internal:5432/invitebot"
BOT_TOKEN = "the Bot User OAuth Token from the app's OAuth & Permissions page, which starts with xoxb-"
ADMIN_TOKEN = (
    "the User OAuth Token of the org admin or owner who installed the app on the org (OAuth & Permissions), "
    "which starts with xoxp-"
)
APP_TOKEN = "an app-level token with connections:write (Basic Information → App-Level Tokens), which starts with xapp-"
APPROVERS = "(S…, S…@T… naming its workspace, or S…@E… for an org-level group)"
ROUTE_EXAMPLE = "(for example T0123ALPHA:C0456ALPHA,T0789BETA:G0123BETA)"
WORKSPACE_EXAMPLE = "(for example INVITES_APPROVERS_T0123ALPHA=W0456ADA,S0789ALPHAADMINS)"
CASES = [
    ("SLACK_BOT_TOKEN", "xoxp-1-s3cr3t", f"it is a user token (xoxp-…), but it must be {BOT_TOKEN}"),
    ("SLACK_BOT_TOKEN", "abc-s3cr3t", f"it does not start with xoxb-; it must be {BOT_TOKEN}"),
    ("SLACK_BOT_TOKEN", "xoxb-1-s3cr3t\n", "it has spaces or a line break around it; remove them"),
    ("SLACK_ADMIN_TOKEN", "xoxb-1-s3cr3t", f"it is a bot token (xoxb-…), but it must be {ADMIN_TOKEN}"),
    ("SLACK_ADMIN_TOKEN", "", f"it is empty; it must be {ADMIN_TOKEN}"),
    ("SLACK_SIGNING_SECRET", " ", "it is empty; it must be the Signing Secret from the app's Basic Information page (App Credentials)"),
    ("SLACK_APP_TOKEN", "xoxb-1-s3cr3t", f"it is a bot token (xoxb-…), but it must be {APP_TOKEN}"),
    ("SLACK_API_URL", "slack.com/api", "'slack.com/api' is not an http:// or https:// URL of Slack's Web API (for example https://slack.com/api/)"),
    ("DATABASE_URL", "mysql://u:s3cr3t@db/x", f"mysql://u:***@db/x is not a sqlite:// or postgresql:// URL (for example {EXAMPLE_DB})"),
    ("DATABASE_URL", "u:s3cr3t@db", f"it cannot be read as a URL; write a sqlite:// or postgresql:// URL (for example {EXAMPLE_DB})"),
    (
        "INVITES_CHANNEL",
        "approvals",
        "'approvals' is not the approvals channel's id, C… or G… (for example C0123ABCD, at the bottom of the channel's details)",
    ),
    (
        "INVITES_APPROVERS",
        "W0APPROV01,grace",
        f"'grace' is not a user id (U…/W…) or user-group id {APPROVERS} (for example W0123GRACE,S0456ADMINS@T0789ALPHA)",
    ),
    ("INVITES_APPROVERS", " , ", "it is empty: write comma-separated user ids (U…/W…) and user-group ids"),
    ("INVITES_APPROVERS", "S0GROUP1@X0ORG", f"'S0GROUP1@X0ORG' is not a user id (U…/W…) or user-group id {APPROVERS}"),
    ("INVITES_ROUTES", "T0ALPHA01 C0ALPHA01", f"'T0ALPHA01 C0ALPHA01' is not a workspace id, a colon and a channel id {ROUTE_EXAMPLE}"),
    ("INVITES_ROUTES", "alpha:C0ALPHA01", f"'alpha' is not a workspace id (T…) {ROUTE_EXAMPLE}"),
    ("INVITES_ROUTES", "E0ORG:C0ALPHA01", "'E0ORG' is the Enterprise org, not a workspace: route workspace ids (T…)"),
    ("INVITES_ROUTES", "T0ALPHA01:#alpha", f"'#alpha' is a channel's name; write its id {ROUTE_EXAMPLE}"),
    ("INVITES_ROUTES", "T0ALPHA01:alpha", f"'alpha' is not a channel id (C…/G…) {ROUTE_EXAMPLE}"),
    (
        "INVITES_ROUTES",
        "T0ALPHA01:C0ALPHA01,T0ALPHA01:C0BETA001",
        f"T0ALPHA01 is listed twice: route each workspace to one channel {ROUTE_EXAMPLE}",
    ),
    (
        "INVITES_APPROVERS_E0123",
        "W0ADA0001",
        f"'E0123' is the Enterprise org, not a workspace: name the variable after a workspace id (T…) {WORKSPACE_EXAMPLE}; "
        "INVITES_APPROVERS holds the approvers of every workspace",
    ),
    ("INVITES_APPROVERS_Tbad", "W0ADA0001", f"'Tbad' is not a workspace id (T…): name the variable after one {WORKSPACE_EXAMPLE}"),
    (
        "INVITES_APPROVERS_T0ALPHA01",
        "W0ADA0001,ada",
        f"'ada' is not a user id (U…/W…) or user-group id {APPROVERS} {WORKSPACE_EXAMPLE}",
    ),
    ("INVITES_TEAM_IDS", "alpha", "'alpha' is not a workspace id (T…) (for example T0123ALPHA,T0456BETA, or all)"),
    ("INVITES_TEAM_IDS", "all,T0ALPHA01", "'all' is not a workspace id: write 'all' on its own, or only workspace ids (T…)"),
    ("INVITES_SYNC_INTERVAL", "5", "'5' is not a number of seconds from 10 to 86400 (for example 300)"),
    ("INVITES_SYNC_INTERVAL", "86401", "'86401' is not a number of seconds from 10 to 86400 (for example 300)"),
    ("INVITES_SYNC_INTERVAL", "soon", "'soon' is not a number of seconds from 10 to 86400 (for example 300)"),
    ("INVITES_DENY_REASON_REQUIRED", "maybe", "'maybe' is not true or false"),
    ("INVITES_NOTIFY_REQUESTERS", "2", "'2' is not true or false"),
    ("INVITES_SERVE_WORKER", "maybe", "'maybe' is not true or false"),
    ("INVITES_OUTBOX_POLL_SECONDS", "0", "'0' is not a number of seconds from 0.05 to 300 (for example 1)"),
    ("INVITES_OUTBOX_POLL_SECONDS", "often", "'often' is not a number of seconds from 0.05 to 300 (for example 1)"),
    ("INVITES_ALLOW_SELF_APPROVAL", "sometimes", "'sometimes' is not true or false"),
    ("INVITES_ADMIN_CALLS_PER_MINUTE", "0", "'0' is not a whole number of calls from 1 to 60000 (for example 20)"),
    ("INVITES_CARD_POSTS_PER_MINUTE", "fast", "'fast' is not a whole number of posts from 1 to 60000 (for example 50)"),
    ("INVITES_MAX_RETRY_AFTER", "0", "'0' is not a whole number of seconds from 1 to 3600 (for example 60)"),
    ("INVITES_MAX_RETRY_AFTER", "1h", "'1h' is not a whole number of seconds from 1 to 3600 (for example 60)"),
    ("SLACK_API_TIMEOUT", "121", "'121' is not a whole number of seconds from 1 to 120 (for example 15)"),
    ("INVITES_REMIND_AFTER", "4 hours", "'4 hours' is not a duration of at least one minute, in days, hours and minutes"),
    ("INVITES_REMIND_AFTER", "30s", "'30s' is shorter than a minute; write a duration of at least one minute"),
    ("INVITES_ESCALATE_AFTER", "1d1d", "'1d1d' is not a duration of at least one minute, in days, hours and minutes"),
    ("INVITES_ESCALATE_TO", "#leads", "'#leads' is not a channel id (C…/G…) to post escalations in, or a user-group id (S…)"),
    ("INVITES_ESCALATE_TO", "C0LEADS01", "it is set, but INVITES_ESCALATE_AFTER is not: set both, or neither"),
    ("INVITES_DIGEST_OVER", "0", "'0' is not a whole number of new requests, 1 or more (for example 50)"),
    ("INVITES_DB_POOL_SIZE", "0", "'0' is not a whole number of connections from 1 to 500 (for example 10)"),
    ("INVITES_DB_POOL_TIMEOUT", "soon", "'soon' is not a number of seconds from 1 to 300 (for example 10)"),
    ("INVITES_DB_CONNECT_TIMEOUT", "1", "'1' is not a whole number of seconds from 2 to 300 (for example 5)"),
    ("INVITES_DB_STATEMENT_TIMEOUT", "0", "'0' is not a whole number of seconds from 1 to 3600 (for example 10)"),
    ("INVITES_DB_NETWORK_TIMEOUT", "1.5", "'1.5' is not a whole number of seconds from 1 to 3600 (for example 10)"),
    ("INVITES_HTTP_CONNECTIONS", "5", "'5' is not a whole number of connections from 10 to 100000 (for example 1000)"),
    ("INVITES_HTTP_CLIENT_CONNECTIONS", "-1", "'-1' is not a whole number of connections from 0 (no limit) to 100000 (for example 100)"),
]
# Any text names a path: the policy file itself is read and checked at start-up (see tests/test_policy_startup.py).
CHECKED_AT_START_UP = {"INVITES_POLICY"}


def test_every_setting_has_its_own_words():
    assert set(SPECS) == set(Settings.model_fields) == {setting_of(name) for name, _, _ in CASES} | CHECKED_AT_START_UP


def test_an_escalation_without_a_destination_says_so(environment):
    environment({**GOOD, "INVITES_ESCALATE_AFTER": "1d"})

    with pytest.raises(ConfigError) as info:
        load(Settings)

    assert str(info.value) == "INVITES_ESCALATE_TO is invalid: it is not set, but INVITES_ESCALATE_AFTER is: set both, or neither"


@pytest.mark.parametrize(("variable", "value", "says"), CASES, ids=[f"{n}={v!r}" for n, v, _ in CASES])
def test_each_malformed_setting_says_what_it_wants(environment, variable, value, says):
    environment({**GOOD, variable: value})

    with pytest.raises(ConfigError) as info:
        load(Settings)

    assert str(info.value).startswith(f"{variable} is invalid: {says}")  # some go on to an example
    assert "s3cr3t" not in str(info.value)
    assert not any(words in str(info.value) for words in PYDANTIC_WORDS)


@pytest.mark.parametrize("variable", [name for name in GOOD if name != "DATABASE_URL"])
def test_a_missing_setting_says_what_it_should_be(environment, variable):
    environment({name: good for name, good in GOOD.items() if name != variable})

    with pytest.raises(ConfigError) as info:
        load(Settings)

    assert str(info.value) == f"{variable} is not set: it should be {SPECS[variable].wanted()}"
    assert "(for example " in str(info.value)


def test_every_problem_is_found_at_once_and_start_up_names_the_first(environment):
    environment({"INVITES_SYNC_INTERVAL": "5"})

    found = problems(Settings)

    assert [p.name for p in found] == [
        "SLACK_BOT_TOKEN", "SLACK_ADMIN_TOKEN", "INVITES_CHANNEL", "INVITES_APPROVERS", "INVITES_TEAM_IDS", "INVITES_SYNC_INTERVAL"
    ]
    assert found[-1].fix == "Set INVITES_SYNC_INTERVAL to a number of seconds from 10 to 86400 (for example 300)."
    with pytest.raises(ConfigError) as info:
        load(Settings)
    assert str(info.value).startswith("SLACK_BOT_TOKEN is not set: ")
    assert str(info.value).endswith("(5 more settings need fixing: `invitebot doctor` lists them all)")


def test_a_good_environment_gives_typed_settings(environment):
    environment(
        {
            **GOOD,
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DATABASE_URL": "postgresql://invitebot:s3cr3t@db:5432/invitebot",
            "INVITES_APPROVERS": "W0APPROV01, S0GROUP1@T0ALPHA01",
            "INVITES_APPROVERS_T0BETA001": "W0BETA0001",
            "INVITES_ROUTES": "T0BETA001:C0BETA001",
            "INVITES_TEAM_IDS": "T0ALPHA01,T0BETA001",
            "INVITES_SYNC_INTERVAL": "600",
            "INVITES_DENY_REASON_REQUIRED": "true",
            "INVITES_REMIND_AFTER": "1d12h",
            "INVITES_ESCALATE_AFTER": "2d",
            "INVITES_ESCALATE_TO": "S0LEADS01",
        }
    )

    settings = load(Settings)

    assert settings.SLACK_BOT_TOKEN.get_secret_value() == "xoxb-1-good"
    assert settings.DATABASE_URL == "postgresql+psycopg://invitebot:s3cr3t@db:5432/invitebot"
    assert settings.INVITES_APPROVERS == ["W0APPROV01", "S0GROUP1@T0ALPHA01"]
    assert settings.approvers_named_for("T0BETA001") == ["W0BETA0001"]
    assert settings.approvers_named_for("T0ALPHA01") == ["W0APPROV01", "S0GROUP1@T0ALPHA01"]
    assert (settings.routes.channel_for("T0BETA001"), settings.routes.channel_for("T0ALPHA01")) == ("C0BETA001", "C0INVITES1")
    assert settings.INVITES_TEAM_IDS == ["T0ALPHA01", "T0BETA001"] and not settings.all_teams
    assert (settings.INVITES_SYNC_INTERVAL, settings.INVITES_DENY_REASON_REQUIRED) == (600, True)
    assert (settings.INVITES_REMIND_AFTER, settings.INVITES_ESCALATE_AFTER) == (timedelta(hours=36), timedelta(days=2))


def test_an_org_level_group_is_named_with_the_org(environment):
    """An IdP group lives in the org, not in a workspace: S…@E… names it, in INVITES_APPROVERS and a workspace's list."""
    environment({**GOOD, "INVITES_APPROVERS": "W0APPROV01,S0IDPGRP1@E0ORG0001", "INVITES_APPROVERS_T0ALPHA01": "S0IDPGRP2@E0ORG0001"})

    settings = load(Settings)

    assert settings.INVITES_APPROVERS == ["W0APPROV01", "S0IDPGRP1@E0ORG0001"]
    assert settings.approvers_named_for("T0ALPHA01") == ["S0IDPGRP2@E0ORG0001"]


def test_all_workspaces_is_a_word_of_its_own(environment):
    environment({**GOOD, "INVITES_TEAM_IDS": "ALL"})

    assert load(Settings).all_teams


def test_problems_reads_keywords_as_well_as_the_environment(environment):
    environment({})

    assert problems(Settings, **GOOD) == []
    assert [p.name for p in problems(Settings, **{**GOOD, "INVITES_APPROVERS_T0BETA001": "ada"})] == ["INVITES_APPROVERS_T0BETA001"]


def test_the_store_defaults_are_the_database_settings_defaults():
    default = {name: field.default for name, field in DatabaseSettings.model_fields.items()}
    assert DatabaseOptions() == DatabaseOptions(
        pool_size=default["INVITES_DB_POOL_SIZE"],
        pool_timeout=default["INVITES_DB_POOL_TIMEOUT"],
        connect_timeout=default["INVITES_DB_CONNECT_TIMEOUT"],
        statement_timeout=default["INVITES_DB_STATEMENT_TIMEOUT"],
        network_timeout=default["INVITES_DB_NETWORK_TIMEOUT"],
    )
