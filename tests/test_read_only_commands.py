"""`invitebot export` and `invitebot outbox` only read: they never create or migrate the database they are pointed at."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url

from app.store.db import make_engine, shown
from app.store.migrate import alembic_config
from tests.support.databases import both_databases
from tests.test_migrations import _migrate

READERS = [["export", "--since", "2026-01-01"], ["outbox"]]


def _invitebot(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _tables(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("args", READERS, ids=lambda args: args[0])
def test_with_no_database_url_nothing_is_created_and_the_line_says_to_migrate(tmp_path, args):
    result = _invitebot(args, tmp_path)

    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    database = tmp_path / "data" / "invitebot.db"
    assert result.stderr.splitlines() == [f"invitebot: no invitebot schema at sqlite:///{database}; run `invitebot migrate`"]
    assert list(tmp_path.iterdir()) == []  # no ./data, no database


@both_databases
@pytest.mark.parametrize("args", READERS, ids=lambda args: args[0])
def test_an_empty_database_stays_empty(tmp_path, database_url, args):
    if database_url.startswith("sqlite"):
        Path(database_url.removeprefix("sqlite:///")).touch()  # an empty SQLite file

    result = _invitebot(args, tmp_path, DATABASE_URL=database_url)

    assert result.returncode == 2, result.stdout
    assert result.stderr.splitlines() == [f"invitebot: no invitebot schema at {shown(make_url(database_url))}; run `invitebot migrate`"]
    assert _tables(database_url) == []


@both_databases
@pytest.mark.parametrize("args", READERS, ids=lambda args: args[0])
def test_an_older_schema_is_named_and_left_as_it_is(tmp_path, database_url, args):
    engine = make_engine(database_url)
    try:
        _migrate(engine, "upgrade", "0003")
    finally:
        engine.dispose()

    result = _invitebot(args, tmp_path, DATABASE_URL=database_url)

    assert result.returncode == 2, result.stdout
    [line] = result.stderr.splitlines()
    assert f"is at 0003 and this invitebot needs {ScriptDirectory.from_config(alembic_config()).get_current_head()}; run `invitebot migrate`" in line
    assert "alembic_version" in _tables(database_url) and "outbox_jobs" not in _tables(database_url)
