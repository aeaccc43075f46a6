"""An org-wide install on a real Enterprise org: workspaces named per call, org-shaped payloads, Grid's two user ids."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings, load
from tests.support.bots import settings_env
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, APPROVER_GROUP, CHANNEL, GROUP_APPROVER, OTHER_TEAM, REQUESTER, TEAM, new_request

GAMMA = "T0GAMMA01"


def _click(fake, bot, card, user, action="invite_approve"):
    bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id=action)
    bot.settle()


# -- user-group approvers ---------------------------------------------------------------------


def test_a_group_approver_is_allowed_when_the_group_is_read_in_its_workspace(fake, bot):
    """The org-level bot token must name the group's workspace; invitebot looks in each of its workspaces."""
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)

    _click(fake, bot, card, GROUP_APPROVER)

    assert fake.invite_request_status(request["id"]) == "approved"
    lookups = fake.calls("usergroups.users.list")
    assert lookups and all(call.params.get("team_id") for call in lookups)
    assert any(call.params["team_id"] == TEAM and call.error is None for call in lookups)


def test_a_group_named_with_its_workspace_is_read_there_only(fake, start_bot):
    bot = start_bot(INVITES_APPROVERS=f"{APPROVER},{APPROVER_GROUP}@{TEAM}")
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)

    _click(fake, bot, card, GROUP_APPROVER)

    assert fake.invite_request_status(request["id"]) == "approved"
    assert {call.params["team_id"] for call in fake.calls("usergroups.users.list")} == {TEAM}


IDP_GROUP = "S0IDPADMIN"  # an org-level (IdP) group: it lives in the org, not in a workspace
IDP_MEMBER = "W0IDPMEMB1"


def test_a_member_of_an_org_level_group_named_with_the_org_may_decide(fake, start_bot):
    """An IdP group's team is the org (E…), and usergroups.users.list reads it with that id."""
    fake.add_user(IDP_MEMBER, name="ida", team_id=OTHER_TEAM)
    fake.add_usergroup(IDP_GROUP, team_id=fake.enterprise_id, handle="idp-invite-admins", user_ids=[IDP_MEMBER])
    bot = start_bot(INVITES_APPROVERS=f"{APPROVER},{IDP_GROUP}@{fake.enterprise_id}")
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)

    _click(fake, bot, card, GROUP_APPROVER)  # in a workspace's group, but not in the one listed
    assert fake.invite_request_status(request["id"]) == "pending"
    _click(fake, bot, card, IDP_MEMBER)

    assert fake.invite_request_status(request["id"]) == "approved"
    assert {(c.params["team_id"], c.error) for c in fake.calls("usergroups.users.list")} == {(fake.enterprise_id, None)}
    assert f"Approved by <@{IDP_MEMBER}>" in card_text(wait_for_card(fake, "ada@example.com", lambda m: not buttons(m)))


def test_a_group_listing_local_ids_still_lets_its_member_approve(fake, bot):
    """Grid: the group lists a member by the workspace-local U… id, the click carries the org-wide W… id."""
    fake.add_user("W0LOCALAP1", name="barbara", team_id=TEAM)
    fake.add_local_id("W0LOCALAP1", "U0LOCALAP1", team_id=TEAM)
    fake.add_usergroup(APPROVER_GROUP, team_id=TEAM, handle="invite-approvers", user_ids=["U0LOCALAP1"])
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)

    _click(fake, bot, card, "W0LOCALAP1")

    assert fake.invite_request_status(request["id"]) == "approved"
    assert [c.params["user"] for c in fake.calls("users.info")] == ["U0LOCALAP1"]


def test_ids_slack_will_not_translate_refuse_with_a_sentence_saying_so(fake, bot):
    fake.add_user("W0LOCALAP1", name="barbara", team_id=TEAM)
    fake.add_usergroup(APPROVER_GROUP, team_id=TEAM, handle="invite-approvers", user_ids=["U0LOCALAP1"])
    fake.fail_next("users.info", "missing_scope")
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)

    _click(fake, bot, card, "W0LOCALAP1")

    assert fake.calls("admin.inviteRequests.approve") == []
    [answer] = ephemerals_for(fake, "W0LOCALAP1")
    assert "could not match your Slack id (W0LOCALAP1)" in answer and "users.info missing_scope" in answer
    assert "INVITES_APPROVERS" in answer


