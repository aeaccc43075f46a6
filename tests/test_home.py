"""The App Home: an approver's dashboard, a requester's own requests, Sync now, and decisions made from the Home."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest, SyncRun
from tests.support.cards import buttons, card_text, decide_blocks, deny_through_modal, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, OUTSIDER, REQUESTER, SLACK_ADMIN, TEAM, new_request

NOW = int(time.time())


# -- reading the Home -------------------------------------------------------------------------------


def _view_changed(fake, user_id, before):
    view = fake.home_view(user_id)
    if view is not None and (before is None or view["hash"] != before["hash"]):
        return view
    return None


def _republished(fake, bot, user_id, act):
    """Do `act`, then wait for the user's Home to be published anew and for the bot to finish its work."""
    before = fake.home_view(user_id)
    reply = act()
    assert reply.status == 200
    view = fake.wait_for(lambda: _view_changed(fake, user_id, before), message=f"Home of {user_id} not republished")
    bot.settle()
    return fake.home_view(user_id) or view


def open_home(fake, bot, user_id):
    return _republished(fake, bot, user_id, lambda: bot.slack.app_home_opened(user_id, team_id=TEAM))


def click_in_home(fake, bot, user_id, action_id, value):
    act = lambda: bot.slack.click_in_home(user_id=user_id, action_id=action_id, value=value, team_id=TEAM)  # noqa: E731
    return _republished(fake, bot, user_id, act)


def home_buttons(view):
    """Every button on the Home with its block_id: actions blocks and section accessories."""
    found = []
    for block in view["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory") or {}]
        found.extend((block.get("block_id"), e) for e in elements if e.get("type") == "button")
    return found


def deliver(fake, bot, *requests):
    for request in requests:
        bot.slack.invite_requested(request)
    for request in requests:
        wait_for_card(fake, request["email"])
    bot.settle()


