"""POST /v1/quotes and GET /v1/backends on SQLite and PostgreSQL, and the fleet's price: the
cheapest fitting offer times the default GPU time, then times the median of finished runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from i2v.bootstrap import open_app
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import FleetInstance, FleetLease, utcnow
from i2v.services.breaker import breakers_of
from i2v.services.estimates import estimate, quote_spec
from i2v.services.fleet import list_offers
from tests.fakes.vast import FakeVast
from tests.support.api import Api, running_api

pytestmark = pytest.mark.integration
KLING = {"model": "kling-2.5-turbo-pro", "duration": 5}


@pytest.fixture
def api(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    env = {"I2V_FAL_KEY": "test-key", "I2V_COMFYUI_URLS": "http://127.0.0.1:9"}
    with running_api(db, tmp_path, monkeypatch, env=env) as running:
        yield running


def post(api: Api, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
    return api.client.post("/v1/quotes", headers=api.alice if who is None else who, json=body)


def test_a_quote_prices_every_backend_and_names_autos_choice(api: Api) -> None:
    response = post(api, KLING)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model": "kling-2.5-turbo-pro",
        "auto": "fal",
        "auto_reason": None,
        "quotes": [
            {
                "backend": "fal",
                "model": "kling-2.5-turbo-pro",
                "usd": 0.35,
                "basis": "fal's price list, read 2026-12-04",
                "state": "available",
                "reason": None,
                "auto": True,
            }
        ],
    }
    body = post(api, {"model": "Wan 2.2 14B", "duration": 5, "prompt": "waves"}).json()
    assert [(q["backend"], q["state"], q["auto"]) for q in body["quotes"]] == [
        ("comfyui", "available", True),  # own servers: not metered
        ("fal", "available", False),
    ]
    only = post(api, {"model": "wan-2.2-14b", "backend": "fal"}).json()
    assert [q["backend"] for q in only["quotes"]] == ["fal"]
    assert only["auto"] == "comfyui"  # where auto would go, whichever backend was asked about
    assert post(api, {}).json()["quotes"][0]["backend"] == "local"


BAD = [
    ({"model": "kling-2.5-turbo-pro", "duration": 7}, "duration", "5 or 10"),
    ({"model": "kling-2.5-turb"}, "model", "did you mean kling-2.5-turbo-pro"),
    ({"model": "kling-2.5-turbo-pro", "resolution": "4k"}, "resolution", "take a resolution"),
    ({"model": "wan-2.2-14b", "backend": "local"}, "backend", "it runs on: fal, comfyui"),
    ({"backend": "gpu"}, "backend", "unknown backend 'gpu'"),
    ({"size": "720x1280", "aspect": "9:16"}, "size", "not both"),
    ({"fps": 100}, "fps", "fps 100 is outside 23-60"),
    ({"sound": "yes"}, "sound", "valid boolean"),
    ({"duration": "5"}, "duration", "valid number"),
    ({"image": "x"}, "image", "Extra inputs are not permitted"),
    ({"model": "wan-2.2-14b", "prefer": "fast"}, "prefer", "not one of: cost, speed"),
]


def test_bad_values_are_422_with_the_field(api: Api) -> None:
    """Every case on one server per database: the server is not what varies."""
    for body, field, detail in BAD:
        response = post(api, body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, body
        assert detail in response.json()["detail"], body


def test_a_body_that_is_not_json_names_the_body(api: Api) -> None:
    headers = {**api.alice, "Content-Type": "application/json"}
    response = api.client.post("/v1/quotes", headers=headers, content=b'{"model": ')
    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert response.json()["detail"] == "body: not valid JSON"


def test_quotes_and_backends_need_a_key(api: Api) -> None:
    assert api.client.post("/v1/quotes", json=KLING).status_code == 401
    assert api.client.get("/v1/backends").status_code == 401


def test_backends_show_state_breaker_and_models_and_errors_only_to_admins(
    api: Api, db: Database
) -> None:
    listed = api.client.get("/v1/backends", headers=api.alice).json()["backends"]
    assert [(b["name"], b["state"]) for b in listed] == [
        ("local", "available"),
        ("comfyui", "available"),
        ("fal", "available"),
    ]
    fal = listed[2]
    assert fal["hosted"] is True
    assert {"kling-2.5-turbo-pro", "wan-2.2-14b", "veo-3.1-fast"} <= set(fal["models"])
    app = open_app(load_settings(), migrate=False)
    try:
        breakers = breakers_of(app)
        for _ in range(app.settings.breaker_failures):
            breakers.failed("comfyui", "server_unreachable: http://10.0.0.5:8188 refused")
    finally:
        app.close()
    comfyui = api.client.get("/v1/backends", headers=api.admin).json()["backends"][1]
    assert comfyui["state"] == "breaker_open"
    assert comfyui["failures"] == 3
    assert comfyui["open_until"] is not None
    assert comfyui["last_error"] == "server_unreachable: http://10.0.0.5:8188 refused"
    assert comfyui["models"] == ["hunyuan-video-1.5", "ltx-video", "wan-2.2-14b", "wan-2.2-5b"]
    seen_by_alice = api.client.get("/v1/backends", headers=api.alice).json()["backends"][1]
    assert seen_by_alice == {**comfyui, "last_error": None}
    # The open breaker sends auto to fal, and the quote says why comfyui was passed over.
    body = post(api, {"model": "wan-2.2-14b"}).json()
    assert body["auto"] == "fal"
    assert {q["backend"]: q["state"] for q in body["quotes"]}["comfyui"] == "breaker_open"


def test_the_fleet_quotes_its_cheapest_offer_for_the_runs_expected_gpu_time(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeVast(tmp_path / "vast") as vast:
        for name, value in {
            "I2V_DATA_DIR": str(tmp_path / "data"),
            "I2V_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "I2V_FLEET_ENABLED": "true",
            "I2V_FLEET_DEPLOYMENT": "test",
            "I2V_FLEET_PROVIDERS": "vast",
            "I2V_FLEET_MIN_VRAM_GB": "20",
            "I2V_FLEET_MIN_CUDA": "12.0",
            "I2V_VAST_URL": vast.url,
            "I2V_VAST_API_KEY": vast.api_key,
            "I2V_VAST_TEMPLATE": "tmpl-comfyui",
            "I2V_FLEET_DEFAULT_GPU_S": "240",
        }.items():
            monkeypatch.setenv(name, value)
        app = open_app(load_settings(), migrate=False)
        try:
            cheapest = min(list_offers(app), key=lambda o: o.usd_per_hour)
            spec = quote_spec(model="wan-2.2-5b", duration_s=5, fps=24)
            [fleet] = estimate(app, spec).quotes
            assert fleet.backend == "comfyui"
            assert float(fleet.usd or 0) == pytest.approx(
                cheapest.usd_per_hour * 240 / 3600, abs=5e-5
            )
            assert fleet.basis == (
                f"fleet: {cheapest.gpu_name} on vast at ${cheapest.usd_per_hour:.3f}/h "
                "x 240 GPU s (default, no run seen yet)"
            )
            _finished_runs(db, "wan22_ti2v_5b", [100, 200, 600])
            _finished_runs(db, "ltxv_i2v", [5000])  # another workflow's runs do not count
            [fleet] = estimate(app, spec).quotes
            assert float(fleet.usd or 0) == pytest.approx(
                cheapest.usd_per_hour * 200 / 3600, abs=5e-5
            )
            assert fleet.basis.endswith("x 200 GPU s (median of 3 runs)")
        finally:
            app.close()


def _finished_runs(db: Database, workflow: str, seconds: list[int]) -> None:
    now = utcnow()
    with db.session() as session:
        row = f"fin{workflow[:8]}"
        session.add(
            FleetInstance(
                id=row,
                provider="vast",
                label=f"i2v:test:{row}",
                state="terminated",
                offer_id="1",
                usd_per_hour=Decimal("0.3"),
                workflow=workflow,
            )
        )
        session.flush()
        for index, length in enumerate(seconds):
            session.add(
                FleetLease(
                    id=f"lea{workflow[:6]}{index}",
                    instance=row,
                    run_id=f"{workflow}-run-{index}",
                    started_at=now - timedelta(seconds=length),
                    ended_at=now,
                )
            )
