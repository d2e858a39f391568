"""`i2v quote` and `i2v backends`, in-process on SQLite: prices per backend,
the backend auto would choose (breakers included), one-line refusals with exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from i2v.bootstrap import open_app
from i2v.cli.app import run
from i2v.config import load_settings
from i2v.services.breaker import breakers_of
from tests.conftest import png_header_only, save_image

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
NO_FAL = "no fal API key (I2V_FAL_KEY)"


@pytest.fixture
def env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("I2V_DATA_DIR", str(cli_env / "data"))
    monkeypatch.setenv("I2V_FAL_KEY", "test-key")
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    return cli_env


def i2v(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def quote_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = i2v(capsys, "quote", str(EXAMPLE), "--json", *args)
    assert (code, err) == (0, ""), err
    found: dict[str, Any] = json.loads(out)
    return found


def trip(backend: str) -> None:
    """Open a backend's breaker as I2V_BREAKER_FAILURES failures in a row would."""
    app = open_app(load_settings())
    try:
        breakers = breakers_of(app)
        for _ in range(app.settings.breaker_failures):
            breakers.failed(backend, "server_unreachable: connection refused [gpu-1]")
    finally:
        app.close()


def test_a_hosted_model_is_priced_from_its_manifest_and_marked_for_auto(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = i2v(capsys, "quote", str(EXAMPLE), "--model", "Kling 2.5 Turbo Pro")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].strip() == "kling-2.5-turbo-pro"
    assert lines[1].split() == ["BACKEND", "PRICE", "HOW", "PRICED", "AVAILABLE"]
    assert lines[2].split() == [
        "fal", "$0.35", "fal's", "price", "list,", "read", "2026-12-04", "yes", "<-", "auto",
    ]  # fmt: skip
    assert lines[-1] == "backend=auto would run it on fal"
    # 10 s: the manifest's base price for 5 s and $0.07 for each further second.
    found = quote_json(capsys, "--model", "kling-2.5-turbo-pro", "--duration", "10")
    assert found["model"] == "kling-2.5-turbo-pro"
    assert found["auto"] == "fal"
    [fal] = found["quotes"]
    assert fal == {
        "backend": "fal",
        "model": "kling-2.5-turbo-pro",
        "usd": 0.7,
        "basis": "fal's price list, read 2026-12-04",
        "state": "available",
        "reason": None,
        "auto": True,
    }


