"""Scratch folders live under the data directory and are swept once their run is gone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from i2v.config import Settings
from i2v.errors import ConfigError
from i2v.media.atomic import atomic_outputs, sweep_temps
from i2v.scratch import MAX_AGE_S, new_scratch_dir, pid_alive, scratch_root, sweep_scratch

PREFIX = "i2v-gen-"


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not pid_alive(done.pid)
    return done.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of another process that is running."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_scratch_root_is_under_the_data_dir(tmp_path: Path) -> None:
    root = scratch_root(Settings(data_dir=tmp_path / "data"))
    assert root == tmp_path / "data" / "scratch"
    assert root.is_dir()
    assert root.stat().st_mode & 0o077 == 0, "other users could read uploads"


def test_scratch_root_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert scratch_root(Settings(data_dir=Path("~/i2v"))) == tmp_path / "i2v" / "scratch"


def test_an_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"file/scratch: cannot create the scratch folder"):
        scratch_root(Settings(data_dir=tmp_path / "file"))


def test_new_scratch_dir_is_named_by_pid(tmp_path: Path) -> None:
    first, second = new_scratch_dir(tmp_path, PREFIX), new_scratch_dir(tmp_path, PREFIX)
    assert re.fullmatch(rf"{PREFIX}{os.getpid()}-[0-9a-f]{{8}}", first.name)
    assert first != second
    assert first.is_dir()
    assert not any(first.iterdir())


def test_sweep_removes_only_dead_runs_of_the_prefix(
    tmp_path: Path, dead_pid: int, live_pid: int
) -> None:
    dead = tmp_path / f"{PREFIX}{dead_pid}-0a1b2c3d"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "upload.jpg").write_bytes(b"a user's photo")
    kept = [
        new_scratch_dir(tmp_path, PREFIX),  # this process
        tmp_path / f"{PREFIX}{live_pid}-0a1b2c3d",  # another live run
        tmp_path / f"i2v-job-{dead_pid}-0a1b2c3d",  # another prefix: not ours to sweep
        tmp_path / f"{PREFIX}notapid",
    ]
    for path in kept[1:]:
        path.mkdir()
    (tmp_path / f"{PREFIX}{dead_pid}-00000000.txt").write_text("a file, not a run's folder")
    assert sweep_scratch(tmp_path, PREFIX) == 1
    assert not dead.exists()
    assert all(path.is_dir() for path in kept)
    assert (tmp_path / f"{PREFIX}{dead_pid}-00000000.txt").exists()
    assert sweep_scratch(tmp_path, PREFIX) == 0


def test_sweep_removes_folders_past_the_age_bound(tmp_path: Path, live_pid: int) -> None:
    # The pid of a long-dead run may belong to an unrelated process by now.
    old = tmp_path / f"{PREFIX}{live_pid}-0a1b2c3d"
    old.mkdir()
    stamp = time.time() - MAX_AGE_S - 60
    os.utime(old, (stamp, stamp))
    assert sweep_scratch(tmp_path, PREFIX) == 1
    assert not old.exists()


def test_sweep_of_a_missing_root_is_a_no_op(tmp_path: Path) -> None:
    assert sweep_scratch(tmp_path / "nowhere", PREFIX) == 0


def test_atomic_outputs_sweeps_dead_runs_temporaries(
    tmp_path: Path, dead_pid: int, live_pid: int
) -> None:
    dead = [
        tmp_path / f".out.mp4.{dead_pid}-0a1b2c3d.part",
        tmp_path / f".b.json.{dead_pid}-ffffffff.part",
    ]
    live = tmp_path / f".out.mp4.{live_pid}-0a1b2c3d.part"
    other = [tmp_path / ".notes.part", tmp_path / f"out.mp4.{dead_pid}-0a1b2c3d.part"]
    for path in (*dead, live, *other):
        path.write_bytes(b"partial")
    with atomic_outputs(tmp_path / "out.mp4", replace=False) as (tmp,):
        assert tmp.name.startswith(f".out.mp4.{os.getpid()}-")
        tmp.write_bytes(b"video")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, *(p.name for p in other), "out.mp4"]
    )
    assert sweep_temps(tmp_path) == 0
