"""The demo page in headless Chromium: approve, deny with a reason, be refused, see an outside decision, stay safe;
the Home opens at its top, faults can be armed and disarmed, dates read as Slack's;
a shadow policy's verdict on a card, and, switched to enforce, a guest approved by two people with one call to Slack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.demo import seed
from tests.test_demo import Demo, running_demo

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ALAN, KATHERINE = "U0ALANTURI", "U0KATHJOHN"
SLACK_PACKAGE = Path(__file__).resolve().parents[1] / "app" / "slack"
# a shortcode as Slack reads one: not glued to a word before it (so "im:write:" is not one)
SHORTCODE = re.compile(r"(?<![A-Za-z0-9_]):([a-z0-9_+-]+):")


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with running_demo() as running:
        yield running


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    """A fresh tab (so the picker starts at Grace, an approver) with every card on show."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(demo.url)
    expect(tab.locator(".message:not(.ephemeral)")).to_have_count(len(seed.REQUESTS))
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
    expect(ada).to_contain_text("Approved by @grace, today at ")
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


def test_the_app_home_opens_at_its_top_and_the_channel_at_its_newest(page: Any) -> None:
    from playwright.sync_api import expect

    at_bottom = "s => s.scrollTop + s.clientHeight >= s.scrollHeight - 2"
    channel = page.locator("#channel-scroll")
    assert channel.evaluate("s => s.scrollHeight > s.clientHeight") and channel.evaluate(at_bottom)

    page.locator("#nav-home").click()
    header = page.locator("#home .bk-header").first
    expect(header).to_be_visible()
    home = page.locator("#app-scroll")
    assert home.evaluate("s => s.scrollHeight > s.clientHeight + 200"), "the Home should be taller than the pane"
    assert home.evaluate("s => s.scrollTop") == 0
    expect(header).to_be_in_viewport()

    home.evaluate("s => { s.scrollTop = s.scrollHeight; }")  # read down to Settings, look at Messages, come back
    page.locator("#tab-messages").click()
    page.locator("#tab-home").click()
    expect(header).to_be_in_viewport()
    assert home.evaluate("s => s.scrollTop") == 0

    page.locator("#nav-channel").click()
    assert channel.evaluate(at_bottom)


def test_an_armed_fault_is_listed_until_it_is_disarmed(page: Any) -> None:
    from playwright.sync_api import expect

    armed = page.locator("#armed li")
    expect(armed).to_have_text(["No fault armed."])
    disarm = page.get_by_role("button", name="Disarm all")
    expect(disarm).to_be_disabled()
    page.select_option("#fault-kind", "ratelimited")
    page.get_by_role("button", name="Arm the fault").click()
    expect(armed).to_have_text(["ratelimited on approve (1 call left)", "ratelimited on deny (1 call left)"])
    disarm.click()
    expect(armed).to_have_text(["No fault armed."])
    expect(disarm).to_be_disabled()


def test_slack_date_tokens_read_as_slack_writes_them(page: Any) -> None:
    shown = page.evaluate(
        """async () => {
            const { formatDate } = await import("/mrkdwn.js");
            const now = new Date();
            const day = (days, h, m) => new Date(now.getFullYear(), now.getMonth(), now.getDate() + days, h, m) / 1000;
            const old = new Date(2021, 10, 22, 9, 14) / 1000;  // a Monday
            const card = "{date_short_pretty} at {time}";
            const all = "{date_num}|{date_slash}|{date}|{date_short}|{date_long}|{date_long_full}|{date_pretty}|" +
              "{date_short_pretty}|{date_long_pretty}|{day_divider_pretty}|{time}|{time_secs}|{nope}";
            const shown = {
              today: formatDate(day(0, 22, 42), card),
              inSentence: formatDate(day(0, 22, 42), ", " + card),
              yesterday: formatDate(day(-1, 9, 14), card),
              tomorrow: formatDate(day(1, 9, 14), "due {date_long_pretty}"),
              old: formatDate(old, card),
              all: formatDate(old, all),
              unreadable: formatDate("soon", card, "the fallback"),
            };
            return Object.fromEntries(Object.entries(shown).map(([k, v]) => [k, v.replace(/\u202f/g, " ")]));
        }"""
    )
    assert shown == {
        "today": "Today at 10:42 PM",
        "inSentence": ", today at 10:42 PM",
        "yesterday": "Yesterday at 9:14 AM",
        "tomorrow": "due tomorrow",
        "old": "Nov 22, 2021 at 9:14 AM",
        "all": "2021-11-22|22/11/2021|November 22nd, 2021|Nov 22, 2021|Monday, November 22nd, 2021|November 22, 2021|"
        "November 22nd, 2021|Nov 22, 2021|Monday, November 22nd, 2021|Monday, November 22nd, 2021|9:14 AM|9:14:00 AM|"
        "{nope}",
        "unreadable": "the fallback",
    }


