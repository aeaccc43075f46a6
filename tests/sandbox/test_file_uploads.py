"""conversations.open and Slack's external file upload (files.getUploadURLExternal, the upload URL,
files.completeUploadExternal), driven through slack_sdk's own files_upload_v2 and plain HTTP."""

from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from slack_sdk import WebClient

from app.sandbox import FakeSlack
from tests.sandbox.conftest import CHANNEL, USER, error_of

CSV = b'"at","email"\r\n"2026-01-05T09:30:00Z","ada@example.com"\r\n'


def post(url: str, body: bytes) -> tuple[int, bytes]:
    """POST raw bytes as slack_sdk does, returning the status and body whatever the status."""
    try:
        with urlopen(Request(url, data=body, method="POST"), timeout=10) as answer:
            return answer.status, answer.read()
    except HTTPError as error:
        return error.code, error.read()


def test_files_upload_v2_shares_the_bytes_in_a_direct_message(fake: FakeSlack, bot: WebClient) -> None:
    opened = bot.conversations_open(users=USER)
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and opened["already_open"] is False
    assert bot.conversations_open(users=USER)["already_open"] is True
    assert bot.conversations_open(channel=dm)["channel"]["id"] == dm

    done = bot.files_upload_v2(channel=dm, filename="audit.csv", content=CSV, title="Audit", initial_comment="Here it is")

    [message] = fake.direct_messages(USER)
    assert message["text"] == "Here it is"
    [shared] = message["files"]
    assert shared == {
        "id": done["file"]["id"], "name": "audit.csv", "title": "Audit", "size": len(CSV),
        "filetype": "csv", "pretty_type": "CSV", "mimetype": "text/csv",
    }
    uploaded = fake.uploaded_file(shared["id"])
    assert uploaded["content"] == CSV and uploaded["shared_in"] == [dm]
    assert [c.method for c in fake.calls()][-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


def test_a_shared_file_says_its_type_as_slack_does(fake: FakeSlack, bot: WebClient) -> None:
    dm = bot.conversations_open(users=USER)["channel"]["id"]
    for name in ("notes.TXT", "dump.bin", "README"):
        bot.files_upload_v2(channel=dm, filename=name, content=b"x")
    kinds = [(f["name"], f["filetype"], f["pretty_type"], f["mimetype"]) for m in fake.direct_messages(USER) for f in m["files"]]
    assert kinds == [
        ("notes.TXT", "text", "Plain Text", "text/plain"),
        ("dump.bin", "binary", "Binary", "application/octet-stream"),
        ("README", "binary", "Binary", "application/octet-stream"),
    ]


def test_get_upload_url_wants_a_filename_and_a_positive_length(fake: FakeSlack, bot: WebClient) -> None:
    call = bot.api_call
    assert error_of(call, api_method="files.getUploadURLExternal", params={"length": 10}) == "invalid_arguments"
    assert error_of(call, api_method="files.getUploadURLExternal", params={"filename": "a.csv"}) == "invalid_arguments"
    assert error_of(call, api_method="files.getUploadURLExternal", params={"filename": "a.csv", "length": "ten"}) == "invalid_arguments"
    assert error_of(bot.files_getUploadURLExternal, filename="a.csv", length=0) == "missing_argument"
    assert error_of(bot.files_getUploadURLExternal, filename="a.png", length=5, alt_txt="x" * 1001) == "alt_txt_too_large"
    answer = bot.files_getUploadURLExternal(filename="a.csv", length=5)
    assert answer["file_id"].startswith("F") and answer["upload_url"].startswith(fake.base_url + "/upload/v1/")


def test_the_upload_url_takes_exactly_the_length_promised(fake: FakeSlack, bot: WebClient) -> None:
    answer = bot.files_getUploadURLExternal(filename="a.csv", length=len(CSV))

    assert post(answer["upload_url"], CSV + b"extra")[0] == 400
    assert error_of(bot.files_completeUploadExternal, files=[{"id": answer["file_id"]}], channel_id=CHANNEL) == "file_not_found"
    assert post(answer["upload_url"], CSV) == (200, f"OK - {len(CSV)}".encode())
    assert post(fake.base_url + "/upload/v1/nosuchticket", CSV)[0] == 404


def test_complete_upload_errors(fake: FakeSlack, bot: WebClient) -> None:
    answer = bot.files_getUploadURLExternal(filename="a.csv", length=len(CSV))
    post(answer["upload_url"], CSV)
    file_id = answer["file_id"]

    def complete(**params: object) -> str:
        return error_of(bot.api_call, api_method="files.completeUploadExternal", params=params)

    assert complete() == "invalid_arguments"
    assert complete(files="not json") == "invalid_arguments"
    assert complete(files=json.dumps([])) == "invalid_arguments"
    assert complete(files=json.dumps([{"id": "F0NOSUCHFILE"}])) == "file_not_found"
    assert complete(files=json.dumps([{"id": file_id}]), channel_id="C0NOSUCH") == "channel_not_found"
    assert complete(files=json.dumps([{"id": file_id}]), channels=",".join(f"C{n:08d}" for n in range(101))) == (
        "channels_limit_exceeded"
    )

    assert bot.files_completeUploadExternal(files=[{"id": file_id, "title": "Kept private"}])["files"][0]["title"] == "Kept private"
    assert fake.uploaded_file(file_id)["shared_in"] == [] and fake.messages(CHANNEL) == []
    assert complete(files=json.dumps([{"id": file_id}]), channel_id=CHANNEL) == "file_not_found"  # only once


def test_conversations_open_errors(fake: FakeSlack, bot: WebClient) -> None:
    assert error_of(bot.api_call, api_method="conversations.open", params={}) == "users_list_not_supplied"
    assert error_of(bot.conversations_open, users="U0NOBODY") == "user_not_found"
    assert error_of(bot.conversations_open, channel=CHANNEL) == "channel_not_found"
