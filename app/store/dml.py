"""How many rows an UPDATE or DELETE changed: the count that picks the single winner of a conditional write."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Update
from sqlalchemy.orm import Session


def changed(session: Session, statement: Update | Delete) -> int:
    """Run the statement in the session's transaction; the rows it matched (SQLite and PostgreSQL count alike)."""
    # Session.execute() is typed as returning Result for every statement; an UPDATE or DELETE gives a CursorResult.
    return cast(CursorResult[Any], session.execute(statement)).rowcount
