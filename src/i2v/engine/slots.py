"""The worker's limit on jobs working at once, which dequeued, recovered and swept work share.

DBOS's queue limits the job workflows it dequeues, but recovery (at start-up and by the
sweeper) re-enqueues a dead executor's render workflows on DBOS's internal queue, which has
no limit: they ran beside the renders of newly dequeued jobs. So the steps that do the work
(rendering, checking the result) each hold one of these slots, whichever path started them.
A step waits for a slot as long as the work ahead of it takes, as a queue does: no deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

WAIT_CHECK_S = 0.5  # how often a waiting step checks that its job still wants it
# How long a slot handed over by a render waits for its job's next step (a recovered job
# polls for the render's result once a second) before it is freed for anyone.
HAND_OVER_S = 5.0


class EngineStopping(BaseException):
    """Raised in a step waiting for a slot when the engine stops.

    A BaseException, so DBOS records no outcome for the step: its workflow stays pending
    and is recovered, instead of failing the job.
    """


@dataclass(slots=True)
class Slot:
    heir: str | None = None

    def hand_over(self, job_id: str) -> None:
        """On leaving, pass this slot to `job_id`'s next step instead of freeing it: the job
        goes on from rendering to checking without another render taking its place."""
        self.heir = job_id


class WorkSlots:
    def __init__(
        self,
        size: int,
        *,
        check_s: float = WAIT_CHECK_S,
        hand_over_s: float = HAND_OVER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = threading.BoundedSemaphore(size)
        self._check_s = check_s
        self._hand_over_s = hand_over_s
        self._clock = clock
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._handed: dict[str, float] = {}  # job id: when its slot is freed if not taken

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """No slot is handed out from now on; steps still waiting raise EngineStopping."""
        self._closed.set()

    @contextmanager
    def held(
        self,
        *,
        on_wait: Callable[[], object],
        check: Callable[[], None],
        job_id: str | None = None,
    ) -> Iterator[Slot]:
        """Hold a slot for the block: the one handed over to `job_id`, or a free one. If none
        is free at once, `on_wait` runs, then `check` every few tenths of a second while
        waiting: it raises to give up (a cancelled job)."""
        if not self._take_handed(job_id) and not self._free.acquire(blocking=False):
            on_wait()
            while not self._free.acquire(timeout=self._check_s):
                if self._closed.is_set():
                    raise EngineStopping
                self._expire()
                check()
        slot = Slot()
        try:
            if self._closed.is_set():
                raise EngineStopping  # stopping: start no new work, recover it later
            yield slot
        finally:
            self._leave(slot)

    def _take_handed(self, job_id: str | None) -> bool:
        self._expire()
        with self._lock:
            return job_id is not None and self._handed.pop(job_id, None) is not None

    def _leave(self, slot: Slot) -> None:
        with self._lock:
            if slot.heir is not None and slot.heir not in self._handed:
                self._handed[slot.heir] = self._clock() + self._hand_over_s
                return
        self._free.release()

    def _expire(self) -> None:
        now = self._clock()
        with self._lock:
            expired = [job_id for job_id, until in self._handed.items() if until <= now]
            for job_id in expired:
                del self._handed[job_id]
        for _ in expired:
            self._free.release()
