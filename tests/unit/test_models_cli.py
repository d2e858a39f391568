"""`i2v models list|show`: the catalogue as a table, one model's inputs and price, and a
clear exit 2 for a name that is no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2v.cli.app import run


@pytest.fixture
def data_dir(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("I2V_DATA_DIR", str(cli_env / "data"))
    return cli_env / "data"


def i2v(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_model_with_backends_durations_and_price(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = i2v(capsys, "models", "list")
    assert (code, err) == (0, "")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert out.splitlines()[0].split() == ["MODEL", "BACKENDS", "DURATIONS", "PRICE", "FROM"]
    assert rows["local"] == ["local", "any", "-"]
    assert rows["wan-2.2-14b"] == ["fal,comfyui", "1-10", "s", "$0.04"]
    assert rows["kling-2.5-turbo-pro"] == ["fal", "5/10", "s", "$0.35"]
    assert rows["seedance-1-lite"] == ["fal", "2-12", "s", "unknown"]
    assert rows["wan-2.2-5b"] == ["comfyui", "up", "to", "5", "s", "-"]  # 121 frames at 24 fps
    assert rows["ltx-video"] == ["comfyui", "up", "to", "10", "s", "-"]


def test_show_gives_fields_allowed_values_price_and_the_json_sent(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = i2v(capsys, "models", "show", "Kling 2.5 Turbo Pro")
    assert code == 0
    assert out.startswith("kling-2.5-turbo-pro: Kling 2.5 Turbo Pro\n")
    assert "  endpoint       fal-ai/kling-video/v2.5-turbo/pro/image-to-video\n" in out
    assert "  end image      tail_image_url\n" in out
    assert '  duration       5/10 s, sent as a string, e.g. "5" (default 5)\n' in out
    assert "  price          $0.35 for 5 s, +$0.07 per further second (read 2026-12-04)\n" in out
    code, out, _ = i2v(capsys, "models", "show", "veo-3.1-fast")
    assert '  safety         {"safety_tolerance": "4"}\n' in out
    assert "  interpolation  (no interpolator)\n" in out
    assert "  resolution     720p | 1080p | 4k (default 720p)\n" in out


def test_show_names_both_backends_of_a_shared_model(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = i2v(capsys, "models", "show", "wan2.2_14b")
    assert code == 0
    assert "  backends       fal, comfyui\n" in out
    assert "  comfyui        workflow wan22_i2v_14b" in out
    assert '"num_frames": 81, "frames_per_second": 16' in out
    assert (
        "  interpolation  interpolator_model film (off: none), num_interpolated_frames 0-4, "
        "adjust_fps_for_interpolation true; a 30 fps job gets 16 fps x 2 = 32 fps\n"
    ) in out
    assert '"interpolator_model": "film", "num_interpolated_frames": 1' in out


def test_an_unknown_model_exits_2_suggesting_close_names(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = i2v(capsys, "models", "show", "hailou-02")
    assert (code, out) == (2, "")
    assert err == "i2v: error: unknown model 'hailou-02'; did you mean hailuo-02 or hailuo-2.3?\n"
    code, _, err = i2v(capsys, "models", "show", "zzzz")
    assert err == "i2v: error: unknown model 'zzzz'; see `i2v models list`\n"


def test_a_user_manifest_is_listed_and_a_bad_one_names_the_file(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = Path(__file__).parents[2] / "src/i2v/backends/fal/endpoints/kling-2.1-pro.json"
    body = json.loads(shipped.read_text())
    body.update(endpoint="fal-ai/kling-video/v2.1/master/image-to-video", model="kling-2.1-master")
    folder = data_dir / "fal-endpoints"
    folder.mkdir(parents=True)
    (folder / "master.json").write_text(json.dumps(body))
    code, out, _ = i2v(capsys, "models", "list")
    assert code == 0
    assert "kling-2.1-master" in out
    (folder / "master.json").write_text(json.dumps({**body, "duration": {"form": "weeks"}}))
    code, out, err = i2v(capsys, "models", "list")
    assert (code, out) == (1, "")
    assert err.startswith(f"i2v: error: {folder / 'master.json'}: invalid fal endpoint manifest: ")
    assert "duration.form" in err