# -- the workspace of a request ---------------------------------------------------------------


def test_an_event_naming_only_the_org_is_placed_from_the_pending_lists(fake, bot):
    """No invite_request.team and the org's E… id outside: never used as a workspace."""
    request = new_request(fake, team_id=OTHER_TEAM)

    bot.slack.invite_requested(request, without_team=True)
    bot.settle()

    card = wait_for_card(fake, "ada@example.com", buttons)
    assert "Beta Labs" in card_text(card) and fake.enterprise_id not in card_text(card)
    _click(fake, bot, card, APPROVER)
    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params["team_id"] == OTHER_TEAM and call.error is None


def test_a_request_whose_workspace_is_unknown_shows_no_buttons_until_sync_finds_it(fake, bot):
    request = new_request(fake, team_id=OTHER_TEAM)
    fake.fail_next("admin.inviteRequests.list", "not_an_admin", times=2)  # neither workspace can be listed now

    bot.slack.invite_requested(request, without_team=True)
    bot.settle()

    card = wait_for_card(fake, "ada@example.com")
    assert buttons(card) == []
    assert "not known yet" in card_text(card)
    refused = bot.slack.slash(text=f"approve {request['id']}", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    assert refused.status == 200
    bot.settle()
    assert fake.calls("admin.inviteRequests.approve") == []
    assert "does not know yet which workspace" in fake.response_posts()[-1]["text"]

    summary = bot.runtime.sync()

    assert summary.errors == 0
    placed = wait_for_card(fake, "ada@example.com", buttons)
    assert placed["ts"] == card["ts"] and "Beta Labs" in card_text(placed)


# -- which workspaces are reconciled ----------------------------------------------------------


def test_all_discovers_every_workspace_and_reconciles_it(fake, start_bot):
    for n in range(120):  # more than one page of admin.teams.list (100 at most)
        fake.add_team(f"T0ORG{n:04d}", f"Org team {n}", f"org{n}")
    bot = start_bot(INVITES_TEAM_IDS="all")
    request = new_request(fake, "far@example.com", team_id="T0ORG0117")

    summary = bot.runtime.sync()

    assert summary.errors == 0 and summary.new == 1
    assert len(fake.calls("admin.teams.list")) == 2
    assert "Org team 117" in card_text(wait_for_card(fake, "far@example.com", buttons))
    fake.decide_outside(request["id"], "deny", REQUESTER)
    assert bot.runtime.sync().closed == 1
    assert "Already denied by" in card_text(wait_for_card(fake, "far@example.com", lambda m: not buttons(m)))


def test_a_request_from_a_workspace_outside_the_list_is_reconciled_too(fake, bot):
    """The event posts a card for any workspace of the org; sync must close it when it is decided elsewhere."""
    fake.add_team(GAMMA, "Gamma Inc", "gamma")
    request = new_request(fake, "gamma@example.com", team_id=GAMMA)
    bot.slack.invite_requested(request)
    wait_for_card(fake, "gamma@example.com", buttons)

    fake.decide_outside(request["id"], "approve", REQUESTER)
    summary = bot.runtime.sync()

    assert summary.closed == 1
    assert "Already approved by" in card_text(wait_for_card(fake, "gamma@example.com", lambda m: not buttons(m)))
    assert {c.params["team_id"] for c in fake.calls("admin.inviteRequests.list")} == {TEAM, OTHER_TEAM, GAMMA}


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("INVITES_TEAM_IDS", "E0SANDBOX", "is the Enterprise org, not a workspace"),
        ("INVITES_TEAM_IDS", "all,T0ALPHA01", "'all' is not a workspace id"),
    ],
)
def test_org_ids_are_refused_where_a_workspace_belongs(fake, monkeypatch, setting, value, says):
    for name, env_value in settings_env(fake, "sqlite://", **{setting: value}).items():
        monkeypatch.setenv(name, env_value)
    with pytest.raises(ConfigError) as info:
        load(Settings)
    assert setting in str(info.value) and says in str(info.value)


