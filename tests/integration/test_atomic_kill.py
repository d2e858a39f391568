"""A job that dies part-way never leaves a partial video or cover at the destination.

Subprocess tests interrupt a real `i2v generate` once its temporary file is being written;
in-process tests make the frame source fail part-way through the encoder.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import i2v.services.generate as service
from i2v.cli.app import run
from i2v.domain.size import Size
from i2v.media.atomic import atomic_outputs
from i2v.media.encode import EncoderSettings, encode_nv12, prefetch
from i2v.services.generate import cover_path
from tests.conftest import i2v_environment

pytestmark = pytest.mark.integration

SLOW = ("--duration", "30")  # 900 frames at 1080x1920: far longer than the tests wait
SIZE = Size(360, 640)
FAST_ENCODER = EncoderSettings(preset="ultrafast")


def _default_sigint() -> None:
    # A shell may start background jobs with SIGINT ignored, and Python keeps an ignored
    # SIGINT ignored; restore the default so the child gets KeyboardInterrupt like a user's.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _parts(folder: Path, dest: Path) -> list[Path]:
    return sorted(folder.glob(f".{dest.name}.*.part"))


def _start_and_wait_for_part(
    i2v_exe: Path,
    image: Path,
    dest: Path,
    timeout_s: float = 30,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start a slow job; return once its temporary video holds encoded data."""
    proc = subprocess.Popen(
        [str(i2v_exe), "generate", str(image), "-o", str(dest), *SLOW],
        cwd=dest.parent,
        env=env or i2v_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        mine = dest.parent.glob(f".{dest.name}.{proc.pid}-*.part")  # not a killed run's
        if any(p.stat().st_size > 0 for p in mine if p.exists()):
            return proc
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"i2v exited ({proc.returncode}) before writing its temp file:\n{err}")
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    pytest.fail(f"no temporary .part file appeared in {dest.parent} within {timeout_s} s")