def approve_on_card(fake, bot, email, user_id=APPROVER):
    card = wait_for_card(fake, email)
    bot.slack.click(user_id=user_id, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    wait_for_card(fake, email, lambda m: not buttons(m))
    bot.settle()


def deny_with_reason(fake, bot, email, reason, user_id=APPROVER):
    """Deny on the card through the reason modal, as an approver would."""
    deny_through_modal(fake, bot, wait_for_card(fake, email), user_id, reason)
    wait_for_card(fake, email, lambda m: not buttons(m))
    bot.settle()


def modal_filled(fake, bot, opened):
    """The deny modal opened after `opened` others, once invitebot has filled it in."""
    first = fake.wait_for(lambda: fake.views_opened()[opened:], message="no deny modal opened")[0]
    fake.wait_for(lambda: fake.modal(first["id"])["hash"] != first["hash"], message="deny modal not filled in")
    bot.settle()
    return fake.modal(first["id"])


# -- the approver dashboard -------------------------------------------------------------------------


def test_approver_home_shows_counts_queue_decisions_and_settings(fake, bot):
    oldest = new_request(fake, "ada@example.com", date_created=NOW - 7200)
    newest = new_request(fake, "bob@example.com", real_name="Bob", date_created=NOW - 60)
    beta = new_request(fake, "beta@example.com", team_id=OTHER_TEAM, real_name=None, date_created=NOW - 3600)
    approved = new_request(fake, "carol@example.com", date_created=NOW - 9000)
    denied = new_request(fake, "dan@example.com", date_created=NOW - 9500)
    deliver(fake, bot, newest, approved, oldest, beta, denied)
    approve_on_card(fake, bot, "carol@example.com")
    fake.decide_outside(denied["id"], "deny", SLACK_ADMIN)
    bot.runtime.sync()

    view = open_home(fake, bot, APPROVER)

    assert view["type"] == "home"
    text = card_text(view)
    assert "Alpha Corp: 2" in text
    assert "Beta Labs: 1" in text
    assert "(3 in all; the oldest has waited" in text
    assert "1 approved, 1 denied" in text
    # the queue, workspace by workspace and each oldest first, every request with its own Approve/Deny
    assert "workspace by workspace, oldest first" in text
    assert text.index("*Alpha Corp* (2 waiting)") < text.index("ada@example.com") < text.index("bob@example.com")
    assert text.index("bob@example.com") < text.index("*Beta Labs* (1 waiting)") < text.index("beta@example.com")
    assert [b["block_id"] for b in decide_blocks(view)] == [f"home-decide-{r['id']}" for r in (oldest, newest, beta)]
    for block in decide_blocks(view):
        approve, deny = block["elements"]
        assert (approve["action_id"], approve["text"]["text"], approve["style"]) == ("invite_approve", "Approve", "primary")
        assert (deny["action_id"], deny["text"]["text"], deny["style"]) == ("invite_deny", "Deny", "danger")
        assert "confirm" in approve
    assert f"asked by <@{REQUESTER}>" in text
    assert f"<!date^{oldest['date_created']}^" in text
    # the latest decisions: who, when, from where (newest decision first)
    assert "*dan@example.com* · Alpha Corp · from Slack admin pages" in text
    assert f"Already denied by <@{SLACK_ADMIN}> outside invitebot<!date^" in text
    assert "*carol@example.com* · Alpha Corp · from card" in text
    assert f"Approved by <@{APPROVER}><!date^" in text
    assert text.index("dan@example.com") < text.index("carol@example.com")
    # the configuration in force, with the last sync
    assert f"*Approvals channel:* <#{CHANNEL}>" in text
    assert f"*Approvers:* <@{APPROVER}>, <!subteam^S0APPROVE1>" in text
    assert "every 5 minutes" in text
    assert "*Last sync:* <!date^" in text
    assert "sync: 0 new, 1 closed elsewhere, 3 unchanged, 0 errors" in text
    [sync_button] = [e for _, e in home_buttons(view) if e["action_id"] == "home_sync_now"]
    assert sync_button["text"]["text"] == "Sync now"
    assert len(view["blocks"]) <= 100


def test_a_long_queue_fits_in_100_blocks_and_says_how_many_more(fake, bot):
    requests = [new_request(fake, f"person{n:02d}@example.com", date_created=NOW - 10_000 + n) for n in range(60)]
    bot.runtime.sync()

    view = open_home(fake, bot, APPROVER)

    shown = decide_blocks(view)
    assert len(view["blocks"]) <= 100
    assert 30 <= len(shown) < 60
    assert [b["block_id"] for b in shown] == [f"home-decide-{r['id']}" for r in requests[: len(shown)]]
    assert f"{60 - len(shown)} more, use /invites list" in card_text(view)
    assert "*Pending:* Alpha Corp: 60 (the oldest has waited" in card_text(view)  # named from admin.teams.list; one total
    assert "in all" not in card_text(view)
    assert len({b.get("block_id") for b in view["blocks"] if b.get("block_id")}) == len(
        [b for b in view["blocks"] if b.get("block_id")]
    )


def test_opening_the_messages_tab_publishes_nothing(fake, bot):
    event = {"type": "app_home_opened", "user": APPROVER, "channel": "D0APPROV01", "tab": "messages", "event_ts": "1.0"}

    assert bot.slack.event(event, team_id=TEAM).status == 200

    open_home(fake, bot, OUTSIDER)  # a Home-tab event sent afterwards has been handled and published
    assert fake.home_view(APPROVER) is None


# -- everyone else ----------------------------------------------------------------------------------


def test_a_requester_sees_their_own_requests_in_words(fake, bot):
    waiting = new_request(fake, "wait@example.com", date_created=NOW - 100)
    approved = new_request(fake, "yes@example.com", date_created=NOW - 200)
    denied = new_request(fake, "no@example.com", date_created=NOW - 300)
    failed = new_request(fake, "fail@example.com", date_created=NOW - 400)
    gone = new_request(fake, "gone@example.com", date_created=NOW - 500)
    someone_elses = new_request(fake, "other@example.com", requester_ids=[OUTSIDER])
    deliver(fake, bot, waiting, approved, denied, failed, gone, someone_elses)
    approve_on_card(fake, bot, "yes@example.com")
    fake.fail_next("admin.inviteRequests.approve", "failed_to_send_invite")
    approve_on_card(fake, bot, "fail@example.com")
    deny_with_reason(fake, bot, "no@example.com", "Contract not signed yet <!channel>")
    fake.remove_request(gone["id"])
    bot.runtime.sync()

    view = open_home(fake, bot, REQUESTER)

    text = card_text(view)
    assert "Your invite requests" in text
    assert "*wait@example.com* · Alpha Corp · <!date^" in text and "^asked {date_short_pretty}" in text
    lines = {email: text.split(f"*{email}*", 1)[1].split("\n*", 1)[0] for email in (
        "wait@example.com", "yes@example.com", "no@example.com", "fail@example.com", "gone@example.com"
    )}
    assert "Waiting for a decision" in lines["wait@example.com"]
    assert f"Approved by <@{APPROVER}><!date^" in lines["yes@example.com"]
    assert f"Denied by <@{APPROVER}><!date^" in lines["no@example.com"]
    assert "Reason: Contract not signed yet &lt;!channel&gt;" in lines["no@example.com"]
    assert "but Slack could not send the invitation" in lines["fail@example.com"]
    assert "Slack no longer has this request" in lines["gone@example.com"]
    newest_first = [text.index(f"*{name}@example.com*") for name in ("wait", "yes", "no", "fail", "gone")]
    assert newest_first == sorted(newest_first)
    assert "other@example.com" not in text
    assert "<!channel>" not in text
    assert home_buttons(view) == []


def test_someone_with_no_requests_is_told_so(fake, bot):
    view = open_home(fake, bot, OUTSIDER)

    assert "You have no invite requests" in card_text(view)
    assert home_buttons(view) == []


# -- Sync now ---------------------------------------------------------------------------------------


def test_sync_now_closes_requests_decided_in_slacks_admin_pages(fake, bot):
    request = new_request(fake)
    deliver(fake, bot, request)
    fake.decide_outside(request["id"], "approve", SLACK_ADMIN)
    open_home(fake, bot, APPROVER)

    view = click_in_home(fake, bot, APPROVER, "home_sync_now", "sync")

    summary = "sync: 0 new, 1 closed elsewhere, 0 unchanged, 0 errors"
    # the summary shows just above Sync now, where the person clicked, not at the top of a long Home
    ids = [block.get("block_id") for block in view["blocks"]]
    notice = view["blocks"][ids.index("home-config") - 1]
    assert (notice["block_id"], notice["text"]["text"]) == ("home-notice", f":information_source: {summary}")
    assert ids.count("home-notice") == 1 and ids.index("home-notice") > 0
    assert f"Already approved by <@{SLACK_ADMIN}> outside invitebot" in card_text(wait_for_card(fake, "ada@example.com"))
    assert "*ada@example.com* · Alpha Corp · from Slack admin pages" in card_text(view)
    assert "*Last sync:* <!date^" in card_text(view)
    assert decide_blocks(view) == []
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == ("approved", SLACK_ADMIN, "outside")
        assert session.scalars(select(SyncRun.summary)).all() == [summary]


def test_sync_now_by_someone_no_longer_an_approver_is_refused_and_audited(fake, start_bot):
    # Their Home still shows Sync now from when they were an approver.
    before = start_bot(INVITES_APPROVERS=f"{APPROVER},{OUTSIDER}")
    open_home(fake, before, OUTSIDER)
    after = start_bot()

    view = click_in_home(fake, after, OUTSIDER, "home_sync_now", "sync")

    assert "Only invite approvers can sync" in view["blocks"][0]["text"]["text"]
    assert "Your invite requests" in card_text(view)
    assert home_buttons(view) == []
    assert not fake.calls("admin.inviteRequests.list")
    with after.sessions() as session:
        [entry] = session.scalars(select(DecisionLog)).all()
        assert (entry.actor_id, entry.request_id, entry.action, entry.source, entry.outcome) == (
            OUTSIDER, "-", "sync", "home", "not_allowed"
        )
        assert session.scalars(select(SyncRun)).all() == []


# -- deciding from the Home -------------------------------------------------------------------------


def test_approve_in_the_home_decides_once_and_republishes_with_a_notice(fake, bot):
    request = new_request(fake)
    deliver(fake, bot, request)
    home = open_home(fake, bot, APPROVER)
    [block] = decide_blocks(home)
    value = block["elements"][0]["value"]

    view = click_in_home(fake, bot, APPROVER, "invite_approve", value)

    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params == {"invite_request_id": request["id"], "team_id": TEAM}
    card = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))  # the card is rewritten after the answer
    assert f"Approved by <@{APPROVER}><!date^" in card_text(card)
    assert view["blocks"][0]["text"]["text"] == ":information_source: You approved the invite request for ada@example.com."
    assert decide_blocks(view) == []
    assert "*ada@example.com* · Alpha Corp · from App Home" in card_text(view)
    assert fake.ephemerals(user=APPROVER) == []
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "home")
        assert [(e.action, e.source, e.outcome) for e in session.scalars(select(DecisionLog))] == [("approve", "home", "ok")]


