"""Bulk decisions: `/invites approve|deny --domain …` and the App Home's "Approve all from …" preview exactly what they
would decide, then decide each request once through decide(), at Slack's pace, with one progress message that can
cancel the rest; a batch survives a restart, and never decides a request twice."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter

import pytest
from sqlalchemy import select

from app.core.bulk import batches
from app.core.bulk.batches import Filter
from app.slack.ui import replies
from app.store.models import Action, Batch, BatchItem, DecisionLog, InviteRequest, OutboxJob, Source
from tests.support.cards import buttons, card_text
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import (
    APPROVER,
    APPROVER_GROUP,
    CHANNEL,
    GROUP_APPROVER,
    OTHER_TEAM,
    OUTSIDER,
    SLACK_ADMIN,
    TEAM,
    new_request,
)

APPROVE, DENY = "admin.inviteRequests.approve", "admin.inviteRequests.deny"
_SEEDED = itertools.count()  # each _seed() call's requests are younger than the last call's


# -- helpers --------------------------------------------------------------------------------------------------------


def _seed(fake, bot, emails, **kw):
    """Pending requests in the stand-in and in invitebot, oldest first in the order given, their cards posted."""
    start = int(time.time()) - 3600 + next(_SEEDED) * 100
    requests = [new_request(fake, email, date_created=start + n, **kw) for n, email in enumerate(emails)]
    for request in requests:
        assert bot.slack.invite_requested(request).status == 200
    poll_until(lambda: _cards_posted(bot, requests), timeout=60, message="not every card was posted")
    return requests


def _cards_posted(bot, requests):
    with bot.sessions() as session:
        rows = [session.get(InviteRequest, r["id"]) for r in requests]
    return all(row is not None for row in rows)


def _slash(fake, bot, text, user=APPROVER):
    """A command; returns its ack and what it answered through response_url (waited for briefly)."""
    before = len(fake.response_posts())
    opened = len(fake.views_opened())
    reply = bot.slack.slash(text=text, user_id=user, channel_id=CHANNEL, team_id=TEAM)
    assert reply.status == 200
    fake.wait_for(lambda: len(fake.response_posts()) > before or len(fake.views_opened()) > opened or reply.body, timeout=10)
    return reply, fake.response_posts()[before:], fake.views_opened()[opened:]


def _preview(fake, bot, text, user=APPROVER):
    """Run a bulk command and return the preview modal once it is filled in."""
    _, posts, opened = _slash(fake, bot, text, user)
    assert not posts, posts
    [view] = opened
    return fake.wait_for(lambda: _filled(fake, view["id"]), message="the preview was never filled in")


def _filled(fake, view_id):
    view = fake.modal(view_id)
    return view if view.get("callback_id") == "bulk_preview" or "Finding" not in json.dumps(view) else None


def _modal_text(view):
    return "\n".join(card_text({"blocks": view["blocks"]}).splitlines())


def _context(view):
    return json.loads(view["private_metadata"])


def _confirm(fake, bot, view, user=APPROVER, reason=None):
    values = {}
    if reason is not None:
        values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    reply = bot.slack.submit_view(user_id=user, view=view, values=values, team_id=TEAM)
    assert reply.status == 200
    return reply


def _batch(bot, batch_id):
    with bot.sessions() as session:
        return session.get(Batch, batch_id)


def _items(bot, batch_id):
    with bot.sessions() as session:
        return session.scalars(select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.position)).all()


def _finished(bot, batch_id, timeout=60):
    try:
        return poll_until(lambda: (lambda b: b if b.finished_at is not None else None)(_batch(bot, batch_id)), timeout=timeout)
    except AssertionError:
        with bot.sessions() as session:
            jobs = session.scalars(select(OutboxJob)).all()
        items = Counter(i.outcome for i in _items(bot, batch_id))
        state = [(j.kind, j.state, j.request_id, j.last_error, j.locked_by, str(j.not_before)) for j in jobs]
        raise AssertionError(f"bulk decision {batch_id} never finished: {_batch(bot, batch_id).state}, items {items}, jobs {state}") from None


def _ok_calls(fake, method=APPROVE):
    return [c for c in fake.calls(method) if c.status == 200 and not c.error]


def _progress(fake):
    """The progress messages in the approvals channel (there must be one per batch)."""
    return [m for m in fake.messages(CHANNEL) if "Bulk approve of" in card_text(m) or "Bulk deny of" in card_text(m)]


def _summary(fake, needle, timeout=15):
    return fake.wait_for(
        lambda: next((m for m in _progress(fake) if needle in card_text(m)), None), timeout=timeout,
        message=f"the progress message never said {needle!r}: {[card_text(m) for m in _progress(fake)]}",
    )


def _log(bot, batch_id):
    with bot.sessions() as session:
        return session.scalars(select(DecisionLog).where(DecisionLog.batch_id == batch_id).order_by(DecisionLog.id)).all()


def _pace(start_bot, per_minute, **more):
    return start_bot(INVITES_ADMIN_CALLS_PER_MINUTE=str(per_minute), INVITES_NOTIFY_REQUESTERS="false", **more)


def _emails(count, domain="example.com", prefix="p"):
    return [f"{prefix}{n:03d}@{domain}" for n in range(count)]


# -- preview --------------------------------------------------------------------------------------------------------


def test_the_preview_lists_exactly_what_would_be_decided_and_decides_nothing(fake, bot):
    mine = _seed(fake, bot, _emails(23))
    others = _seed(fake, bot, ["x@mail.example.com", "y@mail.example.com", "z@example.org", "<b>&amp;@EXAMPLE.com"])
    guest = _seed(fake, bot, ["guest@example.com"], team_id=OTHER_TEAM, invite_type="restricted")

    view = _preview(fake, bot, "approve --domain example.com")

    text = _modal_text(view)
    assert "*25 pending requests* from example.com will be approved one by one" in text
    assert "Slack allows 60000 decisions a minute" in text
    listed = re.findall(r"• (\S+) · ([^·]+?) · (.+)", text)
    assert [email for email, _, _ in listed] == [r["email"] for r in mine[:20]]
    assert listed[0] == ("p000@example.com", "Alpha Corp", "Full member")
    assert "and 5 more" in text
    assert view["submit"]["text"] == "Approve 25"
    batch = _batch(bot, _context(view)["batch"])
    assert (batch.state, batch.total, batch.action, batch.source, batch.actor_id) == ("preview", 25, "approve", "slash", APPROVER)
    expected = [r["id"] for r in mine] + [others[3]["id"], guest[0]["id"]]
    assert [i.request_id for i in _items(bot, batch.id)] == expected  # oldest first: what the confirm will decide
    assert {i.outcome for i in _items(bot, batch.id)} == {None}
    assert not fake.calls(APPROVE) and not _progress(fake)

    beta = _modal_text(_preview(fake, bot, "approve --domain example.com --team beta"))
    assert "*1 pending request* from example.com in Beta Labs" in beta and "guest@example.com · Beta Labs · Multi-channel guest" in beta
    below = _modal_text(_preview(fake, bot, "approve --domain *.example.com"))
    assert "*2 pending requests* from *.example.com" in below and "x@mail.example.com" in below
    typed = _modal_text(_preview(fake, bot, "approve --domain example.com --type full_member --team T0ALPHA01"))
    assert "*24 pending requests* from example.com in Alpha Corp (full members)" in typed
    nothing = _modal_text(_preview(fake, bot, "approve --domain example.net"))
    assert "No pending invite request is from example.net; there is nothing to approve." in nothing
    _, posts, _ = _slash(fake, bot, "approve --domain example.com --team nowhere")
    assert "`nowhere` is not one of invitebot's workspaces" in posts[0]["text"]
    assert not fake.calls(APPROVE)


def test_an_escaped_email_in_the_preview(fake, bot):
    _seed(fake, bot, ["<!channel>&x@example.com", "b@example.com"])
    text = _modal_text(_preview(fake, bot, "approve --domain example.com"))
    assert "• &lt;!channel&gt;&amp;x@example.com · Alpha Corp · Full member" in text


# -- confirm: each request once, at the pace, with progress ---------------------------------------------------------


@pytest.mark.slow
def test_confirming_decides_each_request_once_at_slacks_pace_with_progress_and_a_summary(fake, start_bot):
    bot = _pace(start_bot, 120)  # a call every 0.5 s
    requests = _seed(fake, bot, _emails(16))
    fake.enforce_rate_limits(tier2_per_minute=120, messages_per_second=5.0)
    view = _preview(fake, bot, "approve --domain example.com")
    batch_id = _context(view)["batch"]

    started = time.time()
    _confirm(fake, bot, view)
    [started_told] = fake.wait_for(lambda: [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=APPROVER)], timeout=10)
    assert started_told == f"Approving 16 requests from example.com; the progress is in <#{CHANNEL}>."
    running = _summary(fake, "of 16 approved")
    assert any(words in card_text(running) for words in ("left", "finishing"))  # "about 40 s left", or at its end
    assert [b["action_id"] for b in buttons(running)] == ["bulk_cancel"]
    batch = _finished(bot, batch_id)

    assert batch.state == "done"
    calls = _ok_calls(fake)
    assert Counter(c.params["invite_request_id"] for c in calls) == {r["id"]: 1 for r in requests}
    assert [c.params["invite_request_id"] for c in calls] == [r["id"] for r in requests]  # in preview order
    # Paced in slots: a call a busy machine delays shortens only the gap after it, so no three calls fall in one slot.
    pairs = [c.at - a.at for a, c in zip(calls, calls[2:])]
    assert min(pairs) > 0.5, pairs
    assert [c.status for c in fake.calls(APPROVE)].count(429) <= 1
    span = calls[-1].at - calls[0].at
    print(f"\n16 bulk approvals at 120/min: {span:.1f} s from the first to the last ({15 * 60 / span:.0f} a minute)")
    assert 15 * 0.5 * 0.9 < span < 15 * 0.5 + 6
    assert calls[0].at - started < 5
    final = _summary(fake, f"Bulk approve of example.com by <@{APPROVER}>: 16 approved, 0 decided elsewhere, 0 failed")
    assert not buttons(final)
    assert len(_progress(fake)) == 1
    updates = [c for c in fake.calls("chat.update") if c.params.get("ts") == final["ts"] and c.status == 200]
    update_gaps = [b.at - a.at for a, b in zip(updates, updates[1:])]
    assert 2 <= len(updates) <= span / 2 + 3 and min(update_gaps, default=3) > 2.0, update_gaps
    assert {i.outcome for i in _items(bot, batch_id)} == {"approved"}
    with bot.sessions() as session:
        rows = [session.get(InviteRequest, r["id"]) for r in requests]
    assert {(r.status, r.decided_by, r.decision_source) for r in rows} == {("approved", APPROVER, "slash")}


def test_the_audit_log_has_the_batch_and_each_item_with_its_batch_id(fake, bot):
    requests = _seed(fake, bot, _emails(4))
    view = _preview(fake, bot, "approve --domain example.com")
    batch_id = _context(view)["batch"]
    _confirm(fake, bot, view)
    _finished(bot, batch_id)
    bot.settle()

    entries = _log(bot, batch_id)
    own = [e for e in entries if e.request_id == f"batch:{batch_id}"]
    assert [(e.outcome, e.action, e.source, e.actor_id) for e in own] == [
        ("batch_started", "approve", "slash", APPROVER),
        ("batch_done", "approve", "slash", APPROVER),
    ]
    assert own[0].detail == "domain example.com; 4 requests"
    assert own[1].detail == "domain example.com; 4 approved, 0 elsewhere, 0 failed of 4"
    items = [e for e in entries if e.request_id != f"batch:{batch_id}"]
    assert sorted((e.request_id, e.outcome) for e in items) == sorted((r["id"], "ok") for r in requests)
    with bot.sessions() as session:
        unbatched = session.scalars(select(DecisionLog).where(DecisionLog.batch_id.is_(None))).all()
    assert [e for e in unbatched if e.request_id in {r["id"] for r in requests} and e.source != "policy"] == []


@pytest.mark.slow
def test_requests_decided_before_the_confirm_or_between_items_count_as_decided_elsewhere(fake, start_bot):
    bot = _pace(start_bot, 60)  # a call a second
    requests = _seed(fake, bot, _emails(8))
    view = _preview(fake, bot, "approve --domain example.com")
    batch_id = _context(view)["batch"]
    fake.decide_outside(requests[1]["id"], "approve", SLACK_ADMIN)  # Slack knows; invitebot learns it when it asks
    card = fake.wait_for(lambda: next((m for m in fake.messages(CHANNEL) if requests[2]["email"] in card_text(m)), None))
    bot.slack.click(user_id=GROUP_APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    poll_until(lambda: _row(bot, requests[2]["id"]).status == "approved")

    _confirm(fake, bot, view)
    poll_until(lambda: _row(bot, requests[3]["id"]).status == "approved", message="the batch did not get going")
    fake.decide_outside(requests[6]["id"], "deny", SLACK_ADMIN)  # between items
    _finished(bot, batch_id)

    outcomes = {i.request_id: i.outcome for i in _items(bot, batch_id)}
    assert [outcomes[r["id"]] for r in requests] == ["approved", "elsewhere", "elsewhere", "approved", "approved", "approved", "elsewhere", "approved"]
    assert Counter(c.params["invite_request_id"] for c in _ok_calls(fake)) == {
        r["id"]: 1 for n, r in enumerate(requests) if n not in (1, 6)
    }
    _summary(fake, f"Bulk approve of example.com by <@{APPROVER}>: 5 approved, 3 decided elsewhere, 0 failed")
    assert (_row(bot, requests[6]["id"]).status, _row(bot, requests[6]["id"]).decision_source) == ("denied", "outside")


def _row(bot, request_id):
    with bot.sessions() as session:
        return session.get(InviteRequest, request_id)


def test_a_bulk_approve_skips_the_requests_its_approver_asked_for_and_says_so(fake, bot):
    others = _seed(fake, bot, _emails(3))
    [theirs] = _seed(fake, bot, ["friend@example.com"], requester_ids=[APPROVER])
    view = _preview(fake, bot, "approve --domain example.com")
    batch_id = _context(view)["batch"]

    _confirm(fake, bot, view)
    _finished(bot, batch_id)

    _summary(
        fake,
        f"Bulk approve of example.com by <@{APPROVER}>: 3 approved, 0 decided elsewhere, 0 failed, "
        "1 skipped (asked for by the person approving in bulk: another approver decides)",
    )
    assert Counter(c.params["invite_request_id"] for c in _ok_calls(fake)) == {r["id"]: 1 for r in others}
    assert {i.request_id: i.outcome for i in _items(bot, batch_id)}[theirs["id"]] == "self_requested"
    assert (_row(bot, theirs["id"]).status, _batch(bot, batch_id).state) == ("pending", "done")
    assert [(e.actor_id, e.outcome) for e in _log(bot, batch_id) if e.request_id == theirs["id"]] == [
        (APPROVER, "self_approval_refused")
    ]


# -- cancel -----------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cancel_stops_new_items_and_says_who(fake, start_bot):
    bot = _pace(start_bot, 60)
    requests = _seed(fake, bot, _emails(20))
    view = _preview(fake, bot, "approve --domain example.com")
    batch_id = _context(view)["batch"]
    _confirm(fake, bot, view)
    message = _summary(fake, "of 20 approved")
    poll_until(lambda: len(_ok_calls(fake)) >= 2, message="no approval went out")

    assert bot.slack.click(user_id=OUTSIDER, channel=CHANNEL, message_ts=message["ts"], action_id="bulk_cancel").status == 200
    refused = fake.wait_for(lambda: [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=OUTSIDER)])
    assert refused == [replies.BULK_CANCEL_NOT_ALLOWED]
    assert _batch(bot, batch_id).state == "running"
    assert bot.slack.click(user_id=GROUP_APPROVER, channel=CHANNEL, message_ts=message["ts"], action_id="bulk_cancel").status == 200
    told = fake.wait_for(lambda: [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=GROUP_APPROVER)])
    assert told[0].startswith("You cancelled the bulk approve: ") and "requests are not decided" in told[0]

    batch = _finished(bot, batch_id)
    assert batch.state == "cancelled"
    outcomes = Counter(i.outcome for i in _items(bot, batch_id))
    approved = len(_ok_calls(fake))
    assert set(outcomes) == {"approved", "cancelled"} and outcomes["approved"] == approved and 2 <= approved < 20
    assert Counter(c.params["invite_request_id"] for c in _ok_calls(fake)) == {r["id"]: 1 for r in requests[:approved]}
    assert all(fake.invite_request_status(r["id"]) == "pending" for r in requests[approved:])
    final = _summary(
        fake, f"Bulk approve of example.com by <@{APPROVER}>, cancelled by <@{GROUP_APPROVER}>: {approved} approved, "
        f"0 decided elsewhere, 0 failed, {20 - approved} not decided",
    )
    assert not buttons(final)
    own = [(e.outcome, e.actor_id) for e in _log(bot, batch_id) if e.request_id == f"batch:{batch_id}"]
    assert own == [("batch_started", APPROVER), ("not_allowed", OUTSIDER), ("batch_cancelled", GROUP_APPROVER)]
    time.sleep(2.5)  # nothing is taken after the cancel, however long one waits
    assert len(_ok_calls(fake)) == approved


def test_a_cancel_while_slack_is_slow_lets_the_item_under_way_finish(fake, start_bot):
    bot = _pace(start_bot, 600)
    requests = _seed(fake, bot, _emails(10))
    view = _preview(fake, bot, "approve --domain example.com")
    batch_id = _context(view)["batch"]
    fake.set_latency(APPROVE, 2.0)
    _confirm(fake, bot, view)
    message = _summary(fake, "of 10 approved")
    fake.wait_for(lambda: fake.calls_in_progress(APPROVE) >= 1, message="no approve call under way")

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=message["ts"], action_id="bulk_cancel")
    poll_until(lambda: _batch(bot, batch_id).state == "cancelled")
    fake.set_latency(APPROVE, 0)
    batch = _finished(bot, batch_id)

    outcomes = Counter(i.outcome for i in _items(bot, batch_id))
    assert outcomes["approved"] >= 1 and outcomes["approved"] + outcomes["cancelled"] == 10, outcomes
    assert outcomes["approved"] == len(_ok_calls(fake)) == len({c.params["invite_request_id"] for c in _ok_calls(fake)})
    assert batch.finished_at is not None
    _summary(fake, f"cancelled by <@{APPROVER}>: {outcomes['approved']} approved")
    assert {_row(bot, r["id"]).status for r in requests} <= {"approved", "pending"}


# -- durable: a restart, two processes ---------------------------------------------------------------------------------


@pytest.mark.slow
@both_databases
def test_a_restarted_bot_finishes_the_batch_and_decides_nothing_twice(fake, start_bot):
    settings = {"INVITES_ADMIN_CALLS_PER_MINUTE": "60", "INVITES_NOTIFY_REQUESTERS": "false"}
    before = start_bot(**settings)
    requests = _seed(fake, before, _emails(12))
    view = _preview(fake, before, "approve --domain example.com")
    batch_id = _context(view)["batch"]
    _confirm(fake, before, view)
    poll_until(lambda: len(_ok_calls(fake)) >= 3, timeout=30, message="the batch did not get going")
    before.runtime.close()  # the feeder job and any claimed item's decide job wait in the database
    stopped_at = len(_ok_calls(fake))
    assert stopped_at < 12 and _batch(before, batch_id).state == "running"

    after = start_bot(**settings)
    batch = _finished(after, batch_id, timeout=60)

    assert batch.state == "done"
    assert Counter(c.params["invite_request_id"] for c in _ok_calls(fake)) == {r["id"]: 1 for r in requests}
    assert {i.outcome for i in _items(after, batch_id)} == {"approved"}
    _summary(fake, f"Bulk approve of example.com by <@{APPROVER}>: 12 approved, 0 decided elsewhere, 0 failed")
    assert len(_progress(fake)) == 1


@pytest.mark.slow
@both_databases
def test_two_processes_share_one_batch_and_decide_each_request_once(fake, start_bot):
    settings = {"INVITES_ADMIN_CALLS_PER_MINUTE": "300", "INVITES_NOTIFY_REQUESTERS": "false"}
    first, second = start_bot(**settings), start_bot(**settings)
    requests = _seed(fake, first, _emails(30))
    fake.enforce_rate_limits(tier2_per_minute=300, messages_per_second=10.0)
    view = _preview(fake, first, "approve --domain example.com")
    batch_id = _context(view)["batch"]
    other = _preview(fake, second, "approve --domain example.com", user=GROUP_APPROVER)  # the same requests, twice over

    _confirm(fake, first, view)
    _confirm(fake, second, other, user=GROUP_APPROVER)
    _finished(first, batch_id)
    _finished(first, _context(other)["batch"])

    calls = _ok_calls(fake)
    assert Counter(c.params["invite_request_id"] for c in calls) == {r["id"]: 1 for r in requests}
    assert [c.status for c in fake.calls(APPROVE)].count(429) <= 1
    mine = Counter(i.outcome for i in _items(first, batch_id))
    theirs = Counter(i.outcome for i in _items(first, _context(other)["batch"]))
    assert mine["approved"] + theirs["approved"] == 30 and mine["elsewhere"] + theirs["elsewhere"] == 30
    times = sorted(c.at for c in calls)
    assert times[-1] - times[0] >= 29 * 0.2 * 0.9  # one pace between them, not one each


# -- who may, and the deny reason --------------------------------------------------------------------------------------


def test_only_approvers_may_ask_start_or_stop_a_batch(fake, start_bot):
    bot = _pace(start_bot, 60)
    requests = _seed(fake, bot, _emails(6))
    reply, posts, opened = _slash(fake, bot, "approve --domain example.com", user=OUTSIDER)
    assert "Only invite approvers can use `/invites approve`" in posts[0]["text"] and not opened
    with bot.sessions() as session:
        refused = session.scalars(select(DecisionLog).where(DecisionLog.actor_id == OUTSIDER)).all()
    assert [(e.request_id, e.outcome) for e in refused] == [("bulk:example.com", "not_allowed")]

    view = _preview(fake, bot, "approve --domain example.com", user=GROUP_APPROVER)
    batch_id = _context(view)["batch"]
    _confirm(fake, bot, view, user=OUTSIDER)  # someone else's preview, by someone who may not decide
    _confirm(fake, bot, view, user=APPROVER)  # someone else's preview
    told = lambda: {e["user"]: e["text"] for e in fake.ephemerals(channel=CHANNEL) if e["via"] == "chat.postEphemeral"}  # noqa: E731
    texts = fake.wait_for(lambda: (lambda t: t if {OUTSIDER, APPROVER} <= set(t) else None)(told()))
    assert texts[OUTSIDER] == replies.BULK_NOT_ALLOWED
    assert texts[APPROVER] == f"Only <@{GROUP_APPROVER}>, who asked for this preview, can start it. Nothing was changed."
    assert _batch(bot, batch_id).state == "preview" and not fake.calls(APPROVE)
    assert [(e.actor_id, e.outcome) for e in _log(bot, batch_id)] == [(OUTSIDER, "not_allowed")]

    _confirm(fake, bot, view, user=GROUP_APPROVER)
    poll_until(lambda: len(_ok_calls(fake)) >= 2, message="the batch did not get going")
    bot.runtime.approvers.members_changed(APPROVER_GROUP, TEAM, [], [GROUP_APPROVER])  # no longer an approver
    batch = _finished(bot, batch_id)

    assert batch.state == "cancelled"
    approved = len(_ok_calls(fake))
    assert approved < 6 and Counter(i.outcome for i in _items(bot, batch_id)) == {"approved": approved, "cancelled": 6 - approved}
    _summary(fake, f"<@{GROUP_APPROVER}>, stopped: the person who started it is no longer an invite approver: {approved} approved")
    refusals = [e for e in _log(bot, batch_id) if e.outcome == "not_allowed" and e.actor_id == GROUP_APPROVER]
    assert len(refusals) == 1 and refusals[0].request_id == requests[approved]["id"]  # decide()'s own refusal, audited


def test_a_bulk_deny_needs_a_reason_when_one_is_required(fake, start_bot):
    bot = start_bot(INVITES_DENY_REASON_REQUIRED="true")
    requests = _seed(fake, bot, _emails(3))
    _, posts, opened = _slash(fake, bot, "deny --domain example.com")
    assert posts[0]["text"] == replies.BULK_REASON_NEEDED and not opened
    with bot.sessions() as session:
        assert session.scalars(select(DecisionLog.outcome).where(DecisionLog.request_id == "bulk:example.com")).all() == ["reason_required"]

    view = _preview(fake, bot, 'deny --domain example.com --reason "Please ask with your work address"')
    assert "*Reason* (every requester will see it)\n>Please ask with your work address" in _modal_text(view)
    assert view["submit"]["text"] == "Deny 3"
    _confirm(fake, bot, view)
    _finished(bot, _context(view)["batch"])

    assert Counter(c.params["invite_request_id"] for c in _ok_calls(fake, DENY)) == {r["id"]: 1 for r in requests}
    assert {(_row(bot, r["id"]).status, _row(bot, r["id"]).deny_reason) for r in requests} == {("denied", "Please ask with your work address")}
    _summary(fake, f"Bulk deny of example.com by <@{APPROVER}>: 3 denied, 0 decided elsewhere, 0 failed")


def test_the_core_refuses_a_start_without_a_required_reason(fake, start_bot):
    """start() checks the rule itself, whoever calls it (a preview asked from the App Home carries no reason)."""
    bot = start_bot(INVITES_DENY_REASON_REQUIRED="true")
    _seed(fake, bot, _emails(2))
    services = bot.runtime.services
    found = batches.preview(services, Action.DENY, Filter("example.com"), APPROVER, Source.HOME)

    assert batches.start(services, found.batch_id, APPROVER, reason="  ").answer is batches.Answer.REASON_REQUIRED
    assert _batch(bot, found.batch_id).state == "preview" and not fake.calls(DENY)
    assert [e.outcome for e in _log(bot, found.batch_id)] == ["reason_required"]
    assert batches.start(services, found.batch_id, APPROVER, reason="Staff only").answer is batches.Answer.STARTED
    _finished(bot, found.batch_id)
    assert len(_ok_calls(fake, DENY)) == 2


# -- the App Home -----------------------------------------------------------------------------------------------------


def _home(fake, bot, user=APPROVER):
    before = fake.home_view(user)
    bot.slack.app_home_opened(user, team_id=TEAM)
    return fake.wait_for(lambda: (lambda v: v if v is not None and v != before else None)(fake.home_view(user)))


def test_the_home_offers_the_busiest_domains_and_decides_them_from_its_preview(fake, start_bot):
    bot = start_bot(INVITES_DENY_REASON_REQUIRED="true", INVITES_NOTIFY_REQUESTERS="false")
    big = _seed(fake, bot, _emails(4, "big.example"))
    _seed(fake, bot, _emails(3, "mid.example") + _emails(2, "small.example") + _emails(2, "tiny.example") + ["one@solo.example"])
    bot.settle()

    view = _home(fake, bot)
    labels = [e["text"]["text"] for b in view["blocks"] if b.get("block_id", "").startswith("home-bulk-") for e in b["elements"]]
    assert labels == [
        "Approve all from big.example", "Deny all from big.example",
        "Approve all from mid.example", "Deny all from mid.example",
        "Approve all from small.example", "Deny all from small.example",
    ]
    [counted] = [card_text({"blocks": [b]}) for b in view["blocks"] if "Several from one domain" in json.dumps(b)]
    assert "big.example: 4 · mid.example: 3 · small.example: 2." in counted and "solo" not in counted

    opened = len(fake.views_opened())
    value = json.dumps({"domain": "big.example"}, separators=(",", ":"))
    bot.slack.click_in_home(user_id=APPROVER, action_id="bulk_deny_domain", value=value, team_id=TEAM)
    [modal] = fake.wait_for(lambda: fake.views_opened()[opened:])
    filled = fake.wait_for(lambda: _filled(fake, modal["id"]))
    assert "*4 pending requests* from big.example will be denied" in _modal_text(filled)
    assert [b["block_id"] for b in filled["blocks"] if b["type"] == "input"] == ["reason"]

    empty = _confirm(fake, bot, filled)
    assert json.loads(empty.body) == {"response_action": "errors", "errors": {"reason": "Write a reason to deny the requests this preview lists."}}
    assert _batch(bot, _context(filled)["batch"]).state == "preview"
    _confirm(fake, bot, filled, reason="We only invite staff")
    batch = _finished(bot, _context(filled)["batch"])

    assert (batch.source, batch.reason) == ("home", "We only invite staff")
    assert Counter(c.params["invite_request_id"] for c in _ok_calls(fake, DENY)) == {r["id"]: 1 for r in big}
    with bot.sessions() as session:
        sources = set(session.scalars(select(DecisionLog.source).where(DecisionLog.batch_id == batch.id)).all())
    assert sources == {"home"}
    home = fake.wait_for(  # republished when the batch ended: big.example has nothing left to decide
        lambda: (lambda v: v if v and "Approve all from big.example" not in json.dumps(v) else None)(fake.home_view(APPROVER))
    )
    assert "Approve all from mid.example" in json.dumps(home) and "from tiny.example" in json.dumps(home)


# -- driving it without Slack (the bench) ----------------------------------------------------------------------------


def test_a_bulk_approve_can_be_driven_from_the_core(fake, bot):
    """What a benchmark calls: preview() then start(); the rest is the outbox's."""
    requests = _seed(fake, bot, _emails(5))
    services = bot.runtime.services
    found = batches.preview(services, Action.APPROVE, Filter("example.com"), APPROVER, Source.SLASH)
    assert (found.total, [r.id for r in found.first]) == (5, [r["id"] for r in requests])
    assert batches.start(services, found.batch_id, APPROVER).answer is batches.Answer.STARTED
    assert batches.start(services, found.batch_id, APPROVER).answer is batches.Answer.ALREADY
    _finished(bot, found.batch_id)
    assert len(_ok_calls(fake)) == 5
