"""In-process wake-ups when a job's events commit, so event streams need not wait for a poll.

Only writers in this process are seen: a worker elsewhere is caught by the stream's poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

_PENDING = "i2v.feed.jobs"  # session.info key: jobs with events written in this transaction


class Subscription:
    """Set, from any thread, when the job has new events; waited on from one event loop."""

    def __init__(self, feed: JobFeed, job_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self._feed, self.job_id = feed, job_id
        self._loop = loop
        self._event = asyncio.Event()

    def close(self) -> None:
        self._feed._unsubscribe(self)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _notify(self) -> None:
        # The loop may have closed under a stream that is going away anyway.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)


class JobFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Weak: a stream dropped before it ever ran (so never closed) leaves nothing behind.
        self._subscribers: dict[str, weakref.WeakSet[Subscription]] = {}

    def attach(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    @staticmethod
    def mark(session: Session, job_id: str) -> None:
        """Record that `session` wrote an event of `job_id`: subscribers wake when it commits."""
        session.info.setdefault(_PENDING, set()).add(job_id)

    def _after_commit(self, session: Session) -> None:
        self.notify(session.info.pop(_PENDING, ()))

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)

    def notify(self, job_ids: Iterable[str]) -> None:
        with self._lock:
            woken = [sub for job_id in job_ids for sub in list(self._subscribers.get(job_id, ()))]
        for subscription in woken:
            subscription._notify()

    def subscribe(self, job_id: str) -> Subscription:
        """Subscribe from a running event loop; clear, then read, then wait: nothing is missed.

        The caller must `close()` the subscription.
        """
        subscription = Subscription(self, job_id, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.setdefault(job_id, weakref.WeakSet()).add(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.job_id)
            if subscribers is not None:
                subscribers.discard(subscription)
            if not subscribers:
                self._subscribers.pop(subscription.job_id, None)
