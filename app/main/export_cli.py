"""`invitebot export --since … [--until …] [--format csv|jsonl] [--out FILE]`: the audit log for auditors, offline.

Only DATABASE_URL is read, so no Slack token is needed; the database is never created or migrated. A time that cannot be read, an --until that is not after
--since, or a file that cannot be written ends the command with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from contextlib import nullcontext
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import IO, ContextManager

from app.config import DatabaseSettings
from app.core import export
from app.slack.api.errors import documented_codes

FORMATS = {"csv": export.write_csv, "jsonl": export.write_jsonl}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WANTED = "a date like 2026-01-01 (midnight UTC) or a time like 2026-01-05T09:30:00Z"


class UsageProblem(ValueError):
    """An argument that cannot be used, in the one line the command prints."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export", help="write every decision and attempt in a time window, oldest first, as CSV or JSON lines"
    )
    parser.add_argument("--since", help="the window's start, included: 2026-01-01 (midnight UTC) or 2026-01-05T09:30:00Z")
    parser.add_argument("--until", help="the window's end, not included (default: now), written the same way")
    parser.add_argument("--format", default="csv", help="csv (the default) or jsonl, one JSON object per line")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of standard output")


def moment(option: str, text: str) -> datetime:
    """A YYYY-MM-DD date (midnight UTC) or an ISO 8601 time (UTC when it names no offset)."""
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"{option} {text!r} is neither a date nor a time: write {_WANTED}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def window(args: argparse.Namespace) -> tuple[datetime, datetime | None]:
    if not args.since:
        raise UsageProblem(f"--since is needed: write {_WANTED}")
    since = moment("--since", args.since)
    until = moment("--until", args.until) if args.until else None
    if until is not None and until <= since:
        raise UsageProblem(f"--until {args.until} is not after --since {args.since}: the window would be empty")
    return since, until


def run(args: argparse.Namespace, settings: DatabaseSettings) -> int:
    """Write the rows; exit 2 (one line on stderr) when an argument or the output file cannot be used."""
    try:
        since, until = window(args)
        if args.format not in FORMATS:
            raise UsageProblem(f"--format {args.format!r} is not one of csv, jsonl")
    except UsageProblem as exc:
        return _usage(exc)
    from app.main.container import database_options
    from app.store.db import make_engine, make_read_session_factory
    from app.store.migrate import require_current

    engine = make_engine(settings.DATABASE_URL, database_options(settings).for_migrations())
    try:
        require_current(engine)  # before FILE is made: a database that cannot be read leaves nothing behind
        try:
            target = _open(args.out)
        except UsageProblem as exc:
            return _usage(exc)
        with target as out, make_read_session_factory(engine)() as session:
            count = FORMATS[args.format](export.rows(session, since, until, slack_codes=documented_codes()), out)
    finally:
        engine.dispose()
    if args.out is not None:
        print(f"invitebot export: {count} rows written to {args.out}", file=sys.stderr)
    return 0


def _usage(problem: UsageProblem) -> int:
    print(f"invitebot export: {problem}", file=sys.stderr)
    return 2


def _open(path: Path | None) -> ContextManager[IO[str]]:
    """The output: standard output, or FILE (its folder must exist)."""
    if path is None:
        return nullcontext(sys.stdout)
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageProblem(f"cannot write {path}: {exc.strerror}") from None
