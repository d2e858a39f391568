"""`i2v generate` over several pictures: each written, a bad one reported and skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from i2v.cli.app import run
from i2v.media.probe import probe_video

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cli_env")]

FAST = ("--size", "360x640", "--duration", "3", "--fps", "24")


@pytest.fixture
def photos(cli_env: Path, photo_jpeg: Path) -> Path:
    """`photos/` with two good pictures and one that is not a picture."""
    folder = cli_env / "photos"
    folder.mkdir()
    shutil.copy(photo_jpeg, folder / "a.jpg")
    shutil.copy(photo_jpeg, folder / "b.jpeg")
    (folder / "c.jpg").write_text("not a picture")
    (folder / "notes.txt").write_text("not an image suffix: left alone")
    return folder


def test_a_folder_renders_each_picture_and_reports_the_bad_one(
    photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["generate", str(photos), "-o", "out/", *FAST])
    err = capsys.readouterr().err
    assert code == 1  # one failed
    for name in ("a", "b"):
        info = probe_video(Path("out") / f"{name}.mp4")
        assert (info.width, info.height, info.frames) == (360, 640, 72)
        assert (Path("out") / f"{name}.cover.jpg").is_file()
    assert not (Path("out") / "c.mp4").exists()
    assert "c.jpg: error: " in err
    assert "not a PNG, JPEG or WebP image" in err
    assert "2 of 3 written to out" in err
    for name in ("a.jpg", "b.jpeg", "c.jpg"):  # the summary table names every picture
        assert name in err


def test_every_picture_good_exits_zero_with_globbed_names(
    photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (photos / "c.jpg").unlink()
    pictures = [str(p) for p in sorted(photos.glob("*.jp*g"))]
    assert run(["generate", *pictures, "-o", "done", "--jobs", "1", *FAST]) == 0
    assert sorted(p.name for p in Path("done").glob("*.mp4")) == ["a.mp4", "b.mp4"]
    assert "2 of 2 written to done" in capsys.readouterr().err


def test_an_existing_output_fails_that_picture_only(
    photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (photos / "c.jpg").unlink()
    Path("out").mkdir()
    Path("out/a.mp4").write_bytes(b"mine")
    assert run(["generate", str(photos), "-o", "out", *FAST]) == 1
    assert Path("out/a.mp4").read_bytes() == b"mine"  # never overwritten without --force
    assert probe_video(Path("out/b.mp4")).frames == 72
    assert "--force" in capsys.readouterr().err


def test_one_picture_to_a_folder_is_named_after_the_picture(
    photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("clips").mkdir()
    assert run(["generate", str(photos / "a.jpg"), "-o", "clips", *FAST]) == 0
    assert probe_video(Path("clips/a.mp4")).frames == 72


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.mp4"], "with several images, -o is a folder, not an .mp4"),
        (["--end-image", "{a}"], "--end-image takes one input image, not several"),
    ],
)
def test_batch_refusals_come_before_any_render(
    photos: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [a.format(a=photos / "a.jpg") for a in args]
    assert run(["generate", str(photos / "a.jpg"), str(photos / "b.jpeg"), *argv, *FAST]) == 2
    assert message in capsys.readouterr().err
    assert not Path("out").exists()


def test_two_pictures_with_one_name_are_refused(
    photos: Path, photo_jpeg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Path("other")
    other.mkdir()
    shutil.copy(photo_jpeg, other / "a.png")
    code = run(["generate", str(photos / "a.jpg"), str(other / "a.png"), "-o", "out", *FAST])
    assert code == 2
    assert "would both be written to out/a.mp4" in capsys.readouterr().err
