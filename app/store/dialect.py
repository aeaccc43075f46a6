"""INSERT … ON CONFLICT DO NOTHING for whichever backend the session is on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_if_absent(session: Session, model: type, values: dict[str, Any]) -> bool:
    """Insert unless a unique key already exists; True when this call inserted the row.

    RETURNING tells us reliably: rowcount is -1 for ORM-level inserts on some drivers.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = inspect(model).primary_key[0]
    statement = module.insert(model).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None
