"""The demo page's modals in headless Chromium: whatever opened one (a slash command, an App Home button) shows it to
the person who asked, bulk decisions run from the preview to the summary, a modal closes when "Viewing as" changes,
and a decision Slack is slow with looks the same to the person who clicked it and to everyone else."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from app.demo import seed
from tests.test_demo import ALAN, GRACE, KATHERINE, Demo, running_demo
from tests.test_demo_browser import card, ephemeral

APPROVE = "admin.inviteRequests.approve"
NORTHWIND = "T0NORTHWND"


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """A demo of this file's own: the bulk decisions here close cards the other files expect open."""
    with running_demo() as running:
        yield running


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    """A fresh tab, viewing as Grace (an approver), once the seeded cards and any made by earlier tests are on show."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(demo.url)
    expect(tab.locator(".message:not(.ephemeral)").nth(len(seed.REQUESTS) - 1)).to_be_visible()
    yield tab
    context.close()
    assert not errors, errors


def _requests(demo: Demo, domain: str, names: list[str]) -> list[str]:
    """New full-member requests from `domain`, asked for by Alan through the demo's controls; their emails."""
    emails = [f"{name}@{domain}" for name in names]
    for email in emails:
        status, answer = demo.post(
            "request", {"user": ALAN, "email": email, "invite_type": "full_member", "team_id": NORTHWIND, "channel_ids": []}
        )
        assert status == 200 and answer["ok"], answer
    return emails


def _status(demo: Demo, email: str) -> tuple[str, dict[str, int]]:
    found = next(r for r in demo.state(GRACE)["requests"] if r["email"] == email)
    return found["status"], found["slack_calls"]


def _arm_slow_approve(demo: Demo) -> None:
    status, answer = demo.post("fault", {"kind": "slow", "methods": [APPROVE]})
    assert status == 200 and answer["ok"], answer


