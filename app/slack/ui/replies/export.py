"""/invites export: the audit file's name, the message it comes with, and why Slack did not take it."""

from __future__ import annotations

from datetime import datetime

from app.core.export import COLUMNS
from app.slack.api.errors import Kind, classify
from app.slack.ui.replies.words import _count

_EXPORT_FAILED = {
    "missing_scope": "invitebot's bot token lacks files:write or im:write: an admin adds both to the app (manifest.yml "
    "lists them) and reinstalls it",
    "file_uploads_disabled": "file uploads are turned off in this workspace: an admin can allow them, or run "
    "`invitebot export` where invitebot runs",
    "file_uploads_except_images_disabled": "only images may be uploaded in this workspace: an admin can allow other "
    "files, or run `invitebot export` where invitebot runs",
    "file_type_not_allowed": "this workspace does not accept CSV files: an admin can allow them, or run "
    "`invitebot export` where invitebot runs",
    "storage_limit_reached": "the workspace's file storage is full: an admin can free some",
    "user_not_found": "Slack would not open a direct message between you and invitebot",
    "user_not_visible": "Slack would not open a direct message between you and invitebot",
    "upload_refused": "Slack's upload address refused the file",
}


def export_filename(since: datetime, until: datetime) -> str:
    return f"invitebot-audit-{since:%Y-%m-%d}-to-{until:%Y-%m-%d}.csv"


def export_comment(rows: int, since: datetime, until: datetime) -> str:
    """The message the file arrives with, in the asker's direct messages with invitebot."""
    return (
        f"invitebot's audit export: every decision and attempt from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC, "
        f"{_count(rows, 'row')}, oldest first. Its columns: {', '.join(COLUMNS)}."
    )


def export_sent(rows: int, days: int, filename: str) -> str:
    return f"The audit export of the last {_count(days, 'day')} is in your direct messages with invitebot: {filename}, {_count(rows, 'row')}."


def export_queued(ahead: int, days: int) -> str:
    """Another export is being written: invitebot writes one at a time."""
    others = "another audit export is" if ahead == 1 else f"{ahead} other audit exports are"
    return (
        f"Your audit export of the last {_count(days, 'day')} is queued: {others} being written first, one at a time. "
        "It comes to your direct messages with invitebot when it is ready; there is no need to ask again."
    )


def export_empty(days: int) -> str:
    return f"invitebot recorded no decisions or attempts in the last {_count(days, 'day')}, so there is no file to send."


def export_failed(code: str, days: int) -> str:
    """Slack would not take the file: why, and how to try again."""
    again = f"`/invites export {days}`"
    if code == "file_upload_size_restricted":
        return f"The audit export is larger than this workspace accepts. Try fewer days, like `/invites export {max(1, days // 2)}`."
    if code in _EXPORT_FAILED:
        return f"invitebot could not send the audit export: {_EXPORT_FAILED[code]}. Then try {again} again."
    if classify(code).kind is Kind.TRANSIENT:
        return f"Slack did not take the audit export just now (`{code}`). Try {again} again in a minute."
    return (
        f"invitebot could not send the audit export: Slack answered `{code}`. Try {again} again; if it keeps failing, "
        "`invitebot export` where invitebot runs writes the same file."
    )
