"""`invitebot outbox`: what on-call sees of the Slack work that failed for good, and how they retry or drop it."""

from __future__ import annotations

from sqlalchemy import select

from app.core import outbox
from app.store.models import OutboxJob
from tests.support.bots import outbox_cli
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import APPROVER, CHANNEL, new_request


def _dead(bot):
    with bot.sessions() as session:
        return session.scalars(select(OutboxJob).where(OutboxJob.state == outbox.DEAD)).all()


def _card_job_given_up(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()  # the card's ts is recorded: its one update is the job's
    fake.fail_next("chat.update", "cant_update_message")
    assert bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200
    [job] = poll_until(lambda: _dead(bot), message="the card job never failed for good")
    return request, card, job


@both_databases
def test_the_outbox_command_lists_what_failed_for_good_and_retries_it(fake, bot, database_url):
    request, card, job = _card_job_given_up(fake, bot)

    listed = outbox_cli(database_url)

    assert listed.returncode == 0, listed.stderr
    assert "1 failed for good" in listed.stdout
    assert f"job {job.id}: card for {request['id']} failed at" in listed.stdout and "cant_update_message" in listed.stdout
    assert buttons(fake.message(CHANNEL, card["ts"]))  # the card still offers a decision that was made

    retried = outbox_cli(database_url, "--retry-failed")

    assert retried.returncode == 0 and "1 failed job queued again" in retried.stdout
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))  # the running bot takes it at once
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    bot.settle()
    assert _dead(bot) == []


def test_the_outbox_command_drops_what_failed_for_good(fake, bot, database_url):
    _card_job_given_up(fake, bot)

    dropped = outbox_cli(database_url, "--drop-failed")

    assert dropped.returncode == 0 and "1 failed job dropped" in dropped.stdout
    assert _dead(bot) == []
    assert "0 failed for good" in outbox_cli(database_url).stdout
