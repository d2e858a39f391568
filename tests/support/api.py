"""The REST API in-process on a real engine, with three users' keys (two plain, one admin)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from i2v.api.app import create_app
from i2v.bootstrap import open_app
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.services import accounts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
QUICK = {"size": "360x640", "duration": "3", "fps": "24"}


@dataclass
class Api:
    client: TestClient
    alice: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]

    def submit(self, who: dict[str, str], **fields: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/jobs",
            headers=who,
            files={"image": ("photo.jpg", EXAMPLE.read_bytes(), "image/jpeg")},
            data={**QUICK, **fields},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def wait(self, who: dict[str, str], job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = dict(self.client.get(f"/v1/jobs/{job_id}", headers=who).json())
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.05)
        raise AssertionError(f"{job_id} did not finish")


@contextmanager
def running_api(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> Iterator[Api]:
    """The app on `db` with a 1 MB upload cap, as `i2v serve --host HOST` would build it."""
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("I2V_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("I2V_MAX_UPLOAD_MB", "1")
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    app = open_app(settings)
    keys = {}
    for name, admin in (("alice", False), ("bob", False), ("root", True)):
        accounts.create_user(app.db, name, admin=admin)
        keys[name] = {"Authorization": f"Bearer {accounts.create_key(app.db, name).token}"}
    app.close()
    with TestClient(create_app(settings, host=host)) as client:
        yield Api(client, keys["alice"], keys["bob"], keys["root"])


def sse_events(text: str) -> list[dict[str, str]]:
    """The events of a server-sent event stream's text, each as its fields."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append(fields)
    return events
