"""The demo page in headless Chromium: an audit export arrives in Messages as a file chip that downloads the CSV (only for
someone who can see it); the page fits narrow windows; what a control brings shows next to that control."""

from __future__ import annotations

import csv
import io
import re
import urllib.error
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.core.export import COLUMNS
from app.demo import seed
from tests.support.cards import card_text
from tests.test_demo import _OPENER, Demo, card_for, cards
from tests.test_demo_browser import demo

__all__ = ["demo"]  # the fixture, shared with the demo page's other browser tests

GRACE, ALAN = "U0GRACEHOP", "U0ALANTURI"
ADA = "ada.lovelace@northwind.example"
NARROW = [(800, 900), (390, 844)]


@contextmanager
def opened(browser: Any, demo: Demo, width: int, height: int) -> Iterator[Any]:
    """A fresh tab of `width` x `height` (so the picker starts at Grace, an approver) with every card on show."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US", accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        tab.goto(demo.url)
        expect(tab.locator("#channel-messages .message:not(.ephemeral)")).to_have_count(len(seed.REQUESTS))
        yield tab
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def decided(demo: Demo) -> None:
    """Grace approved Ada's request, so the audit export has rows."""
    card = demo.wait_for(GRACE, lambda s: next((c for c in cards(s) if ADA in card_text(c)), None))
    demo.post("click", {"user": GRACE, "action_id": "invite_approve", "as_seen": card})
    demo.wait_for(GRACE, lambda s: "Approved by <@U0GRACEHOP>" in card_text(card_for(s, ADA)))


def exported_file(demo: Demo, user: str) -> tuple[dict[str, Any], str]:
    """The newest file in `user`'s direct messages with invitebot, and the comment it came with."""
    messages = demo.wait_for(user, lambda s: [m for m in s["dms"] if m.get("files")])
    return messages[-1]["files"][0], messages[-1]["text"]