def test_all_and_group_workspaces_are_accepted(fake, monkeypatch):
    for name, env_value in settings_env(
        fake, "sqlite://", INVITES_TEAM_IDS="ALL", INVITES_APPROVERS=f"{APPROVER_GROUP}@{TEAM},W0APPROV01"
    ).items():
        monkeypatch.setenv(name, env_value)
    settings = load(Settings)
    assert settings.all_teams and settings.INVITES_APPROVERS == [f"{APPROVER_GROUP}@{TEAM}", "W0APPROV01"]


# -- Slack's pacing -----------------------------------------------------------------------------


def test_cards_posted_under_slacks_per_channel_pacing_each_arrive_once(fake, bot):
    """About one message a second per channel: a 429 with Retry-After is waited out, never a lost or doubled card."""
    fake.enforce_rate_limits(messages_per_second=1.0)
    for n in range(3):
        new_request(fake, f"paced{n}@example.com")

    summary = bot.sync()

    assert summary.new == 3 and summary.errors == 0
    posts = fake.calls("chat.postMessage")
    assert [c.status for c in posts].count(429) >= 1
    texts = [card_text(m) for m in fake.messages(CHANNEL)]
    assert len(texts) == 3 and all(sum(f"paced{n}@example.com" in t for t in texts) == 1 for n in range(3))


def test_a_group_found_by_searching_is_not_searched_for_again(fake, bot):
    """A bare S… living in the second workspace: found once, then asked for only there (no_such_subteam is not kept)."""
    fake.add_usergroup(APPROVER_GROUP, team_id=OTHER_TEAM, handle="invite-approvers", user_ids=[GROUP_APPROVER])
    first, second = new_request(fake, "one@example.com"), new_request(fake, "two@example.com")
    for request in (first, second):
        bot.slack.invite_requested(request)
    cards = [wait_for_card(fake, email, buttons) for email in ("one@example.com", "two@example.com")]

    _click(fake, bot, cards[0], GROUP_APPROVER)
    assert [c.params["team_id"] for c in fake.calls("usergroups.users.list")] == [TEAM, OTHER_TEAM]
    _click(fake, bot, cards[1], GROUP_APPROVER)

    assert len(fake.calls("usergroups.users.list")) == 2  # the second click used what the first one found
    assert {fake.invite_request_status(r["id"]) for r in (first, second)} == {"approved"}


# -- workspace names ----------------------------------------------------------------------------


def test_a_card_that_showed_a_workspace_id_shows_its_name_once_known(fake, start_bot):
    """admin.inviteRequests.list carries no team: without admin.teams.list the id stands in until an event names it."""
    bot = start_bot()
    fake.fail_next("admin.teams.list", "missing_scope")
    early = new_request(fake, "early@example.com", team_id=OTHER_TEAM)
    bot.runtime.sync()
    card = wait_for_card(fake, "early@example.com")
    assert f"`{OTHER_TEAM}`" in card_text(card)

    bot.slack.invite_requested(new_request(fake, "later@example.com", team_id=OTHER_TEAM))  # its `team` names Beta Labs
    bot.settle()
    bot.runtime.sync()

    renamed = wait_for_card(fake, "early@example.com", lambda m: "Beta Labs" in card_text(m))
    assert renamed["ts"] == card["ts"] and fake.invite_request_status(early["id"]) == "pending"

    fake.fail_next("admin.teams.list", "missing_scope")
    replica = start_bot()  # another process on the same database: the name is stored per workspace
    before = len(fake.response_posts())
    replica.slack.slash(text="list beta labs", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    replica.settle()
    [listing] = fake.response_posts()[before:]
    assert "early@example.com" in str(listing["blocks"]) and "Beta Labs" in listing["blocks"][0]["text"]["text"]
