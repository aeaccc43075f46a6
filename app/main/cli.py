"""`invitebot serve | work | socket | sync | migrate | outbox | doctor | policy | export | demo`.

A missing or malformed setting, a database that cannot be opened, or (for `export` and `outbox`, which only read)
one without the current schema ends the command with one line on stderr and exit status 2; so does `serve` on a port
it cannot listen on. So does a policy file (INVITES_POLICY) that cannot be used, with a `file:line: what` line per problem,
before anything starts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import version
from typing import Callable

from app import logs
from app.config import ConfigError, DatabaseSettings, Settings, load
from app.core import policy
from app.core.policy import Policy, PolicyError
from app.main import export_cli, policy_cli
from app.store.db import DatabaseUnavailable
from app.store.migrate import SchemaNotCurrent
from app.store.models import OutboxJob

log = logging.getLogger(__name__)

ENVIRONMENT = (
    "Settings come from the environment (DATABASE_URL, SLACK_*, INVITES_*; see docs/configuration.md), "
    "not from options; `invitebot doctor` checks them."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invitebot", description="Approve Slack invite requests from a channel.", epilog=ENVIRONMENT)
    parser.add_argument("--version", action="version", version=f"invitebot {version('invitebot')}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server for Slack, and a worker process beside it")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="serve Slack's requests only; `invitebot work` runs elsewhere (also INVITES_SERVE_WORKER=false)",
    )
    work = commands.add_parser(
        "work", help="run the worker: the Slack calls decisions and cards need, the periodic sync, reminders; no HTTP"
    )
    work.add_argument("--beside-serve", action="store_true", help=argparse.SUPPRESS)  # serve's own: it said the policy already
    commands.add_parser("socket", help="connect to Slack over Socket Mode (and run the periodic sync)")
    commands.add_parser("sync", help="run one reconcile pass with Slack and print its summary")
    commands.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    outbox = commands.add_parser("outbox", help="list the Slack work waiting or given up for good; retry or drop what failed")
    choice = outbox.add_mutually_exclusive_group()
    choice.add_argument("--retry-failed", action="store_true", help="queue every job that failed for good again, due now")
    choice.add_argument("--drop-failed", action="store_true", help="delete every job that failed for good")
    commands.add_parser("doctor", help="check the configuration, policy, database, tokens, workspaces, channel and approver groups")
    policy_cli.add_parser(commands)
    export_cli.add_parser(commands)
    demo = commands.add_parser("demo", help="try invitebot in a browser: a Slack stand-in, a seeded org and the real bot")
    demo.add_argument("--port", type=int, default=8080, help="port of the demo page on 127.0.0.1; 0 picks a free port")
    _describe(commands)
    args = parser.parse_args(argv)
    logs.configure()
    try:
        if args.command == "demo":
            from app.demo.run import run_demo

            return run_demo(args.port)
        if args.command == "doctor":
            return _doctor()
        if args.command == "policy":
            return policy_cli.run(args)
        if args.command == "migrate":
            return _migrate(load(DatabaseSettings))
        if args.command == "outbox":
            return _outbox(load(DatabaseSettings), retry=args.retry_failed, drop=args.drop_failed)
        if args.command == "export":
            return export_cli.run(args, load(DatabaseSettings))
        settings = load(Settings)
        active = _check_policy(settings)
        if args.command == "serve":
            settings.require("SLACK_SIGNING_SECRET")
            _check_database(settings)
            _announce(active)
            from app.main.serve import serve_forever

            return serve_forever(settings, args.host, args.port, worker=settings.INVITES_SERVE_WORKER and not args.no_worker)
        if args.command == "work":
            _check_database(settings)
            if not args.beside_serve:
                _announce(active)
            from app.main.work import run_worker

            return run_worker(settings)
        if args.command == "socket":
            settings.require("SLACK_APP_TOKEN")
            _check_database(settings)
            _announce(active)
            from app.main.socket_mode import run_socket_mode

            return run_socket_mode(settings)
        return _sync(settings)
    except (ConfigError, DatabaseUnavailable, SchemaNotCurrent) as exc:
        print(f"invitebot: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        for line in exc.problems:  # `file:line: what`, as editors and `invitebot policy check` show them
            print(line, file=sys.stderr)
        return 2


def _describe(commands: argparse._SubParsersAction) -> None:
    """Every subcommand's --help opens with what it does and closes with where its settings come from."""
    for choice in commands._choices_actions:
        sub = commands.choices[choice.dest]
        sub.description = sub.description or choice.help
        sub.epilog = ENVIRONMENT
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe(action)


