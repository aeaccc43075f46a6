"""The audit export: every decision_log row in a time window, oldest first, with its request, as CSV or JSON lines.

One module builds the rows for `invitebot export` and `/invites export`, so both give the same columns (docs/audit.md
describes them; the CSV header is the contract). Rows are read from the database in batches and written as they come,
so a large log never sits in memory.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timezone
from typing import IO, Collection, Iterable, Iterator

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core import audit
from app.store.models import DecisionLog, InviteRequest, Source, WorkspaceName

BATCH = 500  # rows fetched from the database at a time
GUEST_TYPES = ("restricted", "ultra_restricted")  # whose date_expire is when the guest account ends
# OWASP's advice against CSV (formula) injection: a cell a spreadsheet would read as a formula starts with a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What starts with + or - and still is no formula: a lone sign (the export's `-` placeholder) or a plain number.
_NOT_A_FORMULA = re.compile(r"[+-]|[+-]?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class ExportRow:
    """One attempt as the export shows it; the field order is the column order."""

    at: str
    request_id: str
    workspace: str | None
    workspace_name: str | None
    email: str | None
    invite_type: str | None
    expires: str | None
    action: str
    actor: str | None
    source: str
    outcome: str
    slack_error: str | None
    rule: str | None
    batch_id: int | None
    detail: str | None
    status: str | None
    decided_by: str | None
    decided_at: str | None


COLUMNS = tuple(field.name for field in fields(ExportRow))


def iso(moment: datetime | None) -> str | None:
    """UTC, to the second, with a Z: 2026-01-05T09:30:00Z."""
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def slack_error(outcome: str, slack_codes: Collection[str]) -> str | None:
    """The outcome when it is one of `slack_codes`, the error codes Slack documents for the methods invitebot calls."""
    return outcome if outcome in slack_codes else None


def rows(
    session: Session,
    since: datetime,
    until: datetime | None = None,
    *,
    slack_codes: Collection[str],
    teams: Collection[str] | None = None,
    viewer: str | None = None,
) -> Iterator[ExportRow]:
    """Every decision_log row with since <= at < until (no upper bound without `until`), oldest first.

    `slack_codes`: the outcomes that are Slack's own error codes (app.slack.api.errors.documented_codes), shown again in
    the slack_error column.
    `teams`: only rows about requests of these workspaces (a workspace approver's reach), and the `viewer`'s own.
    """
    # A request's own columns, else those of the direct invitation the entry names (app.core.invites).
    workspace = func.coalesce(InviteRequest.team_id, DecisionLog.team_id)
    query = (
        select(
            DecisionLog.at,
            DecisionLog.request_id,
            workspace,
            func.coalesce(InviteRequest.team_name, WorkspaceName.name),
            func.coalesce(InviteRequest.email, DecisionLog.email),
            func.coalesce(InviteRequest.invite_type, DecisionLog.invite_type),
            func.coalesce(InviteRequest.date_expire, DecisionLog.expires_at),
            DecisionLog.action,
            DecisionLog.actor_id,
            DecisionLog.source,
            DecisionLog.outcome,
            InviteRequest.policy_rule,
            DecisionLog.batch_id,
            DecisionLog.detail,
            InviteRequest.status,
            InviteRequest.decided_by,
            InviteRequest.decided_at,
        )
        .outerjoin(InviteRequest, InviteRequest.id == DecisionLog.request_id)
        .outerjoin(WorkspaceName, WorkspaceName.id == workspace)
        .where(DecisionLog.at >= since)
        .order_by(DecisionLog.at, DecisionLog.id)
        .execution_options(yield_per=BATCH)
    )
    if until is not None:
        query = query.where(DecisionLog.at < until)
    if teams is not None:
        query = query.where(or_(workspace.in_(sorted(teams) or [""]), DecisionLog.actor_id == (viewer or "")))
    for at, request_id, team, team_name, email, kind, expires, action, actor, source, outcome, rule, batch, detail, status, by, decided in (
        session.execute(query)
    ):
        yield ExportRow(
            at=iso(at) or "",
            request_id=request_id,
            workspace=team,
            workspace_name=team_name,
            email=email,
            invite_type=kind,
            expires=iso(expires) if kind in GUEST_TYPES else None,
            action=action,
            actor=actor,
            source=source,
            outcome=outcome,
            slack_error=slack_error(outcome, slack_codes),
            rule=rule,
            batch_id=batch,
            detail=detail,
            status=status,
            decided_by=by,
            decided_at=iso(decided),
        )


def csv_cell(value: object) -> str:
    """A value as a CSV cell: empty for none, and a leading quote before a formula: a cell starting with =, +, -, @,
    tab or CR (OWASP), unless it is a lone sign or a plain number."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) and not _NOT_A_FORMULA.fullmatch(text) else text


def write_csv(export: Iterable[ExportRow], out: IO[str]) -> int:
    """The header, then a line per row, every cell quoted; returns how many rows were written."""
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    count = 0
    for row in export:
        writer.writerow([csv_cell(value) for value in astuple(row)])
        count += 1
    return count


def write_jsonl(export: Iterable[ExportRow], out: IO[str]) -> int:
    """One JSON object per line, keys in column order, values as stored (null for none); returns how many."""
    count = 0
    for row in export:
        out.write(json.dumps(dict(zip(COLUMNS, astuple(row))), ensure_ascii=False) + "\n")
        count += 1
    return count


def record_sent(sessions: sessionmaker[Session], actor_id: str, days: int, count: int, outcome: str = "ok") -> None:
    """Audit an export sent from Slack (or Slack's error when it could not be): who, when, how many days and rows."""
    with sessions.begin() as session:
        audit.record(
            session, request_id="-", actor_id=actor_id, action="export", source=Source.SLASH.value, outcome=outcome,
            detail=f"the last {days} days, {count} rows",
        )
