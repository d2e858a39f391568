"""What workflow steps run against in this process: set once when the engine starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from i2v.bootstrap import App
from i2v.engine.slots import WorkSlots
from i2v.storage.base import BlobStore

if TYPE_CHECKING:  # the queue imports the workflow, which imports this module
    from i2v.engine.queue import JobQueue


@dataclass(frozen=True, slots=True)
class StepContext:
    app: App
    blobs: BlobStore
    slots: WorkSlots
    queue: JobQueue  # reads workflow states without DBOS recording them as steps


_current: StepContext | None = None


def install(context: StepContext | None) -> None:
    global _current  # DBOS calls steps by name, so steps find their services here
    _current = context


def current() -> StepContext:
    if _current is None:
        raise RuntimeError("the i2v engine is not running in this process")
    return _current
