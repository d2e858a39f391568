"""A local `i2v generate` rates its picture beside the render, and a refused one is never put
in place: no video, no cover, the refusal as the one error."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from i2v.cli.app import run
from tests.support.flagged import figure

FAST = ("--size", "360x640", "--duration", "3", "--fps", "24")


@pytest.fixture
def env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("I2V_DATA_DIR", str(cli_env / "data"))
    return cli_env


def test_a_refused_picture_leaves_no_output(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    picture = env / "figure.png"
    Image.fromarray(figure(720)).save(picture)
    code = run(["generate", str(picture), "-o", "clip.mp4", "-p", "waves", *FAST])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.splitlines()[-1].startswith("i2v: error: rated X"), err
    assert sorted(p.name for p in env.iterdir()) == ["data", "figure.png"]
    # The operator's own machine may render it, asked for: the same check then passes.
    code = run(["generate", str(picture), "-o", "clip.mp4", "-p", "waves", "--rating", "X", *FAST])
    assert code == 0, capsys.readouterr().err
    assert (env / "clip.mp4").is_file()
    assert (env / "clip.cover.jpg").is_file()
