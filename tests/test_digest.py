"""A backlog too big for a card each: one digest card per workspace, its buttons, and its numbers kept up to date."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select, update

from app.core.audit import now
from app.store.models import Digest, InviteRequest, RequestCard
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, OUTSIDER, SLACK_ADMIN, TEAM, new_request

OVER = 3  # INVITES_DIGEST_OVER in these tests
DAY = 86400
LIST = "admin.inviteRequests.list"


def _backlog(fake, count, *, team_id=TEAM, label="backlog", days_old=9):
    """`count` pending requests in the stand-in, the first made `days_old` days ago and each a minute after it."""
    first = int(time.time()) - days_old * DAY
    return [
        new_request(fake, f"{label}{n:02d}@example.com", team_id=team_id, channel_ids=[], date_created=first + 60 * n)
        for n in range(count)
    ]


def _digests(fake):
    """The digest cards in the approvals channel (a card that stands for many requests names no single one)."""
    return [m for m in fake.messages(CHANNEL) if "pending request" in card_text(m) or " decided in " in card_text(m)]


def _digest(fake, predicate=None):
    """The one digest card, once it satisfies predicate."""

    def find():
        found = _digests(fake)
        assert len(found) <= 1, f"{len(found)} digest cards"
        return found[0] if found and (predicate is None or predicate(found[0])) else None

    return fake.wait_for(find, message="no such digest card")


def _cards_for(fake, requests):
    return [m for m in fake.messages(CHANNEL) if any(r["email"] in card_text(m) for r in requests)]


def _posts(fake):
    """Messages posted in the approvals channel."""
    return [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]


def _in_digest(bot):
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(InviteRequest).where(InviteRequest.in_digest.is_(True)))


def test_exactly_the_threshold_gets_a_card_each_and_one_more_gets_one_digest(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER))
    alpha = _backlog(fake, OVER, label="alpha")
    beta = _backlog(fake, OVER + 1, team_id=OTHER_TEAM, label="beta")

    summary = bot.sync()

    assert (summary.new, summary.errors) == (2 * OVER + 1, 0)
    assert all(buttons(wait_for_card(fake, r["email"])) for r in alpha)
    assert _cards_for(fake, beta) == []
    digest = _digest(fake)
    assert card_text(digest).startswith(":inbox_tray: *4 pending requests in Beta Labs, oldest 9 days*")
    assert [b["text"]["text"] for b in buttons(digest)] == ["List them", "Decide in bulk"]
    assert len(fake.calls("chat.postMessage")) == OVER + 1
    assert _in_digest(bot) == OVER + 1


def test_requests_that_arrive_after_a_backlog_get_cards_and_the_backlog_never_does(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER))
    backlog = _backlog(fake, OVER + 1)
    bot.sync()
    digest = _digest(fake)

    late = new_request(fake, "late@example.com")
    bot.slack.invite_requested(late)
    bot.slack.invite_requested(backlog[0])  # Slack delivers an old request's event after all
    bot.settle()
    later = _backlog(fake, OVER, label="later", days_old=0)
    summary = bot.sync()

    assert summary.new == OVER and summary.errors == 0
    assert buttons(wait_for_card(fake, "late@example.com"))
    assert all(buttons(wait_for_card(fake, r["email"])) for r in later)
    assert _cards_for(fake, backlog) == []
    assert _digests(fake) == [digest]  # the same card, not re-rendered: its numbers did not change
    assert not fake.calls("chat.update")


def test_list_them_answers_the_clicker_alone_with_the_backlog(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER))
    backlog = _backlog(fake, OVER + 1)
    bot.sync()
    digest = _digest(fake)

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=digest["ts"], action_id="digest_list")
    bot.settle()

    [answer] = [e for e in fake.ephemerals(channel=CHANNEL) if e["user"] == APPROVER]
    text = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "Pending invite requests in Alpha Corp* (1–4 of 4, oldest first)" in text
    assert text.index(backlog[0]["email"]) < text.index(backlog[-1]["email"])
    assert sum(1 for b in answer["blocks"] if b.get("block_id", "").startswith("list-")) == OVER + 1
    assert _digests(fake) == [digest]  # the card itself is unchanged

    bot.slack.click(user_id=OUTSIDER, channel=CHANNEL, message_ts=digest["ts"], action_id="digest_list")
    bot.settle()
    [refused] = [e for e in fake.ephemerals(channel=CHANNEL) if e["user"] == OUTSIDER]
    assert refused["text"] == "Only invite approvers can list invite requests."
    assert backlog[0]["email"] not in json.dumps(refused)


def test_decide_in_bulk_offers_the_backlogs_domains_and_decides_one_in_its_workspace_only(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER), INVITES_NOTIFY_REQUESTERS="false")
    backlog = _backlog(fake, OVER + 1)
    elsewhere = new_request(fake, "same.domain@example.com", team_id=OTHER_TEAM, channel_ids=[])
    other_domain = new_request(fake, "someone@other.example", team_id=TEAM, channel_ids=[])
    bot.sync()

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=_digest(fake)["ts"], action_id="digest_bulk")
    [chooser] = fake.wait_for(lambda: fake.views_opened())
    text = card_text(chooser)
    assert chooser["title"]["text"] == "Decide in bulk" and "submit" not in chooser
    assert "*5 pending requests* in Alpha Corp" in text
    assert "example.com: 4 · other.example: 1" in text
    assert f"`/invites approve --domain example.com --team {TEAM}`" in text
    labels = [b["text"]["text"] for b in buttons(chooser)]
    assert labels[:2] == ["Approve all from example.com", "Deny all from example.com"]

    value = json.dumps({"domain": "example.com", "team": TEAM}, separators=(",", ":"))
    bot.slack.click_in_modal(user_id=APPROVER, view_id=chooser["id"], action_id="bulk_approve_domain", value=value, team_id=TEAM)
    preview = fake.wait_for(
        lambda: (lambda v: v if v.get("callback_id") == "bulk_preview" else None)(fake.modal(chooser["id"])),
        message="the chooser never became the preview",
    )
    assert len(fake.views_opened()) == 1, "the preview replaced the chooser rather than opening over it"
    shown = card_text(preview)
    assert "*4 pending requests* from example.com in Alpha Corp will be approved" in shown
    assert elsewhere["email"] not in shown and other_domain["email"] not in shown

    assert bot.slack.submit_view(user_id=APPROVER, view=preview, values={}, team_id=TEAM).status == 200
    fake.wait_for(lambda: fake.invite_request_status(backlog[-1]["id"]) == "approved", timeout=30)
    bot.settle()
    approved = [c.params["invite_request_id"] for c in fake.calls("admin.inviteRequests.approve") if c.status == 200]
    assert Counter(approved) == {r["id"]: 1 for r in backlog}
    assert fake.invite_request_status(elsewhere["id"]) == fake.invite_request_status(other_domain["id"]) == "pending"
    assert any("approving 4" in e["text"].lower() for e in fake.ephemerals(channel=CHANNEL, user=APPROVER)), [
        e["text"] for e in fake.ephemerals(channel=CHANNEL)
    ]


def test_deciding_a_backlog_in_bulk_leaves_the_requests_the_approver_asked_for(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER), INVITES_NOTIFY_REQUESTERS="false")
    backlog = _backlog(fake, OVER + 1)
    theirs = new_request(fake, "friend@example.com", team_id=TEAM, channel_ids=[], requester_ids=[APPROVER])
    bot.sync()

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=_digest(fake)["ts"], action_id="digest_bulk")
    [chooser] = fake.wait_for(lambda: fake.views_opened())
    value = json.dumps({"domain": "example.com", "team": TEAM}, separators=(",", ":"))
    bot.slack.click_in_modal(user_id=APPROVER, view_id=chooser["id"], action_id="bulk_approve_domain", value=value, team_id=TEAM)
    preview = fake.wait_for(lambda: (lambda v: v if v.get("callback_id") == "bulk_preview" else None)(fake.modal(chooser["id"])))
    assert bot.slack.submit_view(user_id=APPROVER, view=preview, values={}, team_id=TEAM).status == 200
    fake.wait_for(lambda: all(fake.invite_request_status(r["id"]) == "approved" for r in backlog), timeout=30)
    bot.settle()

    assert fake.invite_request_status(theirs["id"]) == "pending"
    assert theirs["id"] not in {c.params["invite_request_id"] for c in fake.calls("admin.inviteRequests.approve")}
    assert "*1 pending request in Alpha Corp" in card_text(_digest(fake, lambda m: "*1 pending" in card_text(m)))


def test_decide_in_bulk_is_refused_to_people_who_decide_other_workspaces(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER), INVITES_APPROVERS=SLACK_ADMIN, **{f"INVITES_APPROVERS_{OTHER_TEAM}": APPROVER})
    _backlog(fake, OVER + 1)
    bot.sync()

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=_digest(fake)["ts"], action_id="digest_bulk")
    bot.settle()

    [view] = fake.views_opened()
    assert "Alpha Corp" not in json.dumps(buttons(view)) and not buttons(view)
    assert "You approve invite requests of another workspace" in card_text(view), card_text(view)


def test_the_digest_counts_down_as_its_requests_are_decided_from_the_list(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER))
    backlog = _backlog(fake, OVER + 1)
    bot.sync()
    digest = _digest(fake)
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=digest["ts"], action_id="digest_list")
    bot.settle()
    [listing] = fake.ephemerals(channel=CHANNEL, user=APPROVER)

    def approve(request):
        block = f"list-{request['id']}"
        bot.slack.click_ephemeral(user_id=APPROVER, channel=CHANNEL, blocks=listing["blocks"], action_id="invite_approve", block_id=block)

    approve(backlog[-1])  # the newest: the oldest still waits
    bot.settle()
    assert "*3 pending requests in Alpha Corp, oldest 9 days*" in card_text(_digest(fake, lambda m: "*3 pending" in card_text(m)))

    for request in backlog[:-1]:
        approve(request)
    bot.settle()

    done = _digest(fake, lambda m: "All" in card_text(m))
    assert done["ts"] == digest["ts"]
    assert card_text(done) == ":inbox_tray: *All 4 decided in Alpha Corp*"
    assert buttons(done) == []
    assert len(fake.calls("admin.inviteRequests.approve")) == OVER + 1


def test_a_later_sync_adds_a_new_backlog_and_counts_what_was_decided_elsewhere(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER))
    first = _backlog(fake, OVER + 1)
    bot.sync()
    digest = _digest(fake)

    again = bot.sync()  # nothing changed: no second digest, no re-render
    assert (again.new, again.unchanged) == (0, OVER + 1)
    assert len(_posts(fake)) == 1 and not fake.calls("chat.update")

    _backlog(fake, OVER + 1, label="more", days_old=2)
    fake.decide_outside(first[-1]["id"], "approve", SLACK_ADMIN)
    summary = bot.sync()

    assert (summary.new, summary.closed, summary.errors) == (OVER + 1, 1, 0)
    updated = _digest(fake)
    assert updated["ts"] == digest["ts"]
    assert "*7 pending requests in Alpha Corp, oldest 9 days*" in card_text(updated)
    assert len(_posts(fake)) == 1 and len(fake.calls("chat.update")) == 1  # the requester's DM aside


def test_a_digest_whose_answer_was_lost_is_adopted_by_the_takeover_and_kept_up_to_date(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER=str(OVER))
    backlog = _backlog(fake, OVER + 1)
    fake.drop_answer("chat.postMessage")  # Slack posts the digest, then the connection drops before its answer
    bot.sync()
    digest = _digest(fake)
    with bot.runtime.sessions.begin() as session:  # as old as a post whose answer never came
        session.execute(update(Digest).values(posted_at=now() - timedelta(minutes=10)))
    fake.decide_outside(backlog[-1]["id"], "approve", SLACK_ADMIN)

    bot.sync()  # takes the unfinished post over: finds the digest instead of posting a second one

    updated = _digest(fake, lambda m: "*3 pending" in card_text(m))
    assert updated["ts"] == digest["ts"] and len(_posts(fake)) == 1
    with bot.sessions() as session:
        assert session.scalars(select(Digest.ts)).all() == [digest["ts"]]


@both_databases
def test_two_replicas_syncing_at_once_post_one_digest(fake, start_bot):
    bots = [start_bot(INVITES_DIGEST_OVER=str(OVER)) for _ in range(2)]
    backlog = _backlog(fake, 20)

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(lambda bot: bot.runtime.sync(), bots))
    for bot in bots:
        bot.settle()

    assert [s.errors for s in summaries] == [0, 0]
    assert sum(s.new for s in summaries) == 20
    assert "*20 pending requests in Alpha Corp, oldest 9 days*" in card_text(_digest(fake))
    assert len(fake.calls("chat.postMessage")) == 1
    assert _cards_for(fake, backlog) == []
    with bots[0].sessions() as session:
        assert session.scalar(select(func.count()).select_from(RequestCard)) == 0
    assert _in_digest(bots[0]) == 20


def test_thousands_of_requests_are_listed_a_thousand_at_a_time_and_stored_without_cards(fake, start_bot):
    gamma = "T0GAMMA01"
    fake.add_team(gamma, "Gamma Works", "gamma")
    sizes = {TEAM: 1500, OTHER_TEAM: 600, gamma: 400}
    for team_id, count in sizes.items():
        for n in range(count):
            fake.add_invite_request(team_id=team_id, email=f"{team_id.lower()}-{n}@example.com", requester_ids=[APPROVER])
    bot = start_bot(INVITES_TEAM_IDS=",".join(sizes))

    summary = bot.sync()

    assert (summary.new, summary.errors) == (2500, 0)
    lists = Counter(call.params["team_id"] for call in fake.calls(LIST))
    assert lists == {team_id: math.ceil(count / 1000) for team_id, count in sizes.items()}
    assert {call.params["limit"] for call in fake.calls(LIST)} == {"1000"}
    with bot.sessions() as session:
        stored = dict(session.execute(select(InviteRequest.team_id, func.count()).group_by(InviteRequest.team_id)).all())
        assert session.scalar(select(func.count()).select_from(RequestCard)) == 0
    assert stored == sizes
    assert sorted(card_text(m).split("*")[1].split(",")[0] for m in _digests(fake)) == [
        "1500 pending requests in Alpha Corp",
        "400 pending requests in Gamma Works",
        "600 pending requests in Beta Labs",
    ]
    assert len(fake.calls("chat.postMessage")) == len(sizes)