def _check_policy(settings: Settings) -> Policy | None:
    """Right after the settings, before anything starts (gunicorn included): INVITES_POLICY, when set, can be used, or
    PolicyError lists every problem. The Runtime reads the file again as it is built: a change takes effect on restart.
    """
    return policy.load(settings.INVITES_POLICY) if settings.INVITES_POLICY is not None else None


def _announce(active: Policy | None) -> None:
    """`serve`, `work` and `socket` say once, as they start, which policy is in force."""
    if active is not None:
        log.info("policy active: %s, %s", active.path, active.summary())


def _check_database(settings: DatabaseSettings) -> None:
    """Before anything starts: the database opens (its default folder is made), or DatabaseUnavailable says why."""
    from app.main.container import database_options
    from app.store.db import ensure_reachable, make_engine

    engine = make_engine(settings.DATABASE_URL, database_options(settings))
    try:
        ensure_reachable(engine)
    finally:
        engine.dispose()


def _sync(settings: Settings) -> int:
    """One pass with only what a pass needs: no listener or background pools, no approvers."""
    from app.main.container import SyncRuntime
    from app.store.db import ensure_reachable
    from app.store.migrate import upgrade_to_head

    runtime = SyncRuntime.build(settings)
    try:
        ensure_reachable(runtime.engine)
        upgrade_to_head(runtime.engine)
        summary, failures, held = runtime.sync()
    finally:
        runtime.close()
    print(summary.line())
    if failures or held:  # the cards (or DMs) it owed that Slack refused for good, as `invitebot outbox` lists them
        waiting = f", {_count(held, 'post')} held until their channel takes posts" if held else ""
        print(f"outbox: {len(failures)} failed for good{waiting}")
        for job in failures:
            print(_failed_line(job, settings.routes.setting_of))
    return 1 if summary.errors or failures or held else 0


def _doctor() -> int:
    """Reads the settings itself: every problem is a row of its table, not the end of the run."""
    from app.main.doctor import diagnose, report

    checks = diagnose()
    print(report(checks))
    return 0 if all(check.ok for check in checks) else 1


def _outbox(settings: DatabaseSettings, *, retry: bool, drop: bool) -> int:
    """What the outbox holds, by state, and a line per job given up for good; or retry or drop those."""
    from app.core import outbox
    from app.core.audit import now
    from app.main.container import database_options
    from app.store.db import make_engine, make_session_factory
    from app.store.migrate import require_current

    engine = make_engine(settings.DATABASE_URL, database_options(settings))
    try:
        require_current(engine)
        sessions = make_session_factory(engine)
        if retry:
            print(f"invitebot: {_count(outbox.retry_failed(sessions), 'failed job')} queued again")
            return 0
        if drop:
            print(f"invitebot: {_count(outbox.drop_failed(sessions), 'failed job')} dropped")
            return 0
        counts = outbox.health(sessions, since=now()).counts
        print(f"outbox: {counts['queued']} queued, {counts['running']} running, {counts['dead']} failed for good")
        setting_of = _setting_of()
        for job in outbox.failed(sessions):
            print(_failed_line(job, setting_of))
    finally:
        engine.dispose()
    return 0


def _count(count: int, noun: str) -> str:
    """"1 failed job", "2 failed jobs"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _setting_of() -> Callable[[str], str]:
    """What names a channel in the fix for a job it refused: its setting when the settings are all there (`outbox` needs
    only DATABASE_URL), else its id."""
    try:
        return load(Settings).routes.setting_of
    except ConfigError:
        return str


def _failed_line(job: OutboxJob, setting_of: Callable[[str], str]) -> str:
    """One job given up for good: what, when, Slack's error code and, where the approvals channel is the cause, the fix
    (`setting_of` names the setting that names a channel)."""
    from app.slack.jobs.cards import fix

    when = job.finished_at.isoformat(timespec="seconds") if job.finished_at else "?"
    line = f"  job {job.id}: {job.kind} for {job.request_id or '-'} failed at {when} after {job.attempts} attempts: {job.last_error}"
    advice = fix(job.kind, job.last_error, setting_of(str(job.payload.get("channel"))))
    return f"{line} — {advice}" if advice else line


def _migrate(settings: DatabaseSettings) -> int:
    """The only command that creates or upgrades the schema on its own; it says what it applied."""
    from app.main.container import database_options
    from app.store.db import ensure_reachable, make_engine
    from app.store.migrate import upgrade_to_head

    engine = make_engine(settings.DATABASE_URL, database_options(settings).for_migrations())
    try:
        ensure_reachable(engine)
        before, after = upgrade_to_head(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"invitebot: the database is already at {after}, the latest schema")
    elif before is None:
        print(f"invitebot: created the schema, at {after}")
    else:
        print(f"invitebot: migrated the database {before} → {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
