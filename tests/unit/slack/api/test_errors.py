"""Every error code Slack documents for the calls that decide and invite has a considered answer.

tests/data holds Slack's reference pages for admin.inviteRequests.approve and admin.users.invite, as Slack publishes
them."""

from __future__ import annotations

import re
from pathlib import Path

from app.slack.api.errors import Kind, classify, classify_invite, known_codes, known_invite_codes

DATA = Path(__file__).resolve().parents[3] / "data"


def test_every_error_code_slack_documents_has_a_considered_answer():
    page = (DATA / "000_13b1076fdf333395.txt").read_text()
    documented = set(re.findall(r"^([a-z_]+)\n", page.split("Errors", 1)[1], flags=re.MULTILINE))
    documented -= {"utf", "iso"}
    assert {"already_processed", "failed_to_send_invite", "not_an_admin"} <= documented
    assert documented <= known_codes(), documented - known_codes()
    for code in documented:
        assert classify(code).sentence.endswith((".", ")"))
    assert classify("something_new").kind is Kind.TRANSIENT


def test_every_admin_users_invite_error_has_a_considered_answer():
    page = (DATA / "002_a60cdea5efdbdcd7.txt").read_text()
    documented = set(re.findall(r"^([a-z_]+)\n", page.split("\nError\nDescription\n", 1)[1], flags=re.MULTILINE))
    assert {"already_in_team", "invalid_email", "failed_to_validate_expiration", "user_disabled"} <= documented
    assert documented <= known_invite_codes(), documented - known_invite_codes()
    for code in documented:
        assert "Nothing was decided" not in classify_invite(code).sentence
