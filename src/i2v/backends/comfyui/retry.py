"""When a failed ComfyUI attempt is worth another, and how long to wait before it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from i2v.errors import BackendError, ServerUnreachable

MAX_ATTEMPTS = 3  # attempts per run for failures other than an unreachable server
BACKOFF_S = 1.0  # before the 2nd attempt; doubles after, up to MAX_WAIT_S
MAX_WAIT_S = 5.0  # so a server that is back is found within seconds


@dataclass
class Retries:
    """The retry budget of one run.

    An unreachable server is retried until `unreachable_budget_s` has passed since the
    first time it did not answer: a real ComfyUI takes 10-15 s to restart, longer than a few
    quick attempts span. Other retryable failures (out of memory, a bad answer) get
    MAX_ATTEMPTS attempts in all; a refusal for a missing model or node only where another
    server may have it, since the same server refuses the same way.
    """

    unreachable_budget_s: float
    clock: Callable[[], float]
    _unreachable_since: float | None = None
    _failures: int = 0  # other than unreachable
    _waits: int = 0

    def wait(self, failure: BackendError, *, refused: bool, elsewhere: bool) -> float | None:
        """Seconds to wait before the next attempt after `failure`, or None to give up.

        `refused`: the server lacks a model or node the workflow needs; `elsewhere`: some
        other server may take the next attempt.
        """
        if not failure.retryable:
            return None
        now = self.clock()
        limit = math.inf
        if isinstance(failure, ServerUnreachable):
            if self._unreachable_since is None:
                self._unreachable_since = now
            limit = self._unreachable_since + self.unreachable_budget_s
        else:
            self._failures += 1
            if self._failures >= MAX_ATTEMPTS or (refused and not elsewhere):
                return None
        wait = min(MAX_WAIT_S, BACKOFF_S * 2**self._waits, limit - now)
        self._waits += 1
        return wait if wait > 0 else None
