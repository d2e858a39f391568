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


class FrameProgress:
    """Callable progress sink; the bar starts on the first "render" event.

    Starting lazily keeps input errors (bad image, bad output folder) to the one error
    line, with no half-drawn bar before it.
    """

    def __init__(self, console: Console, label: str) -> None:
        self._console = console
        self._label = label
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, event: StageProgress) -> None:
        if event.stage != "render":
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("frames"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self._console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label, total=event.total)
        assert self._task is not None
        self._bar.update(self._task, completed=event.done)

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
