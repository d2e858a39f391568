"""Circuit breakers: N retryable failures in a row open one for a while; a success closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from i2v.db.engine import Database
from i2v.services.breaker import Breakers


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_breaker_opens_after_the_threshold_and_closes_on_success(db: Database) -> None:
    clock = Clock()
    breakers = Breakers(db, threshold=3, open_s=300, clock=clock)
    for _ in range(2):
        breakers.failed("fal", "hosted_unavailable: 503")
    assert breakers.tripped() == {}
    breakers.failed("fal", "hosted_unavailable: 503")
    tripped = breakers.tripped()
    assert set(tripped) == {"fal"}
    assert tripped["fal"].last_error == "hosted_unavailable: 503"
    clock.now += timedelta(seconds=301)  # half-open: one job may try it again
    assert breakers.tripped() == {}
    breakers.failed("fal", "hosted_unavailable: 503")  # that try failed: open again at once
    assert set(breakers.tripped()) == {"fal"}
    clock.now += timedelta(seconds=301)
    breakers.succeeded("fal")
    breakers.failed("fal", "hosted_unavailable: 503")  # one failure after a success is not enough
    assert breakers.tripped() == {}
    assert breakers.states()["fal"].failures == 1


def test_breakers_are_per_backend(db: Database) -> None:
    breakers = Breakers(db, threshold=1, open_s=60)
    breakers.failed("comfyui", "server_unreachable")
    assert set(breakers.tripped()) == {"comfyui"}
    breakers.succeeded("fal")  # no row, nothing written
    assert set(breakers.states()) == {"comfyui"}
