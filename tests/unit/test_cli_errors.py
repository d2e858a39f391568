"""Every refused input ends in one clear stderr line, a non-zero exit, and nothing written.

Most cases run in-process through `i2v.cli.app.run` for speed; a few go through the real
console script to prove the same holds for a user's shell.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from i2v import __version__
from i2v.cli.app import run
from i2v.services.generate import cover_path
from tests.conftest import photo_pixels, png_header_only, save_image

PREFIX = "i2v: error: "
MOTIONS = (
    "zoom-in, zoom-out, pan-left, pan-right, pan-up, pan-down, "
    "pan-up-left, pan-up-right, pan-down-left, pan-down-right, static"
)
# Small and short, in case a bug lets a refused job through to rendering.
FAST = ("--size", "360x640", "--duration", "3", "--fps", "24")

pytestmark = pytest.mark.usefixtures("cli_env")


@dataclass(frozen=True)
class Files:
    """Inputs in `inp`, and an empty output folder `out_dir`."""

    inp: Path
    out_dir: Path

    @property
    def photo(self) -> Path:
        return self.inp / "photo.jpg"

    @property
    def text(self) -> Path:
        return self.inp / "notes.txt"

    @property
    def missing(self) -> Path:
        return self.inp / "missing.jpg"

    @property
    def out(self) -> Path:
        return self.out_dir / "out.mp4"

    def __getitem__(self, name: str) -> Path:
        path = self.inp / name
        assert path.is_file(), path
        return path


@pytest.fixture(scope="module")
def inputs(photo_jpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every input file, made once; each test gets its own copy."""
    inp = tmp_path_factory.mktemp("inputs")
    shutil.copy(photo_jpeg, inp / "photo.jpg")
    (inp / "notes.txt").write_text("a shopping list, not a picture\n")
    pixels = photo_pixels(600, 400)
    for name, fmt in (("cut.jpg", "JPEG"), ("cut.png", "PNG"), ("cut.webp", "WEBP")):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt)
        data = buffer.getvalue()
        (inp / name).write_bytes(data[: len(data) // 2])
    (inp / "big.png").write_bytes(png_header_only(8000, 8000))  # 64 MP: over i2v's 50 MP
    (inp / "huge.png").write_bytes(png_header_only(20000, 20000))  # 400 MP: over Pillow's too
    save_image(photo_pixels(100, 100), inp / "tiny.png")
    return inp


@pytest.fixture
def files(tmp_path: Path, inputs: Path) -> Files:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    return Files(Path(shutil.copytree(inputs, tmp_path / "in")), out_dir)


Argv = Callable[[Files], list[str]]


@dataclass(frozen=True)
class Case:
    argv: Argv
    message: str  # regex that must match the text after "i2v: error: "
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)
    dest: Callable[[Files], Path] = lambda f: f.out
    needs_proc: bool = False  # writes under Linux /proc, which refuses even root


def gen(image: Callable[[Files], Path], *args: str, out: str | None = None) -> Argv:
    """`generate IMAGE -o OUT ARGS`; `out` may name `{out_dir}` or `{text}`."""

    def argv(f: Files) -> list[str]:
        dest = str(f.out) if out is None else out.format(out_dir=f.out_dir, text=f.text)
        return ["generate", str(image(f)), "-o", dest, *args]

    return argv


def photo(f: Files) -> Path:
    return f.photo


CASES: dict[str, Case] = {
    # The input image.
    "missing-file": Case(gen(lambda f: f.missing, *FAST), r"^\S*missing\.jpg: no such file$"),
    "not-an-image": Case(
        gen(lambda f: f.text, *FAST), r"^\S*notes\.txt: not a PNG, JPEG or WebP image$"
    ),
    "truncated-jpeg": Case(
        gen(lambda f: f["cut.jpg"], *FAST), r"^\S*cut\.jpg: image data is truncated or corrupt"
    ),
    "truncated-png": Case(
        gen(lambda f: f["cut.png"], *FAST), r"^\S*cut\.png: image data is truncated or corrupt"
    ),
    "truncated-webp": Case(
        gen(lambda f: f["cut.webp"], *FAST),
        r"^\S*cut\.webp: image (header|data) is truncated or corrupt",
    ),
    "too-large-header": Case(
        gen(lambda f: f["big.png"], *FAST),
        r"^\S*big\.png: image is 8000x8000 \(64\.0 MP\); the limit is 50\.0 MP$",
    ),
    "too-large-bomb": Case(
        gen(lambda f: f["huge.png"], *FAST), r"^\S*huge\.png: image is .*(too large|the limit is)"
    ),
    "too-large-env-limit": Case(
        gen(photo, *FAST),
        r"^\S*photo\.jpg: image is 1200x800 \(1\.0 MP\); the limit is 0\.1 MP$",
        env={"I2V_MAX_IMAGE_PIXELS": "100000"},
    ),
    "too-small": Case(
        gen(lambda f: f["tiny.png"], *FAST),
        r"^\S*tiny\.png: image is 100x100; each side must be at least 256 px$",
    ),
    # The destination.
    "out-folder-missing": Case(
        gen(photo, *FAST, out="{out_dir}/nope/out.mp4"),
        r"^\S*/out/nope: output folder does not exist$",
        code=1,
        dest=lambda f: f.out_dir / "nope" / "out.mp4",
    ),
    "out-folder-missing-in-proc": Case(
        gen(photo, *FAST, out="/proc/i2v-test/out.mp4"),
        r"^/proc/i2v-test: output folder does not exist$",
        code=1,
        dest=lambda f: Path("/proc/i2v-test/out.mp4"),
        needs_proc=True,
    ),
    "out-folder-not-writable": Case(
        gen(photo, *FAST, out="/proc/out.mp4"),
        r"^/proc: output folder is not writable",
        code=1,
        dest=lambda f: Path("/proc/out.mp4"),
        needs_proc=True,
    ),
    "out-parent-is-a-file": Case(
        gen(photo, *FAST, out="{text}/out.mp4"),
        r"^\S*notes\.txt: output folder is not a directory$",
        code=1,
        dest=lambda f: f.text / "out.mp4",
    ),
    "several-images-to-an-mp4": Case(
        lambda f: ["generate", str(f.photo), str(f.photo), "-o", str(f.out_dir / "x.mp4"), *FAST],
        r"^\S*/x\.mp4: with several images, -o is a folder, not an \.mp4$",
        dest=lambda f: f.out_dir / "x.mp4",
    ),
    # Job parameters.
    "duration-too-short": Case(gen(photo, "--duration", "1"), r"^duration 1s is outside 3-90s$"),
    "duration-too-long": Case(
        gen(photo, "--duration", "1000"), r"^duration 1000s is outside 3-90s$"
    ),
    "fps-too-low": Case(gen(photo, "--fps", "10"), r"^fps 10 is outside 23-60$"),
    "fps-too-high": Case(gen(photo, "--fps", "120"), r"^fps 120 is outside 23-60$"),
    "fps-not-a-number": Case(
        gen(photo, "--fps", "abc"), r"^Invalid value for '--fps': .*\binteger\b"
    ),
    "size-too-small": Case(
        gen(photo, "--size", "100x100"), r"^size 100x100: width 100 is outside 360-1920 px$"
    ),
    "size-odd": Case(
        gen(photo, "--size", "1081x1920"),
        r"^size 1081x1920: width 1081 must be even for yuv420p video$",
    ),
    "size-malformed": Case(
        gen(photo, "--size", "big"), r"^size 'big' is not WIDTHxHEIGHT, e\.g\. 1080x1920$"
    ),
    "size-and-aspect": Case(
        gen(photo, "--size", "1080x1920", "--aspect", "9:16"),
        r"^give either size or aspect, not both$",
    ),
    "aspect-unknown": Case(
        gen(photo, "--aspect", "3:2"), r"^aspect '3:2' is not one of: 9:16, 4:5, 1:1, 16:9$"
    ),
    "motion-unknown": Case(
        gen(photo, "--motion", "spin"),
        rf"^unknown motion 'spin'; choose one of: {re.escape(MOTIONS)}$",
    ),
    "fit-unknown": Case(
        gen(photo, "--fit", "stretch"), r"^fit 'stretch' is not one of: cover, contain$"
    ),
    "option-unknown": Case(gen(photo, "--colour", "red"), r"^No such option: --colour"),
}
NEEDS_PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


def _params() -> list[object]:
    params: list[object] = []
    for name, case in CASES.items():
        marks = []
        if case.needs_proc:
            marks.append(NEEDS_PROC)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def _files_snapshot(files: Files) -> tuple[list[str], list[str]]:
    return sorted(p.name for p in files.inp.iterdir()), sorted(
        p.name for p in files.out_dir.iterdir()
    )


def _error_line(stderr: str) -> str:
    """The one `i2v: error:` line, which must also be the last line of stderr."""
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith(PREFIX)]
    assert len(errors) == 1, f"expected one error line, got:\n{stderr}"
    assert lines[-1] == errors[0], f"the error is not the last line:\n{stderr}"
    return errors[0]


