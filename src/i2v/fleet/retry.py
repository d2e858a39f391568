"""Retrying one call to a GPU provider's API: how often, how long between tries, when to stop."""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


def retry_after_s(value: str | None) -> float | None:
    """Retry-After in seconds, from a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True)
class Failed:
    """A try that gave nothing to return; whether another try may follow is the vendor's call."""

    error: Exception  # raised when no try follows
    reason: str  # for the log line
    retryable: bool
    retry_after_s: float | None = None  # the vendor's own wait, in place of the back-off
    cause: BaseException | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off between tries, or the vendor's Retry-After where it is short."""

    log: logging.Logger
    max_retries: int
    sleep: Callable[[float], Awaitable[None]]
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0  # a longer Retry-After goes back to the caller at once
    jitter: bool = False  # spread clients that failed together so they do not retry together

    async def call(self, what: str, attempt: Callable[[], Awaitable[T | Failed]]) -> T:
        """Runs `attempt` until it returns; raises its error once no retry may follow."""
        tries = 0
        while True:
            outcome = await attempt()
            if not isinstance(outcome, Failed):
                return outcome
            wait = outcome.retry_after_s
            if (
                not outcome.retryable
                or tries >= self.max_retries
                or (wait or 0.0) > self.max_retry_after_s
            ):
                raise outcome.error from outcome.cause
            delay = self._backoff(tries) if wait is None else wait
            self.log.warning(
                "%s: %s; retry %d of %d in %.2f s",
                what,
                outcome.reason,
                tries + 1,
                self.max_retries,
                delay,
            )
            await self.sleep(delay)
            tries += 1

    def _backoff(self, tries: int) -> float:
        ceiling = min(self.max_backoff_s, self.backoff_s * 2.0**tries)
        return ceiling * random.uniform(0.5, 1.0) if self.jitter else ceiling  # noqa: S311 - jitter, not a secret
