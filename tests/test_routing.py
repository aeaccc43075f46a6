"""Routing per workspace: each workspace's cards in its own channel, decided by its own approvers and the org's only."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from app.store.models import DecisionLog
from tests.support.cards import buttons, card_text
from tests.support.databases import both_databases
from tests.support.policies import write_policy
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, TEAM, new_request

ALPHA_CHANNEL = "C0ALPHA01"
BETA_CHANNEL = "C0BETA001"
ALPHA_APPROVER = "W0ALPHAAP1"  # INVITES_APPROVERS_T0ALPHA01
BETA_APPROVER = "W0BETAAP01"  # INVITES_APPROVERS_T0BETA001
GAMMA = "T0GAMMA01"  # a workspace without a route
CHANNEL_OF = {TEAM: ALPHA_CHANNEL, OTHER_TEAM: BETA_CHANNEL}


def routed_bot(fake, start_bot, **overrides):
    """A bot routing Alpha's cards to #alpha-approvals and Beta's to #beta-approvals, each with its own approver."""
    fake.add_channel(ALPHA_CHANNEL, name="alpha-approvals", team_id=TEAM)
    fake.add_channel(BETA_CHANNEL, name="beta-approvals", team_id=OTHER_TEAM)
    fake.add_user(ALPHA_APPROVER, name="ada", team_id=TEAM, real_name="Ada")
    fake.add_user(BETA_APPROVER, name="bea", team_id=OTHER_TEAM, real_name="Bea")
    settings = {
        "INVITES_ROUTES": f"{TEAM}:{ALPHA_CHANNEL},{OTHER_TEAM}:{BETA_CHANNEL}",
        f"INVITES_APPROVERS_{TEAM}": ALPHA_APPROVER,
        f"INVITES_APPROVERS_{OTHER_TEAM}": BETA_APPROVER,
        **overrides,
    }
    return start_bot(**settings)


def cards_in(fake, channel):
    return [card_text(message) for message in fake.messages(channel)]


def card_in(fake, channel, email, predicate=None):
    def find():
        for message in fake.messages(channel):
            if email in card_text(message) and (predicate is None or predicate(message)):
                return message
        return None

    return fake.wait_for(find, message=f"no card for {email} in {channel}")


def deliver(fake, bot, email, team_id, **kw):
    """A new request of `team_id`, delivered by its event; returns it and its card in that workspace's channel."""
    request = new_request(fake, email, team_id=team_id, channel_ids=[], **kw)
    bot.slack.invite_requested(request)
    card = card_in(fake, CHANNEL_OF.get(team_id, CHANNEL), email)
    bot.settle()
    return request, card


def answers_to(fake, channel, user):
    return [e["text"] for e in fake.ephemerals(channel=channel, user=user)]


def attempts(bot, request_id):
    with bot.sessions() as session:
        return [
            (e.actor_id, e.action, e.source, e.outcome)
            for e in session.scalars(select(DecisionLog).where(DecisionLog.request_id == request_id).order_by(DecisionLog.id))
        ]


def slash(fake, bot, text, user, team_id, channel):
    """Run `/invites …` and return the text and blocks of its one ephemeral answer."""
    before = len(fake.response_posts())
    assert bot.slack.slash(text=text, user_id=user, channel_id=channel, team_id=team_id).status == 200
    bot.settle()
    [post] = fake.response_posts()[before:]
    return post["text"] + "\n" + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def refused_elsewhere(text):
    """The words an approver of other workspaces reads when they try to decide this one's request."""
    return "another workspace" in text and "Nothing was changed" in text


# -- where cards go ---------------------------------------------------------------------------------


