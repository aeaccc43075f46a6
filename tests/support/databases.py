"""A database per test: a SQLite file by default, a fresh PostgreSQL database where a test asks for both.

A PostgreSQL test is skipped when the server cannot be reached, except in CI (CI set), where it fails.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("INVITEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"invitebot_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite by default; tests of races and migrations parametrize it with "postgresql" too."""
    if request.param == "postgresql":
        yield from _postgres_database()
    else:
        yield f"sqlite:///{tmp_path / 'invitebot.db'}"


both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def poll_until(predicate: Any, timeout: float = 15.0, message: str = "") -> Any:
    """Poll the database (which the stand-in cannot watch) until predicate() is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, message or "gave up waiting"
        time.sleep(0.05)
