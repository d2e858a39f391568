"""``DecodeGate``: a budget of pixels a process may hold decoded at once, shared by its threads.

A 49 MP PNG is 160 KB on the wire and about 200 MB in Pillow's four-byte pixel store, so the
memory of concurrent decodes is bounded by pixels, not by request bytes or request count.
Each decode reserves its pixel count (known from the header, before a pixel is decoded) and
waits while the reservations in flight would pass the budget. The line is first come, first
served, so a stream of small images never starves a big one; an image larger than the whole
budget reserves all of it and decodes alone. Waiting costs only the compressed bytes the
request already holds.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class DecodeGate:
    """Admits decodes while their pixels fit in ``budget_pixels``, first come, first served."""

    def __init__(self, budget_pixels: int) -> None:
        if budget_pixels < 1:
            raise ValueError(f"budget_pixels must be at least 1, not {budget_pixels}")
        self.budget = budget_pixels
        self._in_use = 0
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        """Pixels reserved by the decodes running now."""
        with self._changed:
            return self._in_use

    @property
    def waiting(self) -> int:
        """Decodes in line for room."""
        with self._changed:
            return len(self._line)

    @contextmanager
    def admit(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget (at most all of it) for the duration of the block."""
        weight = max(1, min(pixels, self.budget))
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            try:
                while self._line[0] is not ticket or self._in_use + weight > self.budget:
                    self._changed.wait()
            finally:
                self._line.remove(ticket)
                self._changed.notify_all()  # the next in line may fit now
            self._in_use += weight
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= weight
                self._changed.notify_all()
