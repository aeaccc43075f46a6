"""The sentences people read, as data: the clicker's answer, the requester's message, bulk progress, reminders and
policy words; requester text escaped in each."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.core.export import COLUMNS
from app.core.outcomes import Outcome, Result, Why
from app.core.policy.stats import RuleAgreement
from app.slack.ui import replies
from app.store.models import Action
from tests.support.policies import SHADOW
from tests.support.rows import request_row
from tests.support.stand_in import APPROVER, GROUP_APPROVER

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)


# -- the clicker's answer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        (Outcome(Result.DECIDED, Action.APPROVE, "Ir1", email="<!channel>@x.io"), "You approved the invite request for &lt;!channel&gt;@x.io."),
        (Outcome(Result.DECIDED, Action.DENY, "Ir1"), "You denied the invite request for this person."),
        (Outcome(Result.ACCEPTED, Action.DENY, "Ir1", email="ada@example.com"), "Denying the invite request for ada@example.com…"),
        (
            Outcome(Result.DECIDED_ELSEWHERE, Action.APPROVE, "Ir1", other=GROUP_APPROVER, other_action="deny", outside=True),
            f"No need: this request was already denied by <@{GROUP_APPROVER}> outside invitebot. The card now says so.",
        ),
        (
            Outcome(Result.IN_FLIGHT, Action.APPROVE, "Ir1", other=GROUP_APPROVER, other_action="approve"),
            f"<@{GROUP_APPROVER}> is approving this request right now.",
        ),
        (Outcome(Result.NOT_FOUND, Action.APPROVE, "<Ir1>"), "invitebot has no invite request `&lt;Ir1&gt;`."),
        (
            Outcome(Result.QUEUED, Action.APPROVE, "Ir1", wait_seconds=40),
            f"Approving… <@{APPROVER}>, queued: Slack allows 20 decisions a minute (about 40 s). You will be told here when Slack has approved it.",
        ),
        (
            Outcome(Result.QUEUED, Action.APPROVE, "Ir1", error="ratelimited", wait_seconds=60, slack_wait_seconds=3600),
            f"Approving… <@{APPROVER}>, queued: Slack asked us to wait (about 1 h); invitebot asks again in about 60 s. "
            "You will be told here when Slack has approved it.",
        ),
        (
            Outcome(Result.QUEUED, Action.DENY, "Ir1", wait_seconds=95, slack_wait_seconds=90),
            f"Denying… <@{APPROVER}>, queued: Slack asked us to wait (about 2 min). You will be told here when Slack has denied it.",
        ),
        (
            Outcome(Result.FAILED, Action.APPROVE, "Ir1", email="ada@example.com", error="internal_error"),
            "Could not approve the request for ada@example.com: Slack had an internal error. "
            "Nothing was decided; click Approve again in a minute to retry.",
        ),
        (
            Outcome(Result.FAILED, Action.APPROVE, "Ir1", email="ada@example.com", error="network_error", why=Why.ANSWER_LOST_UNDECIDED),
            "Could not confirm that Slack approved the request for ada@example.com: Slack did not answer in time, and Slack's "
            "lists do not show it decided yet. Slack may still approve it; the card will then say you approved it. "
            "If the card still has its buttons in a minute, click Approve again to retry.",
        ),
        (Outcome(Result.FAILED, Action.DENY, "Ir1", why=Why.RELEASED_MEANWHILE), "Another attempt on this request just failed"),
    ],
)
def test_the_clicker_is_told_what_came_of_it(outcome, says):
    assert says in replies.decision(outcome, APPROVER, per_minute=20)


def test_a_transient_failure_gives_one_instruction():
    said = replies.decision(Outcome(Result.FAILED, Action.DENY, "Ir1", error="internal_error"), APPROVER, per_minute=20)
    assert said.count("again") == 1 and "try again" not in said


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("already_in_team_invited_user", "No invitation was sent to rf3@globex.example. That person has already been invited to the workspace."),
        ("failed_looking_up_user", "Slack could not look that person up. No invitation was sent to rf3@globex.example. Try again in a minute."),
    ],
)
def test_a_refused_direct_invitation_says_nothing_was_sent_once(code, says):
    said = replies.invite_failed("rf3@globex.example", code)
    assert said == says and said.count("No invitation was sent") == 1 and "Could not invite" not in said


# -- the requester ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (dict(status="approved", decided_by=APPROVER), f":white_check_mark: Your request to invite &lt;b&gt;@x.io to Alpha &amp; co was approved by <@{APPROVER}>."),
        (dict(status="approved", decided_by="employees", decision_source="policy"), "was approved by policy *employees*."),
        (dict(status="approved_invite_failed", decided_by=None), "was approved by an admin, but Slack could not send the invitation"),
        (dict(status="denied", decided_by=APPROVER, deny_reason="Use <your> work address"), "was denied by <@W0APPROV01>.\nReason: Use &lt;your&gt; work address"),
    ],
)
def test_the_requester_reads_how_it_ended_with_their_text_escaped(changes, says):
    request = request_row(email="<b>@x.io", team_name="Alpha & co", decided_at=MOMENT, **changes)

    assert says in replies.requester_dm(request)


def test_a_guest_approved_by_a_policy_names_the_rule():
    request = request_row(
        status="approved",
        invite_type="restricted",
        decided_by="contractors",
        decision_source="policy",
        date_expire=datetime(2030, 1, 1, tzinfo=timezone.utc),
    )

    assert "It was approved by policy *contractors*;" in replies.guest_expiry_dm(request)


# -- reminders --------------------------------------------------------------------------------------------------------


def test_how_long_a_request_waited_in_words():
    assert [replies.age_words(s) for s in (59, 60, 2700, 3600, 14400, 86400, 129600, 259200)] == [
        "0 minutes", "1 minute", "45 minutes", "1 hour", "4 hours", "1 day", "1 day 12 hours", "3 days"
    ]
    assert replies.reminder(14400, [APPROVER, "S0GROUP01@T0ALPHA01"]) == (
        f"Still waiting after 4 hours: <@{APPROVER}> <!subteam^S0GROUP01>, please approve or deny."
    )


# -- bulk decisions ---------------------------------------------------------------------------------------------------


def test_time_left_and_counts_in_words():
    assert [replies.left_words(s) for s in (240, 95, 40, 3)] == ["about 4 min left", "about 2 min left", "about 40 s left", "finishing"]
    by = {"approved": 37, "elsewhere": 2, None: 81}
    assert replies.bulk_counts("approve", by, 120, running=True) == "37 of 120 approved, 2 decided elsewhere"
    assert replies.bulk_counts("approve", {"approved": 118, "elsewhere": 2}, 120, running=False) == "118 approved, 2 decided elsewhere, 0 failed"


def test_a_bulk_decision_names_what_it_takes_escaped():
    words = replies.bulk_filter_words("<!here>.com", ["Alpha & co"], ("restricted", "<new>"))

    assert words == "&lt;!here&gt;.com in Alpha &amp; co (multi-channel guests, &lt;new&gt;)"
    assert replies.bulk_title("deny", words, APPROVER) == f"Bulk deny of {words} by <@{APPROVER}>"
    assert replies.bulk_progress("T", "deny", {"denied": 3, "cancelled": 2, "deciding": 1}, 6, state="cancelled", seconds_left=0,
                                 cancelled_by=APPROVER) == (
        f"T, cancelled by <@{APPROVER}>; 1 already under way is finishing: 3 denied, 0 decided elsewhere, 0 failed, 2 not decided"
    )


# -- the policy -------------------------------------------------------------------------------------------------------


def test_stats_words_the_agreement_per_rule_and_when_there_is_none():
    agreement = [RuleAgreement("retired-rule", 1, 1), RuleAgreement("guests", 0, 2), RuleAgreement("employees", 41, 42)]
    assert replies.agreement_text(agreement, SHADOW) == (
        "*Agreement with the policy (30 days):* employees: 41/42 agreed, guests: 0/2 agreed, retired-rule: 1/1 agreed"
    )
    assert "no policy is set (INVITES_POLICY)" in replies.agreement_text([], None)
    assert "no request a rule had a verdict on was decided by a person yet" in replies.agreement_text([], SHADOW)


def test_the_pending_list_names_each_workspace_once():
    """Under a workspace's heading (or a listing of one workspace) its requests do not repeat its name."""
    rows = [
        request_row(id=f"Ir{n}", email=f"p{n}@example.com", team_id=team, team_name=name)
        for n, (team, name) in enumerate([("T0NORTH01", "Northwind Traders"), ("T0GLOBEX1", "Globex")])
    ]
    grouped = str(replies.pending_page(rows, total=2, offset=0, team=None, grouped={"T0NORTH01": 1, "T0GLOBEX1": 1}))
    assert grouped.count("Northwind Traders") == 1 and grouped.count("Globex") == 1
    one = str(replies.pending_page(rows[:1], total=1, offset=0, team="T0NORTH01", label="Northwind Traders"))
    assert one.count("Northwind Traders") == 1


def test_deciding_a_closed_request_again_says_it_was_already_decided():
    denied = request_row(status="denied", decided_by=APPROVER, decision_source="slash", deny_reason="Not now")
    said = replies.decision(Outcome(Result.ALREADY_DECIDED, Action.DENY, "Ir1", request=denied), APPROVER, per_minute=20)
    assert said.startswith("This request was already decided; nothing was changed.") and f"Denied by <@{APPROVER}>" in said


def test_the_export_names_its_columns_for_someone_without_the_docs():
    said = replies.export_comment(3, MOMENT, MOMENT)
    assert "docs/" not in said and "README" not in said
    assert f"Its columns: {', '.join(COLUMNS)}." in said
