"""Where a job's event stream ends: at its terminal state, or, for a job that notifies a
webhook, at the webhook's outcome, waited for a bounded time after that state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from i2v.bootstrap import App
from i2v.domain.job import JobState
from i2v.services.accounts import UserInfo
from i2v.services.jobs import EventView, get_job

WEBHOOK_EVENT = "webhook"  # the delivery's outcome: delivered, or given up on, and attempts
# A first attempt answers within seconds; a delivery still retrying after this is reported
# in the job's events later (resume with Last-Event-ID), not held open for its 24 hours.
WEBHOOK_OUTCOME_WAIT_S = 30.0
_NOTIFIED = frozenset({JobState.SUCCEEDED.value, JobState.FAILED.value})
_TERMINAL = frozenset(state.value for state in JobState if state.terminal)


@dataclass(frozen=True, slots=True)
class StreamEnd:
    webhook: bool  # the job names a webhook_url
    outcome_wait_s: float = WEBHOOK_OUTCOME_WAIT_S
    # Seconds until nothing more can come, for a job already over when the stream began
    # (None while it runs): a stream resumed after the last event must end, not idle on.
    settled_in: float | None = None

    def is_last(self, event: EventView) -> bool:
        """Nothing the stream waits for comes after `event`."""
        if event.type == WEBHOOK_EVENT:
            return True
        return self._terminal(event) and not self.awaits_outcome(event)

    def awaits_outcome(self, event: EventView) -> bool:
        """`event` ends the job, and a webhook delivery follows it (cancelled jobs and cache
        hits notify nobody)."""
        return (
            self.webhook
            and self._terminal(event)
            and event.data.get("state") in _NOTIFIED
            and not event.data.get("cached")
        )

    @staticmethod
    def _terminal(event: EventView) -> bool:
        return event.type == "state" and event.data.get("state") in _TERMINAL


def stream_end(app: App, owner: UserInfo, job_id: str) -> StreamEnd:
    """The end of the owner's job's stream (NotFound for anyone else's job)."""
    job = get_job(app, owner, job_id)
    settled_in = None
    if job.state.terminal:
        settled_in = 0.0
        if job.has_webhook and job.state.value in _NOTIFIED and job.finished_at is not None:
            since = (datetime.now(UTC) - job.finished_at).total_seconds()
            settled_in = max(0.0, WEBHOOK_OUTCOME_WAIT_S - since)
    return StreamEnd(webhook=job.has_webhook, settled_in=settled_in)
