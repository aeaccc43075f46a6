"""INSERT … ON CONFLICT (do nothing, or update) for whichever backend the session is on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.store.models import Base


def insert_if_absent(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert unless a unique key already exists; True when this call inserted the row.

    RETURNING tells us reliably: rowcount is -1 for ORM-level inserts on some drivers.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = inspect(model).primary_key[0]
    statement = module.insert(model).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None


def upsert(session: Session, model: type[Base], values: dict[str, Any], changes: list[str]) -> None:
    """Insert the row, or update `changes` of the row already under its primary key (one statement, race-free)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = [column.name for column in inspect(model).primary_key]
    statement = module.insert(model).values(**values)
    session.execute(
        statement.on_conflict_do_update(index_elements=key, set_={name: getattr(statement.excluded, name) for name in changes})
    )
