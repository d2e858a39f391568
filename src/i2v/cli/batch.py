"""`i2v generate` over many pictures: one overall bar, failures reported and skipped, a table."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from i2v.backends.base import Progress as StageProgress
from i2v.cli.runs import Done, Run, Work, render_one
from i2v.errors import I2VError

if TYPE_CHECKING:
    from i2v.bootstrap import App

DEFAULT_JOBS = 2
_STEPS = 1000  # bar units per picture


@dataclass(frozen=True, slots=True)
class Outcome:
    work: Work
    done: Done | None
    error: str | None
    seconds: float


class _Bar:
    """The overall bar: each picture's share moves with its own render's progress."""

    def __init__(self, progress: Progress, pictures: int) -> None:
        self._progress = progress
        self._task = progress.add_task("pictures", total=pictures * _STEPS, status="")
        self._shares: dict[int, float] = {}
        self._finished = 0
        self._lock = threading.Lock()

    def moved(self, index: int, event: StageProgress) -> None:
        # A model's clip counts half while it is generated and half while it is published.
        share = {"generate": 0.5 * event.fraction, "render": event.fraction}.get(event.stage)
        if share is None:
            return
        with self._lock:
            self._shares[index] = share
            self._update()

    def finished(self, index: int) -> None:
        with self._lock:
            self._shares[index] = 1.0
            self._finished += 1
            self._update()

    def _update(self) -> None:
        done = sum(self._shares.values()) * _STEPS
        self._progress.update(self._task, completed=done, status=f"{self._finished} done")


def run_batch(run: Run, work: list[Work], app: App | None, jobs: int, console: Console) -> int:
    """Render every picture of `work`, `jobs` at a time; returns how many failed."""
    folder = work[0].output.parent
    if not folder.exists() and folder.parent.is_dir():
        folder.mkdir()  # asked for by -o FOLDER/ or several pictures; its parent must exist
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    outcomes: list[Outcome | None] = [None] * len(work)
    said: set[str] = set()  # the prompt's notes are the same for every picture: said once

    with progress:
        bar = _Bar(progress, len(work))

        def one(index: int) -> None:
            item = work[index]
            started = time.perf_counter()

            def say(text: str) -> None:
                if text.startswith(("note: ", "prompt (")):
                    if text in said:
                        return
                    said.add(text)
                    console.print(escape(text), soft_wrap=True)
                    return
                console.print(f"{escape(item.image.name)}: {escape(text)}", soft_wrap=True)

            try:
                done = render_one(
                    run, app, item.image, item.output, lambda e: bar.moved(index, e), say
                )
                outcome = Outcome(item, done, None, time.perf_counter() - started)
            except I2VError as exc:  # this picture's fault: reported, the rest go on
                outcome = Outcome(item, None, str(exc), time.perf_counter() - started)
                say(f"error: {exc}")
            except Exception as exc:  # a fault of ours: still reported, still the rest go on
                outcome = Outcome(
                    item, None, f"internal error: {exc!r}", time.perf_counter() - started
                )
                say(f"error: internal error: {exc!r}")
            outcomes[index] = outcome
            bar.finished(index)

        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(work)))) as pool:
            for future in [pool.submit(one, i) for i in range(len(work))]:
                future.result()
    finished = [o for o in outcomes if o is not None]
    console.print(_table(finished))
    failed = sum(o.error is not None for o in finished)
    console.print(f"{len(finished) - failed} of {len(finished)} written to {folder}")
    return failed


def _table(outcomes: list[Outcome]) -> Table:
    table = Table(title="i2v generate", show_lines=False)
    for column in ("image", "result", "video", "seconds"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        if outcome.done is None:
            result, video = f"[red]failed[/]: {escape(outcome.error or '')}", "-"
        else:
            info = outcome.done.result.info
            result = f"[green]ok[/] {info.duration_s:.1f} s, {_megabytes(info.size_bytes)}"
            video = escape(str(outcome.done.result.video))
        table.add_row(escape(outcome.work.image.name), result, video, f"{outcome.seconds:.1f}")
    return table


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
