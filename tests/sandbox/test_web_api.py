"""The Slack stand-in behaves like Slack's documented Web API, driven through slack_sdk's own WebClient."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from app.sandbox import FakeSlack, SlackSender
from tests.sandbox.conftest import CHANNEL, OTHER_TEAM, TEAM, USER, error_of

SECRET = "sandbox-signing-secret"


# admin.inviteRequests.*


def test_list_pages_2500_requests_at_limit_1000(fake: FakeSlack, admin: WebClient) -> None:
    created = [
        fake.add_invite_request(team_id=TEAM, email=f"p{i}@example.com", date_created=1_700_000_000 + i)
        for i in range(2500)
    ]
    pages, cursor = [], None
    while True:
        resp = admin.admin_inviteRequests_list(team_id=TEAM, limit=1000, cursor=cursor)
        pages.append(resp["invite_requests"])
        cursor = resp["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert [r["id"] for p in pages for r in p] == [r["id"] for r in created]
    assert "team" not in pages[0][0]  # list items carry no team object (reference §1.1)
    assert len(admin.admin_inviteRequests_list(team_id=TEAM)["invite_requests"]) == 100  # default limit


def test_list_cursor_survives_decisions_between_pages(fake: FakeSlack, admin: WebClient) -> None:
    ids = [fake.add_invite_request(team_id=TEAM, email=f"k{i}@x.org", date_created=100 + i)["id"] for i in range(5)]
    first = admin.admin_inviteRequests_list(team_id=TEAM, limit=2)
    admin.admin_inviteRequests_approve(invite_request_id=ids[0], team_id=TEAM)
    second = admin.admin_inviteRequests_list(team_id=TEAM, limit=2, cursor=first["response_metadata"]["next_cursor"])
    assert [r["id"] for r in second["invite_requests"]] == ids[2:4]


def test_list_argument_errors(fake: FakeSlack, admin: WebClient) -> None:
    assert error_of(admin.admin_inviteRequests_list, team_id=TEAM, limit=0) == "invalid_limit"
    assert error_of(admin.admin_inviteRequests_list, team_id=TEAM, limit=1001) == "invalid_limit"
    assert error_of(admin.admin_inviteRequests_list, team_id=TEAM, cursor="not a cursor") == "invalid_cursor"
    assert error_of(admin.admin_inviteRequests_list, team_id="T0NOPE") == "team_not_found"
    assert admin.admin_inviteRequests_list()["ok"]  # one workspace: team_id may be omitted
    fake.add_team(OTHER_TEAM, "Two", "two")
    assert error_of(admin.admin_inviteRequests_list) == "invalid_arguments"  # several: team_id required


def test_approve_deny_and_their_errors(fake: FakeSlack, admin: WebClient) -> None:
    first = fake.add_invite_request(team_id=TEAM, email="a@example.com")["id"]
    second = fake.add_invite_request(team_id=TEAM, email="b@example.com")["id"]
    assert admin.admin_inviteRequests_approve(invite_request_id=first, team_id=TEAM).data == {"ok": True}
    assert fake.invite_request_status(first) == "approved"
    assert error_of(admin.admin_inviteRequests_approve, invite_request_id=first, team_id=TEAM) == "already_processed"
    assert error_of(admin.admin_inviteRequests_deny, invite_request_id=first, team_id=TEAM) == "already_processed"
    assert error_of(admin.admin_inviteRequests_deny, invite_request_id="IrNOSUCH01", team_id=TEAM) == "invalid_request"
    fake.add_team(OTHER_TEAM, "Two", "two")
    assert error_of(admin.admin_inviteRequests_deny, invite_request_id=second, team_id=OTHER_TEAM) == "invalid_request"
    no_id = {"api_method": "admin.inviteRequests.deny", "params": {"team_id": TEAM}}
    assert error_of(admin.api_call, **no_id) == "invalid_arguments"
    assert admin.admin_inviteRequests_deny(invite_request_id=second, team_id=TEAM)["ok"]
    assert fake.invite_request_status(second) == "denied"
    fake.remove_request(second)
    assert fake.invite_request_status(second) == "missing"
    assert error_of(admin.admin_inviteRequests_approve, invite_request_id=second, team_id=TEAM) == "invalid_request"


def test_decisions_show_in_approved_and_denied_lists_with_actor(fake: FakeSlack, admin: WebClient) -> None:
    ours = fake.add_invite_request(team_id=TEAM, email="a@example.com", requester_ids=["U0ALICE"], channel_ids=["C1"])
    theirs = fake.add_invite_request(team_id=TEAM, email="b@example.com", invite_type="restricted")
    denied = fake.add_invite_request(team_id=TEAM, email="c@example.com", request_reason="friend")
    admin.admin_inviteRequests_approve(invite_request_id=ours["id"], team_id=TEAM)
    fake.decide_outside(theirs["id"], "approve", "U0OTHERADM")
    fake.decide_outside(denied["id"], "deny", "U0OTHERADM")
    approved = admin.admin_inviteRequests_approved_list(team_id=TEAM)["approved_requests"]
    assert [a["invite_request"]["id"] for a in approved] == [theirs["id"], ours["id"]]  # newest decision first
    assert approved[0]["approved_by"] == {"actor_id": "U0OTHERADM", "actor_type": "user"}
    assert approved[1]["approved_by"] == {"actor_id": fake.admin_user_id, "actor_type": "user"}
    assert approved[1]["invite"]["inviter_id"] == "U0ALICE"
    assert approved[0]["invite"]["invite_preferences"]["is_restricted"] is True
    denied_list = admin.admin_inviteRequests_denied_list(team_id=TEAM)["denied_requests"]
    assert denied_list == [
        {
            "invite_request": {k: v for k, v in denied.items() if k != "team"},
            "denied_by": {"actor_id": "U0OTHERADM", "actor_type": "user"},
        }
    ]
    assert admin.admin_inviteRequests_list(team_id=TEAM)["invite_requests"] == []


def test_token_rules(fake: FakeSlack, bot: WebClient) -> None:
    assert error_of(bot.admin_inviteRequests_list, team_id=TEAM) == "not_allowed_token_type"
    admin_on_chat = WebClient(base_url=fake.api_url, token=fake.admin_token).chat_postMessage
    assert error_of(admin_on_chat, channel=CHANNEL, text="x") == "not_allowed_token_type"
    assert error_of(WebClient(base_url=fake.api_url).auth_test) == "not_authed"
    assert error_of(WebClient(base_url=fake.api_url, token="xoxb-nope").auth_test) == "invalid_auth"
    assert error_of(bot.api_call, api_method="no.such.method") == "unknown_method"
    # token as a POST parameter instead of the Authorization header
    form = WebClient(base_url=fake.api_url).api_call("auth.test", params={"token": fake.bot_token})
    assert form["user_id"] == fake.bot_user_id and form["bot_id"]
    assert fake.calls("auth.test")[-1].token == fake.bot_token
    assert "token" not in fake.calls("auth.test")[-1].params


def test_ratelimited_answers_429_with_retry_after_and_the_retry_handler_gets_through(
    fake: FakeSlack, admin: WebClient
) -> None:
    fake.fail_next("admin.inviteRequests.list", "ratelimited")
    with pytest.raises(SlackApiError) as info:
        admin.admin_inviteRequests_list(team_id=TEAM)
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "1"
    assert info.value.response["error"] == "ratelimited"

    fake.fail_next("admin.inviteRequests.list", "ratelimited", retry_after=0)
    admin.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    assert admin.admin_inviteRequests_list(team_id=TEAM)["ok"]
    assert [(c.status, c.error) for c in fake.calls("admin.inviteRequests.list")] == [
        (429, "ratelimited"),
        (429, "ratelimited"),
        (200, None),
    ]


def test_fail_next_times_and_status(fake: FakeSlack, bot: WebClient) -> None:
    fake.fail_next("chat.postMessage", "internal_error", times=2, status=500)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            bot.chat_postMessage(channel=CHANNEL, text="x")
        assert info.value.response.status_code == 500
    assert bot.chat_postMessage(channel=CHANNEL, text="x")["ok"]
    assert len(fake.messages(CHANNEL)) == 1


def test_failed_to_send_invite_still_approves(fake: FakeSlack, admin: WebClient) -> None:
    request_id = fake.add_invite_request(team_id=TEAM, email="a@example.com")["id"]
    fake.fail_next("admin.inviteRequests.approve", "failed_to_send_invite")
    approve = admin.admin_inviteRequests_approve
    assert error_of(approve, invite_request_id=request_id, team_id=TEAM) == "failed_to_send_invite"
    assert fake.invite_request_status(request_id) == "approved"
    approved = admin.admin_inviteRequests_approved_list(team_id=TEAM)["approved_requests"]
    assert [a["invite_request"]["id"] for a in approved] == [request_id]


def test_latency_delays_the_answer(fake: FakeSlack, bot: WebClient) -> None:
    fake.set_latency("auth.test", 0.2)
    started = time.monotonic()
    bot.auth_test()
    assert time.monotonic() - started >= 0.2
    fake.set_latency("auth.test", 0)


# chat.*, views.*, lookups


def test_post_and_update_messages(fake: FakeSlack, bot: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "card"}}]
    first = bot.chat_postMessage(channel=CHANNEL, text="card", blocks=blocks)
    second = bot.chat_postMessage(channel=CHANNEL, text="second")
    assert float(second["ts"]) > float(first["ts"]) and first["message"]["blocks"] == blocks
    assert error_of(bot.chat_postMessage, channel="C0NOPE", text="x") == "channel_not_found"
    with pytest.warns(UserWarning):  # slack_sdk itself warns about a missing text
        assert error_of(bot.chat_postMessage, channel=CHANNEL) == "no_text"

    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "decided"}}]
    updated = bot.chat_update(channel=CHANNEL, ts=first["ts"], text="decided", blocks=new_blocks)
    assert (updated["channel"], updated["ts"], updated["text"]) == (CHANNEL, first["ts"], "decided")
    assert fake.message(CHANNEL, first["ts"])["blocks"] == new_blocks
    assert "edited" not in fake.message(CHANNEL, first["ts"])
    bot.chat_update(channel=CHANNEL, ts=first["ts"], text="plain")  # text alone drops the blocks
    assert fake.message(CHANNEL, first["ts"])["blocks"] == [] and "edited" in fake.message(CHANNEL, first["ts"])
    assert error_of(bot.chat_update, channel=CHANNEL, ts="1.000001", text="x") == "message_not_found"
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["plain", "second"]


def test_thread_replies_and_permalinks(fake: FakeSlack, bot: WebClient) -> None:
    card = bot.chat_postMessage(channel=CHANNEL, text="card")["ts"]
    reply = bot.chat_postMessage(channel=CHANNEL, text="still waiting", thread_ts=card)["ts"]
    assert fake.message(CHANNEL, reply)["thread_ts"] == card and "thread_ts" not in fake.message(CHANNEL, card)

    link = bot.chat_getPermalink(channel=CHANNEL, message_ts=card)
    assert (link["channel"], link["permalink"]) == (CHANNEL, f"https://one.slack.com/archives/{CHANNEL}/p{card.replace('.', '')}")
    in_thread = bot.chat_getPermalink(channel=CHANNEL, message_ts=reply)["permalink"]
    assert in_thread.endswith(f"/p{reply.replace('.', '')}?thread_ts={card}&cid={CHANNEL}")
    assert error_of(bot.chat_getPermalink, channel=CHANNEL, message_ts="1.000001") == "message_not_found"
    assert error_of(bot.chat_getPermalink, channel="C0NOPE", message_ts=card) == "channel_not_found"


CARD_METADATA = {"event_type": "invitebot_card", "event_payload": {"request_id": "Ir0001", "team_id": TEAM}}


def test_history_shows_metadata_only_when_asked_and_leaves_thread_replies_out(fake: FakeSlack, bot: WebClient) -> None:
    card = bot.chat_postMessage(channel=CHANNEL, text="card", metadata=CARD_METADATA)["ts"]
    bot.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=card)
    later = bot.chat_postMessage(channel=CHANNEL, text="later")["ts"]

    plain = bot.conversations_history(channel=CHANNEL)  # slack_sdk asks with GET and a query string
    assert [(m["text"], "metadata" in m) for m in plain["messages"]] == [("later", False), ("card", False)]
    assert (plain["has_more"], plain["response_metadata"]["next_cursor"]) == (False, "")
    full = bot.conversations_history(channel=CHANNEL, include_all_metadata=True)["messages"]
    assert [m.get("metadata") for m in full] == [None, CARD_METADATA]
    assert (full[1]["reply_count"], full[1]["thread_ts"], full[1]["latest_reply"]) == (1, card, fake.messages(CHANNEL)[1]["ts"])

    first = bot.conversations_history(channel=CHANNEL, limit=1)
    assert [m["ts"] for m in first["messages"]] == [later] and first["has_more"]
    rest = bot.conversations_history(channel=CHANNEL, limit=1, cursor=first["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in rest["messages"]] == [card] and not rest["has_more"]
    assert [m["ts"] for m in bot.conversations_history(channel=CHANNEL, oldest=card)["messages"]] == [later]
    assert [m["ts"] for m in bot.conversations_history(channel=CHANNEL, oldest=card, inclusive=True)["messages"]] == [later, card]
    assert error_of(bot.conversations_history, channel=CHANNEL, oldest="soon") == "invalid_ts_oldest"
    assert error_of(bot.conversations_history, channel="C0NOPE") == "channel_not_found"
    fake.add_channel("C0ELSEWHERE", name="elsewhere", team_id=TEAM, bot_member=False)
    assert error_of(bot.conversations_history, channel="C0ELSEWHERE") == "not_in_channel"


def test_replies_read_one_thread_parent_first(fake: FakeSlack, bot: WebClient) -> None:
    card = bot.chat_postMessage(channel=CHANNEL, text="card", metadata=CARD_METADATA)["ts"]
    reminder = {"event_type": "invitebot_notice", "event_payload": {"request_id": "Ir0001", "notice": "remind"}}
    first = bot.chat_postMessage(channel=CHANNEL, text="still waiting", thread_ts=card, metadata=reminder)["ts"]
    bot.chat_postMessage(channel=CHANNEL, text="elsewhere")

    thread = bot.conversations_replies(channel=CHANNEL, ts=card, include_all_metadata=True)["messages"]
    assert [(m["text"], m.get("metadata")) for m in thread] == [("card", CARD_METADATA), ("still waiting", reminder)]
    assert thread[1]["parent_user_id"] == thread[0]["user"]
    assert all("metadata" not in m for m in bot.conversations_replies(channel=CHANNEL, ts=card)["messages"])
    assert [m["text"] for m in bot.conversations_replies(channel=CHANNEL, ts=first)["messages"]] == ["card", "still waiting"]
    assert error_of(bot.conversations_replies, channel=CHANNEL, ts="1.000001") == "thread_not_found"


def test_a_direct_message_is_read_through_the_conversation_conversations_open_gives(fake: FakeSlack, bot: WebClient) -> None:
    dm = {"event_type": "invitebot_notice", "event_payload": {"request_id": "Ir0001", "notice": "decided"}}
    posted = bot.chat_postMessage(channel=USER, text="approved", metadata=dm)
    opened = bot.conversations_open(users=USER)["channel"]["id"]

    assert opened == posted["channel"]
    assert [m["metadata"] for m in bot.conversations_history(channel=opened, include_all_metadata=True)["messages"]] == [dm]


def test_ephemeral_lookups_and_home(fake: FakeSlack, bot: WebClient) -> None:
    assert bot.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="only you")["message_ts"]
    assert fake.ephemerals(user="U0ALICE") == [
        {"channel": CHANNEL, "user": "U0ALICE", "text": "only you", "blocks": [], "via": "chat.postEphemeral"}
    ]
    info = bot.users_info(user="U0ALICE", team_id=TEAM)["user"]
    assert (info["name"], info["real_name"], info["team_id"], info["profile"]["real_name"]) == (
        "alice",
        "Alice A",
        TEAM,
        "Alice A",
    )
    assert error_of(bot.users_info, user="U0NOPE", team_id=TEAM) == "user_not_found"
    fake.add_usergroup("S0APPROVERS", team_id=TEAM, handle="approvers", user_ids=["U0ALICE"])
    assert bot.usergroups_users_list(usergroup="S0APPROVERS", team_id=TEAM)["users"] == ["U0ALICE"]
    assert error_of(bot.usergroups_users_list, usergroup="S0NOPE", team_id=TEAM) == "no_such_subteam"
    assert bot.conversations_info(channel=CHANNEL)["channel"]["is_member"] is True
    view = bot.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})["view"]
    again = bot.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []}, hash=view["hash"])["view"]
    assert again["id"] == view["id"] and fake.home_view("U0ALICE") == again
    stale = {"user_id": "U0ALICE", "view": {"type": "home", "blocks": []}, "hash": "stale"}
    assert error_of(bot.views_publish, **stale) == "hash_conflict"


def test_views_open_checks_the_trigger(fake: FakeSlack, bot: WebClient) -> None:
    title = {"type": "plain_text", "text": "Deny"}
    modal = {"type": "modal", "callback_id": "deny_reason", "title": title, "blocks": []}
    trigger = fake.issue_trigger_id()
    opened = bot.views_open(trigger_id=trigger, view=modal)["view"]
    assert opened["id"].startswith("V") and fake.views_opened() == [opened]
    assert error_of(bot.views_open, trigger_id=trigger, view=modal) == "exchanged_trigger_id"
    assert error_of(bot.views_open, trigger_id=fake.issue_trigger_id(age=5), view=modal) == "expired_trigger_id"
    assert error_of(bot.views_open, trigger_id="1.2.nope", view=modal) == "invalid_trigger_id"
    updated = bot.views_update(view_id=opened["id"], view={**modal, "blocks": [{"type": "divider"}]})["view"]
    assert updated["id"] == opened["id"] and updated["blocks"] == [{"type": "divider"}]


def _modal(title: str) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": []}


def test_a_modal_is_shown_to_whoever_the_trigger_came_with_and_stacks_at_most_three_views(
    fake: FakeSlack, bot: WebClient
) -> None:
    fake.add_user("U0BOB", name="bob", team_id=TEAM)
    assert error_of(bot.views_push, trigger_id=fake.issue_trigger_id(user_id=USER), view=_modal("Too soon")) == (
        "invalid_trigger_id"  # nothing open to push onto
    )
    root = bot.views_open(trigger_id=fake.issue_trigger_id(user_id=USER), view=_modal("Root"))["view"]
    assert fake.open_modal(USER) == {"view_id": root["id"], "view": root, "errors": {}, "depth": 1}
    assert fake.open_modal("U0BOB") is None
    second = bot.views_push(trigger_id=fake.issue_trigger_id(user_id=USER), view=_modal("Second"))["view"]
    assert (second["root_view_id"], second["previous_view_id"]) == (root["id"], root["id"])
    third = bot.views_push(trigger_id=fake.issue_trigger_id(user_id=USER), view=_modal("Third"))["view"]
    assert fake.open_modal(USER)["view_id"] == third["id"] and fake.open_modal(USER)["depth"] == 3
    assert error_of(bot.views_push, trigger_id=fake.issue_trigger_id(user_id=USER), view=_modal("Fourth")) == (
        "push_limit_reached"
    )

    assert not fake.close_modal(USER, second["id"])  # not the view on show
    assert fake.close_modal(USER, third["id"])  # Back: the view under it shows again
    assert fake.open_modal(USER)["view_id"] == second["id"]
    assert error_of(bot.views_update, view_id=third["id"], view=_modal("Gone")) == "not_found"
    assert fake.close_modal(USER, second["id"], everything=True)  # ×: the whole stack
    assert fake.open_modal(USER) is None
    assert error_of(bot.views_update, view_id=root["id"], view=_modal("Gone")) == "not_found"


def test_a_view_submissions_ack_is_carried_out_as_slack_does(fake: FakeSlack, bot: WebClient) -> None:
    box = {"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Reason"},
           "element": {"type": "plain_text_input", "action_id": "reason_input"}}
    form = {**_modal("Root"), "blocks": [box], "submit": {"type": "plain_text", "text": "Send"}}
    root = bot.views_open(trigger_id=fake.issue_trigger_id(user_id=USER), view=form)["view"]
    fake.answer_submission(USER, root["id"], {"response_action": "errors", "errors": {"reason": "Say why."}})
    assert fake.open_modal(USER)["errors"] == {"reason": "Say why."}
    fake.answer_submission(USER, root["id"], {"response_action": "update", "view": _modal("Updated")})
    shown = fake.open_modal(USER)
    assert (shown["view_id"], shown["view"]["title"]["text"], shown["errors"]) == (root["id"], "Updated", {})
    fake.answer_submission(USER, root["id"], {"response_action": "push", "view": _modal("Pushed")})
    pushed = fake.open_modal(USER)
    assert pushed["depth"] == 2 and pushed["view"]["title"]["text"] == "Pushed"
    fake.answer_submission(USER, pushed["view_id"], None)  # an empty ack closes the submitted view only
    assert fake.open_modal(USER)["view_id"] == root["id"]
    fake.answer_submission(USER, root["id"], {"response_action": "push", "view": _modal("Pushed again")})
    fake.answer_submission(USER, fake.open_modal(USER)["view_id"], {"response_action": "clear"})
    assert fake.open_modal(USER) is None


# wait_for


def test_wait_for_wakes_on_a_change(fake: FakeSlack, bot: WebClient) -> None:
    poster = threading.Timer(0.05, lambda: bot.chat_postMessage(channel=CHANNEL, text="late"))
    poster.start()
    started = time.monotonic()
    messages = fake.wait_for(lambda: fake.messages(CHANNEL), timeout=5, message="no message posted")
    poster.join()
    assert messages[0]["text"] == "late" and time.monotonic() - started < 2


def test_wait_for_times_out_with_the_state(fake: FakeSlack) -> None:
    with pytest.raises(AssertionError, match="never true.*requests="):
        fake.wait_for(lambda: False, timeout=0.1, message="never true")


# SlackSender


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k: v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def bot_endpoint() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", received
    server.shutdown()
    server.server_close()


def test_sender_signatures_verify(fake: FakeSlack, bot_endpoint: tuple[str, list[Any]]) -> None:
    url, received = bot_endpoint
    sender = SlackSender(url, SECRET, fake)
    request = fake.add_invite_request(team_id=TEAM, email="a@example.com")
    reply = sender.invite_requested(request, retry_num=1, retry_reason="http_timeout")
    assert reply.status == 200
    headers, body = received[-1]
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert (headers["X-Slack-Retry-Num"], headers["X-Slack-Retry-Reason"]) == ("1", "http_timeout")
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback" and envelope["event"]["invite_request"] == request
    # an org-wide install's authorization: the org's, with no workspace (Bolt's org-app tests)
    [authorization] = envelope["authorizations"]
    assert envelope["team_id"] == TEAM and authorization["team_id"] is None and authorization["is_enterprise_install"] is True

    sender.post(b"{}", content_type="application/json", timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(*reversed(received[-1]))  # stale: outside 5 minutes
    sender.post(b"{}", content_type="application/json", sign=False)
    assert "X-Slack-Signature" not in received[-1][0]


def test_click_sends_block_actions_and_response_url_records(
    fake: FakeSlack, bot: WebClient, bot_endpoint: tuple[str, list[Any]]
) -> None:
    url, received = bot_endpoint
    sender = SlackSender(url, SECRET, fake)
    label = {"type": "plain_text", "text": "Approve"}
    button = {"type": "button", "action_id": "approve", "value": "Ir1|T0ONE", "text": label, "style": "primary"}
    blocks = [{"type": "actions", "block_id": "b1", "elements": [button]}]
    card = bot.chat_postMessage(channel=CHANNEL, text="card", blocks=blocks)
    sender.click(user_id="U0ALICE", channel=CHANNEL, message_ts=card["ts"], action_id="approve")
    headers, body = received[-1]
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions" and payload["user"]["username"] == "alice"
    container = {"type": "message", "message_ts": card["ts"], "channel_id": CHANNEL, "is_ephemeral": False}
    assert payload["container"] == container
    assert payload["actions"][0] | {"action_ts": None} == {
        "action_id": "approve",
        "block_id": "b1",
        "value": "Ir1|T0ONE",
        "type": "button",
        "text": button["text"],
        "style": "primary",
        "action_ts": None,
    }
    assert payload["message"]["ts"] == card["ts"] and payload["team"] is None  # null for org-wide installs
    assert payload["is_enterprise_install"] is True and payload["user"]["team_id"] == TEAM
    assert payload["response_url"].startswith(f"{fake.base_url}/actions/{fake.enterprise_id}/")
    with pytest.raises(AssertionError):
        sender.click(user_id="U0ALICE", channel=CHANNEL, message_ts=card["ts"], action_id="deny")

    hook = WebhookClient(payload["response_url"])  # what Bolt's respond() uses
    assert hook.send(text="Approving…").status_code == 200  # response_type defaults to ephemeral
    assert hook.send(text="Approved", replace_original=True).status_code == 200
    assert fake.ephemerals(channel=CHANNEL)[-1]["via"] == "response_url"
    assert fake.message(CHANNEL, card["ts"])["text"] == "Approved"
    assert [p["text"] for p in fake.response_posts()] == ["Approving…", "Approved"]


def test_slash_command_form_fields(fake: FakeSlack, bot_endpoint: tuple[str, list[Any]]) -> None:
    url, received = bot_endpoint
    SlackSender(url, SECRET, fake).slash(text="list", user_id="U0ALICE", channel_id=CHANNEL, team_id=TEAM)
    fields = {k: v[0] for k, v in parse_qs(received[-1][1].decode()).items()}
    assert fields["command"] == "/invites" and fields["text"] == "list" and fields["user_name"] == "alice"
    assert fields["is_enterprise_install"] == "true"  # a form field, so a string
    assert fields["response_url"].startswith(f"{fake.base_url}/commands/{fake.enterprise_id}/")
    assert fields["channel_name"] == "invite-approvals" and fields["trigger_id"]


def test_an_org_token_must_name_the_workspace_for_users_and_usergroups(fake: FakeSlack, bot: WebClient) -> None:
    """Their method pages: team_id is "required if org token is used"; a group lives in one workspace."""
    fake.add_usergroup("S0APPROVERS", team_id=TEAM, handle="approvers", user_ids=["U0ALICE"])
    assert error_of(bot.usergroups_users_list, usergroup="S0APPROVERS") == "missing_argument"
    assert error_of(bot.users_info, user="U0ALICE") == "missing_argument"
    assert error_of(bot.usergroups_users_list, usergroup="S0APPROVERS", team_id="T0NOWHERE") == "team_not_found"
    fake.add_team("T0OTHER01", "Other", "other")
    assert error_of(bot.usergroups_users_list, usergroup="S0APPROVERS", team_id="T0OTHER01") == "no_such_subteam"


def test_an_org_level_group_is_read_with_the_orgs_id(fake: FakeSlack, bot: WebClient) -> None:
    """usergroups.users.list's team_id is "the user group's encoded team ID": an IdP group's is the org's (E…), as the
    subteam object admin.usergroups.fetch returns says (`team_id` equal to `enterprise_id`)."""
    fake.add_usergroup("S0IDPGROUP", team_id=fake.enterprise_id, handle="idp-admins", user_ids=["W0ALICE"])
    assert bot.usergroups_users_list(usergroup="S0IDPGROUP", team_id=fake.enterprise_id)["users"] == ["W0ALICE"]
    assert error_of(bot.usergroups_users_list, usergroup="S0IDPGROUP", team_id=TEAM) == "no_such_subteam"
    fake.add_usergroup("S0APPROVERS", team_id=TEAM, handle="approvers", user_ids=["U0ALICE"])
    assert error_of(bot.usergroups_users_list, usergroup="S0APPROVERS", team_id=fake.enterprise_id) == "no_such_subteam"


def test_a_workspace_the_org_app_was_removed_from_refuses_its_messages(fake: FakeSlack, bot: WebClient) -> None:
    """team_access_not_granted: "The token used is not granted the specific workspace access required"."""
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    fake.set_team_access([TEAM], granted=False)
    assert error_of(bot.chat_postMessage, channel="U0ALICE", text="your request") == "team_access_not_granted"
    assert error_of(bot.chat_postMessage, channel=CHANNEL, text="a card") == "team_access_not_granted"
    assert error_of(bot.chat_postEphemeral, channel=CHANNEL, user="U0ALICE", text="an answer") == "team_access_not_granted"
    assert error_of(bot.views_publish, user_id="U0ALICE", view=home) == "team_access_not_granted"
    fake.set_team_access([TEAM], granted=True)
    assert bot.chat_postMessage(channel="U0ALICE", text="your request")["ok"]


def test_team_access_events_have_slacks_shape(fake: FakeSlack) -> None:
    """slackapi/java-slack-sdk json-logs/samples/events/TeamAccess{Granted,Revoked}Payload.json: `team_ids` and
    `event_ts` inside, the org outside."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = SlackSender(f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, fake)
        sender.team_access([TEAM], granted=False)
        sender.team_access([TEAM], granted=True)
    finally:
        server.shutdown()
        server.server_close()
    revoked, granted = received
    assert [revoked["event"]["type"], granted["event"]["type"]] == ["team_access_revoked", "team_access_granted"]
    assert set(revoked["event"]) == {"type", "team_ids", "event_ts"} and revoked["event"]["team_ids"] == [TEAM]
    assert (revoked["team_id"], revoked["enterprise_id"]) == (fake.enterprise_id, fake.enterprise_id)
    assert isinstance(revoked["event_time"], int) and revoked["type"] == "event_callback"


