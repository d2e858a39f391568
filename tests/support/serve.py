"""`i2v serve` as a subprocess on SQLite in a temporary folder, with one user's key."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import i2v_environment


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    pid: int
    key: str

    def peak_kb(self) -> int:
        """The server's peak resident memory so far (VmHWM), in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc status")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(url: str, server: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Until `url/readyz` answers 200; fails if the server exits or takes over a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, "i2v serve exited"
        assert time.monotonic() < deadline, "i2v serve did not become ready"
        time.sleep(0.2)


@contextmanager
def serving(
    i2v_exe: Path, folder: Path, *, host: str = "127.0.0.1", admin: bool = False
) -> Iterator[Served]:
    """Run `i2v serve --host HOST` until the block ends; the tests connect over 127.0.0.1."""
    env = {**i2v_environment(), "I2V_DATA_DIR": str(folder / "data")}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [str(i2v_exe), *args], cwd=folder, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    cli("users", "create", "alice", *(["--admin"] if admin else []))
    key = cli("keys", "create", "alice").split()[0]
    port = free_port()
    server = subprocess.Popen(
        [str(i2v_exe), "serve", "--host", host, "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server)
        yield Served(url, port, server.pid, key)
    finally:
        server.terminate()
        server.wait(timeout=60)
