"""The schema comes only from migrations, and they agree with the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from app.core import lifecycle
from app.store.db import make_engine
from app.store.migrate import alembic_config, check_models_match, upgrade_to_head
from app.store.models import InviteRequest
from tests.support.databases import both_databases
from tests.support.stand_in import TEAM

STATUSES = lifecycle.OPEN + lifecycle.CLOSED


@both_databases
def test_upgrade_on_an_empty_database_matches_the_models(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_to_head(engine)
        assert {"invite_requests", "request_cards", "decision_log", "leases", "alembic_version"} <= set(
            inspect(engine).get_table_names()
        )
        check_models_match(engine)  # `alembic check`: raises if models and migrations disagree
    finally:
        engine.dispose()


@both_databases
def test_downgrade_to_base_and_back(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            command.downgrade(alembic_config(connection), "base")
            connection.commit()
        assert "invite_requests" not in inspect(engine).get_table_names()
        upgrade_to_head(engine)
        check_models_match(engine)
    finally:
        engine.dispose()


@both_databases
def test_replicas_starting_together_migrate_once(database_url):
    engines = [make_engine(database_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(upgrade_to_head, engines))
        check_models_match(engines[0])
    finally:
        for engine in engines:
            engine.dispose()


def _migrate_command(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_migrate_command_says_what_it_applied(database_url):
    engine = make_engine(database_url)
    try:
        _migrate(engine, "upgrade", "0003")
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    first, again = _migrate_command(database_url), _migrate_command(database_url)

    assert (first.returncode, first.stdout) == (0, f"invitebot: migrated the database 0003 → {head}\n"), first.stderr
    assert (again.returncode, again.stdout) == (0, f"invitebot: the database is already at {head}, the latest schema\n")


def test_migrate_command_on_an_empty_database(database_url):
    result = _migrate_command(database_url)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"invitebot: created the schema, at {ScriptDirectory.from_config(alembic_config()).get_current_head()}\n"


def _migrate(engine: Engine, how: str, revision: str) -> None:
    with engine.connect() as connection:
        getattr(command, how)(alembic_config(connection), revision)
        connection.commit()


def _add(engine: Engine, request_id: str, status: str) -> None:
    moment = datetime.now(timezone.utc)
    row = dict(
        id=request_id, team_id=TEAM, email=f"{request_id.lower()}@example.com", requester_ids=[], channel_ids=[],
        invite_type="full_member", date_created=moment, status=status, first_seen=moment, last_seen=moment,
    )
    with engine.begin() as connection:
        connection.execute(insert(InviteRequest), row)


def _statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(InviteRequest.id, InviteRequest.status)).all())


@both_databases
def test_the_database_takes_every_status_a_request_can_have_and_refuses_any_other(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_to_head(engine)
        for n, status in enumerate(STATUSES):
            _add(engine, f"Ir{n}", status)
        with pytest.raises(IntegrityError):
            _add(engine, "IrBOGUS", "bogus")
        assert _statuses(engine) == {f"Ir{n}": status for n, status in enumerate(STATUSES)}
    finally:
        engine.dispose()


@both_databases
def test_the_status_check_keeps_the_requests_stored_before_it_and_goes_on_downgrade(database_url):
    engine = make_engine(database_url)
    try:
        _migrate(engine, "upgrade", "0009")
        for n, status in enumerate(STATUSES):
            _add(engine, f"Ir{n}", status)
        stored = _statuses(engine)

        upgrade_to_head(engine)
        assert _statuses(engine) == stored
        with pytest.raises(IntegrityError):
            _add(engine, "IrBOGUS", "bogus")
        assert [c["name"] for c in inspect(engine).get_check_constraints("invite_requests")] == ["ck_invite_requests_status"]

        _migrate(engine, "downgrade", "0009")
        assert _statuses(engine) == stored
        assert inspect(engine).get_check_constraints("invite_requests") == []
    finally:
        engine.dispose()


@both_databases
def test_decisions_synced_from_slacks_admin_pages_read_outside_after_the_upgrade_and_sync_again_after_downgrade(database_url):
    engine = make_engine(database_url)
    moment = datetime.now(timezone.utc)
    logged = [("Ir1", "sync", "closed_elsewhere"), ("Ir2", "sync", "gone"), ("Ir3", "button", "ok")]
    try:
        _migrate(engine, "upgrade", "0015")
        with engine.begin() as connection:
            for request_id, source, outcome in logged:
                connection.execute(
                    text("INSERT INTO decision_log (request_id, action, source, outcome, at) VALUES (:r, 'deny', :s, :o, :at)"),
                    dict(r=request_id, s=source, o=outcome, at=moment),
                )

        upgrade_to_head(engine)
        assert _sources(engine) == {"Ir1": "outside", "Ir2": "sync", "Ir3": "button"}

        _migrate(engine, "downgrade", "0015")
        assert _sources(engine) == {"Ir1": "sync", "Ir2": "sync", "Ir3": "button"}
    finally:
        engine.dispose()


def _sources(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT request_id, source FROM decision_log")).all())
