"""`i2v generate --backend comfyui` with the fleet on and no serve or worker: its GPUs go with it.

The real console script runs against a fake Vast; on a normal exit and on SIGTERM the instance
it launched is destroyed, unless --keep-gpu, or unless a live worker is there to reap it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from i2v.db import fleet as repo
from i2v.db.engine import Database
from i2v.db.tables import Executor, FleetInstance, utcnow
from tests.conftest import i2v_environment
from tests.fakes.vast import FakeVast
from tests.support import fleet as support

pytestmark = pytest.mark.integration
I2V = str(Path(sys.executable).parent / "i2v")
SHORT = ("--duration", "3", "--fps", "24", "--size", "360x640")


@pytest.fixture
def vast(tmp_path: Path) -> Iterator[FakeVast]:
    with FakeVast(tmp_path / "vast", installed_models=support.installed_models()) as fake:
        fake.ready_delay_s = 0.1
        yield fake


def environment(db: Database, vast: FakeVast, tmp_path: Path) -> dict[str, str]:
    return {
        **i2v_environment(),
        "I2V_DATA_DIR": str(tmp_path / "data"),
        "I2V_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "I2V_FLEET_ENABLED": "true",
        "I2V_FLEET_DEPLOYMENT": "test",
        "I2V_FLEET_PROVIDERS": "vast",
        "I2V_FLEET_POLL_S": "0.05",
        "I2V_FLEET_LINE_POLL_S": "0.05",
        "I2V_FLEET_MIN_VRAM_GB": "20",
        "I2V_FLEET_MIN_CUDA": "12.0",
        "I2V_VAST_URL": vast.url,
        "I2V_VAST_API_KEY": vast.api_key,
        "I2V_VAST_TEMPLATE": "tmpl-comfyui",
        "I2V_COMFYUI_WORKFLOW": support.WORKFLOW,
        "I2V_COMFYUI_TIMEOUT_S": "60",
    }


def generate(
    db: Database, vast: FakeVast, tmp_path: Path, image: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [I2V, "generate", str(image), "-o", str(tmp_path / "out.mp4"), "--backend",
         "comfyui", *SHORT, *extra],
        cwd=tmp_path, env=environment(db, vast, tmp_path), capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def states(db: Database) -> list[str]:
    with db.session() as session:
        return [row.state for row in session.scalars(select(FleetInstance))]


def reap_later(db: Database, vast: FakeVast) -> None:
    """What an idle reaper does once I2V_FLEET_IDLE_SECONDS passed: the test leaks nothing."""

    async def go() -> None:
        later = utcnow() + timedelta(hours=2)
        providers = {"vast": support.vast(vast.url, vast.api_key)}
        async with support.manager(db, providers, support.config(("vast",)), later) as fleet:
            await fleet.reconcile()

    asyncio.run(go())
    assert vast.instances == {}


def test_generate_destroys_the_gpu_it_launched_on_exit(
    db: Database, vast: FakeVast, tmp_path: Path, photo_jpeg: Path
) -> None:
    done = generate(db, vast, tmp_path, photo_jpeg)
    assert done.returncode == 0, done.stderr
    assert "destroyed vast instance" in done.stderr
    assert len(vast.creations()) == 1
    assert vast.instances == {}
    assert all(bill.end is not None for bill in vast.bills.values())
    assert states(db) == [repo.TERMINATED]


def test_keep_gpu_leaves_it_running_and_says_how_it_will_be_reaped(
    db: Database, vast: FakeVast, tmp_path: Path, photo_jpeg: Path
) -> None:
    done = generate(db, vast, tmp_path, photo_jpeg, "--keep-gpu")
    assert done.returncode == 0, done.stderr
    assert "kept running (--keep-gpu): vast instance" in done.stderr
    assert "i2v fleet reconcile" in done.stderr
    assert len(vast.instances) == 1
    assert states(db) == [repo.READY]
    reap_later(db, vast)


def test_a_live_worker_is_left_to_reap_it(
    db: Database, vast: FakeVast, tmp_path: Path, photo_jpeg: Path
) -> None:
    with db.session() as session:
        session.add(
            Executor(id="worker-1", role="worker", host=socket.gethostname(), pid=os.getpid(),
                     started_at=utcnow(), heartbeat_at=utcnow() + timedelta(minutes=5))
        )  # fmt: skip
    done = generate(db, vast, tmp_path, photo_jpeg)
    assert done.returncode == 0, done.stderr
    assert "left running: vast instance" in done.stderr
    assert len(vast.instances) == 1
    reap_later(db, vast)


def test_sigterm_mid_job_destroys_the_gpu(
    db: Database, vast: FakeVast, tmp_path: Path, photo_jpeg: Path
) -> None:
    child = subprocess.Popen(
        [I2V, "generate", str(photo_jpeg), "-o", str(tmp_path / "out.mp4"), "--backend",
         "comfyui", *SHORT],
        cwd=tmp_path, env=environment(db, vast, tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not vast.comfy:
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "no instance came up"
            time.sleep(0.02)
        (comfy,) = vast.comfy.values()
        comfy.faults.hang_prompt = True  # the job runs until it is stopped
        while states(db) != [repo.READY] or not _busy(db):
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "the job never took the instance"
            time.sleep(0.02)
        time.sleep(0.5)  # its prompt is on the GPU now
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert "destroyed vast instance" in stderr
    assert vast.instances == {}
    assert states(db) == [repo.TERMINATED]


def _busy(db: Database) -> bool:
    with db.session() as session:
        return any(row.busy for row in repo.open_rows(session))
