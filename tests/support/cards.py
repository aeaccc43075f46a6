"""Reading what an admin sees (cards, buttons, ephemeral answers) and acting on a card as they would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.sandbox import FakeSlack
from tests.support.stand_in import CHANNEL, TEAM

if TYPE_CHECKING:
    from tests.support.bots import Bot


def card_text(message: dict[str, Any]) -> str:
    """All the text a person reads on a card, in order."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        if block.get("text"):
            parts.append(block["text"]["text"])
        for field in block.get("fields") or []:
            parts.append(field["text"])
        for element in block.get("elements") or []:
            if element.get("type") in ("mrkdwn", "plain_text"):
                parts.append(element["text"])
    return "\n".join(parts)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    ]


def wait_for_card(fake: FakeSlack, email: str, predicate: Any = None, timeout: float = 10.0) -> dict[str, Any]:
    """The card for `email` in the approvals channel, once it exists (and satisfies predicate)."""

    def find() -> dict[str, Any] | None:
        for message in fake.messages(CHANNEL):
            if email in card_text(message) and (predicate is None or predicate(message)):
                return message
        return None

    return fake.wait_for(find, timeout=timeout, message=f"no card for {email}")


def ephemerals_for(fake: FakeSlack, user: str) -> list[str]:
    return [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=user)]


def deny_through_modal(fake: FakeSlack, bot: Bot, card: dict[str, Any], user: str, reason: str | None = None, **click: Any) -> Any:
    """Click Deny on a card, wait for the reason modal to be filled in, and submit it."""
    opened = len(fake.views_opened())
    bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny", **click)
    view = fake.wait_for(lambda: fake.views_opened()[opened:], message="no deny modal opened")[0]
    bot.settle()
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    return bot.slack.submit_view(user_id=user, view=fake.modal(view["id"]), values=values, team_id=TEAM)


def assert_approved_by_click(fake: FakeSlack, request: dict[str, Any], card: dict[str, Any], approver: str) -> None:
    """What an admin sees after one Approve click, however it travelled: one call, the card rewritten, an answer."""
    decided = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{approver}><!date^" in card_text(decided)
    assert decided["ts"] == card["ts"]
    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params == {"invite_request_id": request["id"], "team_id": request["team"]["id"]}
    assert call.token == fake.admin_token
    assert fake.invite_request_status(request["id"]) == "approved"
    [answer] = fake.wait_for(lambda: ephemerals_for(fake, approver))
    assert f"You approved the invite request for {request['email']}" in answer


def decide_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The App Home's rows of Approve and Deny, one per pending request it shows."""
    return [b for b in view["blocks"] if b["type"] == "actions" and b["block_id"].startswith("home-decide-")]
