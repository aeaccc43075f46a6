"""What on-call sees: /healthz, /readyz, /metrics, and JSON logs without tokens or email addresses."""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.logs import JsonFormatter, request_id
from app.sandbox import SlackSender
from app.slack.bolt import build_app
from tests.support.bots import SIGNING_SECRET
from tests.support.cards import buttons, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request


def _get(bot_url, path):
    try:
        with urllib.request.urlopen(bot_url.replace("/slack/events", path), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _sync(bot):
    return bot.runtime.sync()


def test_readyz_needs_accepted_tokens_and_shows_the_sync(fake, bot):
    status, body = _get(bot.url, "/readyz")
    assert status == 503
    ready = json.loads(body)
    checks = ready["checks"]
    assert checks["database"]["ok"] and checks["tokens"]["detail"] == "not checked yet" and checks["approvals_channel"]["ok"]
    assert ready["background"]["sync"] == {"ok": False, "detail": "no sync has run yet"}

    bot.runtime.token_check.run(bot.runtime.gateway)
    status, body = _get(bot.url, "/readyz")
    assert status == 200, body  # no sync yet is background work not done, not a replica unable to serve
    _sync(bot)
    status, body = _get(bot.url, "/readyz")
    assert status == 200 and json.loads(body)["background"]["sync"]["ok"], body

    fake.fail_next("auth.test", "token_revoked")
    bot.runtime.token_check.run(bot.runtime.gateway)
    status, body = _get(bot.url, "/readyz")
    assert status == 503 and "SLACK_BOT_TOKEN: token_revoked" in body
    assert fake.bot_token not in body

    bot.runtime.token_check.run(bot.runtime.gateway)
    fake.fail_next("admin.inviteRequests.list", "not_an_admin")
    _sync(bot)
    status, body = _get(bot.url, "/readyz")  # a workspace the sync cannot read: shown, but every replica still serves
    sync = json.loads(body)["background"]["sync"]
    assert status == 200 and not sync["ok"] and "not_an_admin" in sync["detail"]


def _metric(text, name, **labels):
    """The value of one sample in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            sample_labels = dict(part.split("=", 1) for part in line[line.find("{") + 1 : line.find("}")].split(",") if "=" in part)
            if all(sample_labels.get(k) == f'"{v}"' for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_decisions_slack_calls_rate_limits_and_sync(fake, bot):
    before = _get(bot.url, "/metrics")[1]
    bot.slack.invite_requested(new_request(fake))
    card = wait_for_card(fake, "ada@example.com")
    fake.fail_next("admin.inviteRequests.approve", "ratelimited", status=429, retry_after=0)
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    bot.settle()
    _sync(bot)

    status, after = _get(bot.url, "/metrics")

    assert status == 200
    grew = lambda name, **labels: _metric(after, name, **labels) - _metric(before, name, **labels)  # noqa: E731
    assert grew("invitebot_decisions_total", outcome="ok", source="button") == 1
    assert grew("invitebot_slack_api_calls_total", method="admin.inviteRequests.approve", result="ok") == 1
    assert grew("invitebot_slack_rate_limited_total", method="admin.inviteRequests.approve") == 1
    assert grew("invitebot_slack_request_seconds_count") >= 2
    assert grew("invitebot_sync_duration_seconds_count") == 1
    assert _metric(after, "invitebot_pending_requests", team=TEAM) == 0
    assert _metric(after, "invitebot_last_successful_sync_timestamp_seconds") > 0


def _closed_port():
    """A port nothing listens on: bound by us a moment ago, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ProxyErrorPage(BaseHTTPRequestHandler):
    """What a load balancer in front of Slack answers when Slack is down: an HTML 502, no Slack error code."""

    def do_POST(self):
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _list_failures(start_bot, api_url):
    """Sync one workspace against a broken Slack; how each invitebot_slack_api_calls_total sample of its pending list grew."""
    bot = start_bot(SLACK_API_URL=api_url, INVITES_TEAM_IDS=TEAM)
    before = _get(bot.url, "/metrics")[1]
    summary = _sync(bot)
    after = _get(bot.url, "/metrics")[1]
    samples = [line for line in after.splitlines() if line.startswith('invitebot_slack_api_calls_total{method="admin.inviteRequests.list"')]
    grown = {}
    for line in samples:
        result = line.split('result="', 1)[1].split('"', 1)[0]
        grown[result] = _metric(after, "invitebot_slack_api_calls_total", method="admin.inviteRequests.list", result=result) - _metric(
            before, "invitebot_slack_api_calls_total", method="admin.inviteRequests.list", result=result
        )
    return summary, {result: n for result, n in grown.items() if n}


def test_calls_that_never_reach_slack_are_counted_as_network_errors(start_bot):
    summary, grown = _list_failures(start_bot, f"http://127.0.0.1:{_closed_port()}/api/")

    assert summary.errors == 1 and f"{TEAM}: admin.inviteRequests.list network_error" in summary.line()
    assert grown == {"network_error": 1}  # the call is counted once; its retries are the client's own


def test_answers_without_a_slack_error_code_are_counted_as_http_errors(start_bot):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyErrorPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        summary, grown = _list_failures(start_bot, f"http://127.0.0.1:{server.server_port}/api/")
    finally:
        server.shutdown()
        server.server_close()

    assert f"{TEAM}: admin.inviteRequests.list http_error" in summary.line()
    assert grown == {"http_error": 1}  # not slack_sdk's sentence about a non-JSON body, which would be a label per page


def test_logs_are_json_with_request_ids_and_hide_tokens_and_emails(fake, serve_process):
    url = serve_process()
    fake.wait_for(lambda: len(fake.calls("admin.inviteRequests.list")) >= 2, message="no start-up sync")  # before the request exists
    fake.fail_next("chat.postMessage", "channel_not_found")

    SlackSender(url, SIGNING_SECRET, fake).invite_requested(new_request(fake, "secret.person@example.com"))

    output = serve_process.output[url]
    output.wait_for_line("could not post the card")
    lines = list(output.lines)
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    [failure] = [e for e in entries if "could not post the card" in e["message"]]
    assert failure["level"] == "error" and len(failure["request_id"]) == 16
    text = "".join(lines)
    assert "secret.person" not in text
    assert fake.admin_token not in text and fake.bot_token not in text


def test_the_formatter_redacts_whatever_a_library_logs():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s for %s", ("xoxp-123-abc", "ada@example.com"), None)
    token = request_id.set("abc")
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert entry["message"] == "token [token] for ***@example.com"
    assert entry["request_id"] == "abc"


@pytest.mark.parametrize("code", ["failed_to_send_invite", "invalid_request_id"])
def test_a_decision_that_fails_for_good_is_one_warning_with_who_what_and_what_they_were_told(fake, bot, caplog, code):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    fake.fail_next("admin.inviteRequests.approve", code)
    caplog.set_level(logging.WARNING)

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()

    [told] = ephemerals_for(fake, APPROVER)
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "failed for good" in r.getMessage()]
    assert line == f"the decision by {APPROVER} to approve {request['id']} failed for good: {code}; they were told: {told}"


def test_bolt_says_nothing_at_start_about_the_token_it_does_not_use(fake, bot, caplog, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # as `invitebot serve` runs: Bolt reads it itself

    build_app(bot.runtime)

    assert [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")] == []