def _assert_nothing_written(files: Files, dest: Path, before: tuple[list[str], list[str]]) -> None:
    assert dest.is_dir() or not dest.exists()
    assert not cover_path(dest).exists()
    assert _files_snapshot(files) == before, "files were added or removed"


def _run_case(
    name: str, files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    case = CASES[name]
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    code = run(case.argv(files))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", _params())
def test_error_is_reported_and_nothing_is_written(
    name: str, files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    before = _files_snapshot(files)
    code, out, err = _run_case(name, files, monkeypatch, capsys)
    assert code == case.code, err
    message = _error_line(err).removeprefix(PREFIX)
    assert re.search(case.message, message), f"{message!r} !~ {case.message!r}"
    assert "Traceback" not in err
    assert out == ""
    _assert_nothing_written(files, case.dest(files), before)


@pytest.mark.parametrize("name", _params())
def test_stderr_is_exactly_one_line(
    name: str, files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run_case(name, files, monkeypatch, capsys)
    assert code != 0
    assert err.count("\n") == 1, f"stderr is not one line:\n{err}"
    assert err.startswith(PREFIX)


SUBPROCESS_CASES = [
    pytest.param("motion-unknown", id="motion-unknown"),
    pytest.param("fps-not-a-number", id="fps-not-a-number"),
    pytest.param("size-odd", id="size-odd"),
    pytest.param("missing-file", id="missing-file"),
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_console_script_prints_one_error_line(
    name: str, files: Files, run_i2v: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    case = CASES[name]
    before = _files_snapshot(files)
    done = run_i2v(*case.argv(files))
    assert done.returncode == case.code, done.stderr
    _assert_nothing_written(files, case.dest(files), before)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, f"stderr is not one line:\n{done.stderr}"
    assert re.search(case.message, done.stderr.removeprefix(PREFIX).rstrip("\n"))


# -- the image pixel limit ------------------------------------------------------------------


def test_pixel_limit_message_names_the_configured_limit(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["generate", str(files["huge.png"]), "-o", str(files.out), *FAST])
    message = _error_line(capsys.readouterr().err).removeprefix(PREFIX)
    assert code == 2
    assert re.search(r"image is 20000x20000 \(400\.0 MP\); the limit is 50\.0 MP$", message)


def test_raised_pixel_limit_is_honoured(
    files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("I2V_MAX_IMAGE_PIXELS", str(500_000_000))
    code = run(["generate", str(files["huge.png"]), "-o", str(files.out), *FAST])
    message = _error_line(capsys.readouterr().err).removeprefix(PREFIX)
    # Within the limit, the header-only file gets past the size check to decoding, which
    # finds no pixels.
    assert code != 0
    assert "too large" not in message


# -- --debug, unexpected errors, Ctrl-C -----------------------------------------------------


@pytest.mark.parametrize("name", ["missing-file", "motion-unknown"])
def test_debug_shows_the_traceback(
    name: str, files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    before = _files_snapshot(files)
    code = run(["--debug", *case.argv(files)])
    err = capsys.readouterr().err
    assert code == case.code
    assert "Traceback (most recent call last):" in err
    assert re.search(r"^i2v\.errors\.\w+: ", err, re.MULTILINE)
    assert re.search(case.message, _error_line(err).removeprefix(PREFIX))
    _assert_nothing_written(files, case.dest(files), before)


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("disk on fire")


def test_unexpected_error_is_one_line_with_a_hint(
    files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("i2v.cli.runs.generate_video", _boom)
    code = run(["generate", str(files.photo), "-o", str(files.out), *FAST])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        _error_line(err) == f"{PREFIX}RuntimeError: disk on fire (rerun with --debug for details)"
    )
    assert "Traceback" not in err


def test_unexpected_error_with_debug_shows_the_traceback(
    files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("i2v.cli.runs.generate_video", _boom)
    code = run(["--debug", "generate", str(files.photo), "-o", str(files.out), *FAST])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last):" in err
    assert "RuntimeError: disk on fire" in err
    assert _error_line(err) == f"{PREFIX}RuntimeError: disk on fire"


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_exits_130_without_output(
    files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("i2v.cli.runs.generate_video", _interrupt)
    before = _files_snapshot(files)
    assert run(["generate", str(files.photo), "-o", str(files.out), *FAST]) == 130
    assert "Traceback" not in capsys.readouterr().err
    _assert_nothing_written(files, files.out, before)


def test_ctrl_c_says_interrupted(
    files: Files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("i2v.cli.runs.generate_video", _interrupt)
    run(["generate", str(files.photo), "-o", str(files.out), *FAST])
    assert _error_line(capsys.readouterr().err) == f"{PREFIX}interrupted"


# -- version, help, no arguments --------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)
    assert out == f"i2v {__version__}\n"
    assert err == ""


def test_version_from_the_console_script(
    run_i2v: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = run_i2v("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"i2v {__version__}\n", "")


def _plain(text: str) -> str:
    """Help text without ANSI styling or box-drawing, whitespace collapsed."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_generate_help_mentions_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["generate", "--help"]) == 0
    out, err = capsys.readouterr()
    text = _plain(out)
    for option in (
        "-o", "--output", "--prompt", "--motion", "--duration", "--fps", "--size", "--aspect",
        "--fit", "--seed", "--help",
    ):  # fmt: skip
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), option
    for name in MOTIONS.split(", "):
        assert name in text
    for hint in ("3-90", "23-60", "360-1920", "9:16", "4:5", "1:1", "16:9", "cover", "contain"):
        assert hint in text
    assert err == ""


def test_top_level_help_mentions_the_command_and_global_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--help"]) == 0
    text = _plain(capsys.readouterr().out)
    for word in ("generate", "--version", "--debug", "--help"):
        assert word in text


@pytest.mark.parametrize("argv", [[], ["generate"]], ids=["i2v", "i2v-generate"])
def test_no_arguments_shows_help_without_an_empty_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Typer prints the help and raises a usage error with an empty message; that must not
    # become a bare "i2v: error: " line.
    run(argv)
    out, err = capsys.readouterr()
    assert "Usage" in out
    assert err == ""
