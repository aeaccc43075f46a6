"""Slash command receipts: a signed request Slack (or anyone replaying it) sends again is acted on once."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.core.audit import now
from app.store.dialect import insert_if_absent
from app.store.models import CommandReceipt

log = logging.getLogger(__name__)

RECEIPT_KEPT = timedelta(minutes=10)  # longer than the five minutes Slack's signature stays valid


def first_delivery(sessions: sessionmaker[Session], trigger_id: str, user_id: str | None = None) -> bool:
    """Record the command's trigger_id; False when it was recorded before (the same signed request sent again).

    Slack accepts a signed request for five minutes, so receipts are kept a little longer than that and then
    dropped. The database decides, so replicas agree; when it cannot be reached the command goes on (and meets
    the same trouble in its handler).
    """
    if not trigger_id:
        return True
    moment = now()
    try:
        with sessions.begin() as session:
            session.execute(delete(CommandReceipt).where(CommandReceipt.received_at < moment - RECEIPT_KEPT))
            first = insert_if_absent(session, CommandReceipt, {"trigger_id": trigger_id[:255], "received_at": moment})
    except SQLAlchemyError as exc:
        log.warning("could not record slash command %s: %s", trigger_id[:40], exc)
        return True
    if not first:
        log.warning("ignored a replayed slash command (trigger_id %s) from %s", trigger_id[:40], user_id)
    return first
