"""Scenario 7: a bulk approve of 100 requests while the stand-in enforces Tier 2 at 20 calls a minute per workspace.

One in-process runtime (the server's, on a temporary SQLite database) at the product's default pace; the batch is
previewed and started through app.core.bulk.batches, as the preview modal does. Run alone from the repository root:
.venv/bin/python -m bench.bulk_pace (about five minutes: 100 calls at 20 a minute).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.bulk import batches
from app.main.container import build_runtime
from app.slack.jobs import bulk
from app.store.migrate import upgrade_to_head
from app.store.models import Action, Source
from bench.harness import APPROVE, poll
from bench.report import Row, table
from tests.support.bots import make_settings
from tests.support.stand_in import APPROVER, TEAM, new_request, running_fake

REQUESTS = 100
PER_MINUTE = 20
DONE_TIMEOUT = 600.0


@dataclass(frozen=True)
class BulkPace:
    approve_calls: int  # every admin.inviteRequests.approve the stand-in answered, 429s included
    approved: int  # requests Slack shows approved
    limited: int  # 429 answers to approve
    first_at: float | None
    last_at: float | None

    def per_minute(self) -> float | None:
        """Successful calls a minute, from the first to the last (n calls span n - 1 intervals)."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return None
        return (self.approved - 1) * 60 / (self.last_at - self.first_at)

    def losses(self) -> int:
        return REQUESTS - self.approved


def measure() -> BulkPace:
    with tempfile.TemporaryDirectory(prefix="invitebot-bulk-") as tmp, running_fake() as fake:
        requests = [new_request(fake, f"bulk{n:03d}@example.com") for n in range(REQUESTS)]
        settings = make_settings(fake, f"sqlite:///{Path(tmp) / 'invitebot.db'}", INVITES_ADMIN_CALLS_PER_MINUTE=str(PER_MINUTE))
        runtime = build_runtime(settings)
        try:
            upgrade_to_head(runtime.engine)
            bulk.register_jobs(runtime)  # the bulk-decision jobs, as the server registers them
            runtime.start()
            runtime.sync()  # the backlog: one digest card, no card each
            fake.enforce_rate_limits(tier2_per_minute=PER_MINUTE)
            started = time.time()
            found = batches.preview(
                runtime.services, Action.APPROVE, batches.Filter("example.com", (TEAM,)), APPROVER, Source.SLASH
            )
            assert found.batch_id is not None and found.total == REQUESTS, f"the preview found {found.total} requests"
            change = batches.start(runtime.services, found.batch_id, APPROVER, actor_team=TEAM)
            assert change.answer is batches.Answer.STARTED, f"the batch did not start: {change.answer}"
            done = lambda: all(fake.invite_request_status(r["id"]) != "pending" for r in requests)  # noqa: E731
            try:
                poll(done, DONE_TIMEOUT, "every request of the batch decided at Slack")
            except AssertionError:
                pass  # what was approved by then is reported, the rest as losses
            calls = [c for c in fake.calls(APPROVE) if c.at >= started]
            ok = [c.at for c in calls if c.status == 200 and c.error is None]
            return BulkPace(
                approve_calls=len(calls),
                approved=sum(fake.invite_request_status(r["id"]) == "approved" for r in requests),
                limited=sum(c.status == 429 for c in calls),
                first_at=min(ok) if ok else None,
                last_at=max(ok) if ok else None,
            )
        finally:
            runtime.close()


def rows(r: BulkPace | None) -> list[Row]:
    """Scenario 7's lines of the bench table."""
    prefix = f"bulk approve of {REQUESTS} with Tier 2 enforced at {PER_MINUTE}/min"
    measures = [
        f"{prefix}: successful approve calls a minute, first to last",
        f"{prefix}: approved / approve calls made / 429s",
        f"{prefix}: losses (requests not approved)",
    ]
    if r is None:
        return [Row("7", measure, "not measured") for measure in measures]
    rate = r.per_minute()
    return [
        Row(
            "7",
            measures[0],
            "n/a" if rate is None else f"{rate:.1f}/min",
            f"~{PER_MINUTE}/min, not over",
            rate is not None and rate <= PER_MINUTE * 1.05,
        ),
        Row("7", measures[1], f"{r.approved} / {r.approve_calls} / {r.limited}", f"{REQUESTS} / {REQUESTS} / 0"),
        Row("7", measures[2], str(r.losses()), "0", r.losses() == 0),
    ]


def main() -> int:
    result = measure()
    print(table(rows(result)))
    return 0 if result.losses() == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
