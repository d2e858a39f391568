"""The admin fleet API and `i2v fleet` against the fake Vast.ai and RunPod, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from i2v.api.app import create_app
from i2v.bootstrap import open_app
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.errors import ConfigError
from i2v.services import accounts
from i2v.services import fleet as fleet_service
from tests.conftest import i2v_environment
from tests.fakes.runpod import FakeRunPod
from tests.fakes.vast import FakeVast

pytestmark = pytest.mark.integration

I2V = Path(sys.executable).parent / "i2v"
WORKFLOW = "wan22_ti2v_5b"
DEPLOYMENT = "fleettest"
PREFIX = f"i2v:{DEPLOYMENT}:"


@dataclass
class Fleet:
    client: TestClient
    alice: dict[str, str]
    admin: dict[str, str]
    vast: FakeVast
    runpod: FakeRunPod
    env: dict[str, str]  # the I2V_* settings, for `i2v` subprocesses

    def launch(self, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/fleet/instances", headers=self.admin, json={"workflow": WORKFLOW, **body}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(I2V), "fleet", *args],
            env={**i2v_environment(), **self.env, **extra},
            cwd=self.env["I2V_DATA_DIR"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def fleet(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    (tmp_path / "data").mkdir()
    with FakeVast(tmp_path / "vast") as vast, FakeRunPod(root=tmp_path / "runpod") as runpod:
        env = {
            "I2V_DATA_DIR": str(tmp_path / "data"),
            "I2V_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "I2V_FLEET_ENABLED": "true",
            "I2V_FLEET_DEPLOYMENT": DEPLOYMENT,
            "I2V_FLEET_PROVIDERS": "vast,runpod",
            "I2V_FLEET_READY_TIMEOUT_S": "30",
            "I2V_FLEET_POLL_S": "0.05",
            "I2V_VAST_URL": vast.url,
            "I2V_VAST_API_KEY": vast.api_key,
            "I2V_VAST_TEMPLATE": "comfyui-template-hash",
            "I2V_RUNPOD_REST_URL": runpod.rest_url,
            "I2V_RUNPOD_GRAPHQL_URL": runpod.graphql_url,
            "I2V_RUNPOD_API_KEY": runpod.api_key,
            "I2V_RUNPOD_TEMPLATE": "comfyui-template",
        }
        for key in list(os.environ):
            if key.startswith("I2V_") and key not in env:
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = load_settings()
        app = open_app(settings)
        keys = {}
        for name, admin in (("alice", False), ("root", True)):
            accounts.create_user(app.db, name, admin=admin)
            keys[name] = {"Authorization": f"Bearer {accounts.create_key(app.db, name).token}"}
        app.close()
        with TestClient(create_app(settings, run_worker=False)) as client:
            yield Fleet(client, keys["alice"], keys["root"], vast, runpod, env)


def test_the_fleet_routes_do_not_exist_for_regular_users(fleet: Fleet) -> None:
    hidden = fleet.client.get("/v1/admin/users", headers=fleet.alice)
    assert hidden.status_code == 404
    routes = [
        ("GET", "/v1/fleet/offers", None),
        ("GET", "/v1/fleet/instances", None),
        ("POST", "/v1/fleet/instances", {"workflow": WORKFLOW}),
        ("DELETE", "/v1/fleet/instances/fin0123456789ab", None),
        ("GET", "/v1/fleet/spend", None),
        ("POST", "/v1/fleet/reconcile", None),
    ]
    for method, path, body in routes:
        response = fleet.client.request(method, path, headers=fleet.alice, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == hidden.json(), (method, path)
        assert response.headers["content-type"] == hidden.headers["content-type"]
        assert fleet.client.request(method, path, json=body).status_code == 401
    assert fleet.vast.creations() == []
    assert fleet.runpod.requests_to("POST", "/v1/pods") == []


def live(fleet: Fleet) -> set[str]:
    """Instance ids the fake providers are running (and billing) now."""
    return {str(i) for i in fleet.vast.instances} | set(fleet.runpod.pods)


def test_offers_from_both_providers_cheapest_first(fleet: Fleet) -> None:
    response = fleet.client.get("/v1/fleet/offers", headers=fleet.admin)
    assert response.status_code == 200, response.text
    offers = response.json()["offers"]
    prices = [o["usd_per_hour"] for o in offers]
    assert prices == sorted(prices)
    assert {o["provider"] for o in offers} == {"vast", "runpod"}
    assert all(o["vram_gb"] >= 24 for o in offers)

    narrow = fleet.client.get(
        "/v1/fleet/offers",
        headers=fleet.admin,
        params={"gpu": "RTX 4090", "max_usd_per_hour": 0.4, "min_vram_gb": 20},
    ).json()["offers"]
    assert narrow
    assert all("4090" in o["gpu_name"] and o["usd_per_hour"] <= 0.4 for o in narrow)

    bad = fleet.client.get("/v1/fleet/offers", headers=fleet.admin, params={"min_vram_gb": 0})
    assert bad.status_code == 422


def test_launch_list_spend_and_terminate(fleet: Fleet) -> None:
    launched = fleet.launch()
    assert launched["state"] == "ready"
    assert launched["endpoint"], launched
    assert launched["busy"] == 0  # left idle, for jobs to reuse
    assert launched["workflow"] == WORKFLOW
    assert launched["label"] == PREFIX + launched["id"]
    provider, instance_id = launched["provider"], launched["instance_id"]
    cheapest = fleet.client.get("/v1/fleet/offers", headers=fleet.admin).json()["offers"][0]
    assert provider == cheapest["provider"]  # the cheapest fitting offer, whoever has it
    assert instance_id in live(fleet)
    ready = httpx.get(f"{launched['endpoint']}/system_stats")  # ComfyUI answers
    assert ready.status_code == 200

    listed = fleet.client.get("/v1/fleet/instances", headers=fleet.admin).json()["instances"]
    assert [i["id"] for i in listed] == [launched["id"]]

    spend = fleet.client.get("/v1/fleet/spend", headers=fleet.admin).json()
    [item] = spend["instances"]
    assert item["id"] == launched["id"]
    assert item["runtime_s"] > 0
    assert item["usd"] > 0
    assert spend["usd_per_hour"] == pytest.approx(launched["usd_per_hour"])
    assert spend["spent_total_usd"] == pytest.approx(item["usd"])
    assert spend["spent_today_usd"] > 0
    assert spend["jobs_usd"] == 0

    down = fleet.client.delete(f"/v1/fleet/instances/{launched['id']}", headers=fleet.admin)
    assert down.status_code == 200, down.text
    closed = down.json()
    assert closed["state"] == "terminated"
    assert closed["terminated_at"] is not None
    assert closed["reason"] == "terminated by root"
    assert instance_id not in live(fleet)
    again = fleet.client.delete(f"/v1/fleet/instances/{launched['id']}", headers=fleet.admin)
    assert again.status_code == 200
    assert again.json()["terminated_at"] == closed["terminated_at"]

    assert fleet.client.get("/v1/fleet/instances", headers=fleet.admin).json()["instances"] == []
    every = fleet.client.get("/v1/fleet/instances", headers=fleet.admin, params={"all": "true"})
    assert [i["state"] for i in every.json()["instances"]] == ["terminated"]
    after = fleet.client.get("/v1/fleet/spend", headers=fleet.admin).json()
    assert after["usd_per_hour"] == 0
    assert after["instances"][0]["runtime_s"] >= item["runtime_s"]


def test_launch_honours_the_gpu_and_price_overrides(fleet: Fleet) -> None:
    launched = fleet.launch(gpu="RTX 5090", max_usd_per_hour=0.9)
    assert launched["gpu_name"] == "RTX 5090"
    assert fleet.vast.instances[int(launched["instance_id"])]["gpu_name"] == "RTX 5090"
    fleet.client.delete(f"/v1/fleet/instances/{launched['id']}", headers=fleet.admin)


def test_unknown_instances_and_workflows_are_not_found(fleet: Fleet) -> None:
    missing = fleet.client.delete("/v1/fleet/instances/fin0123456789ab", headers=fleet.admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    unknown = fleet.client.post(
        "/v1/fleet/instances", headers=fleet.admin, json={"workflow": "no_such_workflow"}
    )
    assert unknown.status_code == 404
    assert "no_such_workflow" in unknown.json()["detail"]
    assert fleet.vast.creations() == []


def test_reconcile_destroys_a_labelled_stray_and_spares_strangers(fleet: Fleet) -> None:
    stray = fleet.vast.seed_instance(f"{PREFIX}fin00000000dead")
    stranger = fleet.vast.seed_instance("someone-else:42")
    response = fleet.client.post("/v1/fleet/reconcile", headers=fleet.admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["destroyed"] == [
        {"provider": "vast", "instance_id": str(stray), "reason": "not in the database"}
    ]
    assert stray not in fleet.vast.instances
    assert stranger in fleet.vast.instances
    again = fleet.client.post("/v1/fleet/reconcile", headers=fleet.admin).json()
    assert again == {"destroyed": [], "adopted": [], "closed": []}


def test_cli_lists_offers_instances_and_spend_as_tables(fleet: Fleet) -> None:
    launched = fleet.launch()

    ls = fleet.cli("ls")
    assert ls.returncode == 0, ls.stderr
    header, row = ls.stdout.splitlines()
    assert header.split()[:4] == ["ID", "PROVIDER", "INSTANCE", "STATE"]
    expected = [launched["id"], launched["provider"], launched["instance_id"], "ready"]
    assert row.split()[:4] == expected
    assert launched["endpoint"] in row

    spend = fleet.cli("spend")
    assert spend.returncode == 0, spend.stderr
    lines = spend.stdout.splitlines()
    assert lines[0].split() == ["ID", "PROVIDER", "GPU", "STATE", "$/H", "RUNTIME", "USD"]
    assert lines[1].startswith(launched["id"])
    assert any(line.startswith("total") for line in lines)

    offers = fleet.cli("offers", "--max-usd-per-hour", "0.5")
    assert offers.returncode == 0, offers.stderr
    header, *rows = offers.stdout.splitlines()
    assert header.split()[:3] == ["PROVIDER", "OFFER", "GPU"]
    prices = [float(next(c for c in r.split() if c.startswith("$"))[1:]) for r in rows]
    assert rows
    assert prices == sorted(prices)
    assert max(prices) <= 0.5

    down = fleet.cli("down", launched["id"])
    assert down.returncode == 0, down.stderr
    assert f"{launched['id']} terminated" in down.stdout
    assert launched["instance_id"] not in live(fleet)
    assert fleet.cli("ls", "--all").stdout.splitlines()[1].split()[3] == "terminated"

    stray = fleet.vast.seed_instance(f"{PREFIX}fin00000000beef")
    reconciled = fleet.cli("reconcile")
    assert reconciled.returncode == 0, reconciled.stderr
    assert f"destroyed vast {stray}: not in the database" in reconciled.stdout


def test_with_the_fleet_off_up_fails_in_one_line_and_reading_still_works(fleet: Fleet) -> None:
    off = {"I2V_FLEET_ENABLED": "false"}
    up = fleet.cli("up", "--workflow", WORKFLOW, **off)
    assert up.returncode == 1
    assert up.stdout == ""
    [line] = up.stderr.splitlines()
    assert line.startswith("i2v: error: the fleet is off: set I2V_FLEET_ENABLED=true")
    ls = fleet.cli("ls", **off)
    assert ls.returncode == 0, ls.stderr
    assert ls.stderr.strip() == "no open instances"
    spend = fleet.cli("spend", **off)
    assert spend.returncode == 0, spend.stderr
    assert "total    $0.00" in spend.stdout

    settings = load_settings().model_copy(update={"fleet_enabled": False})
    app = open_app(settings, migrate=False)
    try:
        refused: list[Callable[[], object]] = [
            lambda: fleet_service.list_offers(app, None),
            lambda: fleet_service.launch_instance(app, WORKFLOW),
            lambda: fleet_service.terminate_instance(app, "fin0123456789ab"),
            lambda: fleet_service.reconcile(app),
        ]
        for call in refused:
            with pytest.raises(ConfigError, match="the fleet is off"):
                call()
        assert fleet_service.list_instances(app, include_closed=True) == []
        assert fleet_service.spend(app).spent_total_usd == 0
    finally:
        app.close()
    assert fleet.vast.requests == []
    assert fleet.runpod.requests == []