@pytest.fixture
def job(
    i2v_exe: Path, photo_jpeg: Path, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    dest = tmp_path / "out.mp4"
    proc = _start_and_wait_for_part(i2v_exe, photo_jpeg, dest)
    try:
        yield proc, dest
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_sigkill_leaves_no_destination(job: tuple[subprocess.Popen[str], Path]) -> None:
    proc, dest = job
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # A killed process cannot clean up, so its hidden .part may remain; the outputs may not.
    assert not dest.exists()
    assert not cover_path(dest).exists()


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_cleans_up_and_exits(
    signum: signal.Signals, code: int, job: tuple[subprocess.Popen[str], Path]
) -> None:
    proc, dest = job
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert sorted(p.name for p in dest.parent.iterdir()) == [], "files left behind"


def test_the_next_run_sweeps_what_killed_runs_left(
    i2v_exe: Path, photo_jpeg: Path, tmp_path: Path
) -> None:
    data, system_tmp, out = tmp_path / "data", tmp_path / "tmp", tmp_path / "out"
    for folder in (data, system_tmp, out):
        folder.mkdir()
    env = {**i2v_environment(), "I2V_DATA_DIR": str(data), "TMPDIR": str(system_tmp)}
    dest, scratch = out / "out.mp4", data / "scratch"
    for _ in range(3):
        proc = _start_and_wait_for_part(i2v_exe, photo_jpeg, dest, env=env)
        proc.kill()
        proc.communicate(timeout=30)
        # Each run swept the one killed before it: what is left is the last run's alone,
        # under the data directory; the system temp folder is untouched.
        assert [p.name.split("-")[-2] for p in scratch.iterdir()] == [str(proc.pid)]
        assert [p.name.split(".")[3].split("-")[0] for p in _parts(out, dest)] == [str(proc.pid)]
        assert list(system_tmp.iterdir()) == []
        assert not dest.exists()

    done = subprocess.run(
        [str(i2v_exe), "generate", str(photo_jpeg), "-o", str(dest), "--size", "360x640",
         "--duration", "3", "--fps", "24"],
        cwd=out, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["out.cover.jpg", "out.mp4"]
    assert list(system_tmp.iterdir()) == []


# -- in-process: the frame source fails part-way ---------------------------------------------


def _frames(count: int, error: BaseException | None = None) -> Iterator[NDArray[np.uint8]]:
    """`count` NV12 frames of a moving gradient, then `error` if given."""
    ramp = np.linspace(16, 235, SIZE.width, dtype=np.float64)
    for i in range(count):
        frame = np.full((SIZE.height * 3 // 2, SIZE.width), 128, np.uint8)
        frame[: SIZE.height] = np.roll(ramp, 4 * i).astype(np.uint8)
        yield frame
    if error is not None:
        raise error


def _encode_atomically(
    dest: Path, frames: Iterable[NDArray[np.uint8]], temp_seen: list[tuple[str, bool]]
) -> None:
    """Encode `frames` as the service does: prefetched, into a temp beside `dest`."""
    with atomic_outputs(dest, dest.with_suffix(".jpg")) as (tmp_video, _):

        def on_frame(index: int, frame: NDArray[np.uint8]) -> None:
            temp_seen.append((tmp_video.name, tmp_video.is_file()))

        encode_nv12(prefetch(frames, 4), tmp_video, SIZE, 24, FAST_ENCODER, on_frame)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("renderer crashed"), KeyboardInterrupt(), SystemExit(143)],
    ids=["RuntimeError", "KeyboardInterrupt", "SystemExit"],
)
def test_encoder_failure_midway_leaves_nothing(error: BaseException, tmp_path: Path) -> None:
    temp_seen: list[tuple[str, bool]] = []
    with pytest.raises(type(error)):
        _encode_atomically(tmp_path / "out.mp4", _frames(10, error), temp_seen)
    assert len(temp_seen) == 10
    name, exists = temp_seen[-1]
    assert name.startswith(".out.mp4.")
    assert name.endswith(".part")
    assert exists, "the temporary video was not being written when the failure came"
    assert list(tmp_path.iterdir()) == []


def test_encoder_success_renames_into_place(tmp_path: Path) -> None:
    """The control for the failure test: the same job, without the failure, publishes."""
    dest, cover = tmp_path / "out.mp4", tmp_path / "out.jpg"
    with atomic_outputs(dest, cover) as (tmp_video, tmp_cover):
        count = encode_nv12(prefetch(_frames(10), 4), tmp_video, SIZE, 24, FAST_ENCODER)
        tmp_cover.write_bytes(b"cover")
        assert not dest.exists()
    assert count == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg", "out.mp4"]
    assert dest.read_bytes()[4:8] == b"ftyp"


def _publish(video: Path, cover: Path) -> None:
    with atomic_outputs(video, cover) as (tmp_video, tmp_cover):
        tmp_video.write_bytes(b"video")
        tmp_cover.write_bytes(b"cover")


def test_failed_final_rename_touches_no_destination(tmp_path: Path) -> None:
    dest, cover = tmp_path / "out.mp4", tmp_path / "out.jpg"
    dest.mkdir()  # os.replace(file, non-empty directory) fails
    (dest / "keep").write_text("")
    with pytest.raises(IsADirectoryError):
        _publish(dest, cover)
    assert not cover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_cli_failure_midway_leaves_nothing(
    cli_env: Path,
    photo_jpeg: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing_prefetch(
        items: Iterable[NDArray[np.uint8]], depth: int, nice: int = 0
    ) -> Iterator[NDArray[np.uint8]]:
        for index, item in enumerate(prefetch(items, depth, nice)):
            if index == 10:
                raise RuntimeError("renderer crashed")
            yield item

    monkeypatch.setattr(service, "prefetch", failing_prefetch)
    out_dir = cli_env / "out"
    out_dir.mkdir()
    argv = ["generate", str(photo_jpeg), "-o", str(out_dir / "out.mp4"), "--size", "360x640"]
    code = run([*argv, "--duration", "3", "--fps", "24"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[-1] == (
        "i2v: error: RuntimeError: renderer crashed (rerun with --debug for details)"
    )
    assert list(out_dir.iterdir()) == []
