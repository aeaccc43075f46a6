"""Prometheus metrics: what on-call looks at first (decisions, Slack calls and errors, sync health, ack latency)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "invitebot_decisions_total", "Attempts to decide, by outcome (ok, a Slack error code, not_allowed, ...) and surface",
    ["outcome", "source"],
)
SLACK_CALLS = Counter(
    "invitebot_slack_api_calls_total", "Slack Web API calls by method and result (ok or Slack's error code)", ["method", "result"]
)
SLACK_RATE_LIMITED = Counter("invitebot_slack_rate_limited_total", "HTTP 429 answers from Slack, by method", ["method"])
PENDING = Gauge("invitebot_pending_requests", "Pending invite requests per workspace, as of the last sync", ["team"])
SYNC_DURATION = Histogram(
    "invitebot_sync_duration_seconds", "How long a reconcile pass took", buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
)
LAST_SUCCESSFUL_SYNC = Gauge("invitebot_last_successful_sync_timestamp_seconds", "When the last error-free sync finished")
ACK_LATENCY = Histogram(
    "invitebot_slack_request_seconds",
    "Time to answer a request from Slack (the ack); Slack gives up after 3 s",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)
HTTP_CUT = Counter(
    "invitebot_http_cut_total",
    "Connections or requests the front end refused or cut before the app saw them, by why (header_timeout, body_timeout, "
    "too_large, malformed, connections, per_client)",
    ["why"],
)
IN_FLIGHT = Gauge("invitebot_work_in_flight", "Accepted work (listeners and background) not finished yet")
TOKEN_REJECTED = Gauge(
    "invitebot_slack_token_rejected", "1 while Slack rejects the token (bot or admin): it must be reinstalled", ["token"]
)
TOKEN_REVOCATIONS = Counter(
    "invitebot_slack_token_revocation_events_total", "tokens_revoked and app_uninstalled events from Slack", ["event"]
)
TURNED_AWAY = Counter(
    "invitebot_slack_requests_turned_away_total",
    "Requests from Slack not carried out while the bot token is rejected (events are left for Slack to retry)",
    ["kind"],
)
OUTBOX_DONE = Counter("invitebot_outbox_jobs_done_total", "Outbox jobs (decisions, answers, cards, DMs, Homes) done, by kind", ["kind"])
OUTBOX_FAILED = Counter(
    "invitebot_outbox_jobs_failed_total", "Outbox jobs given up for good (Slack will not take them), by kind", ["kind"]
)
OUTBOX_DEAD = Gauge(
    "invitebot_outbox_jobs_dead",
    "Outbox jobs failed for good and still kept (until retried or dropped), by kind and Slack's error",
    ["kind", "error"],
)
OUTBOX_JOBS = Gauge("invitebot_outbox_jobs", "Outbox jobs in the database by state (queued, running, dead)", ["state"])
