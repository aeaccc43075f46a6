"""A failure invitebot's code does not expect is logged once under a reference, and the person who asked is given
that reference where they asked; what they asked for is left as it was, ready to be tried again."""

from __future__ import annotations

import json
import logging
import re

import pytest

from app.core import ingest, lifecycle, queries
from app.logs import JsonFormatter
from app.slack.listeners import actions, commands
from app.store.models import InviteRequest
from tests import test_digest as digests
from tests.support.cards import buttons, deny_through_modal, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request

REF = re.compile(r"\(ref ([0-9a-f]{8})\)")


def _fail(*args, **kwargs):
    raise RuntimeError("the disk caught fire")


@pytest.fixture
def errors():
    """Every ERROR line invitebot logs, as `serve` prints it (formatted in the thread that logged it)."""
    lines: list[dict] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                lines.append(json.loads(self.format(record)))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def _told_and_logged(told: list[str], errors: list[dict]) -> dict:
    """The one sentence the person got carries a reference; the one ERROR line logged carries the same, and the cause."""
    [sentence] = told
    assert "Something went wrong on invitebot's side" in sentence and "give this reference" in sentence
    [ref] = REF.findall(sentence)
    [entry] = errors
    assert entry["ref"] == ref and f"ref {ref}" in entry["message"]
    assert "RuntimeError: the disk caught fire" in entry["error"] and "Traceback" in entry["error"]
    assert len(entry["request_id"]) == 16
    return entry


def _card(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"], buttons)
    bot.settle()
    return request, card


def _still_pending(fake, bot, request, card):
    assert fake.calls("admin.inviteRequests.approve") == []
    assert fake.invite_request_status(request["id"]) == "pending"
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).status == "pending"
    assert buttons(fake.message(CHANNEL, card["ts"]))


def test_a_card_click_that_fails_tells_the_clicker_a_reference_and_decides_nothing(fake, bot, errors, monkeypatch):
    request, card = _card(fake, bot)
    monkeypatch.setattr(lifecycle, "claim_placed", _fail)

    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()

    assert reply.status == 200
    _told_and_logged(ephemerals_for(fake, APPROVER), errors)
    _still_pending(fake, bot, request, card)

    monkeypatch.undo()  # whatever broke is mended: the same button works
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert fake.invite_request_status(request["id"]) == "approved"


def test_a_slash_command_that_fails_answers_with_a_reference_through_its_response_url(fake, bot, errors, monkeypatch):
    new_request(fake)
    monkeypatch.setattr(queries, "pending", _fail)

    reply = bot.slack.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()

    assert reply.status == 200 and not reply.body  # acked at once, as always
    _told_and_logged([post["text"] for post in fake.response_posts()], errors)
    assert fake.calls("chat.postEphemeral") == []


def test_an_app_home_click_that_fails_shows_the_reference_on_the_home(fake, bot, errors, monkeypatch):
    request, card = _card(fake, bot)
    bot.slack.app_home_opened(APPROVER, team_id=TEAM)
    bot.settle()
    [value] = [
        element["value"]
        for block in fake.home_view(APPROVER)["blocks"]
        for element in block.get("elements") or []
        if element.get("action_id") == "invite_approve"
    ]
    published = len(fake.calls("views.publish"))
    monkeypatch.setattr(lifecycle, "claim_placed", _fail)

    reply = bot.slack.click_in_home(user_id=APPROVER, action_id="invite_approve", value=value, team_id=TEAM)
    bot.settle()

    assert reply.status == 200
    [notice] = [block["text"]["text"] for block in fake.home_view(APPROVER)["blocks"] if "(ref " in json.dumps(block)]
    _told_and_logged([notice], errors)
    assert len(fake.calls("views.publish")) == published + 1
    assert fake.calls("chat.postEphemeral") == []
    _still_pending(fake, bot, request, card)


def test_a_deny_modal_that_fails_tells_the_clicker_in_the_channel_the_deny_came_from(fake, bot, errors, monkeypatch):
    request, card = _card(fake, bot)
    monkeypatch.setattr(lifecycle, "claim_placed", _fail)

    reply = deny_through_modal(fake, bot, card, APPROVER, "Not one of ours")
    bot.settle()

    assert reply.status == 200
    _told_and_logged(ephemerals_for(fake, APPROVER), errors)
    _still_pending(fake, bot, request, card)
    assert fake.calls("admin.inviteRequests.deny") == []


def test_an_event_that_fails_is_only_logged(fake, bot, errors, monkeypatch):
    monkeypatch.setattr(ingest, "store", _fail)

    reply = bot.slack.invite_requested(new_request(fake))
    bot.settle()

    assert reply.status == 200
    [entry] = errors
    assert "RuntimeError: the disk caught fire" in entry["error"] and re.fullmatch(r"[0-9a-f]{8}", entry["ref"])
    assert fake.calls("chat.postMessage") == [] and fake.calls("chat.postEphemeral") == []
    assert fake.calls("views.publish") == [] and fake.response_posts() == []


def test_a_command_that_fails_before_its_ack_is_answered_with_a_reference_in_the_ack(fake, bot, errors, monkeypatch):
    monkeypatch.setattr(commands, "parse", _fail)

    reply = bot.slack.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()

    assert reply.status == 200
    _told_and_logged([reply.body], errors)
    assert fake.response_posts() == []


def test_a_click_that_fails_before_its_ack_is_acked_and_told_in_the_channel(fake, bot, errors, monkeypatch):
    request, card = _card(fake, bot)
    monkeypatch.setattr(actions, "clicked_by_someone", _fail)

    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()

    assert reply.status == 200
    _told_and_logged(ephemerals_for(fake, APPROVER), errors)
    _still_pending(fake, bot, request, card)


class _Cancelled(BaseException):
    """Not an Exception: what a library's cancellation or a misbehaving extension may raise."""


def test_work_ending_in_any_base_exception_still_tells_the_clicker_a_reference(fake, bot, errors, monkeypatch):
    request, card = _card(fake, bot)

    def cancelled(*args, **kwargs):
        raise _Cancelled("cut short")

    monkeypatch.setattr(lifecycle, "claim_placed", cancelled)

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()

    [sentence] = ephemerals_for(fake, APPROVER)
    [ref] = REF.findall(sentence)
    [entry] = errors
    assert entry["ref"] == ref and "_Cancelled: cut short" in entry["error"]
    _still_pending(fake, bot, request, card)


def test_a_digest_click_that_fails_tells_the_clicker_a_reference(fake, start_bot, errors, monkeypatch):
    bot = start_bot(INVITES_DIGEST_OVER=str(digests.OVER))
    digests._backlog(fake, digests.OVER + 1)
    bot.sync()
    digest = digests._digest(fake)
    monkeypatch.setattr(queries, "pending", _fail)

    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=digest["ts"], action_id="digest_list")
    bot.settle()

    assert reply.status == 200
    _told_and_logged(ephemerals_for(fake, APPROVER), errors)
