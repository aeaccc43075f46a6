"""Token health: no auth.test before an ack, nothing lost while Slack rejects the bot token, revocations fail /readyz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.main.socket_mode import CONNECTED
from app.sandbox import FakeSlack
from app.sandbox.sender import SocketSender
from tests.support.bots import Bot, ProcessOutput, settings_env, stop_process
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, TEAM, new_request

ADMIN_CALLS = ("admin.inviteRequests.approve", "admin.inviteRequests.deny", "admin.inviteRequests.list")


# -- helpers ----------------------------------------------------------------------------------------


def get(bot: Bot, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(bot.url.replace("/slack/events", path), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def tokens_check(bot: Bot) -> dict[str, Any]:
    """checks.tokens of /readyz; the status is 503 whenever any check fails."""
    status, body = get(bot, "/readyz")
    tokens = json.loads(body)["checks"]["tokens"]
    assert status == 503 or tokens["ok"], body
    return tokens


def metric(bot: Bot, name: str, **labels: str) -> float:
    """One sample from /metrics (0 when absent)."""
    status, text = get(bot, "/metrics")
    assert status == 200
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def check_tokens(bot: Bot) -> None:
    """What the sync loop does on every tick: auth.test of both tokens."""
    bot.runtime.token_check.run(bot.runtime.gateway)


def auth_tests(fake: FakeSlack, token: str) -> list[Any]:
    return [call for call in fake.calls("auth.test") if call.token == token]


def cards_for(fake: FakeSlack, email: str) -> list[dict[str, Any]]:
    return [message for message in fake.messages(CHANNEL) if email in card_text(message)]


def reject_bot_token_by_a_failed_call(fake: FakeSlack, bot: Bot) -> None:
    """Slack revokes the bot token; the next bot call (views.publish for an App Home) answers token_revoked."""
    fake.revoke_token("bot")
    assert bot.slack.app_home_opened(APPROVER, team_id=TEAM).status == 200
    bot.settle()
    assert [call.error for call in fake.calls("views.publish")] == ["token_revoked"]


def revocation(bot: Bot, event: dict[str, Any]) -> None:
    reply = bot.slack.event(event, team_id=TEAM)
    assert (reply.status, reply.body) == (200, "")
    bot.settle()


# -- no auth.test before an ack ---------------------------------------------------------------------


def test_the_bot_token_is_checked_at_start_up_and_no_request_waits_for_auth_test(fake, bot):
    assert len(auth_tests(fake, fake.bot_token)) == 1  # at start-up, before any request
    before = len(fake.calls("auth.test"))

    reply = bot.slack.invite_requested(new_request(fake))

    assert reply.status == 200
    assert len(fake.calls("auth.test")) == before  # the ack came without one
    card = wait_for_card(fake, "ada@example.com")
    assert bot.slack.slash(text="help", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM).status == 200
    assert bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200
    wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    bot.settle()
    assert len(auth_tests(fake, fake.bot_token)) == 1


def test_when_start_up_could_not_reach_slack_the_first_request_tries_once_more(fake, start_bot):
    fake.fail_next("auth.test", "fatal_error", times=3)  # the start-up check and both of its retries
    bot = start_bot()
    assert [call.error for call in auth_tests(fake, fake.bot_token)] == ["fatal_error"] * 3
    assert "SLACK_BOT_TOKEN: fatal_error" in tokens_check(bot)["detail"]

    assert bot.slack.invite_requested(new_request(fake)).status == 200
    assert [call.error for call in auth_tests(fake, fake.bot_token)][3:] == [None]
    wait_for_card(fake, "ada@example.com")

    assert bot.slack.invite_requested(new_request(fake, "grace@example.com")).status == 200
    wait_for_card(fake, "grace@example.com")
    assert len(auth_tests(fake, fake.bot_token)) == 4


# -- while Slack rejects the bot token ---------------------------------------------------------------


def test_events_are_answered_503_while_the_bot_token_is_rejected_and_slacks_retry_is_processed(fake, bot):
    reject_bot_token_by_a_failed_call(fake, bot)
    request = new_request(fake)

    reply = bot.slack.invite_requested(request, event_id="Ev0TOKEN001")

    assert reply.status == 503
    assert "x-slack-no-retry" not in {name.lower() for name in reply.headers}  # Slack is to retry it
    bot.settle()
    assert fake.calls("chat.postMessage") == [] and cards_for(fake, "ada@example.com") == []

    fake.restore_token("bot")
    check_tokens(bot)
    retry = bot.slack.invite_requested(request, event_id="Ev0TOKEN001", retry_num=1, retry_reason="http_error")

    assert retry.status == 200
    wait_for_card(fake, "ada@example.com")
    bot.settle()
    assert len(cards_for(fake, "ada@example.com")) == 1


def test_readyz_names_the_rejected_token_slacks_code_and_the_fix(fake, bot):
    check_tokens(bot)
    assert tokens_check(bot) == {"ok": True, "detail": "accepted"}
    assert metric(bot, "invitebot_slack_token_rejected", token="bot") == 0

    reject_bot_token_by_a_failed_call(fake, bot)

    tokens = tokens_check(bot)
    assert not tokens["ok"]
    assert tokens["detail"].startswith("SLACK_BOT_TOKEN: token_revoked (views.publish). ")
    assert "reinstall invitebot" in tokens["detail"] and "SLACK_ADMIN_TOKEN" not in tokens["detail"]
    assert fake.bot_token not in tokens["detail"]
    assert metric(bot, "invitebot_slack_token_rejected", token="bot") == 1

    check_tokens(bot)  # the periodic check sees it too
    assert "SLACK_BOT_TOKEN: token_revoked (auth.test)" in tokens_check(bot)["detail"]

    fake.restore_token("bot")
    check_tokens(bot)
    assert tokens_check(bot) == {"ok": True, "detail": "accepted"}
    assert metric(bot, "invitebot_slack_token_rejected", token="bot") == 0


def test_a_rejected_admin_token_fails_readyz_but_events_still_come_in(fake, bot):
    check_tokens(bot)
    fake.revoke_token("admin")
    check_tokens(bot)

    tokens = tokens_check(bot)
    assert tokens["detail"].startswith("SLACK_ADMIN_TOKEN: token_revoked (auth.test). ")
    assert "SLACK_BOT_TOKEN" not in tokens["detail"]
    assert bot.slack.invite_requested(new_request(fake)).status == 200
    wait_for_card(fake, "ada@example.com")


def test_a_slash_command_while_the_bot_token_is_rejected_is_told_what_is_wrong(fake, bot):
    fake.revoke_token("bot")
    check_tokens(bot)

    reply = bot.slack.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)

    assert reply.status == 200
    assert "Slack no longer accepts its bot token (token_revoked)" in reply.body
    assert "reinstall invitebot" in reply.body and "SLACK_BOT_TOKEN" in reply.body
    bot.settle()
    assert not any(fake.calls(method) for method in ADMIN_CALLS)
    assert fake.response_posts() == []


def test_a_click_while_the_bot_token_is_rejected_is_answered_through_its_response_url(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    bot.settle()
    fake.revoke_token("bot")
    check_tokens(bot)

    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    assert (reply.status, reply.body) == (200, "")
    [answer] = fake.wait_for(lambda: ephemerals_for(fake, APPROVER), message="the clicker was not told")
    assert "Slack no longer accepts its bot token (token_revoked)" in answer and "SLACK_BOT_TOKEN" in answer
    bot.settle()
    assert fake.calls("admin.inviteRequests.approve") == []
    assert fake.invite_request_status(request["id"]) == "pending"
    assert buttons(fake.message(CHANNEL, card["ts"]))


def test_a_modal_submitted_while_the_bot_token_is_rejected_shows_what_is_wrong(fake, bot):
    bot.slack.invite_requested(new_request(fake))
    card = wait_for_card(fake, "ada@example.com")
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny")
    [view] = fake.wait_for(fake.views_opened, message="no deny modal opened")
    bot.settle()
    fake.revoke_token("bot")
    check_tokens(bot)

    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "not now"}}}
    reply = bot.slack.submit_view(user_id=APPROVER, view=fake.modal(view["id"]), values=values, team_id=TEAM)

    assert reply.status == 200
    answer = json.loads(reply.body)
    assert answer["response_action"] == "update"
    assert "Slack no longer accepts its bot token" in json.dumps(answer["view"]["blocks"])
    bot.settle()
    assert fake.calls("admin.inviteRequests.deny") == []


# -- tokens_revoked and app_uninstalled -------------------------------------------------------------


def test_tokens_revoked_for_the_admin_tokens_user_fails_readyz(fake, bot):
    check_tokens(bot)
    counted = metric(bot, "invitebot_slack_token_revocation_events_total", event="tokens_revoked")

    revocation(bot, {"type": "tokens_revoked", "tokens": {"oauth": [fake.admin_user_id]}})

    tokens = tokens_check(bot)
    assert tokens["detail"].startswith("SLACK_ADMIN_TOKEN: token_revoked (tokens_revoked event). ")
    assert "SLACK_BOT_TOKEN" not in tokens["detail"]
    assert metric(bot, "invitebot_slack_token_revocation_events_total", event="tokens_revoked") == counted + 1
    assert metric(bot, "invitebot_slack_token_rejected", token="admin") == 1
    assert metric(bot, "invitebot_slack_token_rejected", token="bot") == 0


def test_tokens_revoked_before_the_admin_token_was_checked_asks_slack_whose_it_is(fake, bot):
    assert auth_tests(fake, fake.admin_token) == []

    revocation(bot, {"type": "tokens_revoked", "tokens": {"oauth": [APPROVER, fake.admin_user_id]}})

    assert len(auth_tests(fake, fake.admin_token)) == 1
    assert tokens_check(bot)["detail"].startswith("SLACK_ADMIN_TOKEN: token_revoked (tokens_revoked event). ")


def test_tokens_revoked_for_other_users_changes_nothing(fake, bot):
    check_tokens(bot)

    revocation(bot, {"type": "tokens_revoked", "tokens": {"oauth": [APPROVER]}})

    assert tokens_check(bot) == {"ok": True, "detail": "accepted"}


def test_tokens_revoked_for_the_bot_holds_events_back_and_app_uninstalled_still_comes_in(fake, bot):
    check_tokens(bot)
    counted = metric(bot, "invitebot_slack_token_revocation_events_total", event="app_uninstalled")

    revocation(bot, {"type": "tokens_revoked", "tokens": {"bot": [fake.bot_user_id]}})

    assert tokens_check(bot)["detail"].startswith("SLACK_BOT_TOKEN: token_revoked (tokens_revoked event). ")
    assert bot.slack.invite_requested(new_request(fake)).status == 503

    revocation(bot, {"type": "app_uninstalled"})  # not held back: it needs no token

    detail = tokens_check(bot)["detail"]
    assert "SLACK_BOT_TOKEN: app_uninstalled (app_uninstalled event). " in detail
    assert "SLACK_ADMIN_TOKEN: app_uninstalled (app_uninstalled event). " in detail
    assert metric(bot, "invitebot_slack_token_revocation_events_total", event="app_uninstalled") == counted + 1
    assert metric(bot, "invitebot_slack_token_rejected", token="bot") == 1
    assert metric(bot, "invitebot_slack_token_rejected", token="admin") == 1


# -- Socket Mode ------------------------------------------------------------------------------------


@pytest.fixture
def socket_process(fake: FakeSlack, database_url: str) -> Iterator[ProcessOutput]:
    """`invitebot socket` checking its tokens every 2.5 s (the shortest sync interval, 10 s, over four ticks)."""
    env = {**os.environ, **settings_env(fake, database_url, INVITES_SYNC_INTERVAL="10"), "SLACK_APP_TOKEN": fake.app_token}
    del env["SLACK_SIGNING_SECRET"]
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "socket"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = ProcessOutput()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.add(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        output.wait_for_line(CONNECTED, timeout=30)
        fake.wait_for(fake.socket_connected, message="the stand-in has no link from the process")
        fake.wait_for(lambda: {c.params.get("team_id") for c in fake.calls("admin.inviteRequests.list")} >= {TEAM, OTHER_TEAM})
        yield output
    finally:
        stop_process(process)


def periodic_check_answered(fake: FakeSlack, error: str | None, since: int) -> None:
    """Wait until a periodic check after call number `since` got `error` for the bot token and went on to the
    admin token (so the process has recorded the bot's answer)."""

    def seen() -> bool:
        calls = fake.calls("auth.test")[since:]
        return any(
            call.token == fake.bot_token and call.error == error and any(c.token == fake.admin_token for c in calls[n + 1 :])
            for n, call in enumerate(calls)
        )

    fake.wait_for(seen, timeout=15, message=f"no periodic check saw {error or 'ok'} for the bot token")


def test_over_socket_mode_events_are_left_unacked_while_the_bot_token_is_rejected(fake, socket_process):
    sender = SocketSender(fake)
    fake.revoke_token("bot")
    periodic_check_answered(fake, "token_revoked", since=len(fake.calls("auth.test")))
    request = new_request(fake)

    with pytest.raises(AssertionError, match="no ack for the events_api envelope"):
        sender.invite_requested(request)  # Slack redelivers an envelope that is not acked within 3 s

    socket_process.wait_for_line("left the envelope unacknowledged for the invite_requested event")
    command = sender.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    assert "Slack no longer accepts its bot token (token_revoked)" in json.loads(command.body)["text"]
    assert cards_for(fake, "ada@example.com") == []

    fake.restore_token("bot")
    periodic_check_answered(fake, None, since=len(fake.calls("auth.test")))
    retry = sender.invite_requested(request, retry_num=1, retry_reason="timeout")

    assert (retry.status, retry.body) == (200, "")
    wait_for_card(fake, "ada@example.com")
