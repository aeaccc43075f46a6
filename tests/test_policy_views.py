"""Where approvers see the policy at work: the App Home's policy section, `/invites show` and `/invites stats`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.store.models import Approval, InviteRequest
from tests.support.cards import card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.policies import write_policy
from tests.support.rows import request_row
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, TEAM, new_request
from tests.test_commands import answer
from tests.test_home import deliver, open_home

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)


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


@both_databases
def test_a_shadow_two_person_rule_says_what_it_would_have_done_and_whether_people_agreed(fake, start_bot, tmp_path):
    """One approver's approval is not what a rule asking for two would have allowed; one approver's deny is."""
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path, "shadow"))
    for email in ("one@partner.example", "two@partner.example"):
        deliver(fake, bot, new_request(fake, email, invite_type="restricted"))
    assert "Policy would require 2 approvals (rule guests)" in answer(fake, bot, "show one@partner.example")

    answer(fake, bot, "approve one@partner.example")
    answer(fake, bot, "deny two@partner.example Not this quarter")
    bot.settle()

    approved, denied = answer(fake, bot, "show one@partner.example"), answer(fake, bot, "show two@partner.example")
    assert "Policy would have required 2 approvals (rule guests): the decision did not agree" in approved
    assert "Policy would have required 2 approvals (rule guests): the decision agreed" in denied
    assert "Policy would require" not in approved + denied
    assert "guests: 1/2 agreed" in answer(fake, bot, "stats")
