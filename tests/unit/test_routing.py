"""backend=auto: which backends a job may use, in what order, and what a refusal says."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from i2v.config import Settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import BackendUnavailable, InvalidParameter
from i2v.services.routing import plan_route


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **changes)  # type: ignore[call-arg]


def _spec(model: str | None, **changes: object) -> RenderSpec:
    return RenderSpec(
        Motion.ZOOM_IN,
        Intensity.SUBTLE,
        Size(720, 1280),
        prompt="the water ripples",
        model=model,
        **changes,  # type: ignore[arg-type]
    )


def test_auto_on_a_hosted_model_takes_fal_with_its_price(tmp_path: Path) -> None:
    route = plan_route(_settings(tmp_path, fal_key="k:s"), _spec("Kling 2.5 Turbo Pro"), "auto")
    assert route.backends == ("fal",)
    assert route.spec.model == "kling-2.5-turbo-pro"  # the canonical name is what is stored
    assert route.estimate_usd == Decimal("0.35")
    assert route.hosted
    assert route.hosted_estimate == Decimal("0.35")


def test_auto_orders_by_price_and_speed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fal_key="k:s", comfyui_urls="http://gpu:8188")
    cheapest = plan_route(settings, _spec("wan-2.2-14b"), "auto")
    assert cheapest.backends == ("comfyui", "fal")  # own servers are not metered
    assert cheapest.estimate_usd == 0
    assert cheapest.spec.workflow == "wan22_i2v_14b.v1"  # pinned for the comfyui leg
    assert cheapest.hosted  # a failover may reach fal: the budget counts it
    fastest = plan_route(settings, _spec("wan-2.2-14b"), "auto", "speed")
    assert fastest.backends == ("comfyui", "fal")


def test_unavailable_and_tripped_backends_are_left_out_with_reasons(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fal_key="k:s", comfyui_urls="http://gpu:8188")
    route = plan_route(settings, _spec("wan-2.2-14b"), "auto", tripped={"comfyui"})
    assert route.backends == ("fal",)
    assert dict(route.skipped)["comfyui"].startswith("skipped: failing recently")
    no_key = _settings(tmp_path, comfyui_urls="http://gpu:8188")
    route = plan_route(no_key, _spec("wan-2.2-14b"), "auto")
    assert route.backends == ("comfyui",)
    assert "I2V_FAL_KEY" in dict(route.skipped)["fal"]


def test_mature_jobs_never_route_to_a_hosted_backend(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fal_key="k:s", comfyui_urls="http://gpu:8188")
    route = plan_route(settings, _spec("wan-2.2-14b"), "auto", mature=True)
    assert route.backends == ("comfyui",)
    with pytest.raises(InvalidParameter, match="self-hosted"):
        plan_route(settings, _spec("wan-2.2-14b"), "fal", mature=True)


def test_a_request_every_backend_refuses_names_its_field(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fal_key="k:s")
    with pytest.raises(InvalidParameter, match="5 or 10") as refused:
        plan_route(settings, _spec("kling-2.5-turbo-pro", duration_s=7), "auto")
    assert refused.value.field == "duration"


def test_no_runnable_backend_says_why_for_each(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="fal: not available: no fal API key"):
        plan_route(_settings(tmp_path), _spec("kling-2.5-turbo-pro"), "auto")


def test_a_pinned_backend_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fal_key="k:s", comfyui_urls="http://gpu:8188")
    with pytest.raises(InvalidParameter, match="no ComfyUI workflow"):
        plan_route(settings, _spec("kling-2.5-turbo-pro"), "comfyui")
    with pytest.raises(InvalidParameter, match="no fal endpoint"):
        plan_route(settings, _spec("wan-2.2-5b"), "fal")
    with pytest.raises(InvalidParameter, match="not the local renderer's"):
        plan_route(settings, _spec("wan-2.2-5b"), "local")
    with pytest.raises(InvalidParameter, match="prefer"):
        plan_route(settings, _spec(None), "auto", "fastest")
    with pytest.raises(InvalidParameter, match="unknown backend"):
        plan_route(settings, _spec(None), "replicate")


def test_no_model_is_the_local_renderer(tmp_path: Path) -> None:
    route = plan_route(_settings(tmp_path), _spec(None), "auto")
    assert route.backends == ("local",)
    assert route.estimate_usd == 0
    assert not route.hosted
