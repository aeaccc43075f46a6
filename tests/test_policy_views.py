"""Where approvers see the policy at work: the App Home's policy section, `/invites show` and `/invites stats`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from app.core.policy import Conditions, Mode, Policy, Rule, Then
from app.core.policy.stats import RuleAgreement, Waiting
from app.core.queries import Stats
from app.slack.ui import home_view, replies
from app.store.models import Approval, InviteRequest
from tests.support.block_checks import assert_view_valid
from tests.support.cards import card_text, wait_for_card
from tests.support.policies import write_policy
from tests.support.rows import request_row
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, TEAM, new_request
from tests.test_commands import answer
from tests.test_home import deliver, open_home

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)
RULES = (
    Rule("employees", Conditions(email_domain=("example.com",), invite_type=("full_member",)), Then.APPROVE),
    Rule("personal-mail", Conditions(email_domain=("gmail.com",)), Then.DENY, reason="Use a work address."),
    Rule("guests", Conditions(invite_type=("restricted", "ultra_restricted")), Then.REQUIRE_APPROVALS, count=2),
)
SHADOW = Policy(Mode.SHADOW, RULES, path="/etc/invitebot/policy.yml", digest="3f2a9c01b7e4")


def _home(panel, pending=(), total=0):
    config = home_view.HomeConfig(channel=CHANNEL, approvers=[APPROVER], sync_interval=300, last_sync=None)
    stats = Stats(pending_by_team={}, approved_7d=0, denied_7d=0, median_to_decision=None)
    return home_view.approver_home(
        stats=stats, pending=list(pending), pending_total=total, decisions=[], config=config, policy=panel
    )


def stored(bot, **kw):
    """A request row written straight to the database, as ingest and decide leave it."""
    values = dict(first_seen=MOMENT, last_seen=MOMENT, date_created=datetime.now(timezone.utc) - timedelta(hours=2))
    values.update(kw)
    with bot.runtime.sessions.begin() as session:
        session.add(request_row(**values))


def decided(bot, n, rule, agreed, *, days_ago=1.0, verdict="approve"):
    moment = datetime.now(timezone.utc) - timedelta(days=days_ago)
    stored(
        bot,
        id=f"IrDONE{n:04d}",
        email=f"done{n}@example.com",
        status="approved",
        decided_by=APPROVER,
        decided_at=moment,
        decision_source="button",
        policy_rule=rule,
        policy_verdict=verdict,
        policy_mode="shadow",
        policy_agreed=agreed,
    )


# -- the App Home's policy section, as data ---------------------------------------------------------


def test_the_home_names_the_policy_its_rules_how_often_people_agreed_and_who_approved_so_far():
    guest = request_row(id="Ir0000GUES", email="<!channel>@evil.example", invite_type="restricted", approvals_needed=2)
    panel = home_view.PolicyPanel(
        policy=SHADOW,
        agreement=[RuleAgreement("guests", 3, 4), RuleAgreement("employees", 41, 42)],
        waiting=[Waiting(guest, (APPROVER,), 2)],
    )

    text = card_text(_home(panel))

    assert "*Policy:* `policy.yml` · digest `3f2a9c01b7e4` · *shadow* mode" in text
    assert "employees → approve · personal-mail → deny · guests → 2 approvals" in text
    assert "employees: 41/42 agreed, guests: 3/4 agreed" in text  # in the policy's order
    assert "(30 days)" in text
    assert f"*&lt;!channel&gt;@evil.example* · `{TEAM}` · 1 of 2: <@{APPROVER}>" in text
    assert "<!channel>" not in text
    assert "INVITES_POLICY" not in text


def test_without_a_policy_the_home_says_so_in_one_line_naming_the_setting():
    for view in (_home(None), _home(home_view.PolicyPanel(policy=None, agreement=[], waiting=[]))):
        lines = [b for b in view["blocks"] if "INVITES_POLICY" in json.dumps(b)]
        assert len(lines) == 1
        assert "No policy is set" in card_text(view)
        assert "Waiting for more approvals" not in card_text(view)


def test_the_policy_section_keeps_within_block_kit_limits_however_long_and_hostile():
    hostile = "<!here>&" * 40
    rules = tuple(Rule(f"{hostile}{n}", Conditions(), Then.REQUIRE_APPROVALS, count=9) for n in range(300))
    policy = Policy(Mode.ENFORCE, rules, path="/x/" + hostile + ".yml", digest="0" * 12)
    waiting = [
        Waiting(
            request_row(id=f"Ir{n:08d}", email=hostile * 9 + "@example.com", team_name=hostile),
            tuple(f"U{m:08d}" for m in range(8)),
            9,
        )
        for n in range(home_view.WAITING_SHOWN + 1)
    ]
    panel = home_view.PolicyPanel(policy, [RuleAgreement(r.name, 1, 2) for r in rules], waiting)
    pending = [request_row(id=f"IrP{n:07d}", email=f"p{n}@example.com") for n in range(60)]

    view = _home(panel, pending, 60)

    assert_view_valid(view)
    text = card_text(view)
    assert "and 280 more in the file" in text
    assert "and 280 more rules" in text
    assert "More are waiting for approvals" in text
    assert "<!here>" not in text


def test_stats_words_the_agreement_per_rule_and_when_there_is_none():
    agreement = [RuleAgreement("retired-rule", 1, 1), RuleAgreement("guests", 0, 2), RuleAgreement("employees", 41, 42)]
    assert replies.agreement_text(agreement, SHADOW) == (
        "*Agreement with the policy (30 days):* employees: 41/42 agreed, guests: 0/2 agreed, retired-rule: 1/1 agreed"
    )
    assert "no policy is set (INVITES_POLICY)" in replies.agreement_text([], None)
    assert "no request a rule had a verdict on was decided by a person yet" in replies.agreement_text([], SHADOW)


# -- through Slack, on the database -----------------------------------------------------------------


def test_stats_and_the_home_count_the_last_30_days_decisions_by_people_per_rule(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path))
    for n, agreed in enumerate([True, True, True, False]):
        decided(bot, n, "employees", agreed)
    decided(bot, 10, "employees", False, days_ago=31)  # too old to count
    decided(bot, 11, "personal-mail", True, verdict="deny")
    stored(
        bot,
        id="IrPOLICY01",
        email="auto@example.com",
        status="approved",
        decided_by="employees",
        decided_at=MOMENT,
        decision_source="policy",
        policy_rule="employees",
        policy_verdict="approve",
        policy_mode="enforce",
    )  # no person
    stored(
        bot,
        id="IrOPEN0001",
        email="open@example.com",
        policy_rule="guests",
        policy_verdict="require_approvals",
        policy_mode="shadow",
        date_created=datetime.now(timezone.utc) - timedelta(hours=5, minutes=3),
    )

    said = answer(fake, bot, "stats")
    assert "*Agreement with the policy (30 days):* employees: 3/4 agreed, personal-mail: 1/1 agreed" in said
    assert "(the oldest has waited 5 h 3 min)" in said

    home = card_text(open_home(fake, bot, APPROVER))
    assert "employees: 3/4 agreed, personal-mail: 1/1 agreed" in home
    assert "(the oldest has waited 5 h 3 min)" in home
    assert "*Policy:* `policy-shadow.yml`" in home and "*shadow* mode" in home


def test_without_a_policy_stats_and_the_home_say_none_is_set(fake, bot):
    assert "*Agreement with the policy (30 days):* no policy is set (INVITES_POLICY)" in answer(fake, bot, "stats")
    assert "No policy is set" in card_text(open_home(fake, bot, APPROVER))


def test_the_home_lists_requests_short_of_approvals_with_who_approved(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path, "enforce"))
    for n, (email, approvers) in enumerate([("one@example.com", [GROUP_APPROVER]), ("none@example.com", [])]):
        stored(
            bot,
            id=f"IrGUEST{n:03d}",
            email=email,
            invite_type="restricted",
            policy_rule="guests",
            policy_verdict="require_approvals",
            policy_mode="enforce",
            approvals_needed=2,
        )
        with bot.runtime.sessions.begin() as session:
            session.add_all(Approval(request_id=f"IrGUEST{n:03d}", approver_id=a, source="button", at=MOMENT) for a in approvers)

    home = card_text(open_home(fake, bot, APPROVER))

    waiting = home.split("*Waiting for more approvals*")[1]
    assert f"*one@example.com* · `{TEAM}` · 1 of 2: <@{GROUP_APPROVER}>" in waiting
    assert "none@example.com" not in waiting  # nobody has approved it yet: it is in the queue like any other


def test_show_says_which_rule_matched_in_shadow_mode(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path, "shadow"))
    deliver(fake, bot, new_request(fake, "ada@example.com", invite_type="full_member"))
    deliver(fake, bot, new_request(fake, "someone@elsewhere.example", invite_type="full_member"))

    said = answer(fake, bot, "show ada@example.com")
    assert "Policy would approve (rule employees)" in said
    assert "Rule *employees* matched: approve (shadow mode: the rules only say what they would do; people decide)." in said

    assert "No rule of the policy matches it; people decide it." in answer(fake, bot, "show someone@elsewhere.example")


def test_show_lists_approvals_so_far_of_an_enforced_two_person_rule(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path, "enforce"))
    guest = new_request(fake, "guest@partner.example", invite_type="restricted")
    deliver(fake, bot, guest)
    card = wait_for_card(fake, "guest@partner.example")
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()

    said = answer(fake, bot, "show guest@partner.example")
    assert f"1 of 2 approvals: <@{APPROVER}>" in said
    assert "Rule *guests* matched: require 2 approvals (enforce mode: the rules decide)." in said
    assert fake.calls("admin.inviteRequests.approve") == []
    with bot.sessions() as session:
        assert session.get(InviteRequest, guest["id"]).status == "pending"

    home = card_text(open_home(fake, bot, APPROVER))
    assert f"*guest@partner.example* · Alpha Corp · 1 of 2: <@{APPROVER}>" in home
