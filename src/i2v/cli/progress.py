"""A Rich progress bar for frames that appears only once frames start to flow."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from i2v.backends.base import Progress as StageProgress

_UNITS = {"generate": "(per mille)", "render": "frames"}  # stages with a bar; what they count


class FrameProgress:
    """Callable progress sink: a bar per stage ("generate" on a remote GPU, then "render"),
    each started on its first event.

    Starting lazily keeps input errors (bad image, bad output folder) to the one error
    line, with no half-drawn bar before it.
    """

    def __init__(self, console: Console, label: str) -> None:
        self._console = console
        self._label = label
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, event: StageProgress) -> None:
        if event.stage not in _UNITS:
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[units]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self._console,
            )
            self._bar.start()
        if event.stage not in self._tasks:
            # A model's clip is re-timed and re-framed after it arrives: that is "publish".
            remote = "generate" in self._tasks
            label = self._label if event.stage == "render" and not remote else event.stage
            label = "publish" if event.stage == "render" and remote else label
            self._tasks[event.stage] = self._bar.add_task(
                label, total=event.total, units=_UNITS[event.stage]
            )
        task = self._tasks[event.stage]
        if event.stage == "generate":  # what the model's host says: "3 ahead in fal's queue"
            self._bar.update(task, units=event.note or _UNITS["generate"])
        self._bar.update(task, completed=event.done)

    def __enter__(self) -> FrameProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
