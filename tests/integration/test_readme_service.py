"""The README's service walk-through, run as written (on a free port) with bash and curl."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import i2v_environment

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def service_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Run the service") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the README's service section has no sh block"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_steps_work_as_written(tmp_path: Path) -> None:
    port = free_port()
    script = service_block().replace("8000", str(port))
    # Run from a copy of the paths the block names, so clip.mp4 lands in tmp_path.
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "example.jpg", tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {**i2v_environment(), "I2V_DATA_DIR": str(tmp_path / "data")}
    env["PATH"] = os.environ.get("PATH", "")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"set -m\n{script}\nwait"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"state":"succeeded"' in done.stdout.replace(" ", "")  # the last SSE state event
    clip = tmp_path / "clip.mp4"
    assert clip.stat().st_size > 10_000
    assert clip.read_bytes()[4:8] == b"ftyp"
