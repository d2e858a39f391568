"""fal endpoint manifests: the shipped ones load, map a request to the JSON fal takes,
refuse what an endpoint cannot do (naming the allowed values), and price requests."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from i2v.backends.fal.library import load_manifests, shipped_manifests
from i2v.backends.fal.manifest import EndpointManifest
from i2v.backends.fal.mapping import to_fal_input
from i2v.backends.fal.pricing import price, price_from
from i2v.config import Settings
from i2v.errors import ConfigError, InvalidParameter
from i2v.models.catalog import ModelCatalog, catalog_for
from i2v.models.request import ModelRequest

IMAGE = "https://example.com/in.png"
REQUEST = ModelRequest(image_url=IMAGE, prompt="the camera pushes in")
BY_MODEL = {m.model: m for m in shipped_manifests()}

# What i2v sends for REQUEST in a default 30 fps job (every choice left to the model's
# default): fal's field names, the duration in the endpoint's own form, the safety knobs and
# the frame interpolator always set explicitly.
SNAPSHOTS: dict[str, dict[str, object]] = json.loads(
    (Path(__file__).parents[1] / "data" / "fal_requests.json").read_text()
)


def test_the_brief_s_endpoints_are_all_shipped() -> None:
    assert sorted(BY_MODEL) == sorted(SNAPSHOTS)
    endpoints = {m.endpoint for m in BY_MODEL.values()}
    assert "fal-ai/kling-video/v2.6/pro/image-to-video" in endpoints
    assert "fal-ai/minimax/hailuo-02/standard/image-to-video" in endpoints
    assert "fal-ai/veo3.1/fast/image-to-video" in endpoints
    assert "wan/v2.6/image-to-video" in endpoints  # fal's id for Wan 2.6 has no fal-ai/


@pytest.mark.parametrize("model", sorted(SNAPSHOTS))
def test_a_typical_request_maps_to_the_json_fal_takes(model: str) -> None:
    manifest = BY_MODEL[model]
    sent = to_fal_input(manifest, REQUEST, target_fps=30)
    assert sent.endpoint == manifest.endpoint
    assert sent.arguments == SNAPSHOTS[model]
    assert manifest.safety.items() <= sent.arguments.items()
    json.dumps(sent.arguments)  # what the client sends must be plain JSON


def test_safety_checkers_are_set_where_the_endpoint_has_them() -> None:
    for model in ("wan-2.2-14b", "wan-2.2-14b-turbo", "wan-2.5", "wan-2.6", "seedance-1-pro"):
        assert BY_MODEL[model].safety["enable_safety_checker"] is True
    assert BY_MODEL["veo-3.1-fast"].safety == {"safety_tolerance": "4"}
    assert BY_MODEL["ltx-2"].safety == {}  # fal's LTX-2 schema has no safety input


def test_a_full_request_uses_each_endpoint_s_own_fields() -> None:
    full = ModelRequest(
        image_url=IMAGE,
        prompt="waves",
        negative_prompt="blur",
        duration_s=10,
        seed=7,
        audio=True,
        end_image_url="https://example.com/end.png",
        resolution="1080P",
        aspect="9:16",
    )
    veo = to_fal_input(BY_MODEL["veo-3.1-fast"], replace(full, duration_s=6, end_image_url=None))
    assert veo.arguments["duration"] == "6s"
    assert veo.arguments["resolution"] == "1080p"  # "1080P" matched without regard to case
    assert veo.arguments["generate_audio"] is True
    assert veo.arguments["aspect_ratio"] == "9:16"
    assert (veo.arguments["seed"], veo.arguments["negative_prompt"]) == (7, "blur")
    kling = ModelRequest(
        image_url=IMAGE, prompt="p", duration_s=10, end_image_url="https://e.com/z.png"
    )
    assert to_fal_input(BY_MODEL["kling-2.5-turbo-pro"], kling).arguments["tail_image_url"] == (
        "https://e.com/z.png"
    )
    assert to_fal_input(BY_MODEL["kling-2.6-pro"], kling).arguments["end_image_url"] == (
        "https://e.com/z.png"
    )
    wan = to_fal_input(
        BY_MODEL["wan-2.2-14b"], ModelRequest(image_url=IMAGE, prompt="p", duration_s=10)
    )
    assert (wan.arguments["num_frames"], wan.arguments["frames_per_second"]) == (161, 16)
    hailuo = ModelRequest(image_url=IMAGE, prompt="p", resolution="512p", duration_s=10)
    assert to_fal_input(BY_MODEL["hailuo-02"], hailuo).arguments["resolution"] == "512P"


@pytest.mark.parametrize(
    ("model", "change", "field", "message"),
    [
        ("kling-2.5-turbo-pro", {"duration_s": 7}, "duration",
         "duration 7 s is not offered by kling-2.5-turbo-pro: 5 or 10"),
        ("seedance-1-pro", {"duration_s": 13}, "duration",
         "duration 13 s is not offered by seedance-1-pro: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 or 12"),
        ("wan-2.2-14b-turbo", {"duration_s": 5}, "duration",
         "wan-2.2-14b-turbo has no duration setting; leave duration unset"),
        ("hailuo-02", {"resolution": "1080p"}, "resolution",
         "resolution 1080p is not offered by hailuo-02: 512P or 768P"),
        ("kling-2.1-standard", {"resolution": "720p"}, "resolution",
         "kling-2.1-standard does not take a resolution"),
        ("ltx-2", {"aspect": "9:16"}, "aspect", "aspect 9:16 is not offered by ltx-2: 16:9"),
        ("kling-2.5-turbo-pro", {"aspect": "16:9"}, "aspect",
         "kling-2.5-turbo-pro does not take an aspect"),
        ("hailuo-02", {"negative_prompt": "blur"}, "negative_prompt",
         "hailuo-02 does not support a negative prompt"),
        ("kling-2.5-turbo-pro", {"audio": True}, "sound",
         "kling-2.5-turbo-pro does not support sound"),
        ("kling-2.1-standard", {"end_image_url": IMAGE}, "end_image",
         "kling-2.1-standard does not support an end image"),
        ("kling-2.1-standard", {"seed": 3}, "seed", "kling-2.1-standard does not support a seed"),
        ("wan-2.5", {"prompt": "  "}, "prompt", "the prompt is empty"),
    ],
)  # fmt: skip
def test_what_an_endpoint_cannot_do_is_refused_naming_the_allowed_values(
    model: str, change: dict[str, object], field: str, message: str
) -> None:
    request = replace(REQUEST, **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter) as caught:
        to_fal_input(BY_MODEL[model], request)
    assert (caught.value.field, str(caught.value)) == (field, message)


def ask(model: str, **change: object) -> Decimal | None:
    quote = price(BY_MODEL[model], replace(REQUEST, **change))  # type: ignore[arg-type]
    if quote is not None:
        assert quote.read_on == dt.date(2026, 12, 4)
    return quote.usd if quote is not None else None


def test_prices_follow_fal_s_published_numbers() -> None:
    # Kling: a price for 5 s plus a rate per further second.
    assert ask("kling-2.1-standard") == Decimal("0.28")
    assert ask("kling-2.1-standard", duration_s=10) == Decimal("0.56")
    assert ask("kling-2.5-turbo-pro", duration_s=10) == Decimal("0.70")
    assert ask("kling-2.1-pro", duration_s=10) == Decimal("0.98")
    # Per second, by resolution and by sound.
    assert ask("hailuo-02") == Decimal("0.27")  # fal: 6 s at 768P = $0.27
    assert ask("wan-2.5", resolution="720p", duration_s=10) == Decimal("1.00")
    assert ask("wan-2.2-14b", resolution="480p", duration_s=5) == Decimal("0.20")
    assert ask("kling-2.6-pro", duration_s=10) == Decimal("0.70")
    assert ask("kling-2.6-pro", duration_s=10, audio=True) == Decimal("1.40")
    assert ask("veo-3.1-fast", resolution="1080p", audio=True) == Decimal("1.20")
    assert ask("veo-3.1-fast", resolution="4k", duration_s=4) == Decimal("1.20")
    assert ask("ltx-2", resolution="2160p", duration_s=10) == Decimal("2.40")
    # Per video, by resolution or by length.
    assert ask("wan-2.2-14b-turbo", resolution="580p") == Decimal("0.075")
    assert ask("hailuo-2.3", duration_s=10) == Decimal("0.56")
    assert ask("luma-ray-2-flash", resolution="1080p") == Decimal("0.80")
    # Seedance: 1920*1080*24 fps*5 s/1024 = 243,000 tokens at $2.5 per million (fal: ~$0.62).
    assert ask("seedance-1-pro", resolution="1080p") == Decimal("0.6075")


def test_a_price_fal_does_not_state_is_unknown_not_guessed() -> None:
    assert ask("seedance-1-lite") is None
    assert ask("luma-ray-2", duration_s=9) is None
    assert price_from(BY_MODEL["seedance-1-lite"]) is None
    cheapest = price_from(BY_MODEL["kling-2.5-turbo-pro"])
    assert cheapest is not None
    assert cheapest.usd == Decimal("0.35")


def test_a_refused_request_is_never_quoted() -> None:
    with pytest.raises(InvalidParameter, match="5 or 10"):
        ask("kling-2.5-turbo-pro", duration_s=7)


# -- users' own manifests -----------------------------------------------------------------


def user_manifest(**changes: object) -> dict[str, object]:
    body = json.loads(json.dumps(BY_MODEL["kling-2.1-pro"].model_dump(mode="json")))
    body.update(endpoint="fal-ai/kling-video/v2.1/master/image-to-video", model="kling-2.1-master")
    body["price"]["rule"] = {
        "kind": "base_plus_extra",
        "base_usd": "1.40",
        "base_seconds": 5,
        "usd_per_extra_second": "0.28",
    }
    body.update(changes)
    return body


def write(folder: Path, name: str, body: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_a_user_manifest_adds_a_model_without_code(tmp_path: Path) -> None:
    write(tmp_path, "master.json", user_manifest())
    catalog = ModelCatalog(load_manifests(tmp_path))
    model = catalog.get("Kling 2.1 Master")
    assert model.fal is not None
    assert model.backends == ("fal",)
    quote = price(model.fal, ModelRequest(image_url=IMAGE, prompt="p", duration_s=10))
    assert quote is not None
    assert quote.usd == Decimal("2.80")


def test_the_catalogue_is_built_once_until_the_user_s_manifests_change(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, fal_manifests_dir=tmp_path / "fal")
    first = catalog_for(settings)
    assert catalog_for(settings) is first  # built once, not per call
    with pytest.raises(InvalidParameter):
        first.get("kling-2.1-master")
    path = write(tmp_path / "fal", "master.json", user_manifest())
    added = catalog_for(settings)
    assert added.get("kling-2.1-master").title == user_manifest()["title"]
    assert catalog_for(settings) is added
    path.write_text(json.dumps(user_manifest(title="Kling 2.1 Master, renamed")))  # in place
    assert catalog_for(settings).get("kling-2.1-master").title == "Kling 2.1 Master, renamed"
    path.write_text("{not json")
    for _ in range(2):  # a refusal is not remembered: the file is read again each time
        with pytest.raises(ConfigError, match=r"master\.json: not JSON"):
            catalog_for(settings)
    path.unlink()
    with pytest.raises(InvalidParameter):
        catalog_for(settings).get("kling-2.1-master")
    (tmp_path / "fal").rmdir()
    write(tmp_path, "fal", "x")  # a file where the directory was
    with pytest.raises(ConfigError, match="is not a directory"):
        catalog_for(settings)


def test_a_missing_user_directory_adds_nothing(tmp_path: Path) -> None:
    assert load_manifests(tmp_path / "absent") == shipped_manifests()


def test_a_user_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "not-a-dir", "x")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_manifests(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", "master.json: not JSON"),
        (user_manifest(duration={"form": "string", "allowed": [5, 10], "default": 7}),
         "master.json: invalid fal endpoint manifest: duration: Value error, "
         "default 7 is not in allowed [5, 10]"),
        (user_manifest(duration={"form": "minutes", "allowed": [5]}),
         "duration.form: Input should be"),
        (user_manifest(endpoint="no-slash"), "endpoint: String should match pattern"),
        (user_manifest(model="--"), "model: String should match pattern"),
        (user_manifest(safety={"seed": 1}), "two inputs share a field name"),
        (user_manifest(duration={"form": "integer", "allowed": [0, 5]}),
         "duration.allowed.0: Input should be greater than 0"),
        (user_manifest(image_feild="image_url"), "image_feild: Extra inputs are not permitted"),
        (user_manifest(price={"rule": None, "source": "me"}), "price.read_on: Field required"),
        (user_manifest(resolution={"field": "resolution", "allowed": ["720p"]}, price={
            "rule": {"kind": "per_second",
                     "rates": [{"resolution": "1080p", "usd_per_second": "0.1"}]},
            "read_on": "2026-12-01", "source": "me"}),
         "price.rule names resolutions not offered: ['1080p']"),
    ],
)  # fmt: skip
def test_a_bad_user_manifest_names_the_file_and_the_field(
    tmp_path: Path, body: object, expected: str
) -> None:
    path = write(tmp_path, "master.json", body)
    with pytest.raises(ConfigError) as caught:
        load_manifests(tmp_path)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "clash"),
    [
        ({"endpoint": "fal-ai/kling-video/v2.1/pro/image-to-video"},
         "endpoint 'fal-ai/kling-video/v2.1/pro/image-to-video' is already used by a shipped "
         "manifest"),
        ({"model": "Kling 2.1 Pro"}, "model 'Kling 2.1 Pro' is already used by a shipped manifest"),
    ],
)  # fmt: skip
def test_a_user_manifest_may_not_take_a_shipped_name(
    tmp_path: Path, changes: dict[str, object], clash: str
) -> None:
    path = write(tmp_path, "mine.json", user_manifest(**changes))
    with pytest.raises(ConfigError) as caught:
        load_manifests(tmp_path)
    assert str(caught.value) == f"{path}: {clash}"


def test_two_user_manifests_may_not_share_a_model(tmp_path: Path) -> None:
    write(tmp_path, "a.json", user_manifest())
    second = write(tmp_path, "b.json", user_manifest(endpoint="fal-ai/other/image-to-video"))
    with pytest.raises(ConfigError, match=f"{second}: model 'kling-2.1-master' is already used by"):
        load_manifests(tmp_path)


def test_a_user_endpoint_for_a_comfyui_model_joins_its_entry(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ltxv.json",
        user_manifest(endpoint="fal-ai/ltx-video/image-to-video", model="LTX Video"),
    )
    model = ModelCatalog(load_manifests(tmp_path)).get("ltx-video")
    assert (model.name, model.backends, model.comfyui) == (
        "ltx-video",
        ("fal", "comfyui"),
        "ltxv_i2v",
    )


def test_the_local_renderer_is_a_model_no_manifest_can_take(tmp_path: Path) -> None:
    write(tmp_path, "local.json", user_manifest(model="Local"))
    with pytest.raises(ConfigError, match="model name 'Local' is taken"):
        ModelCatalog(load_manifests(tmp_path))


def test_one_model_name_across_backends() -> None:
    catalog = ModelCatalog(shipped_manifests())
    wan = catalog.get("WAN 2.2 14B")
    assert wan.backends == ("fal", "comfyui")
    assert (wan.comfyui, wan.fal and wan.fal.endpoint) == (
        "wan22_i2v_14b",
        "fal-ai/wan/v2.2-a14b/image-to-video",
    )
    assert catalog.get("wan_2_2_5b").backends == ("comfyui",)
    assert catalog.get("local").backends == ("local",)
    with pytest.raises(InvalidParameter, match=r"unknown model 'klingg'; did you mean kling-"):
        catalog.get("klingg")


def test_every_comfyui_model_names_a_shipped_workflow() -> None:
    from i2v.backends.comfyui.workflows.library import WORKFLOWS

    for model in ModelCatalog(shipped_manifests()).models():
        assert model.comfyui is None or model.comfyui in WORKFLOWS


def test_shipped_manifests_round_trip() -> None:
    for manifest in shipped_manifests():
        assert EndpointManifest.model_validate(manifest.model_dump(mode="json")) == manifest
