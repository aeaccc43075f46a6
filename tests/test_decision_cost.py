"""What one decision costs the database: the statements of an Approve click's claim and of its settle, counted."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, event

from app.slack.ids import ActionId
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, new_request

# The click is written down on the asks' writer before the ack, its claim runs on the outbox's ask lane, the admin call
# and its settle on the decision lane (app.core.asks, app.core.outbox): nothing else runs on those threads while one
# click is decided.
DECISION_THREADS = ("invitebot-asks", "invitebot-ask", "invitebot-decide")
# bench/decision_cost.py prints where they go: 1 to write the click down before its ack, 6 to check and claim (the ask
# marked done with the claim), 6 to record Slack's answer and queue who hears of it.
STATEMENTS_PER_DECISION = 13


@contextmanager
def _decision_statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine runs on the decision's threads while the block runs (SQLite's BEGIN aside)."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if threading.current_thread().name.startswith(DECISION_THREADS) and not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _approve(fake, bot, email):
    card = wait_for_card(fake, email)
    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id=ActionId.APPROVE.value)
    assert reply.status == 200
    bot.settle()


def test_an_approve_click_is_decided_in_a_bounded_number_of_statements(fake, bot):
    for email in ("first@example.com", "ada@example.com"):
        assert bot.slack.invite_requested(new_request(fake, email)).status == 200
        wait_for_card(fake, email)
    bot.settle()
    _approve(fake, bot, "first@example.com")  # the first decision in a workspace also makes its pace budgets

    with _decision_statements(bot.runtime.engine) as statements:
        _approve(fake, bot, "ada@example.com")

    assert len(fake.calls("admin.inviteRequests.approve")) == 2
    approved = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(approved)
    assert 0 < len(statements) <= STATEMENTS_PER_DECISION, "\n".join(statements)
