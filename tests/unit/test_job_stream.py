"""Where a job's event stream ends, with and without a webhook to wait for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from i2v.services.job_stream import StreamEnd
from i2v.services.jobs import EventView


def event(kind: str, **data: Any) -> EventView:
    return EventView(1, kind, data, datetime(2026, 12, 4, tzinfo=UTC))


def test_without_a_webhook_the_terminal_state_is_the_last_event() -> None:
    end = StreamEnd(webhook=False)
    assert not end.is_last(event("state", state="running"))
    assert not end.is_last(event("progress", progress=0.5))
    for state in ("succeeded", "failed", "cancelled"):
        assert end.is_last(event("state", state=state))
        assert not end.awaits_outcome(event("state", state=state))


def test_with_a_webhook_the_stream_waits_for_its_outcome() -> None:
    end = StreamEnd(webhook=True)
    for state in ("succeeded", "failed"):
        assert not end.is_last(event("state", state=state))
        assert end.awaits_outcome(event("state", state=state))
    assert end.is_last(event("webhook", type="job.failed", delivered=False, attempts=32))


def test_jobs_that_notify_nobody_end_at_their_state_even_with_a_webhook() -> None:
    end = StreamEnd(webhook=True)
    for done in (event("state", state="cancelled"), event("state", state="succeeded", cached=True)):
        assert end.is_last(done)
        assert not end.awaits_outcome(done)
