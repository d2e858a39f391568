"""`i2v serve` in a child process, and the peak memory a load adds to it (Linux /proc)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support.serve import free_port, wait_ready

I2V = Path(sys.executable).parent / "i2v"
MB = 1024 * 1024


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


@dataclass(frozen=True)
class Served:
    base: str
    key: str
    pid: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def peak_added_mb(self, load: Callable[[], Awaitable[object]]) -> float:
        """Run ``load`` and return how far the server's peak RSS rose above its RSS before.

        Writing 5 to clear_refs resets the high-water mark (VmHWM) to the current RSS, so one
        server measures many loads in turn, each against its own baseline.
        """
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        before = _status_kb(self.pid, "VmRSS")
        asyncio.run(load())  # type: ignore[arg-type]
        return (_status_kb(self.pid, "VmHWM") - before) / 1024


def _cli(env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(I2V), *args], env=dict(env), capture_output=True, text=True, check=True
    )
    return done.stdout


@contextmanager
def served(env: Mapping[str, str], *, worker: bool = False) -> Iterator[Served]:
    """A user and key made with the CLI, then `i2v serve` on a free loopback port, until exit."""
    _cli(env, "users", "create", "mem")
    key = _cli(env, "keys", "create", "mem").strip()
    port = free_port()
    args = [str(I2V), "serve", "--port", str(port), *([] if worker else ["--no-worker"])]
    server = subprocess.Popen(args, env=dict(env))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        yield Served(base, key, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def flat_png(width: int, height: int, rgb: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    """A legal RGB PNG of one colour: tiny on disk (deflate), ``width*height*3`` bytes decoded."""
    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return len(data).to_bytes(4, "big") + kind + data + crc.to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def gzip_bomb(decoded_mb: int) -> bytes:
    """``decoded_mb`` MiB of zeros, gzip-encoded: about a thousandth of that on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    return b"".join(packer.compress(block) for _ in range(decoded_mb)) + packer.flush()


async def upload_all(
    server: Served, images: list[bytes], fields: Mapping[str, str] | None = None
) -> list[int]:
    """Submit every image at once; the status of each answer."""
    async with httpx.AsyncClient(base_url=server.base, headers=server.headers, timeout=120) as c:

        async def one(i: int, image: bytes) -> int:
            data = {"seed": str(i), **(fields or {})}
            files = {"image": (f"in{i}.png", image, "image/png")}
            return (await c.post("/v1/jobs", data=data, files=files)).status_code

        return list(await asyncio.gather(*(one(i, image) for i, image in enumerate(images))))


async def submit_urls(server: Served, urls: list[str]) -> list[int]:
    """Submit one JSON job per ``image_url`` at once; the status of each answer."""
    async with httpx.AsyncClient(base_url=server.base, headers=server.headers, timeout=120) as c:

        async def one(i: int, url: str) -> int:
            body = {"image_url": url, "seed": i}
            return (await c.post("/v1/jobs", json=body)).status_code

        return list(await asyncio.gather(*(one(i, url) for i, url in enumerate(urls))))


def environment(base: Mapping[str, str], data_dir: Path, **settings: str) -> dict[str, str]:
    return {**base, "I2V_DATA_DIR": str(data_dir), **settings}


@contextmanager
def gzip_server(body: bytes) -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``body`` as a gzip-encoded PNG."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/bomb.png"
    finally:
        httpd.shutdown()
        httpd.server_close()
