"""The demo page in headless Chromium: approve, deny with a reason, be refused, see an outside decision, stay safe."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.test_demo import Demo, running_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ALAN = "U0ALANTURI"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (the browser tests never download one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with running_demo() as running:
        yield running


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    """A fresh tab (so the picker starts at Grace, an approver) with every card on show."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(demo.url)
    expect(tab.locator(".message:not(.ephemeral)")).to_have_count(12)
    yield tab
    context.close()
    assert not errors, errors


def card(page: Any, email: str) -> Any:
    return page.locator(".message:not(.ephemeral)", has_text=email)


def ephemeral(page: Any, text: str) -> Any:
    return page.locator(".message.ephemeral", has_text=text)


def test_approve_asks_for_confirmation_then_the_card_says_who_approved(page: Any) -> None:
    from playwright.sync_api import expect

    ada = card(page, "ada.lovelace@northwind.example")
    ada.get_by_role("button", name="Approve").click()
    dialog = page.locator(".confirm-dialog")
    expect(dialog).to_contain_text("Slack will invite ada.lovelace@northwind.example.")
    dialog.get_by_role("button", name="Approve").click()
    expect(ada).to_contain_text("Approved by @grace")
    expect(ada.get_by_role("button")).to_have_count(0)
    expect(ephemeral(page, "You approved the invite request for ada.lovelace@northwind.example.")).to_be_visible()


def test_deny_with_a_reason_through_the_modal(page: Any) -> None:
    from playwright.sync_api import expect

    edsger = card(page, "edsger.dijkstra@northwind.example")
    edsger.get_by_role("button", name="Deny").click()
    modal = page.locator("#modal-root")
    expect(modal).to_contain_text("Deny the invite for edsger.dijkstra@northwind.example?")
    expect(modal).to_contain_text("Required: the requester will see it.")
    modal.get_by_role("button", name="Deny").click()  # empty: the bot's validation answers in the modal
    expect(modal.locator(".bk-error")).to_have_text("Write a reason to deny this request.")
    modal.get_by_label("Reason").fill("Please use a contractor account <for now> & ask again in March")
    modal.get_by_role("button", name="Deny").click()
    expect(modal).to_have_count(0)
    expect(edsger).to_contain_text("Denied by @grace")
    expect(edsger).to_contain_text("Reason: Please use a contractor account <for now> & ask again in March")


def test_a_non_approver_is_refused_with_an_ephemeral_answer(page: Any) -> None:
    from playwright.sync_api import expect

    page.select_option("#user-picker", ALAN)
    expect(page.locator("#role")).to_contain_text("Alan Turing (@alan): asked for invites; not an approver")
    frances = card(page, "frances@allen-compilers.example")
    frances.get_by_role("button", name="Approve").click()
    page.locator(".confirm-dialog").get_by_role("button", name="Approve").click()
    refusal = ephemeral(page, "Only invite approvers can approve or deny invite requests. Nothing was changed.")
    expect(refusal).to_contain_text("Only visible to you")
    expect(frances.get_by_role("button", name="Approve")).to_be_visible()


def test_a_decision_in_slacks_admin_pages_closes_the_card_after_a_sync(page: Any) -> None:
    from playwright.sync_api import expect

    joan = card(page, "joan.clarke@audit-partners.example")
    page.select_option("#outside-request", label="joan.clarke@audit-partners.example (Globex Research)")
    page.get_by_role("button", name="Approve there").click()
    expect(page.locator("#outside-request")).not_to_contain_text("joan.clarke")  # no longer pending in Slack
    page.get_by_label("Message box").fill("/invites sync")
    page.get_by_label("Message box").press("Enter")
    expect(joan).to_contain_text("Already approved by @margaret outside invitebot")
    expect(joan.get_by_role("button")).to_have_count(0)


def test_the_hostile_reason_is_literal_text(page: Any) -> None:
    from playwright.sync_api import expect

    prize = card(page, "winner@prizes.example")
    expect(prize).to_contain_text("<!channel> <https://evil.example|click here> free prizes")
    expect(page.locator('a[href*="evil.example"]')).to_have_count(0)
    expect(prize.locator(".mention-broadcast")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    prize.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "channel.png"))
