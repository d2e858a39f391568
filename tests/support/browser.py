"""A real browser on the dashboard: Debian's Chromium driven by Playwright, and one `i2v serve`
(SQLite, a temporary data folder, its worker on) with three users and their keys.

Playwright's own browser downloads are never used: the machine's `chromium` is launched through
`executable_path`. Shared by tests/browser and scripts/screenshots.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import i2v_environment
from tests.support.serve import free_port, wait_ready

REQUIRE_ENV = "I2V_REQUIRE_BROWSER"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# As the machine notes say for a closed network: no background traffic, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
# Every console message a page sends that is a problem; violations of the CSP are reported
# there too, by Chromium itself and by the listener `WATCH_CSP` adds.
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
});
"""


def chromium_path() -> str | None:
    """Debian's Chromium, wherever it is; None where it is not installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def launch(playwright: Any, executable: str) -> Any:
    """A headless Chromium from Debian, through Playwright (never Playwright's own build)."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


@dataclass(frozen=True)
class Dashboard:
    """A running `i2v serve`: its URL, a key per user, and its CLI on the same data."""

    url: str
    folder: Path
    keys: dict[str, str]
    env: dict[str, str] = field(repr=False)
    exe: Path

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.exe), *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    def invite(self, name: str) -> str:
        """A one-time sign-in link for `name`, as `i2v users invite` prints it."""
        return self.cli("users", "invite", name).strip().splitlines()[0]

    def submit(self, user: str, image: Path = EXAMPLE, **fields: str) -> str:
        """A job through the API (not the page); its id."""
        with image.open("rb") as picture:
            response = httpx.post(
                f"{self.url}/v1/jobs",
                headers={"Authorization": f"Bearer {self.keys[user]}"},
                files={"image": (image.name, picture, "image/jpeg")},
                data=fields,
                timeout=60,
            )
        assert response.status_code == 201, response.text
        job_id: str = response.json()["id"]
        return job_id

    def wait(self, user: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
        """The job once it has ended (polling the API)."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.keys[user]}"}
        while time.monotonic() < deadline:
            job: dict[str, Any] = httpx.get(
                f"{self.url}/v1/jobs/{job_id}", headers=headers, timeout=30
            ).json()
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not end within {timeout} s")


USERS = (("alice", False), ("bob", False), ("root", True))


@contextmanager
def dashboard(i2v_exe: Path, folder: Path) -> Iterator[Dashboard]:
    """`i2v serve` on a free port until the block ends, with users alice, bob and root (an
    admin), made with the CLI before it starts; its output goes to `folder/serve.log`."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**i2v_environment(), "I2V_DATA_DIR": str(folder / "data"), "I2V_PUBLIC_URL": url}
    setup = Dashboard(url, folder, {}, env, i2v_exe)
    keys = {}
    for name, admin in USERS:
        setup.cli("users", "create", name, *(["--admin"] if admin else []))
        keys[name] = setup.cli("keys", "create", name).split()[0]
    with (folder / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [str(i2v_exe), "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(url, server)
            yield Dashboard(url, folder, keys, env, i2v_exe)
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def i2v_console_script() -> Path:
    return Path(sys.executable).parent / "i2v"


def screenshots_dir(default: Path) -> Path:
    """Where screenshots go: I2V_SCREENSHOTS_DIR, else `default`."""
    chosen = os.environ.get("I2V_SCREENSHOTS_DIR")
    folder = Path(chosen) if chosen else default
    folder.mkdir(parents=True, exist_ok=True)
    return folder
