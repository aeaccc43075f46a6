"""The App Home as data: the approver dashboard within Slack's 100 blocks, its queue and settings, its policy section,
and a requester's own requests; requester text escaped throughout."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from app.core.policy import Conditions, Mode, Policy, Rule, Then
from app.core.policy.stats import RuleAgreement, Waiting
from app.core.queries import Stats, WorkspaceQueue
from app.slack.ui import home_view, replies
from app.store.models import SyncRun
from tests.support.block_checks import assert_view_valid
from tests.support.cards import card_text, decide_blocks
from tests.support.policies import SHADOW
from tests.support.rows import request_row
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, TEAM

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)
NO_STATS = Stats(pending_by_team={}, approved_7d=0, denied_7d=0, median_to_decision=None)
CONFIG = home_view.HomeConfig(channel=CHANNEL, approvers=[APPROVER], sync_interval=300, last_sync=None)


def _row(n, **kw):
    values = dict(
        id=f"Ir{n:08d}",
        team_name="Alpha Corp",
        email=f"p{n}@example.com",
        real_name="<b>" * 100,
        reason="<!channel> " * 500,
        date_created=MOMENT + timedelta(minutes=n),
    )
    values.update(kw)
    return request_row(**values)


def _home(pending, total, decisions=(), notice=None):
    stats = Stats(pending_by_team={"Alpha Corp": total}, approved_7d=0, denied_7d=0, median_to_decision=None)
    return home_view.approver_home(
        stats=stats, pending=pending, pending_total=total, decisions=list(decisions), config=CONFIG, notice=notice
    )


def _policy_home(panel, pending=(), total=0):
    return home_view.approver_home(stats=NO_STATS, pending=list(pending), pending_total=total, decisions=[], config=CONFIG, policy=panel)


# -- the dashboard ------------------------------------------------------------------------------------------------------


def test_the_dashboard_never_exceeds_100_blocks():
    decided = [
        _row(1000 + n, status="denied", decided_by=APPROVER, decided_at=MOMENT, decision_source="slash", deny_reason="x" * 3000)
        for n in range(20)
    ]
    for pending_count, total in [(0, 0), (1, 1), (40, 40), (50, 50), (50, 5000)]:
        for notice in (None, "You approved the invite request for p1@example.com."):
            view = _home([_row(n) for n in range(pending_count)], total, decided, notice)
            shown = len(decide_blocks(view))
            assert len(view["blocks"]) <= 100
            assert len(json.dumps(view)) < 250_000  # views.publish answers view_too_large beyond 250 kB
            assert shown <= pending_count
            assert shown >= min(pending_count, 30)
            if total <= 40 and notice is None:
                assert shown == pending_count
            text = card_text(view)
            if total > shown:
                assert f"{total - shown} more, use /invites list" in text
            else:
                assert "more, use /invites list" not in text
            for block in view["blocks"]:
                for part in [block.get("text") or {}] + (block.get("elements") or []):
                    assert len(part.get("text") or "") <= 3000


def test_a_request_being_decided_says_who_instead_of_offering_buttons():
    view = _home([_row(1, status="deciding", claim_action="deny", claim_actor=APPROVER)], 1)

    assert decide_blocks(view) == []
    assert f"<@{APPROVER}> is denying this request right now." in card_text(view)


def test_each_pending_request_gets_its_buttons_and_its_text_escaped():
    view = _home([_row(1, real_name="<!channel> Eve", reason="<https://evil.example|click> & more")], 1)

    [row] = decide_blocks(view)
    assert [e["action_id"] for e in row["elements"]] == ["invite_approve", "invite_deny"]
    text = card_text(view)
    assert "*&lt;!channel&gt; Eve* (p1@example.com)" in text
    assert ">&lt;https://evil.example|click&gt; &amp; more" in text
    assert "<!channel>" not in text and "<https://evil" not in text


def test_the_queue_of_several_workspaces_is_grouped_under_their_names():
    alpha = [_row(n) for n in range(3)]
    beta = [_row(10 + n, team_id=OTHER_TEAM, team_name="Beta <Labs>") for n in range(2)]
    queues = [WorkspaceQueue(TEAM, "Alpha Corp", alpha, 3), WorkspaceQueue(OTHER_TEAM, "Beta <Labs>", beta, 40)]

    view = home_view.approver_home(stats=NO_STATS, pending=alpha + beta, pending_total=43, decisions=[], config=CONFIG, queues=queues)

    text = card_text(view)
    assert "(43, workspace by workspace, oldest first)" in text
    assert "*Alpha Corp* (3 waiting)" in text and "*Beta &lt;Labs&gt;* (40 waiting)" in text
    assert "38 more, use /invites list to see them all." in text
    assert_view_valid(view)


def test_the_settings_name_the_channel_routes_approvers_and_the_last_sync():
    config = home_view.HomeConfig(
        channel=CHANNEL,
        approvers=[APPROVER, "S0GROUP01@T0ALPHA01"],
        sync_interval=3600,
        last_sync=SyncRun(started_at=MOMENT, finished_at=MOMENT, summary="<!here> 2 new", errors=1),
        routes=[("Beta Labs", "C0BETA001")],
        workspace_approvers=[("Beta Labs", ["W0BETA0001"])],
    )

    view = home_view.approver_home(stats=NO_STATS, pending=[], pending_total=0, decisions=[], config=config)

    [settings] = [b for b in view["blocks"] if b.get("block_id") == "home-config"]
    text = settings["text"]["text"]
    assert f"*Approvals channel:* <#{CHANNEL}> (every other workspace)\n*Routed per workspace:* Beta Labs → <#C0BETA001>" in text
    assert f"*Approvers:* <@{APPROVER}>, <!subteam^S0GROUP01>\n*Approvers of Beta Labs:* <@W0BETA0001> (and those above)" in text
    assert "*Sync with Slack:* every hour" in text
    assert ":warning: &lt;!here&gt; 2 new" in text
    assert settings["accessory"]["action_id"] == "home_sync_now"
    assert "Nothing is waiting for a decision." in card_text(view) and "No decisions yet." in card_text(view)


def test_sync_intervals_in_words():
    assert [home_view.interval_words(s) for s in (60, 300, 3600, 7200, 86400, 90)] == [
        "every minute", "every 5 minutes", "every hour", "every 2 hours", "every day", "every 90 seconds"
    ]


# -- the policy section -------------------------------------------------------------------------------------------------


def test_the_home_names_the_policy_its_rules_how_often_people_agreed_and_who_approved_so_far():
    guest = request_row(id="Ir0000GUES", email="<!channel>@evil.example", invite_type="restricted", approvals_needed=2)
    panel = home_view.PolicyPanel(
        policy=SHADOW,
        agreement=[RuleAgreement("guests", 3, 4), RuleAgreement("employees", 41, 42)],
        waiting=[Waiting(guest, (APPROVER,), 2)],
    )

    text = card_text(_policy_home(panel))

    assert "*Policy:* `policy.yml` · digest `3f2a9c01b7e4` · *shadow* mode" in text
    assert "employees → approve · personal-mail → deny · guests → 2 approvals" in text
    assert "employees: 41/42 agreed, guests: 3/4 agreed" in text  # in the policy's order
    assert "(30 days)" in text
    assert f"*&lt;!channel&gt;@evil.example* · `{TEAM}` · 1 of 2: <@{APPROVER}>" in text
    assert "<!channel>" not in text
    assert "INVITES_POLICY" not in text


def test_without_a_policy_the_home_says_so_in_one_line_naming_the_setting():
    for view in (_policy_home(None), _policy_home(home_view.PolicyPanel(policy=None, agreement=[], waiting=[]))):
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

    view = _policy_home(panel, pending, 60)

    assert_view_valid(view)
    text = card_text(view)
    assert "and 280 more in the file" in text
    assert "and 280 more rules" in text
    assert "More are waiting for approvals" in text
    assert "<!here>" not in text


# -- a requester's own requests -----------------------------------------------------------------------------------------


def test_a_requester_sees_each_request_newest_first_and_a_line_when_there_are_none():
    empty = home_view.requester_home([])
    assert "You have no invite requests." in card_text(empty)

    mine = [_row(n, email=f"<{n}>@example.com", status="denied", decided_by=APPROVER, deny_reason="No <budget>") for n in range(25)]
    view = home_view.requester_home(mine, notice="Your request is in.")

    text = card_text(view)
    assert text.startswith(":information_source: Your request is in.")
    assert "*&lt;0&gt;@example.com*" in text and "&lt;24&gt;" not in text
    assert f"Showing your {home_view.REQUESTS_LIMIT} latest requests." in text
    assert_view_valid(view)


def test_the_requesters_home_says_when_an_approved_guest_account_ends_as_invites_mine_does() -> None:
    guest = request_row(status="approved", decided_by=APPROVER, invite_type="restricted", date_expire=MOMENT)
    ends = f"guest account <!date^{int(MOMENT.timestamp())}^ends "
    assert ends in card_text(home_view.requester_home([guest]))
    assert ends in str(replies.mine([guest]))
