"""Store one workspace's pending list in a few statements: a read of what is known and one insert per chunk of new
requests, so a sync over thousands costs no transaction per request. A known request is written only where it changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.core.authz import GroupMembers
from app.core.ingest import SEEN_COLUMNS, MalformedRequest, apply_changes, row_values
from app.core.policy import Policy
from app.core.policy.apply import verdict
from app.store.models import InviteRequest

CHUNK = 500  # rows per statement: well inside both backends' limits on bound parameters


@dataclass
class Stored:
    """What storing a pending list did."""

    listed: list[str] = field(default_factory=list)  # stored ids, in the list's order
    inserted: list[str] = field(default_factory=list)  # new rows this pass inserted
    problems: list[str] = field(default_factory=list)  # requests that could not be stored


def store_listed(
    sessions: sessionmaker[Session],
    raws: list[dict[str, Any]],
    *,
    team_id: str,
    team_name: str | None,
    digest_over: int,
    policy: Policy | None = None,
    groups: GroupMembers | None = None,
    added: Callable[[Session, list[str]], None] | None = None,
    changed: Callable[[Session, str], None] | None = None,
) -> Stored:
    """Store a workspace's pending list; more than `digest_over` requests not known before are stored `in_digest`.

    In the transaction that wrote them, `added` is called with each chunk of new requests, and `changed` for each known
    request whose card shows what changed.
    """
    stored = Stored()
    wanted: dict[str, dict[str, Any]] = {}
    unread: set[tuple[str, str]] = set()  # user groups Slack would not list this pass: asked once, not per request
    for raw in raws:
        try:
            values = row_values(raw, team_id, team_name)
        except MalformedRequest as exc:
            stored.problems.append(str(exc))
            continue
        values.update(verdict(policy, values, groups, unread))
        wanted.setdefault(values["id"], values)
    stored.listed = list(wanted)
    seen = _known(sessions, stored.listed)
    new = [values for request_id, values in wanted.items() if request_id not in seen]
    backlog = len(new) > digest_over  # too many for a card each: a digest stands for them
    for part in _chunks(new):
        with sessions.begin() as session:
            inserted = _insert(session, [{**values, "in_digest": backlog} for values in part])
            if added is not None:
                added(session, inserted)
            stored.inserted += inserted
    known = [values for request_id, values in wanted.items() if request_id in seen]
    for part in _chunks(known):
        with sessions.begin() as session:
            for values in part:
                if apply_changes(session, seen[values["id"]], values) and changed is not None:
                    changed(session, values["id"])
    return stored


def _known(sessions: sessionmaker[Session], request_ids: list[str]) -> dict[str, Any]:
    """The stored rows among these ids, as store() compares them."""
    with sessions() as session:
        return {
            row.id: row
            for part in _chunks(request_ids)
            for row in session.execute(select(*SEEN_COLUMNS).where(InviteRequest.id.in_(part)))
        }


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    """INSERT … ON CONFLICT DO NOTHING for a chunk; the ids this statement inserted (another process may have the rest).

    Given as parameter sets, SQLAlchemy sends them as one multi-row INSERT from a cached compilation ("insertmanyvalues").
    """
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(InviteRequest).on_conflict_do_nothing().returning(InviteRequest.id)
    return list(session.scalars(statement, rows))


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