def test_each_workspaces_cards_go_to_its_own_channel_and_the_rest_to_the_fallback(fake, start_bot):
    fake.add_team(GAMMA, "Gamma Works", "gamma")
    bot = routed_bot(fake, start_bot, INVITES_TEAM_IDS=f"{TEAM},{OTHER_TEAM},{GAMMA}")

    deliver(fake, bot, "ada@alpha.example.com", TEAM)
    deliver(fake, bot, "bea@beta.example.com", OTHER_TEAM)
    deliver(fake, bot, "gil@gamma.example.com", GAMMA)

    def emails(channel):
        wanted = ("ada@alpha.example.com", "bea@beta.example.com", "gil@gamma.example.com")
        return [e for e in wanted if any(e in text for text in cards_in(fake, channel))]

    assert emails(ALPHA_CHANNEL) == ["ada@alpha.example.com"]
    assert emails(BETA_CHANNEL) == ["bea@beta.example.com"]
    assert emails(CHANNEL) == ["gil@gamma.example.com"]
    assert len(fake.calls("chat.postMessage")) == 3


# -- deciding: a workspace's own approvers decide there, and nowhere else ---------------------------------


def test_a_workspace_approver_approves_their_workspaces_card(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    alpha, card = deliver(fake, bot, "ada@alpha.example.com", TEAM)

    bot.slack.click(user_id=ALPHA_APPROVER, channel=ALPHA_CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    decided = card_in(fake, ALPHA_CHANNEL, "ada@alpha.example.com", lambda m: not buttons(m))
    bot.settle()
    assert f"Approved by <@{ALPHA_APPROVER}>" in card_text(decided)
    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params == {"invite_request_id": alpha["id"], "team_id": TEAM}
    [answer] = fake.wait_for(lambda: answers_to(fake, ALPHA_CHANNEL, ALPHA_APPROVER))
    assert "You approved the invite request for ada@alpha.example.com" in answer
    assert fake.invite_request_status(alpha["id"]) == "approved"


def test_a_workspace_approver_is_refused_and_audited_on_another_workspaces_card(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    beta, card = deliver(fake, bot, "bea@beta.example.com", OTHER_TEAM)

    bot.slack.click(user_id=ALPHA_APPROVER, channel=BETA_CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    [answer] = fake.wait_for(lambda: answers_to(fake, BETA_CHANNEL, ALPHA_APPROVER), message="the clicker was not answered")
    bot.settle()
    assert refused_elsewhere(answer), answer
    assert not fake.calls("admin.inviteRequests.approve")
    assert fake.invite_request_status(beta["id"]) == "pending"
    assert buttons(fake.message(BETA_CHANNEL, card["ts"]))
    assert attempts(bot, beta["id"]) == [(ALPHA_APPROVER, "approve", "button", "not_allowed")]


def test_a_workspace_approver_is_refused_on_another_workspaces_request_by_command(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    beta, card = deliver(fake, bot, "bea@beta.example.com", OTHER_TEAM)

    answer = slash(fake, bot, f"approve {beta['id']}", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)

    assert refused_elsewhere(answer), answer
    assert not fake.calls("admin.inviteRequests.approve")
    assert buttons(fake.message(BETA_CHANNEL, card["ts"]))
    assert attempts(bot, beta["id"]) == [(ALPHA_APPROVER, "approve", "slash", "not_allowed")]

    mine = slash(fake, bot, f"approve {beta['id']}", BETA_APPROVER, OTHER_TEAM, BETA_CHANNEL)

    assert not refused_elsewhere(mine), mine
    decided = card_in(fake, BETA_CHANNEL, "bea@beta.example.com", lambda m: not buttons(m))
    assert f"Approved by <@{BETA_APPROVER}>" in card_text(decided)
    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params == {"invite_request_id": beta["id"], "team_id": OTHER_TEAM}


def test_a_workspace_approver_invites_directly_only_into_their_own_workspace(fake, start_bot):
    """Typed in Beta with `in alpha`, or typed in an Alpha channel: refused and audited, and Slack is not asked."""
    bot = routed_bot(fake, start_bot)

    named = slash(fake, bot, "invite stranger@example.com in alpha <#C0GENERAL1|general>", BETA_APPROVER, OTHER_TEAM, BETA_CHANNEL)
    typed_in = slash(fake, bot, "invite friend@example.com <#C0GENERAL1|general>", BETA_APPROVER, TEAM, ALPHA_CHANNEL)

    for refused in (named, typed_in):
        assert "you decide invites for another workspace, not Alpha Corp" in refused and "Nothing was sent" in refused
    assert fake.invites() == []
    assert attempts(bot, "(direct invite)") == [
        (BETA_APPROVER, "invite", "slash", "not_allowed"),
        (BETA_APPROVER, "invite", "slash", "not_allowed"),
    ]
    with bot.sessions() as session:
        refusals = session.scalars(select(DecisionLog).where(DecisionLog.request_id == "(direct invite)").order_by(DecisionLog.id))
        whom = [(e.team_id, e.email, e.invite_type, e.expires_at) for e in refusals]
    assert whom == [(TEAM, "stranger@example.com", "full_member", None), (TEAM, "friend@example.com", "full_member", None)]

    own = slash(fake, bot, f"invite colleague@example.com in beta <#{BETA_CHANNEL}|beta-approvals>", BETA_APPROVER, OTHER_TEAM, BETA_CHANNEL)

    assert "Invited colleague@example.com to Beta Labs" in own
    assert [(i["email"], i["team_id"]) for i in fake.invites()] == [("colleague@example.com", OTHER_TEAM)]


def test_a_direct_invite_into_a_channel_of_another_workspace_is_refused_before_slack_is_asked(fake, start_bot):
    """Typed in Alpha, naming Beta's channel: Slack would refuse it, so invitebot says why and sends nothing."""
    bot = routed_bot(fake, start_bot)

    refused = slash(fake, bot, f"invite rf3@beta.example.com <#{BETA_CHANNEL}|beta-approvals>", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)

    assert f"<#{BETA_CHANNEL}> is a channel of another workspace, not of Alpha Corp" in refused
    assert "Nothing was sent" in refused and "Invited" not in refused
    assert fake.invites() == [] and not fake.calls("admin.users.invite")


def test_a_workspace_approver_is_refused_in_the_deny_modal_of_another_workspaces_card(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    beta, card = deliver(fake, bot, "bea@beta.example.com", OTHER_TEAM)

    bot.slack.click(user_id=ALPHA_APPROVER, channel=BETA_CHANNEL, message_ts=card["ts"], action_id="invite_deny")

    [opened] = fake.wait_for(lambda: fake.views_opened(), message="no deny modal opened")
    bot.settle()
    shown = json.dumps(fake.modal(opened["id"]), ensure_ascii=False)
    assert refused_elsewhere(shown), shown
    assert "reason_input" not in shown  # nothing to submit
    assert not fake.calls("admin.inviteRequests.deny")
    assert fake.invite_request_status(beta["id"]) == "pending"
    assert attempts(bot, beta["id"]) == [(ALPHA_APPROVER, "deny", "button", "not_allowed")]


def test_show_gives_buttons_only_to_those_who_may_decide_the_request(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    beta, _ = deliver(fake, bot, "bea@beta.example.com", OTHER_TEAM)

    theirs = slash(fake, bot, f"show {beta['id']}", BETA_APPROVER, OTHER_TEAM, BETA_CHANNEL)
    not_theirs = slash(fake, bot, f"show {beta['id']}", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)

    assert "invite_approve" in theirs and "decide this request, not you" not in theirs
    assert "bea@beta.example.com" in not_theirs and "invite_approve" not in not_theirs
    assert "Its workspace's own approvers (or the org's) decide this request, not you." in not_theirs


@both_databases
def test_approvers_of_different_scopes_clicking_one_card_at_once_make_one_call(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    alpha, card = deliver(fake, bot, "ada@alpha.example.com", TEAM)
    clickers = [APPROVER, ALPHA_APPROVER, BETA_APPROVER]

    with ThreadPoolExecutor(len(clickers)) as pool:
        replies = list(
            pool.map(
                lambda user: bot.slack.click(
                    user_id=user, channel=ALPHA_CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card
                ),
                clickers,
            )
        )
    fake.wait_for(
        lambda: all(answers_to(fake, ALPHA_CHANNEL, user) for user in clickers), message="not every clicker was answered"
    )
    bot.settle()

    assert [r.status for r in replies] == [200] * len(clickers)
    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params == {"invite_request_id": alpha["id"], "team_id": TEAM}
    log = attempts(bot, alpha["id"])
    [winner] = [actor for actor, _, _, outcome in log if outcome == "ok"]
    assert winner in (APPROVER, ALPHA_APPROVER)
    assert (BETA_APPROVER, "approve", "button", "not_allowed") in log
    assert len(log) == len(clickers)
    assert f"Approved by <@{winner}>" in card_text(fake.message(ALPHA_CHANNEL, card["ts"]))
    assert refused_elsewhere(answers_to(fake, ALPHA_CHANNEL, BETA_APPROVER)[0])


# -- what each approver is shown ------------------------------------------------------------------------


def _three_requests(fake, bot):
    """Two of Alpha's, asked an hour and half an hour ago, and one of Beta's, asked two hours ago."""
    now = int(time.time())
    deliver(fake, bot, "ada@alpha.example.com", TEAM, date_created=now - 3600)
    deliver(fake, bot, "alan@alpha.example.com", TEAM, date_created=now - 1800)
    deliver(fake, bot, "bea@beta.example.com", OTHER_TEAM, date_created=now - 7200)


def test_list_and_stats_show_a_workspace_approver_only_their_workspace(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    _three_requests(fake, bot)

    listing = slash(fake, bot, "list", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)
    stats = slash(fake, bot, "stats", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)
    theirs = slash(fake, bot, "list", BETA_APPROVER, OTHER_TEAM, BETA_CHANNEL)
    asked_for_beta = slash(fake, bot, "list beta", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)

    assert "ada@alpha.example.com" in listing and "alan@alpha.example.com" in listing
    assert "bea@beta.example.com" not in listing and "Beta Labs" not in listing
    assert "1–2 of 2" in listing
    assert "*Your workspaces:* Alpha Corp" in stats and "*Pending:* Alpha Corp: 2" in stats
    assert "Beta Labs" not in stats
    assert "bea@beta.example.com" in theirs and "alpha.example" not in theirs and "1–1 of 1" in theirs
    assert "You decide the invite requests of Alpha Corp, not of Beta Labs" in asked_for_beta
    assert "bea@beta.example.com" not in asked_for_beta


def test_list_and_stats_show_an_org_approver_every_workspace_grouped(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    _three_requests(fake, bot)

    listing = slash(fake, bot, "list", APPROVER, TEAM, CHANNEL)
    stats = slash(fake, bot, "stats", APPROVER, TEAM, CHANNEL)

    assert "1–3 of 3, workspace by workspace" in listing
    alpha, beta = listing.index("*Alpha Corp* (2 waiting)"), listing.index("*Beta Labs* (1 waiting)")
    assert alpha < listing.index("ada@alpha.example.com") < listing.index("alan@alpha.example.com") < beta
    assert beta < listing.index("bea@beta.example.com")
    assert "*Pending:* Alpha Corp: 2, Beta Labs: 1" in stats


def open_home(fake, bot, user, team_id):
    """Open the App Home and return its blocks as JSON text once it is published and the bot is idle."""
    assert bot.slack.app_home_opened(user, team_id=team_id).status == 200
    fake.wait_for(lambda: fake.home_view(user), message=f"no Home published for {user}")
    bot.settle()
    view = fake.home_view(user)
    decide = [b["block_id"] for b in view["blocks"] if b["type"] == "actions" and b["block_id"].startswith("home-decide-")]
    return json.dumps(view["blocks"], ensure_ascii=False), decide


def test_the_home_of_a_workspace_approver_shows_only_their_workspaces_requests(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    _three_requests(fake, bot)

    shown, decide = open_home(fake, bot, BETA_APPROVER, OTHER_TEAM)

    assert "bea@beta.example.com" in shown and len(decide) == 1
    assert "alpha.example" not in shown and "Alpha Corp" not in shown
    assert "*Waiting for a decision* (1, oldest first)" in shown
    assert f"*Approvals channel:* Beta Labs → <#{BETA_CHANNEL}>" in shown
    assert f"<#{CHANNEL}>" not in shown  # the fallback channel holds none of their workspace's cards


def test_the_home_of_an_org_approver_shows_every_workspace_under_its_name(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    _three_requests(fake, bot)

    shown, decide = open_home(fake, bot, APPROVER, TEAM)

    assert len(decide) == 3
    assert "*Waiting for a decision* (3, workspace by workspace, oldest first)" in shown
    alpha, beta = shown.index("*Alpha Corp* (2 waiting)"), shown.index("*Beta Labs* (1 waiting)")
    assert alpha < shown.index("ada@alpha.example.com") < shown.index("alan@alpha.example.com") < beta
    assert beta < shown.index("bea@beta.example.com")
    assert f"<#{CHANNEL}> (every other workspace)" in shown


def _preview(fake, bot, text, user, team_id, channel):
    """A bulk command's preview modal once it is filled in: its text, and whether it can be confirmed."""
    opened = len(fake.views_opened())
    assert bot.slack.slash(text=text, user_id=user, channel_id=channel, team_id=team_id).status == 200
    [view] = fake.wait_for(lambda: fake.views_opened()[opened:], message="no preview opened")
    bot.settle()
    filled = fake.modal(view["id"])
    return card_text({"blocks": filled["blocks"]}), "submit" in filled


def test_a_bulk_preview_of_a_workspace_approver_takes_only_their_workspaces_requests(fake, start_bot):
    bot = routed_bot(fake, start_bot)
    _three_requests(fake, bot)

    theirs, confirmable = _preview(fake, bot, "approve --domain *.example.com", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)
    other, other_confirmable = _preview(fake, bot, "approve --domain beta.example.com", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)
    everyone, _ = _preview(fake, bot, "approve --domain *.example.com", APPROVER, TEAM, CHANNEL)

    assert "*2 pending requests*" in theirs and "ada@alpha.example.com" in theirs and "bea@beta.example.com" not in theirs
    assert confirmable
    assert "bea@beta.example.com" not in other and not other_confirmable
    assert "is in the workspaces you decide; 1 request is in other workspaces, whose own approvers decide them" in other
    assert "*3 pending requests*" in everyone and "bea@beta.example.com" in everyone
    assert not fake.calls("admin.inviteRequests.approve")


def test_stats_count_agreement_with_the_policy_only_in_the_viewers_workspaces(fake, start_bot, tmp_path):
    bot = routed_bot(fake, start_bot, INVITES_POLICY=write_policy(tmp_path))
    for email, team, approver in (("ada@alpha.example.com", TEAM, ALPHA_APPROVER), ("bea@beta.example.com", OTHER_TEAM, BETA_APPROVER)):
        _, card = deliver(fake, bot, email, team)
        bot.slack.click(user_id=approver, channel=CHANNEL_OF[team], message_ts=card["ts"], action_id="invite_approve")
        card_in(fake, CHANNEL_OF[team], email, lambda m: not buttons(m))
    bot.settle()

    theirs = slash(fake, bot, "stats", ALPHA_APPROVER, TEAM, ALPHA_CHANNEL)
    everyone = slash(fake, bot, "stats", APPROVER, TEAM, CHANNEL)

    assert "employees: 1/1 agreed" in theirs, theirs
    assert "employees: 2/2 agreed" in everyone, everyone
