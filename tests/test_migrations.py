"""The schema comes only from migrations, and they agree with the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from alembic import command
from sqlalchemy import inspect

from app.store.db import make_engine
from app.store.migrate import alembic_config, check_models_match, upgrade_to_head
from tests.support.databases import both_databases


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


def test_migrate_command(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "latest schema" in result.stdout
