"""A job knows whether an earlier run may have done its Slack work, and since when: what a post looks back over."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from app.core.outbox import TAKES_OVER, Job, takeover

QUEUED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def _job(attempts: int, payload: dict[str, object] | None = None) -> Job:
    return Job(1, "notify", "Ir1", payload or {"user": "W1"}, attempts, "me", created_at=QUEUED_AT)


def test_a_first_run_is_not_retaken_and_began_when_it_was_queued() -> None:
    job = _job(1)
    assert not job.retaken and job.began == QUEUED_AT


@given(st.integers(min_value=2, max_value=50))
def test_any_later_run_is_retaken(attempts: int) -> None:
    assert _job(attempts).retaken


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)))
def test_a_job_taking_over_began_when_the_work_it_takes_over_was_queued(began: datetime) -> None:
    job = _job(1, takeover({"channel": "C1"}, began))
    assert job.retaken and job.payload["channel"] == "C1"
    assert job.began is not None and abs((job.began - began).total_seconds()) < 1e-3


def test_nothing_taken_over_leaves_the_payload_as_it_is() -> None:
    payload = {"channel": "C1"}
    assert takeover(payload, None) == payload and TAKES_OVER not in payload
