"""Fakes served on loopback: uvicorn in a daemon thread, up in milliseconds, down at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class _Uvicorn(uvicorn.Server):
    """uvicorn, woken at once to stop instead of polling every 0.1 s: fast test teardown."""

    stopping: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self.stopping, self.loop = asyncio.Event(), asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):  # on_tick refreshes the Date header
            counter += 10
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 1.0)

    def stop(self) -> None:
        self.should_exit = True
        if self.loop is not None and self.stopping is not None:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.stopping.set)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """`app` on 127.0.0.1:`port` until `stop`; `start` returns once it accepts connections."""

    def __init__(self, app: ASGIApp, port: int, name: str, **config: Any) -> None:
        self._config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", **config
        )
        self._name = name
        self._uvicorn: _Uvicorn | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._uvicorn = _Uvicorn(self._config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True, name=self._name)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._name} did not start on port {self._config.port}")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._uvicorn is not None and self._thread is not None:
            self._uvicorn.stop()
            self._thread.join(10)
        self._uvicorn = self._thread = None
