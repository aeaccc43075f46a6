"""Database leases: one holder at a time, taken over when the holder stops renewing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.audit import now
from app.store.dialect import insert_if_absent
from app.store.dml import changed
from app.store.models import Lease


def acquire(sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; True when `holder` has it until now + ttl."""
    moment = now()
    with sessions.begin() as session:
        renewed = changed(
            session,
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < moment))
            .values(holder=holder, expires_at=moment + ttl)
        )
        if renewed:
            return True
        return insert_if_absent(session, Lease, {"name": name, "holder": holder, "expires_at": moment + ttl})


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    with sessions.begin() as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def current_holder(sessions: sessionmaker[Session], name: str) -> str | None:
    """Who holds the lease now (None when nobody does, or the last holder's time ran out)."""
    with sessions() as session:
        return session.scalar(select(Lease.holder).where(Lease.name == name, Lease.expires_at >= now()))