def test_a_bulk_approve_typed_in_the_message_box_previews_then_runs_to_its_summary(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    emails = _requests(demo, "slash.example", ["alonzo", "haskell"])
    for email in emails:
        expect(card(page, email).get_by_role("button", name="Approve")).to_be_visible()
    box = page.get_by_label("Message box")
    modal = page.locator("#modal-root")

    box.fill("/invites approve --domain slash.example")
    box.press("Enter")
    expect(modal).to_contain_text("Approve in bulk")
    expect(modal).to_contain_text("2 pending requests from slash.example will be approved one by one")
    for email in emails:
        expect(modal).to_contain_text(email)
    modal.get_by_role("button", name="Cancel").click()
    expect(modal).to_have_count(0)
    assert demo.state(GRACE)["modal"] is None
    assert [_status(demo, email) for email in emails] == [("pending", {})] * 2
    for email in emails:
        expect(card(page, email).get_by_role("button", name="Approve")).to_be_visible()

    try:
        _arm_slow_approve(demo)  # three seconds a decision: the progress can be seen
        box.fill("/invites approve --domain slash.example")
        box.press("Enter")
        expect(modal).to_contain_text("2 pending requests from slash.example")
        modal.get_by_role("button", name="Approve 2").click()
        expect(modal).to_have_count(0)
        expect(ephemeral(page, "Approving 2 requests from slash.example; the progress is in #invite-approvals.")).to_be_visible()
        progress = card(page, "Bulk approve of slash.example by @grace")
        expect(progress).to_contain_text("of 2 approved")
        expect(progress.get_by_role("button", name="Cancel")).to_be_visible()
        expect(progress).to_contain_text(
            "Bulk approve of slash.example by @grace: 2 approved, 0 decided elsewhere, 0 failed", timeout=30_000
        )
        expect(progress.get_by_role("button")).to_have_count(0)
    finally:
        demo.post("disarm", {})
    for email in emails:
        expect(card(page, email)).to_contain_text("Approved by @grace")
    assert [_status(demo, email) for email in emails] == [("approved", {"approve": 1})] * 2


def test_approve_all_from_the_app_home_opens_the_preview_there(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    emails = _requests(demo, "home.example", ["barbara", "frances"])
    page.locator("#nav-home").click()
    home = page.locator("#home")
    home.get_by_role("button", name="Approve all from home.example").click()
    modal = page.locator("#modal-root")
    expect(modal).to_contain_text("2 pending requests from home.example will be approved one by one")
    modal.get_by_role("button", name="Approve 2").click()
    expect(modal).to_have_count(0)
    expect(home).to_contain_text("Approving 2 requests from home.example; the progress is in #invite-approvals.")

    page.locator("#nav-channel").click()
    expect(card(page, "Bulk approve of home.example by @grace")).to_contain_text(
        "2 approved, 0 decided elsewhere, 0 failed", timeout=30_000
    )
    for email in emails:
        expect(card(page, email)).to_contain_text("Approved by @grace")


def test_a_modal_left_open_closes_when_someone_else_is_picked(page: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    frances = card(page, "frances@allen-compilers.example")
    frances.get_by_role("button", name="Deny").click()
    modal = page.locator("#modal-root")
    expect(modal).to_contain_text("frances@allen-compilers.example")

    page.select_option("#user-picker", KATHERINE)
    expect(page.locator("#role")).to_contain_text("Katherine Johnson")
    expect(modal).to_have_count(0)
    page.select_option("#user-picker", GRACE)
    expect(page.locator("#role")).to_contain_text("Grace Hopper")
    expect(frances.get_by_role("button", name="Deny")).to_be_visible()
    expect(modal).to_have_count(0)  # closed as Grace would close it: nothing was denied
    assert demo.state(GRACE)["modal"] is None
    assert _status(demo, "frances@allen-compilers.example") == ("pending", {})


RECORD_CARD = """(email) => {
    window.cardTexts = [];
    const note = () => {
        const shown = [...document.querySelectorAll(".message:not(.ephemeral)")].find((m) => m.textContent.includes(email));
        const text = shown ? shown.querySelector(".message-body").innerText : "";
        if (window.cardTexts[window.cardTexts.length - 1] !== text) window.cardTexts.push(text);
    };
    note();
    new MutationObserver(note).observe(document.getElementById("channel-messages"), { childList: true, subtree: true, characterData: true });
}"""


def test_while_slack_is_slow_the_clicker_sees_the_same_card_as_everyone_else(page: Any, browser: Any, demo: Demo) -> None:
    from playwright.sync_api import expect

    email = "sophie.wilson@northwind.example"
    other = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    other.add_init_script(f"localStorage.setItem('invitebot-demo-user', '{KATHERINE}')")  # a second person's own window
    watcher = other.new_page()
    try:
        watcher.goto(demo.url)
        expect(watcher.locator("#role")).to_contain_text("Katherine Johnson")
        expect(card(watcher, email).get_by_role("button", name="Approve")).to_be_visible()
        for tab in (page, watcher):
            tab.evaluate(RECORD_CARD, email)
        _arm_slow_approve(demo)

        sophie = card(page, email)
        sophie.get_by_role("button", name="Approve").click()
        page.locator(".confirm-dialog").get_by_role("button", name="Approve").click()
        expect(page.locator(".confirm-dialog")).to_have_count(0)
        expect(sophie.locator(".bk-button.busy")).to_have_count(0)  # invitebot acknowledged the click
        clicker, everyone = sophie.inner_text(), card(watcher, email).inner_text()
        assert _status(demo, email)[0] == "pending", "Slack answered before the cards were compared"
        assert clicker == everyone

        expect(sophie).to_contain_text("Approved by @grace", timeout=30_000)
        expect(card(watcher, email)).to_contain_text("Approved by @grace")
        held = next(item["message"] for item in demo.state(GRACE)["channel"]["items"] if email in str(item.get("message")))
        assert (
            held["blocks"]
            == next(item["message"] for item in demo.state(KATHERINE)["channel"]["items"] if email in str(item.get("message")))[
                "blocks"
            ]
        )
        seen_by_clicker = page.evaluate("window.cardTexts")
        seen_by_watcher = watcher.evaluate("window.cardTexts")
        assert len(seen_by_clicker) >= 2 and seen_by_clicker[-1] == seen_by_watcher[-1]
        assert set(seen_by_clicker) <= set(seen_by_watcher), "the clicker's page drew a card nobody else was shown"
    finally:
        demo.post("disarm", {})
        other.close()