def test_deny_in_the_home_asks_for_a_reason_and_republishes_with_a_notice(fake, bot):
    request = new_request(fake)
    deliver(fake, bot, request)
    [block] = decide_blocks(open_home(fake, bot, APPROVER))
    opened = len(fake.views_opened())

    bot.slack.click_in_home(user_id=APPROVER, action_id="invite_deny", value=block["elements"][1]["value"], team_id=TEAM)
    modal = modal_filled(fake, bot, opened)
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "Not this quarter <!channel>"}}}
    submit = lambda: bot.slack.submit_view(user_id=APPROVER, view=modal, values=values, team_id=TEAM)  # noqa: E731
    view = _republished(fake, bot, APPROVER, submit)

    assert len(fake.calls("admin.inviteRequests.deny")) == 1
    assert view["blocks"][0]["text"]["text"] == ":information_source: You denied the invite request for ada@example.com."
    text = card_text(view)
    assert "*ada@example.com* · Alpha Corp · from App Home" in text
    assert f"Denied by <@{APPROVER}><!date^" in text
    assert "Reason: Not this quarter &lt;!channel&gt;" in text
    assert "<!channel>" not in text
    assert decide_blocks(view) == []


def test_hostile_text_is_escaped_in_the_home(fake, bot):
    hostile = "<!channel> <https://evil.example|click> & <@U0OUTSID01>"
    pending = new_request(fake, "eve@example.com", real_name="<!here> Eve", request_reason=hostile)
    decided = new_request(fake, "mal@example.com")
    deliver(fake, bot, pending, decided)
    deny_with_reason(fake, bot, "mal@example.com", "<!channel> no")

    text = card_text(open_home(fake, bot, APPROVER))

    assert "*&lt;!here&gt; Eve* (eve@example.com)" in text
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U0OUTSID01&gt;" in text
    assert "Reason: &lt;!channel&gt; no" in text
    for dangerous in ("<!channel>", "<!here>", "<https://evil.example", "<@U0OUTSID01>"):
        assert dangerous not in text


def test_the_deciders_home_is_brought_up_to_date_after_a_decision_elsewhere(fake, bot):
    deliver(fake, bot, new_request(fake, "ada@example.com"), new_request(fake, "bob@example.com"))

    approve_on_card(fake, bot, "ada@example.com")
    home = json.dumps(fake.home_view(APPROVER))
    assert "ada@example.com" in home.split("Latest decisions")[1] and "from card" in home

    bot.slack.slash(text="deny bob@example.com", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()
    home = json.dumps(fake.home_view(APPROVER))
    assert "bob@example.com" in home.split("Latest decisions")[1] and "from /invites" in home