def download(demo: Demo, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with _OPENER.open(demo.url + path.lstrip("/"), timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_an_export_arrives_in_messages_as_a_file_chip_that_downloads_the_csv(browser: Any, demo: Demo, decided: None) -> None:
    from playwright.sync_api import expect

    with opened(browser, demo, 1280, 900) as page:
        page.get_by_label("Message box").fill("/invites export")
        page.get_by_label("Message box").press("Enter")
        expect(page.locator(".message.ephemeral", has_text="is in your direct messages with invitebot")).to_be_visible()
        shared, comment = exported_file(demo, GRACE)
        rows_said = int(re.search(r"(\d+) rows?", comment)[1])  # type: ignore[index]

        page.locator("#nav-messages").click()
        file_chip = f'.file-chip[data-file-id="{shared["id"]}"]'
        message = page.locator("#dm-messages .message", has=page.locator(file_chip))
        chip = message.locator(file_chip)
        expect(message).to_contain_text("invitebot's audit export: every decision and attempt from")
        assert shared["name"].startswith("invitebot-audit-") and shared["size"] < 1024
        expect(chip.locator(".file-name")).to_have_text(shared["name"])
        expect(chip.locator(".file-details")).to_have_text(f"CSV · {shared['size']} bytes")

        with page.expect_download() as clicked:
            chip.click()
        got = clicked.value
        assert got.suggested_filename == shared["name"]
        content = Path(got.path()).read_bytes()

    assert len(content) == shared["size"]
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    assert rows[0] == list(COLUMNS)
    assert len(rows) - 1 == rows_said >= 1
    ada = [dict(zip(COLUMNS, row)) for row in rows[1:] if row[COLUMNS.index("email")] == ADA]
    assert ("approve", GRACE, "ok") in [(row["action"], row["actor"], row["outcome"]) for row in ada]


def test_a_shared_file_downloads_only_for_someone_who_can_see_its_conversation(demo: Demo, decided: None) -> None:
    assert demo.post("slash", {"user": GRACE, "text": "/invites export"})[0] == 200
    shared, _ = exported_file(demo, GRACE)

    status, headers, body = download(demo, f"/api/files/{shared['id']}?user={GRACE}")
    assert status == 200
    assert headers["Content-Type"] == "text/csv"
    assert headers["Content-Disposition"] == (f"attachment; filename=\"{shared['name']}\"; filename*=UTF-8''{shared['name']}")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body.decode("utf-8").splitlines()[0] == ",".join(f'"{c}"' for c in COLUMNS)

    assert download(demo, f"/api/files/{shared['id']}?user={ALAN}")[0] == 403  # not in Alan's direct messages
    assert download(demo, f"/api/files/F0NOSUCHFILE?user={GRACE}")[0] == 404
    assert download(demo, f"/api/files/{shared['id']}")[0] == 400  # nobody picked


@pytest.mark.parametrize(("width", "height"), NARROW, ids=[f"{w}x{h}" for w, h in NARROW])
def test_a_narrow_window_keeps_the_channel_wide_and_the_page_from_scrolling_sideways(
    browser: Any, demo: Demo, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    with opened(browser, demo, width, height) as page:
        column = page.locator("#channel-messages").bounding_box()
        assert column is not None
        assert column["width"] >= min(300, width) and column["width"] >= 0.75 * width, column
        card = page.locator("#channel-messages .message:not(.ephemeral)").last
        assert card.evaluate("c => c.scrollWidth <= c.clientWidth"), "the card is cut off"
        expect(page.get_by_label("Message box")).to_be_in_viewport()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"

        controls = page.locator(".controls")  # below Slack, the full width of the window
        expect(controls).to_be_visible()
        box = controls.bounding_box()
        assert box is not None and box["y"] >= height - 1 and box["width"] >= 0.9 * width, box
        page.locator("#nav-home").click()
        expect(page.locator("#home .bk-header").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the Home scrolls sideways"


def _within_window(page: Any, locator: Any) -> None:
    box = locator.bounding_box()
    inner = page.evaluate("[window.innerWidth, window.innerHeight]")
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= inner[1], (box, inner)
    assert 0 <= box["x"] and box["x"] + box["width"] <= inner[0], (box, inner)


@pytest.mark.parametrize(("width", "height"), [(1440, 900), *NARROW], ids=["1440x900", *(f"{w}x{h}" for w, h in NARROW)])
def test_sync_now_shows_its_summary_next_to_the_button(browser: Any, demo: Demo, width: int, height: int) -> None:
    from playwright.sync_api import expect

    with opened(browser, demo, width, height) as page:
        page.locator("#nav-home").click()
        sync = page.get_by_role("button", name="Sync now")
        expect(sync).to_be_visible()
        page.locator("#app-scroll").evaluate("s => { s.scrollTop = s.scrollHeight; }")  # down to Settings, at the end
        expect(sync).to_be_in_viewport()
        expect(page.locator('#home [data-block-id="home-notice"]')).to_have_count(0)
        sync.click()  # no scrolling from here on

        notice = page.locator('#home [data-block-id="home-notice"]')
        expect(notice).to_contain_text(re.compile(r"sync: \d+ new, \d+ closed elsewhere, \d+ unchanged, \d+ errors"))
        expect(notice).to_be_visible()
        _within_window(page, notice)
        _within_window(page, sync)
        gap = sync.bounding_box()["y"] - (notice.bounding_box()["y"] + notice.bounding_box()["height"])
        assert 0 <= gap < 120, f"the summary is {gap} px from the button"


@pytest.mark.parametrize(("width", "height"), [(1440, 900), *NARROW], ids=["1440x900", *(f"{w}x{h}" for w, h in NARROW)])
def test_what_a_demo_control_did_shows_next_to_it(browser: Any, demo: Demo, width: int, height: int) -> None:
    from playwright.sync_api import expect

    with opened(browser, demo, width, height) as page:
        try:
            arm = page.get_by_role("button", name="Arm the fault")
            arm.scroll_into_view_if_needed()
            page.locator("#fault-approve").uncheck()
            page.locator("#fault-deny").uncheck()
            arm.click()
            result = page.locator("#fault-result")
            expect(result).to_have_text("Pick approve, deny or both.")
            _within_window(page, result)

            page.locator("#fault-deny").check()
            page.select_option("#fault-kind", "ratelimited")
            arm.click()
            expect(result).to_have_text("Armed: Slack answers HTTP 429 with Retry-After: 2 (invitebot waits, then retries).")
            _within_window(page, result)
            assert 0 <= result.bounding_box()["y"] - arm.bounding_box()["y"] < 150
        finally:
            demo.post("disarm", {})

        page.get_by_label("Message box").fill("hello")
        page.get_by_label("Message box").press("Enter")
        said = page.locator("#composer-result")
        expect(said).to_have_text("Here the message box runs slash commands only, such as /invites help.")
        _within_window(page, said)


def test_file_sizes_read_as_words(browser: Any, demo: Demo) -> None:
    with opened(browser, demo, 1280, 900) as page:
        sizes = [0, 1, 312, 1023, 1024, 1536, 10 * 1024 - 1, 20 * 1024, 1024**2 - 1, 3_355_443, 5 * 1024**3, 4096 * 1024**3]
        shown = page.evaluate("async (sizes) => sizes.map((await import('/files.js')).sizeWords)", sizes)
    assert shown == [
        "0 bytes",
        "1 byte",
        "312 bytes",
        "1023 bytes",
        "1 KB",
        "1.5 KB",
        "10 KB",
        "20 KB",
        "1 MB",
        "3.2 MB",
        "5 GB",
        "4096 GB",
    ]
