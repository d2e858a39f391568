"""`i2v generate` never writes over its input, and replaces an existing output only with --force.

Each refusal must come before any rendering: the image is checked by name and file identity
(path, symlink, hard link, case), never by rendering and comparing afterwards.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from i2v.cli.app import run
from i2v.errors import OutputExists
from i2v.media.atomic import atomic_outputs
from tests.conftest import png_header_only

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cli_env")]

PREFIX = "i2v: error: "
FAST = ("--size", "360x640", "--duration", "3", "--fps", "24")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file in `folder` (links not followed) and its content's digest."""
    return {
        p.name: (f"-> {os.readlink(p)}" if p.is_symlink() else _digest(p))
        for p in sorted(folder.iterdir())
    }


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, f"stderr is not one line:\n{err}"
    assert err.startswith(PREFIX)
    return err.removeprefix(PREFIX).rstrip("\n")


@pytest.fixture
def folder(cli_env: Path, photo_jpeg: Path) -> Path:
    """The working folder, holding `holiday.jpg`; the tests run in it with relative names."""
    shutil.copy(photo_jpeg, cli_env / "holiday.jpg")
    return cli_env


def test_the_natural_command_keeps_the_photo(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(folder / "holiday.jpg")
    assert run(["generate", "holiday.jpg", "-o", "holiday.mp4", *FAST]) == 0
    assert _digest(folder / "holiday.jpg") == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "holiday.cover.jpg",
        "holiday.jpg",
        "holiday.mp4",
    ]
    assert (folder / "holiday.cover.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert "holiday.cover.jpg" in capsys.readouterr().out


def _as_mp4(folder: Path) -> Path:
    """The photo under the name of the video: a JPEG called holiday.mp4."""
    return (folder / "holiday.jpg").rename(folder / "holiday.mp4")


def _symlink_as_video(folder: Path) -> Path:
    (folder / "clip.mp4").symlink_to("holiday.jpg")
    return folder / "holiday.jpg"


def _symlink_as_cover(folder: Path) -> Path:
    (folder / "clip.cover.jpg").symlink_to(folder / "holiday.jpg")
    return folder / "holiday.jpg"


def _hardlink_as_cover(folder: Path) -> Path:
    os.link(folder / "holiday.jpg", folder / "clip.cover.jpg")
    return folder / "holiday.jpg"


def _case_of_cover(folder: Path) -> Path:
    """The photo named like the cover but for case: one file on macOS and Windows."""
    return (folder / "holiday.jpg").rename(folder / "Clip.Cover.JPG")


def _input_through_symlinked_folder(folder: Path) -> Path:
    (folder / "alias").symlink_to(folder, target_is_directory=True)
    return (folder / "holiday.jpg").rename(folder / "clip.cover.jpg")


@pytest.mark.parametrize(
    ("make_input", "output"),
    [
        (_as_mp4, "holiday.mp4"),
        (_symlink_as_video, "clip.mp4"),
        (_symlink_as_cover, "clip.mp4"),
        (_hardlink_as_cover, "clip.mp4"),
        (_case_of_cover, "clip.mp4"),
        (_input_through_symlinked_folder, "alias/clip.mp4"),
    ],
    ids=["video-is-input", "video-symlink", "cover-symlink", "cover-hardlink", "cover-case",
         "folder-symlink"],
)  # fmt: skip
@pytest.mark.parametrize("force", [False, True], ids=["", "force"])
def test_an_output_that_is_the_input_is_refused(
    folder: Path,
    make_input: Callable[[Path], Path],
    output: str,
    force: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = make_input(folder)
    before = _snapshot(folder)
    argv = ["generate", os.path.relpath(image, folder), "-o", output, *FAST]
    code = run([*argv, "--force"] if force else argv)
    message = _error(capsys)
    assert code == 1, message
    assert "would overwrite the input" in message
    assert _snapshot(folder) == before


def test_output_named_as_the_image_is_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(folder)
    assert run(["generate", "holiday.jpg", "-o", "holiday.jpg", "--force", *FAST]) == 2
    assert "the output must be an .mp4 file" in _error(capsys)
    assert _snapshot(folder) == before


@pytest.mark.parametrize("existing", ["clip.mp4", "clip.cover.jpg"])
def test_an_existing_output_needs_force(
    folder: Path, existing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / existing).write_bytes(b"someone's file")
    before = _snapshot(folder)
    assert run(["generate", "holiday.jpg", "-o", "clip.mp4", *FAST]) == 1
    assert _error(capsys) == f"{existing} exists; pass --force to replace it"
    assert _snapshot(folder) == before


def test_the_existing_output_check_comes_before_reading_the_image(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "big.png").write_bytes(png_header_only(8000, 8000))  # refused when read
    (folder / "clip.mp4").write_bytes(b"someone's file")
    assert run(["generate", "big.png", "-o", "clip.mp4", *FAST]) == 1
    assert _error(capsys) == "clip.mp4 exists; pass --force to replace it"


def test_force_replaces_both_outputs(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "clip.mp4").write_bytes(b"old video")
    (folder / "clip.cover.jpg").write_bytes(b"old cover")
    assert run(["generate", "holiday.jpg", "-o", "clip.mp4", "--force", *FAST]) == 0
    assert (folder / "clip.mp4").read_bytes()[4:8] == b"ftyp"
    assert (folder / "clip.cover.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_force_replaces_a_symlink_not_its_target(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "elsewhere.mp4").write_bytes(b"keep me")
    (folder / "clip.mp4").symlink_to("elsewhere.mp4")
    assert run(["generate", "holiday.jpg", "-o", "clip.mp4", "--force", *FAST]) == 0
    assert not (folder / "clip.mp4").is_symlink()
    assert (folder / "elsewhere.mp4").read_bytes() == b"keep me"


def test_console_script_keeps_the_photo_and_refuses_a_second_run(
    run_i2v: Callable[..., subprocess.CompletedProcess[str]], folder: Path
) -> None:
    before = _digest(folder / "holiday.jpg")
    first = run_i2v("generate", "holiday.jpg", "-o", "holiday.mp4", *FAST)
    assert first.returncode == 0, first.stderr
    video = _digest(folder / "holiday.mp4")
    again = run_i2v("generate", "holiday.jpg", "-o", "holiday.mp4", *FAST)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == "i2v: error: holiday.mp4 exists; pass --force to replace it\n"
    assert (_digest(folder / "holiday.jpg"), _digest(folder / "holiday.mp4")) == (before, video)


# -- the final rename: a file that appears while rendering is kept ---------------------------


def _render_while_someone_writes(tmp_path: Path, late: Path, replace: bool) -> None:
    video, cover = tmp_path / "out.mp4", tmp_path / "out.cover.jpg"
    with atomic_outputs(video, cover, replace=replace) as (tmp_video, tmp_cover):
        tmp_video.write_bytes(b"new video")
        tmp_cover.write_bytes(b"new cover")
        late.write_bytes(b"written meanwhile")


@pytest.mark.parametrize("late", ["out.mp4", "out.cover.jpg"])
def test_a_file_created_meanwhile_is_not_clobbered(tmp_path: Path, late: str) -> None:
    with pytest.raises(OutputExists, match=rf"{late} exists; pass --force to replace it$"):
        _render_while_someone_writes(tmp_path, tmp_path / late, replace=False)
    # All or nothing: the other output is not published either, and no temporary is left.
    assert _snapshot(tmp_path) == {late: _digest(tmp_path / late)}
    assert (tmp_path / late).read_bytes() == b"written meanwhile"


def test_a_file_created_meanwhile_is_replaced_when_asked(tmp_path: Path) -> None:
    _render_while_someone_writes(tmp_path, tmp_path / "out.mp4", replace=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cover.jpg", "out.mp4"]
    assert (tmp_path / "out.mp4").read_bytes() == b"new video"


def _no_hard_links(src: object, dst: object) -> None:
    raise OSError(errno.EPERM, "Operation not permitted")


def test_without_hard_links_a_file_created_meanwhile_is_still_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FAT and exFAT refuse link(2) with EPERM; the check-then-rename path must hold too.
    monkeypatch.setattr(os, "link", _no_hard_links)
    with pytest.raises(OutputExists):
        _render_while_someone_writes(tmp_path, tmp_path / "out.cover.jpg", replace=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cover.jpg"]
    video, cover = tmp_path / "a.mp4", tmp_path / "a.cover.jpg"
    with atomic_outputs(video, cover, replace=False) as (tmp_video, tmp_cover):
        tmp_video.write_bytes(b"v")
        tmp_cover.write_bytes(b"c")
    assert (video.read_bytes(), cover.read_bytes()) == (b"v", b"c")
