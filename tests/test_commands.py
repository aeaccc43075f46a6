"""/invites through signed slash commands, answered ephemerally through response_url."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, OUTSIDER, REQUESTER, TEAM, new_request

GENERAL = "<#C0GENERAL1|general>"


def slash(fake, bot, text, user=APPROVER):
    """Run a command and return (the ack, the texts posted to its response_url after the ack)."""
    before = len(fake.response_posts())
    reply = bot.slack.slash(text=text, user_id=user, channel_id=CHANNEL, team_id=TEAM)
    assert reply.status == 200
    bot.settle()
    return reply, fake.response_posts()[before:]


def answer(fake, bot, text, user=APPROVER):
    """The one ephemeral answer to a command, as text plus all block text."""
    _, posts = slash(fake, bot, text, user)
    [post] = posts
    return post["text"] + "\n" + json.dumps(post.get("blocks") or [])


def ack_text(reply):
    """Bolt acks a text-only answer with the text as the body, which Slack shows ephemerally."""
    return reply.body


def seeded(fake, bot, *emails, **kw):
    start = int(time.time()) - 2 * 3600 - 30 + len(fake.calls("chat.postMessage"))  # two hours ago, in order
    requests = [new_request(fake, email, date_created=start + n, **kw) for n, email in enumerate(emails)]
    for request in requests:
        bot.slack.invite_requested(request)
    bot.settle()
    return requests


def test_help_and_unknown_commands_answer_with_usage_in_the_ack(fake, bot):
    for text in ("help", "frobnicate"):
        reply, posts = slash(fake, bot, text, OUTSIDER)
        assert "/invites invite <email>" in ack_text(reply)
        assert posts == []
    assert "`frobnicate` is not an /invites command" in ack_text(slash(fake, bot, "frobnicate")[0])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("invite not-an-email " + GENERAL, "`not-an-email` is not an email address"),
        ("invite ada@example.com", "Name at least one channel"),
        ("invite ada@example.com #general", "`#general` is a channel name"),
        ("invite ada@example.com " + GENERAL + " guest expires 2020-01-01", "2020-01-01 is not in the future"),
        ("invite ada@example.com " + GENERAL + " guest expires someday", "`someday` is not a date"),
        ("invite ada@example.com " + GENERAL + " expires 2999-01-01", "Only guests can have an expiry date"),
        ("invite ada@example.com " + GENERAL + " <#C0DESIGN01|design> single-channel-guest", "exactly one channel"),
        ("invite ada@example.com in", "`in` needs a workspace"),
        ("approve", "exactly one request"),
        ("approve nobody", "`nobody` is neither a request id"),
        ("history 0", "a number from 1 to 50"),
        ("show <!channel>", "&lt;!channel&gt;"),
    ],
)
def test_bad_arguments_get_a_precise_answer_and_change_nothing(fake, bot, text, says):
    reply, posts = slash(fake, bot, text)

    assert says in ack_text(reply)
    assert "<!channel>" not in ack_text(reply)
    assert posts == []
    assert not fake.calls("admin.users.invite")


def test_list_pages_oldest_first_with_buttons(fake, bot):
    seeded(fake, bot, *[f"p{n:02d}@example.com" for n in range(23)])

    _, [first] = slash(fake, bot, "list")

    text = json.dumps(first["blocks"], ensure_ascii=False)
    assert "1–10 of 23" in text
    assert text.index("p00@example.com") < text.index("p09@example.com")
    assert "p10@example.com" not in text
    assert sum(1 for b in first["blocks"] if b.get("block_id", "").startswith("list-")) == 10
    pager = next(b for b in first["blocks"] if b.get("block_id", "").startswith("pager-"))
    assert [e["text"]["text"] for e in pager["elements"]] == ["Next"]

    bot.slack.click_ephemeral(user_id=APPROVER, channel=CHANNEL, blocks=first["blocks"], action_id="invites_list_page_next")
    bot.settle()

    second = fake.response_posts()[-1]
    assert second["replace_original"] is True
    text = json.dumps(second["blocks"], ensure_ascii=False)
    assert "11–20 of 23" in text and "p10@example.com" in text and "p09@example.com" not in text


def test_approve_from_the_list_decides_and_answers_in_the_channel(fake, bot):
    [ada] = seeded(fake, bot, "ada@example.com")
    _, [listing] = slash(fake, bot, "list")

    bot.slack.click_ephemeral(
        user_id=APPROVER, channel=CHANNEL, blocks=listing["blocks"], action_id="invite_approve", block_id=f"list-{ada['id']}"
    )
    bot.settle()

    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    assert "You approved" in fake.ephemerals(channel=CHANNEL, user=APPROVER)[-1]["text"]
    assert f"Approved by <@{APPROVER}>" in card_text(wait_for_card(fake, "ada@example.com", lambda m: not buttons(m)))


def test_non_approvers_are_refused_and_audited_but_may_use_mine(fake, bot):
    seeded(fake, bot, "ada@example.com")

    refused = answer(fake, bot, "approve ada@example.com", OUTSIDER)
    mine = answer(fake, bot, "mine", OUTSIDER)

    assert "Only invite approvers can use `/invites approve`" in refused
    assert "You have not asked to invite anyone yet" in mine
    assert not fake.calls("admin.inviteRequests.approve")
    with bot.sessions() as session:
        [entry] = session.scalars(select(DecisionLog)).all()
    assert (entry.actor_id, entry.action, entry.source, entry.outcome) == (OUTSIDER, "approve", "slash", "not_allowed")


def test_approve_and_deny_by_email_or_id_decide_through_the_same_path(fake, bot):
    ada, bob = seeded(fake, bot, "ada@example.com", "bob@example.com")

    approved = answer(fake, bot, "approve <mailto:ada@example.com|ada@example.com>")
    denied = answer(fake, bot, f"deny {bob['id']} Not   a  <!here> contractor")

    assert "You approved the invite request for ada@example.com" in approved
    assert "You denied the invite request for bob@example.com" in denied
    assert f"Approved by <@{APPROVER}>" in card_text(wait_for_card(fake, "ada@example.com", lambda m: not buttons(m)))
    bob_card = card_text(wait_for_card(fake, "bob@example.com", lambda m: not buttons(m)))
    assert "Reason: Not   a  &lt;!here&gt; contractor" in bob_card
    with bot.sessions() as session:
        sources = {e.request_id: e.source for e in session.scalars(select(DecisionLog))}
    assert sources == {ada["id"]: "slash", bob["id"]: "slash"}


def test_an_email_pending_in_two_workspaces_gets_a_choice_not_a_guess(fake, bot):
    seeded(fake, bot, "ada@example.com")
    seeded(fake, bot, "ada@example.com", team_id=OTHER_TEAM, channel_ids=[])

    reply = answer(fake, bot, "approve ada@example.com")

    assert "2 pending requests match ada@example.com" in reply
    assert reply.count("invite_approve") == 2
    assert not fake.calls("admin.inviteRequests.approve")


def test_show_has_everything_including_the_audit_trail(fake, bot):
    [ada] = seeded(fake, bot, "ada@example.com")
    answer(fake, bot, "approve ada@example.com", OUTSIDER)
    answer(fake, bot, "approve ada@example.com")

    shown = answer(fake, bot, f"show {ada['id']}")

    assert "Joining the analytical engine project" in shown
    assert f"Approved by <@{APPROVER}>" in shown
    assert f"<@{OUTSIDER}> tried to approve: refused, not an approver (from /invites)" in shown
    assert f"<@{APPROVER}> approved (from /invites)" in shown
    assert "`not_allowed`" not in shown and "`ok`" not in shown


def test_history_stats_and_sync(fake, bot):
    seeded(fake, bot, "ada@example.com", "bob@example.com", "cy@example.com")
    seeded(fake, bot, "dee@example.com", team_id=OTHER_TEAM, channel_ids=[])
    answer(fake, bot, "approve ada@example.com")
    answer(fake, bot, "deny bob@example.com")

    history = answer(fake, bot, "history 5")
    stats = answer(fake, bot, "stats")
    synced = answer(fake, bot, "sync")

    assert history.index("bob@example.com") < history.index("ada@example.com")
    assert "from /invites" in history
    assert "Alpha Corp: 1, Beta Labs: 1" in stats
    assert "1 approved, 1 denied" in stats
    assert "Median time to decision (7 days):* 2 h 0 min" in stats
    assert synced.startswith("sync: 0 new, 0 closed elsewhere, 2 unchanged, 0 errors")


def test_direct_invite_calls_admin_users_invite_and_is_audited(fake, bot):
    expiry = (date.today() + timedelta(days=30)).isoformat()

    done = answer(fake, bot, f"invite grace@example.com {GENERAL} guest expires {expiry} Welcome aboard!")

    assert f"Invited grace@example.com to Alpha Corp, to join <#C0GENERAL1> as a multi-channel guest, until {expiry}" in done
    [invite] = fake.invites()
    assert (invite["email"], invite["team_id"], invite["channel_ids"]) == ("grace@example.com", TEAM, ["C0GENERAL1"])
    assert invite["is_restricted"] and not invite["is_ultra_restricted"]
    assert invite["custom_message"] == "Welcome aboard!"
    assert int(invite["guest_expiration_ts"]) > 0

    again = answer(fake, bot, f"invite grace@example.com {GENERAL}")
    assert "That person has already been invited to the workspace" in again
    fake.fail_next("admin.users.invite", "already_in_team")
    member = answer(fake, bot, f"invite linus@example.com {GENERAL}")
    assert "already a member of the workspace" in member
    with bot.sessions() as session:
        outcomes = [e.outcome for e in session.scalars(select(DecisionLog).order_by(DecisionLog.id))]
    assert outcomes == ["ok", "already_in_team_invited_user", "already_in_team"]


def test_mine_shows_a_requesters_requests_and_the_deny_reason(fake, bot):
    seeded(fake, bot, "ada@example.com", "bob@example.com")
    answer(fake, bot, "deny bob@example.com Budget freeze")

    mine = answer(fake, bot, "mine", REQUESTER)

    assert "ada@example.com" in mine and "Waiting for a decision" in mine
    assert "bob@example.com" in mine and "Reason: Budget freeze" in mine


def test_slow_admin_api_does_not_delay_the_ack(fake, bot):
    seeded(fake, bot, "ada@example.com")
    fake.set_latency("admin.inviteRequests.approve", 4)

    reply = bot.slack.slash(text="approve ada@example.com", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)

    assert reply.status == 200 and reply.elapsed < 3.0
    bot.settle()
    assert "You approved" in fake.response_posts()[-1]["text"]


def test_text_slack_escaped_is_stored_as_typed_and_shown_safely(fake, bot):
    seeded(fake, bot, "bob@example.com")

    answer(fake, bot, "deny bob@example.com Budget &lt;2027&gt; &amp; <!channel> more")

    with bot.sessions() as session:
        [row] = session.scalars(select(InviteRequest)).all()
    assert row.deny_reason == "Budget <2027> & <!channel> more"
    card = card_text(wait_for_card(fake, "bob@example.com", lambda m: not buttons(m)))
    assert "Reason: Budget &lt;2027&gt; &amp; &lt;!channel&gt; more" in card


def test_direct_invite_into_another_workspace_by_domain_or_id(fake, bot):
    """Typed in Alpha, the invite goes where `in` says: Beta by its domain, then by its id (into Beta's own channel)."""
    fake.add_channel("C0BETALAB", name="lab", team_id=OTHER_TEAM)
    by_domain = answer(fake, bot, "invite grace@example.com in beta <#C0BETALAB|lab>")
    by_id = answer(fake, bot, f"invite linus@example.com in {OTHER_TEAM} <#C0BETALAB|lab>")

    assert "Invited grace@example.com to Beta Labs" in by_domain and "Invited linus@example.com to Beta Labs" in by_id
    assert [(i["email"], i["team_id"]) for i in fake.invites()] == [
        ("grace@example.com", OTHER_TEAM),
        ("linus@example.com", OTHER_TEAM),
    ]


def test_direct_invite_into_an_unknown_workspace_is_refused_with_the_choices(fake, bot):
    refused = answer(fake, bot, f"invite grace@example.com in <!channel> {GENERAL}")

    assert "is not one of invitebot's workspaces (`alpha`, `beta`). Nothing was sent." in refused
    assert "<!channel>" not in refused
    assert fake.calls("admin.users.invite") == [] and fake.invites() == []


@pytest.mark.parametrize("named", ["beta", "BETA LABS", "Beta   Labs", OTHER_TEAM])
def test_list_one_workspace_by_its_domain_name_or_id(fake, bot, named):
    seeded(fake, bot, "ada@example.com")
    seeded(fake, bot, "bob@example.com", "cy@example.com", team_id=OTHER_TEAM)

    listed = answer(fake, bot, f"list {named}")

    assert "Pending invite requests in Beta Labs*" in listed
    assert "bob@example.com" in listed and "cy@example.com" in listed and "ada@example.com" not in listed


def test_list_of_an_unknown_workspace_names_the_ones_that_exist(fake, bot):
    seeded(fake, bot, "ada@example.com")

    listed = answer(fake, bot, "list northwind traders")

    assert "No workspace of invitebot's is called `northwind traders`" in listed
    assert "Alpha Corp (alpha), Beta Labs (beta)" in listed


def test_an_argument_error_shows_the_one_usage_line_that_applies(fake, bot):
    reply, posts = slash(fake, bot, "history 99")

    assert "`/invites history` takes a number from 1 to 50." in ack_text(reply)
    assert "Usage: `/invites history [n]`" in ack_text(reply)
    assert "/invites invite" not in ack_text(reply) and posts == []


def test_mine_shows_only_the_asking_users_requests_whatever_their_id_holds(fake, bot):
    """A LIKE wildcard in the id (`%`, `_`) must not widen `/invites mine` to other people's requests."""
    seeded(fake, bot, "ada@example.com")
    for odd in ("W_%", "W%"):
        fake.add_user(odd, name="wild", team_id=TEAM)

        mine = answer(fake, bot, "mine", odd)

        assert "ada@example.com" not in mine


@both_databases
def test_a_replayed_invite_command_is_answered_without_inviting_again(fake, start_bot):
    """The same signed bytes, sent again within Slack's five minutes (here to two replicas at once), invite once."""
    first, second = start_bot(), start_bot()
    captured = []
    first.slack._send_command = captured.append  # build the request Slack would send, without sending it
    first.slack.slash(text=f"invite grace@example.com {GENERAL}", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    [fields] = captured
    body, signed_at = urlencode(fields).encode(), int(time.time())

    def send(bot):
        return bot.slack.post(body, content_type="application/x-www-form-urlencoded", timestamp=signed_at)

    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(send, [first, second]))
    replayed = send(first)
    first.settle()
    second.settle()

    assert [r.status for r in [*replies, replayed]] == [200, 200, 200]
    assert len(fake.invites()) == 1
    assert len(fake.calls("admin.users.invite")) == 1
    assert [ack_text(r) for r in [*replies, replayed]] == ["", "", ""]  # acks wait for no database write
    told = sorted(p["text"] for p in fake.wait_for(lambda: len(fake.response_posts()) == 3 and fake.response_posts()))
    replayed_text = "invitebot already received this command and did not run it again."
    assert told[0].startswith("Invited grace@example.com") and told[1:] == [replayed_text, replayed_text]
    with first.sessions() as session:
        assert [e.outcome for e in session.scalars(select(DecisionLog))] == ["ok"]