def test_users_info_gives_the_org_wide_id_of_a_local_id(fake: FakeSlack, bot: WebClient) -> None:
    fake.add_user("W0GRACE01", name="grace", team_id=TEAM)
    fake.add_local_id("W0GRACE01", "U0GRACELCL", team_id=TEAM)
    local = bot.users_info(user="U0GRACELCL", team_id=TEAM)["user"]
    assert (local["id"], local["enterprise_user"]["id"]) == ("U0GRACELCL", "W0GRACE01")
    assert bot.users_info(user="W0GRACE01", team_id=TEAM)["user"]["enterprise_user"]["id"] == "W0GRACE01"


def test_admin_teams_list_pages_through_the_org(fake: FakeSlack, admin: WebClient) -> None:
    for n in range(3):
        fake.add_team(f"T0EXTRA{n:02d}", f"Extra {n}", f"extra{n}")
    seen, cursor = [], None
    while True:
        page = admin.admin_teams_list(limit=2, cursor=cursor)
        seen += [(t["id"], t["team_url"]) for t in page["teams"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert ("T0EXTRA02", "https://extra2.slack.com/") in seen and len(seen) == len({t for t, _ in seen})
    assert error_of(admin.admin_teams_list, limit=101) == "invalid_limit"


def test_admin_methods_read_form_fields_only(fake: FakeSlack, admin: WebClient) -> None:
    """slack_sdk sends admin.* form-encoded; a JSON body is not read."""
    request = fake.add_invite_request(team_id=TEAM, email="ada@example.com")
    body = {"invite_request_id": request["id"], "team_id": TEAM}
    assert error_of(admin.api_call, api_method="admin.inviteRequests.approve", json=body) == "invalid_arguments"
    assert fake.invite_request_status(request["id"]) == "pending"
    admin.api_call("admin.inviteRequests.approve", params=body)
    assert fake.invite_request_status(request["id"]) == "approved"


def _raw(fake: FakeSlack, token: str, method: str, params: dict[str, str]) -> tuple[int, dict[str, str]]:
    """One call with no client-side retries: the HTTP status and headers Slack's answer carried."""
    import urllib.error
    import urllib.parse
    import urllib.request

    request = urllib.request.Request(
        fake.api_url + method,
        data=urllib.parse.urlencode(params).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_a_held_method_answers_429_counting_down_and_does_nothing_until_the_hold_ends(fake: FakeSlack) -> None:
    request = fake.add_invite_request(team_id=TEAM, email="held@example.com")
    fake.hold_method("admin.inviteRequests.approve", 2.5)

    status, headers = _raw(fake, fake.admin_token, "admin.inviteRequests.approve", {"invite_request_id": request["id"], "team_id": TEAM})

    assert (status, headers["Retry-After"]) == (429, "3")
    assert fake.invite_request_status(request["id"]) == "pending"
    assert _raw(fake, fake.admin_token, "admin.inviteRequests.list", {"team_id": TEAM})[0] == 200  # only that method
    fake.wait_for(
        lambda: _raw(fake, fake.admin_token, "admin.inviteRequests.approve", {"invite_request_id": request["id"], "team_id": TEAM})[1]
        .get("Retry-After") in ("1", "2"),
        message="the Retry-After never counted down",
    )


def test_rate_limits_bite_when_switched_on(fake: FakeSlack) -> None:
    """Tier 2 per method per workspace; about one message a second per channel."""
    fake.add_team(OTHER_TEAM, "Two", "two")
    fake.enforce_rate_limits(tier2_per_minute=3)
    answers = [_raw(fake, fake.admin_token, "admin.inviteRequests.list", {"team_id": TEAM}) for _ in range(4)]
    assert [status for status, _ in answers] == [200, 200, 200, 429]
    assert int(answers[-1][1]["Retry-After"]) >= 1
    assert _raw(fake, fake.admin_token, "admin.inviteRequests.list", {"team_id": OTHER_TEAM})[0] == 200
    assert _raw(fake, fake.admin_token, "admin.inviteRequests.approved.list", {"team_id": TEAM})[0] == 200
    posts = [_raw(fake, fake.bot_token, "chat.postMessage", {"channel": CHANNEL, "text": "hi"})[0] for _ in range(2)]
    assert posts == [200, 429]


def test_a_response_url_takes_5_posts_within_30_minutes_then_answers_as_slack_does(fake: FakeSlack) -> None:
    """Reference §5.6: "up to 5 times within 30 minutes"; an expired one answers expired_url, a spent one used_url."""
    spent = WebhookClient(fake.new_response_url(channel=CHANNEL, user="U0ALICE", kind="commands"))
    for n in range(5):
        assert spent.send(text=f"answer {n}").status_code == 200
    refused = spent.send(text="a sixth")
    assert (refused.status_code, json.loads(refused.body)["error"]) == (404, "used_url")

    old = WebhookClient(fake.new_response_url(channel=CHANNEL, user="U0ALICE", kind="commands"))
    fake.advance_clock(29 * 60)
    fresh = WebhookClient(fake.new_response_url(channel=CHANNEL, user="U0ALICE", kind="commands"))
    assert old.send(text="at 29 minutes").status_code == 200
    fake.advance_clock(60 + 1)
    expired = old.send(text="at 30 minutes and a second")
    assert (expired.status_code, json.loads(expired.body)["error"]) == (404, "expired_url")
    assert fresh.send(text="1 minute old").status_code == 200
    assert [e["text"] for e in fake.ephemerals(user="U0ALICE")][5:] == ["at 29 minutes", "1 minute old"]


def test_an_ephemeral_needs_the_bot_in_the_channel(fake: FakeSlack, bot: WebClient) -> None:
    fake.add_channel("C0ELSEWHRE", name="elsewhere", team_id=TEAM, bot_member=False)
    fake.add_channel("G0PRIVATE1", name="private", team_id=TEAM, bot_member=False)
    assert error_of(bot.chat_postEphemeral, channel="C0ELSEWHRE", user="U0ALICE", text="hi") == "not_in_channel"
    assert error_of(bot.chat_postEphemeral, channel="G0PRIVATE1", user="U0ALICE", text="hi") == "channel_not_found"
    assert error_of(bot.chat_postEphemeral, channel="D0PEOPLE01", user="U0ALICE", text="hi") == "channel_not_found"
    assert bot.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="hi")["ok"]


def test_users_invite_refuses_a_channel_of_another_workspace(fake: FakeSlack, admin: WebClient, bot: WebClient) -> None:
    """Slack invites into the workspace's own channels only: another workspace's channel fails validation."""
    fake.add_team(OTHER_TEAM, "Two", "two")
    fake.add_channel("C0TWOLAB1", name="lab", team_id=OTHER_TEAM)
    asked = dict(team_id=TEAM, email="rf3@two.example", channel_ids=["C0TWOLAB1"])
    assert error_of(admin.admin_users_invite, **asked) == "failed_to_validate_channels"
    assert fake.invites() == []
    assert admin.admin_users_invite(team_id=OTHER_TEAM, email="rf3@two.example", channel_ids=["C0TWOLAB1"])["ok"]
    described = bot.conversations_info(channel="C0TWOLAB1")["channel"]
    assert (described["context_team_id"], described["shared_team_ids"]) == (OTHER_TEAM, [OTHER_TEAM])
