"""On SQLite a worker hears of a job another process committed at once, by its doorbell beside the database file, not
at its next look (app.store.doorbell, app.store.wakeup)."""

from __future__ import annotations

import os
import threading

from app.core.outbox import Outbox
from app.store import doorbell, wakeup
from app.store.db import DatabaseOptions, make_engine, make_session_factory
from app.store.migrate import upgrade_to_head
from tests.support.databases import poll_until

OPTIONS = DatabaseOptions(pool_size=2, pool_timeout=5, connect_timeout=5, statement_timeout=5, network_timeout=5)


def test_a_worker_hears_of_a_job_another_process_wrote_at_once_though_its_own_look_is_a_minute_away(tmp_path, monkeypatch):
    monkeypatch.setattr(wakeup, "LOOK_SECONDS", 60.0)
    monkeypatch.setattr(wakeup, "LOOK_WITH_DOORBELL_SECONDS", 60.0)
    url = f"sqlite:///{tmp_path / 'invitebot.db'}"
    worker_engine, writer_engine = make_engine(url, OPTIONS), make_engine(url, OPTIONS)  # as two processes would
    upgrade_to_head(writer_engine)
    heard: list[object] = []
    waker = wakeup.Waker(worker_engine, OPTIONS, heard.append)
    waker.start()
    try:
        where = doorbell.folder(str(tmp_path / "invitebot.db"))
        poll_until(lambda: where.exists() and list(where.iterdir()), message="the worker made no doorbell")
        sessions = make_session_factory(writer_engine)
        with sessions.begin() as session:
            Outbox(sessions, "writer").add(session, "notify", {"user": "W1"})

        poll_until(lambda: heard, timeout=10, message="the worker did not hear of the job")
    finally:
        waker.close()
        worker_engine.dispose()
        writer_engine.dispose()
    assert list(where.iterdir()) == []  # its socket went with it


def test_a_ring_removes_the_doorbell_of_a_process_that_is_gone(tmp_path):
    database = str(tmp_path / "invitebot.db")
    where = doorbell.folder(database)
    where.mkdir()
    (where / "12345-abcdef").touch()  # its name stays when its process is killed; its socket goes with the process
    alive = doorbell.Doorbell(database)
    rang = threading.Event()
    listener = threading.Thread(target=lambda: alive.wait(30) and rang.set())
    listener.start()

    doorbell.ring(database)

    listener.join(timeout=30)
    assert rang.is_set()
    assert os.listdir(where) == [alive._marker.name]
    alive.close()
    assert os.listdir(where) == []
