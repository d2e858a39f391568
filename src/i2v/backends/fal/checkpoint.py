"""Where a render's fal request is checkpointed, so a retried step follows it, never resubmits.

The intent is written before the submit and the request id the moment fal answers; a row
with an intent but no id marks the one window in which a crash can cost a second submit
(fal takes no client-chosen request id or idempotency key to close it).

The log in the database is `request_log.DbRequestLog`; `MemoryRequestLog` is for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from i2v.backends.fal.values import FalRequest


@dataclass(frozen=True, slots=True)
class Checkpoint:
    endpoint: str
    request: FalRequest | None  # None: a submit was sent (or about to be) with no answer kept
    attempts: int


class RequestLog(Protocol):
    def get(self, run_id: str) -> Checkpoint | None: ...

    def intent(self, run_id: str, endpoint: str) -> int:
        """Record a submit about to be sent; returns how many were sent for the run."""
        ...

    def submitted(self, run_id: str, request: FalRequest) -> None: ...

    def forget(self, run_id: str) -> None:
        """The request ended in a failure: a retry of the run may submit anew."""
        ...


class MemoryRequestLog:
    """A log for one process's lifetime (tests, benchmarks): no crash survives it."""

    def __init__(self) -> None:
        self._rows: dict[str, Checkpoint] = {}

    def get(self, run_id: str) -> Checkpoint | None:
        return self._rows.get(run_id)

    def intent(self, run_id: str, endpoint: str) -> int:
        earlier = self._rows.get(run_id)
        attempts = (earlier.attempts if earlier else 0) + 1
        self._rows[run_id] = Checkpoint(endpoint, None, attempts)
        return attempts

    def submitted(self, run_id: str, request: FalRequest) -> None:
        earlier = self._rows[run_id]
        self._rows[run_id] = Checkpoint(earlier.endpoint, request, earlier.attempts)

    def forget(self, run_id: str) -> None:
        self._rows.pop(run_id, None)