def test_every_backend_of_a_model_is_listed_and_one_is_chosen(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    found = quote_json(capsys, "--model", "wan-2.2-14b")
    by_backend = {q["backend"]: q for q in found["quotes"]}
    assert list(by_backend) == ["fal", "comfyui"]  # runnable first
    assert by_backend["comfyui"]["state"] == "unavailable"
    assert "I2V_COMFYUI_URLS" in by_backend["comfyui"]["reason"]
    assert (found["auto"], by_backend["fal"]["auto"]) == ("fal", True)
    # Own ComfyUI servers cost nothing per request, so auto prefers them...
    monkeypatch.setenv("I2V_COMFYUI_URLS", "http://127.0.0.1:9")
    found = quote_json(capsys, "--model", "wan-2.2-14b")
    assert [q["backend"] for q in found["quotes"]] == ["comfyui", "fal"]
    assert found["auto"] == "comfyui"
    # ...until they keep failing: the breaker opens and auto skips them.
    trip("comfyui")
    found = quote_json(capsys, "--model", "wan-2.2-14b")
    by_backend = {q["backend"]: q for q in found["quotes"]}
    assert by_backend["comfyui"]["state"] == "breaker_open"
    assert found["auto"] == "fal"
    out = i2v(capsys, "quote", str(EXAMPLE), "--model", "wan-2.2-14b")[1]
    assert "yes, but failing recently: auto skips it for now" in out
    # --backend prices on that one only.
    found = quote_json(capsys, "--model", "wan-2.2-14b", "--backend", "fal")
    assert [q["backend"] for q in found["quotes"]] == ["fal"]


def test_without_a_fal_key_the_price_is_still_known_but_auto_has_nowhere_to_go(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("I2V_FAL_KEY")
    found = quote_json(capsys, "--model", "kling-2.5-turbo-pro")
    [fal] = found["quotes"]
    assert (fal["usd"], fal["state"], fal["reason"]) == (0.35, "unavailable", NO_FAL)
    assert found["auto"] is None
    assert found["auto_reason"].startswith("no backend can run kling-2.5-turbo-pro now")
    code, out, _ = i2v(capsys, "quote", str(EXAMPLE), "--model", "kling-2.5-turbo-pro")
    assert code == 0
    assert f"no: {NO_FAL}" in out
    assert "backend=auto would not run it now: no backend can run" in out


def test_an_unknown_price_says_so(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = i2v(capsys, "quote", str(EXAMPLE), "--model", "seedance-1-lite")
    assert code == 0
    assert out.splitlines()[2].split()[:2] == ["fal", "unknown"]
    [fal] = quote_json(capsys, "--model", "seedance-1-lite")["quotes"]
    assert fal["usd"] is None
    assert "not known to i2v" in fal["basis"]


def test_the_local_renderer_is_free(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = quote_json(capsys)
    assert found["model"] == "local"
    assert [(q["backend"], q["usd"], q["auto"]) for q in found["quotes"]] == [("local", 0.0, True)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "kling-2.5-turbo-pro", "--duration", "7"],
            "duration 7 s is not offered by kling-2.5-turbo-pro: 5 or 10",
        ),
        (
            ["--model", "wan-2.2-14b", "--sound"],
            "no backend can run wan-2.2-14b with these values (fal: wan-2.2-14b does not "
            "support sound; comfyui: backend comfyui does not take sound)",
        ),
        (
            ["--model", "klin-2.5-turbo-pro"],
            "unknown model 'klin-2.5-turbo-pro'; did you mean kling-2.5-turbo-pro",
        ),
        (
            ["--model", "wan-2.2-14b", "--backend", "local"],
            "model wan-2.2-14b does not run on local; it runs on: fal, comfyui",
        ),
        (["--backend", "gpu"], "unknown backend 'gpu'; choose one of: local, comfyui, fal"),
        (["--size", "720x1280", "--aspect", "9:16"], "give either size or aspect, not both"),
        (["--duration", "2"], "duration 2s is outside 3-90s"),
        (["--resolution", "720p"], "the local renderer takes no resolution"),
        (
            ["--model", "ltx-2", "--end-image", str(EXAMPLE)],
            "ltx-2 does not support an end image",
        ),
    ],
    ids=[
        "duration",
        "all-refuse",
        "model",
        "backend",
        "no-backend",
        "size",
        "range",
        "local",
        "end",
    ],
)
def test_refusals_are_one_line_and_exit_2(
    env: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = i2v(capsys, "quote", str(EXAMPLE), *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"i2v: error: {message}")
    assert err.count("\n") == 1


def test_the_image_is_checked_as_generate_checks_it(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = save_image(np.zeros((100, 300, 3), np.uint8), env / "small.png")
    huge = env / "huge.png"
    huge.write_bytes(png_header_only(20_000, 20_000))  # refused from its header alone
    (env / "notes.txt").write_text("not a picture")
    for path, message in (
        (env / "missing.jpg", "missing.jpg: no such file"),
        (env / "notes.txt", "notes.txt: not a PNG, JPEG or WebP image"),
        (small, "small.png: image is 300x100; each side must be at least 256 px"),
        (huge, "huge.png: image is 20000x20000 (400.0 MP); the limit is 50.0 MP"),
    ):
        for args in ([str(path)], [str(EXAMPLE), "--end-image", str(path)]):
            code, out, err = i2v(capsys, "quote", *args, "--model", "kling-2.5-turbo-pro")
            assert (code, out) == (2, "")
            assert err.startswith("i2v: error: "), err
            assert err.rstrip().endswith(message), err


def test_backends_shows_state_reason_breaker_and_models(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("I2V_COMFYUI_URLS", "http://127.0.0.1:9")
    code, out, err = i2v(capsys, "backends")
    assert (code, err) == (0, "")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["local"].split() == ["local", "available", "local"]
    assert rows["fal"].split()[1:3] == ["available", "hailuo-02,"]
    assert rows["comfyui"].split()[1:] == [
        "available", "hunyuan-video-1.5,", "ltx-video,", "wan-2.2-14b,", "wan-2.2-5b",
    ]  # fmt: skip
    trip("comfyui")
    monkeypatch.delenv("I2V_FAL_KEY")
    code, out, _ = i2v(capsys, "backends")
    lines = out.splitlines()
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:4]}
    assert rows == {
        "local": ["available", "local"],
        "comfyui": ["breaker", "open"],
        "fal": ["unavailable", "hailuo-02,"],
    }
    assert re.fullmatch(
        r"comfyui: skipped by backend=auto until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC after 3 "
        r"failures in a row; last: server_unreachable: connection refused \[gpu-1\]",
        lines[-2],
    )
    assert lines[-1] == f"fal: {NO_FAL}"
    code, out, _ = i2v(capsys, "backends", "--json")
    body = {b["name"]: b for b in json.loads(out)["backends"]}
    assert list(body) == ["local", "comfyui", "fal"]
    assert body["comfyui"]["state"] == "breaker_open"
    assert body["comfyui"]["open_until"] is not None
    assert body["comfyui"]["last_error"] == "server_unreachable: connection refused [gpu-1]"
    assert (body["fal"]["state"], body["fal"]["reason"], body["fal"]["hosted"]) == (
        "unavailable",
        NO_FAL,
        True,
    )
    assert body["local"] == {
        "name": "local",
        "state": "available",
        "hosted": False,
        "reason": None,
        "failures": 0,
        "open_until": None,
        "last_error": None,
        "models": ["local"],
    }


def test_a_focus_point_is_refused_for_models_which_frame_their_own_video(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = i2v(
        capsys, "generate", str(EXAMPLE), "-o", "x.mp4", "--model", "wan-2.2-14b",
        "--focus", "0.5,0.3",
    )  # fmt: skip
    assert code == 2
    assert "wan-2.2-14b frames its own video; it takes no focus point" in err
    assert "backend comfyui does not take a focus point" in err
    assert not Path("x.mp4").exists()
