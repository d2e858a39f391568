"""`i2v worker`: run queued jobs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from i2v.config import load_settings


def worker() -> None:
    """Run queued jobs; SIGTERM stops taking work and lets running steps finish."""
    from i2v.bootstrap import open_app, open_blobs  # the engine loads only for this command
    from i2v.engine.runtime import start_engine

    settings = load_settings()
    app = open_app(settings)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    engine = start_engine(app, open_blobs(settings), role="worker")
    typer.echo(f"i2v worker {engine.executor_id} running", err=True)
    try:
        stop.wait()
    finally:
        engine.stop()
        app.close()
    typer.echo(f"i2v worker {engine.executor_id} stopped", err=True)
