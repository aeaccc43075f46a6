"""The `decide` job: core loads the claimed attempt, this makes its one admin call, core settles what Slack answered."""

from __future__ import annotations

from app.core.outbox import Job
from app.core.settle import load_attempt
from app.slack.api.errors import classify
from app.slack.runtime import Runtime


def run_decision(runtime: Runtime, job: Job) -> None:
    """Ask Slack once; a 429 keeps the claim and waits for Retry-After, any other answer is settled."""
    attempt = load_attempt(runtime.services, job)
    if attempt is None:
        return
    result = runtime.gateway.decide(attempt.action.value, attempt.request_id, attempt.team_id)
    if result.error == "ratelimited":
        attempt.wait_for_slack(result.retry_after or 1.0)
        return
    attempt.finish(result.error, classify(result.error).kind if result.error else None)
