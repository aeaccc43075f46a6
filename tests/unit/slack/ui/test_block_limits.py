"""Every message, modal and Home view invitebot can build is one Slack takes, however long or hostile the text in it.

Each surface is checked twice: with slack_sdk's own Block Kit models (what the SDK refuses) and with the stand-in's
app/sandbox/block_kit.py (what slack_sdk lets through: 50/100 blocks, 2000-character fields, duplicate ids,
plain-text headers and buttons). And no `<…>` token or `&entity;` may be cut in half by shortening.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.core.queries import Stats, Undelivered
from app.slack.ui import blocks, home_view, limits, modals, replies
from app.store.models import DecisionLog, OutboxJob, SyncRun
from tests.support.block_checks import assert_message_valid, assert_no_token_cut, assert_view_valid
from tests.support.rows import request_row
from tests.support.stand_in import MANY_APPROVERS

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)
HOSTILE_REASON = "<&" * 2500  # 5000 characters, each one escaped to 4 or 5
HOSTILE = dict(
    real_name="<!channel> " * 30 + "&" * 100,
    email="<@U0ADMIN01>" * 30 + "@example.com",
    reason=HOSTILE_REASON,
    requester_ids=[f"U{n:08d}" for n in range(500)],
    channel_ids=[f"C{n:08d}" for n in range(500)],
    team_name="<!subteam^S0ALL> & " * 40,
)
CLOSED = dict(decided_by="U0GRACE01", decided_at=MOMENT)
STATES = {
    "pending": dict(status="pending"),
    "pending, workspace not known yet": dict(status="pending", team_id=None),
    "deciding": dict(status="deciding", claim_action="deny", claim_actor="U0GRACE01"),
    "approved": dict(status="approved", decision_source="button", **CLOSED),
    "denied with reason": dict(status="denied", decision_source="slash", deny_reason=HOSTILE_REASON, **CLOSED),
    "approved_invite_failed": dict(status="approved_invite_failed", decision_source="button", **CLOSED),
    "gone": dict(status="gone", decision_source="sync", decided_at=MOMENT),
    "approved outside": dict(status="approved", decision_source="outside", **CLOSED),
    "denied outside": dict(status="denied", decision_source="outside", deny_reason="not known", **CLOSED),
    "approved, requester not told": dict(status="approved", decision_source="button", requesters_untold="team_access_revoked", **CLOSED),
}
GUEST = dict(invite_type="restricted", date_expire=MOMENT + timedelta(days=30))


def row(n: int = 0, **kw: Any) -> Any:
    return request_row(**{"id": f"Ir{n:08d}", **kw})


# -- the checks (tests/support/block_checks.py) catch what they should -----------------------------------------------------


def test_the_checks_are_not_vacuous() -> None:
    with pytest.raises(AssertionError):
        assert_message_valid([blocks.mrkdwn_section("x")] * 51)
    with pytest.raises(AssertionError):
        assert_message_valid([{"type": "section", "text": {"type": "mrkdwn", "text": "cut <@U0GRA"}}])
    with pytest.raises(AssertionError):
        assert_message_valid([{"type": "section", "text": {"type": "mrkdwn", "text": "cut &am"}}])
    with pytest.raises(AssertionError):
        assert_message_valid([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}])
    with pytest.raises(AssertionError):
        assert_view_valid({"type": "home", "blocks": [blocks.context("x")] * 101})


# -- _fit -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["<@U0GRACE01>", "<#C0GENERAL1>", "<!subteam^S0APPROVE1>", "<!date^1700000000^{date_short}|2023-11-14>", "&amp;", "&lt;"]
)
def test_fit_never_splits_a_token(token: str) -> None:
    text = ("word " + token + " ") * 100
    for limit in range(10, 300):
        fitted = blocks._fit(text, limit)
        assert len(fitted) <= limit and fitted.endswith("…")
        assert_no_token_cut({"text": fitted})
        kept = fitted[:-1]
        assert text.startswith(kept) and (kept.count(token) == kept.count(token[:2]))  # each token whole, or gone


def test_fit_keeps_text_that_fits_and_the_ellipsis_otherwise() -> None:
    assert blocks._fit("<@U1> and <#C1>", 15) == "<@U1> and <#C1>"
    assert blocks._fit("hello <@U0GRACE01>", 12) == "hello …"
    assert blocks._fit("a &amp; b", 5) == "a …"
    assert blocks._fit("plain words here", 8) == "plain w…"
    assert blocks._fit("<@U1>" * 10, 13) == "<@U1><@U1>…"


# -- cards ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", [False, True], ids=["plain", "hostile"])
@pytest.mark.parametrize("guest", [False, True], ids=["member", "guest"])
@pytest.mark.parametrize("state", list(STATES))
def test_every_card_state(state: str, guest: bool, hostile: bool) -> None:
    request = row(**STATES[state], **(GUEST if guest else {}), **(HOSTILE if hostile else {}))
    card = blocks.request_card(request)
    assert_message_valid(card, blocks.card_text(request))
    assert_message_valid(replies.request_in_full(request, []))
    if request.status in ("approved", "denied", "approved_invite_failed"):
        assert_message_valid([blocks.mrkdwn_section(replies.requester_dm(request))])


def test_the_sample_card_doctor_sends_is_valid() -> None:
    assert_message_valid(blocks.sample_card())


def test_guest_requests_show_the_guest_account_end_and_members_do_not() -> None:
    def labels(request: Any) -> list[str]:
        return [field["text"].split("\n")[0] for block in blocks.request_card(request) for field in block.get("fields", [])]

    guest = row(invite_type="ultra_restricted", date_expire=MOMENT)
    assert "*Guest account until*" in labels(guest)
    [until] = [f["text"] for b in blocks.request_card(guest) for f in b.get("fields", []) if "Guest account" in f["text"]]
    assert f"<!date^{int(MOMENT.timestamp())}^" in until
    assert "No time limit" in str(blocks.request_card(row(invite_type="restricted", date_expire=None)))
    member = row(invite_type="full_member", date_expire=MOMENT)
    assert not [label for label in labels(member) if "until" in label.lower() or "expire" in label.lower()]
    assert "Expires" not in str(blocks.request_card(guest)) + str(blocks.request_card(member))


# -- /invites answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", [False, True], ids=["plain", "hostile"])
@pytest.mark.parametrize("count", [0, 1, 2, 24, 25, 60])
def test_choose_one_fits_any_number_of_matches(count: int, hostile: bool) -> None:
    matches = [row(n, team_id=f"T{n:08d}", **(HOSTILE if hostile else {})) for n in range(count)]
    answer = replies.choose_one("ada@example.com", matches)
    assert_message_valid(answer)
    shown = [b for b in answer if b["type"] == "actions"]
    assert [b["block_id"] for b in shown] == [f"choose-{m.id}" for m in matches[: len(shown)]]
    assert len(shown) == min(count, 24) or (hostile and 1 <= len(shown) < count)
    if count > len(shown):
        last = answer[-1]["elements"][0]["text"]
        assert f"{count - len(shown)} more" in last and f"`/invites approve {matches[len(shown)].id}`" in last


def test_history_of_50_with_long_deny_reasons_says_how_many_more() -> None:
    denied = [row(n, **STATES["denied with reason"], email=f"person{n}@example.com") for n in range(50)]
    answer = replies.history_lines(denied)
    assert_message_valid(answer)
    shown = [n for n in range(50) if f"person{n}@example.com" in str(answer)]
    assert shown == list(range(len(shown))) and len(shown) > 20  # the latest first, as many as one message holds
    assert answer[-1]["elements"][0]["text"].startswith(f"{50 - len(shown)} older decisions not shown.")


def test_lines_that_do_not_fit_end_in_a_line_saying_how_many_more() -> None:
    head = [blocks.mrkdwn_section("*Latest 100 decisions*")]
    out = replies.words._sections(head, ["x" * 2900] * 100, more=lambda n: f"{n} older decisions")
    assert out[:1] == head and len(out) == 5 and limits.text_length(out) <= limits.MESSAGE_TEXT
    assert out[-1]["elements"][0]["text"] == "97 older decisions"
    short = replies.words._sections([], ["yy"] * 10_000, more=lambda n: f"{n} older decisions")
    assert short[-1]["elements"][0]["text"] == f"{10_000 - sum(b['text']['text'].count('yy') for b in short[:-1])} older decisions"
    assert len(short) <= limits.MESSAGE_BLOCKS and limits.text_length(short) > limits.MESSAGE_TEXT - 100  # cut by the line
    assert_message_valid(out)
    assert_message_valid(short)


def test_pending_page_mine_and_stats() -> None:
    page = [row(n, **HOSTILE) for n in range(replies.LIST_PAGE_SIZE)]
    listed = replies.pending_page(page, total=500, offset=10, team="<!here> & co")
    assert_message_valid(listed)
    shown = sum(1 for block in listed if block.get("block_id", "").startswith("list-"))
    assert 1 <= shown < replies.LIST_PAGE_SIZE and f"(11–{10 + shown} of 500, oldest first)" in str(listed[0])
    assert listed[-2]["elements"][0]["text"] == f"{10 - shown} more on this page did not fit in one message: Next starts with them."
    [_, after] = listed[-1]["elements"]
    assert after["text"]["text"] == "Next" and after["value"] == f'{{"offset": {10 + shown}, "team": "<!here> & co"}}'
    assert_message_valid(replies.pending_page([], total=0, offset=0, team=None))
    states = list(STATES.values())
    mine = [row(n, **HOSTILE, **states[n % len(states)]) for n in range(50)]
    assert_message_valid(replies.mine(mine))
    assert_message_valid(replies.mine([]))
    stats = Stats({f"<!channel> team {n}": n for n in range(200)}, 5, 7, timedelta(hours=3))
    text = replies.stats_text(stats, SyncRun(started_at=MOMENT, finished_at=MOMENT, summary="<@U1> " * 500, errors=1))
    assert_message_valid([blocks.mrkdwn_section(text)])


def test_request_in_full_with_a_long_trail() -> None:
    trail = [
        DecisionLog(request_id="Ir00000000", actor_id=f"U{n:08d}", action="approve", source="button", outcome="in_flight", at=MOMENT)
        for n in range(2000)
    ]
    answer = replies.request_in_full(row(**HOSTILE, **STATES["denied with reason"]), trail)
    assert_message_valid(answer)
    assert "later attempts not shown" in answer[-1]["elements"][0]["text"]


# -- App Home and modals ----------------------------------------------------------------------------


def _config() -> home_view.HomeConfig:
    approvers = [*MANY_APPROVERS, *[f"S{n:08d}" for n in range(300)]]
    last = SyncRun(started_at=MOMENT, finished_at=MOMENT, summary="<&>" * 900, errors=2)
    return home_view.HomeConfig("C0INVITES1", approvers, 300, last, no_access=[HOSTILE["team_name"]] * 40)


def _undelivered() -> Undelivered:
    """Slack refused many jobs for good, about requests with hostile text."""
    jobs = [
        (OutboxJob(kind=kind, payload={"user": "U0LEFT0001", "channel": "C0INVITES1"}, last_error="<&>" * 21), row(n, **HOSTILE))
        for n, kind in enumerate(("notify", "post_card", "mystery"))
    ]
    return Undelivered(5000, jobs)


@pytest.mark.parametrize("pending", [0, 40, 100])
def test_approver_home(pending: int) -> None:
    states = [STATES["pending"], STATES["deciding"]]
    queue = [row(n, **HOSTILE, **states[n % 2]) for n in range(pending)]
    decided = [row(1000 + n, **HOSTILE, **STATES["denied with reason"]) for n in range(home_view.HISTORY_LIMIT)]
    stats = Stats({f"team {n} <!everyone>": n for n in range(100)}, 1, 2, None)
    for notice in (None, "Approved " + blocks.escape("<x>")):
        view = home_view.approver_home(
            stats=stats, pending=queue, pending_total=pending, decisions=decided, config=_config(), notice=notice,
            undelivered=_undelivered(),
        )
        assert_view_valid(view)
        shown = sum(1 for block in view["blocks"] if block.get("block_id", "").startswith("home-decide-"))
        shown += sum(1 for block in view["blocks"] if "is denying this request right now" in str(block))
        assert shown == pending or f"{pending - shown} more, use /invites list" in str(view)


def test_requester_home() -> None:
    states = list(STATES.values())
    for requests in ([], [row(n, **HOSTILE, **states[n % len(states)]) for n in range(60)]):
        assert_view_valid(home_view.requester_home(requests, notice="Your request is in."))


def test_deny_modal_and_notices() -> None:
    context = modals.DenyContext("Ir00000000", "button", "C0INVITES1")
    for required in (True, False):
        assert_view_valid(modals.deny_form(context, required=required))
        assert_view_valid(modals.deny_form(context, required=required, request=row(**HOSTILE)))
    for state in STATES.values():
        assert_view_valid(modals.notice(blocks.outcome_line(row(**HOSTILE, **state)) or "This request is already closed."))
    assert_view_valid(modals.notice("Only invite approvers can approve or deny invite requests. Nothing was changed."))


# -- the one rule every message leaves through (the gateway) -----------------------------------------------


def test_a_message_that_fits_leaves_as_it_is_and_one_that_does_not_is_cut_keeping_its_buttons() -> None:
    card = [*blocks.request_card(row()), blocks.context("fine")]
    assert limits.within(card) is card
    buttons = blocks.decision_buttons(row())
    too_long = [blocks.mrkdwn_section(f"{n} " + "x" * 2900) for n in range(8)] + [buttons]

    sent = limits.within(too_long)

    assert_message_valid(sent)
    assert sent[:3] == too_long[:3] and sent[-1] == buttons
    assert sent[-2]["elements"][0]["text"] == "5 more sections not shown: Slack takes no longer message."
    many = limits.within([blocks.context("x")] * 80)
    assert len(many) == limits.MESSAGE_BLOCKS and many[-1]["elements"][0]["text"].startswith("31 more sections")


def test_fit_takes_whole_items_and_hands_the_tail_how_many_were_shown() -> None:
    items = [[blocks.mrkdwn_section("x" * 2000), blocks.context(str(n))] for n in range(9)]
    seen: list[int] = []

    def tail(shown: int) -> list[dict[str, Any]]:
        seen.append(shown)
        return [blocks.context(f"pager after {shown}")]

    out = limits.fit([blocks.mrkdwn_section("head")], items, lambda left: f"{left} more", tail=tail)

    assert_message_valid(out)
    assert [b["elements"][0]["text"] for b in out[-2:]] == ["4 more", "pager after 5"]
    assert limits.fit([], items[:2], lambda left: "unused") == [*items[0], *items[1]]