def test_a_shadow_policy_says_on_the_card_what_its_rule_would_do(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#policy-mode")).to_have_text("Policy: shadow")
    hedy = card(page, "hedy.lamarr@globex.example")
    expect(hedy).to_contain_text("Policy would approve (rule employees)")
    expect(hedy.get_by_role("button", name="Approve")).to_be_visible()  # shadow mode decides nothing
    expect(card(page, "charles.babbage.1791@gmail.com")).to_contain_text("Policy would deny (rule personal-mail)")
    expect(card(page, "vint@partner-net.example")).to_contain_text("Policy would require 2 approvals (rule guests)")


def _approve(page: Any, email: str) -> None:
    card(page, email).get_by_role("button", name="Approve").click()
    page.locator(".confirm-dialog").get_by_role("button", name="Approve").click()


def test_in_enforce_mode_a_guest_needs_two_approvers_and_slack_is_asked_once(page: Any, demo: Demo) -> None:
    """Last in this file: it leaves the demo's bot in enforce mode."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Enforce").click()
    expect(page.locator("#policy-mode")).to_have_text("Policy: enforce", timeout=60_000)
    vint = card(page, "vint@partner-net.example")
    expect(vint).to_contain_text("Needs 2 approvals (rule guests)", timeout=30_000)
    expect(card(page, "hedy.lamarr@globex.example")).to_contain_text("Approved by policy employees", timeout=30_000)

    _approve(page, "vint@partner-net.example")
    expect(vint).to_contain_text("1 of 2 approvals: @grace")
    expect(vint.get_by_role("button", name="Approve")).to_be_visible()
    page.select_option("#user-picker", KATHERINE)
    _approve(page, "vint@partner-net.example")
    expect(vint).to_contain_text("Approved by @katherine")
    expect(vint.get_by_role("button")).to_have_count(0)

    requests = {r["email"]: r for r in demo.state(KATHERINE)["requests"]}
    assert requests["vint@partner-net.example"]["slack_calls"] == {"approve": 1}
    assert requests["vint@partner-net.example"]["status"] == "approved"


def shortcodes_in_the_bots_wording() -> set[str]:
    return {name for path in SLACK_PACKAGE.rglob("*.py") for name in SHORTCODE.findall(path.read_text(encoding="utf-8"))}


def test_every_emoji_shortcode_the_bot_writes_is_drawn_not_shown_as_text(page: Any) -> None:
    names = sorted(shortcodes_in_the_bots_wording())
    assert {"scales", "busts_in_silhouette", "inbox_tray", "rotating_light", "white_check_mark"} <= set(names)
    shown = page.evaluate(
        """async (names) => {
            const { renderPlain } = await import("/mrkdwn.js");
            const box = document.createElement("div");
            return names.map((name) => {
                box.replaceChildren(renderPlain(`:${name}:`));
                return [name, box.textContent, box.querySelector(".emoji")?.getAttribute("aria-label") ?? null];
            });
        }""",
        names,
    )
    raw = [name for name, text, _ in shown if f":{name}:" in text]
    assert raw == [], f"shown as raw text: {raw}"
    assert [label for _, _, label in shown] == [f":{name}:" for name in names]
