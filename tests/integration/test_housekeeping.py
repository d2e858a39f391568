"""A worker's housekeeping. What killed runs leave behind is swept, with real SIGKILLs: scratch
folders holding copies of users' pictures, and the local store's `.part` files; a live
process's are never touched. And a worker enforces input retention."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from i2v.bootstrap import open_blobs
from i2v.db.tables import Executor
from i2v.domain.job import JobState
from i2v.engine.housekeeping import job_scratch_prefix
from i2v.scratch import new_scratch_dir, sweep_scratch
from i2v.services import jobs
from i2v.storage.local import LocalBlobStore
from tests.integration.test_engine import (  # the engine tests' service: one database each
    SLOW,
    Service,
    finished,
    running_with_progress,
    service,
)

__all__ = ["service"]  # a fixture, used by name
pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        time.sleep(0.05)


def start(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )


def kill(proc: subprocess.Popen[Any]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()  # reaped: a zombie's pid still answers as alive


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            kill(proc)


def holder(root: Path, prefix: str) -> tuple[subprocess.Popen[str], Path]:
    """A process that makes a scratch folder, puts a picture in it and waits to be killed."""
    proc = start(
        "import sys, time; from pathlib import Path; from i2v.scratch import new_scratch_dir\n"
        f"p = new_scratch_dir(Path({str(root)!r}), {prefix!r})\n"
        "(p / 'input.jpg').write_bytes(b'a user picture'); print(p, flush=True); sys.stdin.read()"
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_sweep_removes_the_scratch_of_killed_processes_only(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    prefix = "i2v-job-here-"
    dead, dead_dir = holder(tmp_path, prefix)
    live, live_dir = holder(tmp_path, prefix)
    elsewhere, elsewhere_dir = holder(tmp_path, "i2v-job-there-")  # another host's
    processes += [dead, live, elsewhere]
    kill(dead)
    kill(elsewhere)  # its pid is meaningless on this host: only "there" may sweep it
    mine = new_scratch_dir(tmp_path, prefix)
    assert sweep_scratch(tmp_path, prefix) == 1
    assert not dead_dir.exists()
    assert (live_dir / "input.jpg").is_file()
    assert elsewhere_dir.is_dir()
    assert mine.is_dir()
    assert sweep_scratch(tmp_path / "missing", prefix) == 0


def writer(root: Path, fifo: Path) -> subprocess.Popen[str]:
    """A `put` into the local store that streams from `fifo`, so it stays part-way."""
    return start(
        "from pathlib import Path; from i2v.storage.local import LocalBlobStore\n"
        f"LocalBlobStore(Path({str(root)!r})).put('inputs/a.jpg', Path({str(fifo)!r}), "
        "'image/jpeg')"
    )


def test_the_local_store_sweeps_the_part_files_of_killed_writers(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "blobs"
    store = LocalBlobStore(root)
    parts: list[Path] = []
    for name in ("killed", "live"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        proc = writer(root, fifo)
        processes.append(proc)
        with fifo.open("wb") as fh:  # opens once the writer reads
            fh.write(b"x" * 4096)
            fh.flush()
            wait_for(lambda: len(list(root.glob("inputs/.a.jpg.*.part"))) == len(parts) + 1)
            parts.append(next(p for p in root.glob("inputs/.*.part") if p not in parts))
            if name == "killed":
                kill(proc)
                time.sleep(0.05)  # the live writer's file is then newer
    # Swept: what no writer touched since the live one wrote; kept: the live writer's file.
    assert store.sweep_parts(older_than=parts[1].stat().st_mtime) == 1
    assert not parts[0].exists()
    assert parts[1].exists()
    assert not store.exists("inputs/a.jpg")


def scratch_of(service: Service) -> list[Path]:
    folder = service.settings.data_dir / "scratch"
    return sorted(folder.glob(f"{job_scratch_prefix()}*")) if folder.is_dir() else []


def executor_seen(service: Service, executor_id: str) -> bool:
    with service.app.db.session() as session:
        return session.get(Executor, executor_id) is not None


def test_a_worker_sweeps_the_scratch_a_killed_worker_left_but_not_a_live_ones(
    service: Service, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    job_id = service.submit(SLOW)
    workers = [service.worker("worker-killed", TMPDIR=str(temp))]
    try:
        service.wait(job_id, until=running_with_progress)
        (left,) = scratch_of(service)  # under the data dir, not the system's temp folder
        assert any(left.glob("input.*")), "the step's copy of the picture"
        assert not list(temp.glob("i2v-job-*"))
        kill(workers[0])
        assert left.is_dir()
        workers.append(service.worker("worker-rescuer", TMPDIR=str(temp)))
        wait_for(lambda: not left.exists())
        wait_for(lambda: len(scratch_of(service)) == 1)  # the rescuer's own, for the same job
        (rescuers,) = scratch_of(service)
        workers.append(service.worker("worker-late", TMPDIR=str(temp)))
        wait_for(lambda: executor_seen(service, "worker-late"))  # it has swept by now
        if jobs.get_job(service.app, service.user, job_id).state is JobState.RUNNING:
            assert rescuers.is_dir(), "a live worker's scratch was swept under it"
        done = service.wait(job_id, until=finished, timeout=120)
    finally:
        live = [worker for worker in workers if worker.poll() is None]
        for worker in live:  # all at once: each takes a while to shut down
            worker.send_signal(signal.SIGTERM)
        for worker in live:
            worker.wait(timeout=60)
    assert done.state is JobState.SUCCEEDED, done
    assert scratch_of(service) == []


def test_a_worker_removes_the_pictures_retention_expired(service: Service) -> None:
    job_id = service.submit(SLOW)
    blobs = open_blobs(service.settings)
    input_key = jobs.get_job(service.app, service.user, job_id).spec["input_key"]
    jobs.cancel_job(service.app, service.queue, service.user, job_id)
    assert blobs.exists(input_key)
    worker = service.worker("worker-retention", I2V_INPUT_RETENTION_DAYS="0")
    try:
        wait_for(lambda: not blobs.exists(input_key))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
