"""`/invites export [days]`: the audit log as a CSV file in the asker's direct messages with invitebot, one at a time.

The rows come from the database in batches (app.core.export) and go to a temporary file as they come; the file is
uploaded from disk a block at a time. So memory stays flat however many rows the window holds. A process writes one
export at a time (Runtime.exports): one asked for meanwhile waits its turn, and its asker is told so at once.
"""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any

from app.core import export
from app.slack.api.errors import documented_codes
from app.slack.api.gateway import SlackCallFailed
from app.slack.jobs.answers import tell_now
from app.slack.listeners.after_ack import run_in_turn
from app.slack.listeners.command_parse import Command
from app.slack.listeners.surfaces import reply_to_of
from app.slack.runtime import Runtime
from app.slack.ui import replies

log = logging.getLogger(__name__)


def queue(runtime: Runtime, command: Command, body: dict[str, Any]) -> tuple[str, None] | None:
    """Queue the export: its asker hears now only when others are ahead of it, and hears how it went once it is sent."""
    reply_to = reply_to_of(body)
    assert reply_to is not None  # a slash command always has a response_url and a user
    ahead = run_in_turn(runtime, reply_to, send, runtime, reply_to, body["user_id"], body.get("team_id"), command.count)
    return (replies.export_queued(ahead, command.count), None) if ahead else None


def send(runtime: Runtime, reply_to: dict[str, str], user_id: str, team_id: str | None, days: int) -> None:
    """The last `days` days of the audit log, of the workspaces the asker decides and their own attempts, sent to them."""
    until = datetime.now(timezone.utc)
    since = until - timedelta(days=days)
    teams = runtime.approvers.reach(user_id, team_id).teams
    with io.TextIOWrapper(tempfile.TemporaryFile(prefix="invitebot-export-"), encoding="utf-8", newline="") as out:
        with runtime.reads() as session:
            found = export.rows(session, since, until, slack_codes=documented_codes(), teams=teams, viewer=user_id)
            rows = export.write_csv(found, out)
        out.flush()
        if not rows:
            tell_now(runtime, reply_to, replies.export_empty(days))
            return
        length = out.buffer.tell()
        out.buffer.seek(0)
        filename = replies.export_filename(since, until)
        comment = replies.export_comment(rows, since, until)
        try:
            runtime.gateway.send_file(user_id, filename=filename, file=out.buffer, length=length, title=filename, comment=comment)
        except SlackCallFailed as exc:
            log.warning("could not send an audit export: %s %s", exc.method, exc.code)
            export.record_sent(runtime.sessions, user_id, days, rows, outcome=exc.code)
            tell_now(runtime, reply_to, replies.export_failed(exc.code, days))
            return
    export.record_sent(runtime.sessions, user_id, days, rows)
    tell_now(runtime, reply_to, replies.export_sent(rows, days, filename))
