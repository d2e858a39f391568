"""A backend whose renders take a known time and log when they start and end, for the
engine's concurrency tests; run as a module, it is `i2v worker` with that backend added.

Each render appends `start <pid> <run id> <time>` and `end ...` lines to the file named by
I2V_TEST_RENDER_LOG (one short O_APPEND write each, so lines of concurrent renders and of
several processes never interleave, and a SIGKILL loses no line already written).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from i2v.backends.base import Capabilities, EncodedClip, GenerationRequest, ProgressCallback
from i2v.domain.spec import RenderSpec
from i2v.media.encode import EncoderSettings, encode_nv12

NAME = "slow"
LOG_ENV = "I2V_TEST_RENDER_LOG"
RENDER_ENV = "I2V_TEST_RENDER_S"


class SlowBackend:
    name = NAME

    def __init__(self, log: Path | None, seconds: float) -> None:
        self._log = log
        self._seconds = seconds
        self._lock = threading.Lock()
        self._clip: Path | None = None

    def capabilities(self) -> Capabilities:
        return Capabilities(name=NAME, max_frames=10_000, needs_gpu=False, runs_locally=True)

    def prepare(self, spec: RenderSpec) -> RenderSpec:
        return spec

    def generate(self, request: GenerationRequest, on_progress: ProgressCallback) -> EncodedClip:
        self._write("start", request.run_id)
        dest = request.workdir / "clip.mp4"
        self._encode(request, dest)
        time.sleep(self._seconds)
        self._write("end", request.run_id)
        return EncodedClip(dest)

    def _encode(self, request: GenerationRequest, dest: Path) -> None:
        grey = np.full((request.size.height * 3 // 2, request.size.width), 128, np.uint8)
        settings = EncoderSettings(preset="ultrafast", crf=30, max_bitrate_kbps=2000)
        frames = (grey for _ in range(request.frame_count))
        encode_nv12(frames, dest, request.size, request.fps, settings)

    def _write(self, event: str, run_id: str) -> None:
        if self._log is None:
            return
        line = f"{event} {os.getpid()} {run_id} {time.time():.6f}\n".encode()
        fd = os.open(self._log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def from_env() -> SlowBackend:
    log = os.environ.get(LOG_ENV)
    return SlowBackend(Path(log) if log else None, float(os.environ.get(RENDER_ENV, "2")))


def main() -> None:
    from i2v.backends.registry import BACKENDS
    from i2v.cli.app import run

    BACKENDS[NAME] = lambda _settings, _db: from_env()
    sys.exit(run(sys.argv[1:] or ["worker"]))


if __name__ == "__main__":
    main()
