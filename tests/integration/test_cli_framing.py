"""`i2v generate`'s framing options end to end: focus, cover time, backdrop, music."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from i2v.cli.app import run
from i2v.media.probe import probe_video

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("cli_env")]

FAST = ("--size", "360x640", "--duration", "3", "--fps", "24")


def _frames(video: Path) -> list[NDArray[np.uint8]]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _nearest(cover: Path, frames: list[NDArray[np.uint8]]) -> int:
    picture = np.asarray(Image.open(cover).convert("RGB"), dtype=np.float32)
    return int(np.argmin([np.abs(picture - f.astype(np.float32)).mean() for f in frames]))


def _wav(path: Path, seconds: float = 1.0, rate: int = 22050) -> Path:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(rate * seconds)
        tone = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(n))
        w.writeframes(b"".join(struct.pack("<h", s) for s in tone))
    path.write_bytes(out.getvalue())
    return path


def test_cover_at_takes_the_cover_from_that_moment(
    photo_jpeg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", str(photo_jpeg), "-o", "v.mp4", "--cover-at", "2", *FAST]
    assert run(args) == 0
    # Frame 48 is 2 s at 24 fps; its neighbours differ from it by less than JPEG's noise.
    assert abs(_nearest(Path("v.cover.jpg"), _frames(Path("v.mp4"))) - 48) <= 1


def test_the_default_cover_is_the_subjects_best_frame_not_frame_0(
    photo_jpeg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A zoom in: the subject is largest at the end, where the cover is taken.
    assert run(["generate", str(photo_jpeg), "-o", "in.mp4", "-p", "zoom in", *FAST]) == 0
    frames = _frames(Path("in.mp4"))
    # The zoom eases out: the last few frames are alike, and the first is far from them.
    assert _nearest(Path("in.cover.jpg"), frames) >= len(frames) - 8
    err = capsys.readouterr().err
    assert "framing: " in err
    assert "(--focus X,Y to choose)" in err


def test_focus_frames_that_point_and_says_nothing_about_framing(
    photo_jpeg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left = ["generate", str(photo_jpeg), "-o", "left.mp4", "--focus", "0.1,0.5", *FAST]
    right = ["generate", str(photo_jpeg), "-o", "right.mp4", "--focus", "0.9,0.5", *FAST]
    assert run(left) == 0
    assert run(right) == 0
    assert "framing: " not in capsys.readouterr().err
    source = np.asarray(Image.open(photo_jpeg).convert("RGB"), dtype=np.float32)
    height, width = source.shape[:2]

    def matches(video: str, x0: int) -> float:
        """How far the first frame is from that side of the photo, cropped to 9:16."""
        crop_w = round(height * 9 / 16)
        side = Image.fromarray(source[:, x0 : x0 + crop_w].astype(np.uint8)).resize((360, 640))
        return float(np.abs(np.asarray(side, np.float32) - _frames(Path(video))[0]).mean())

    far_right = width - round(height * 9 / 16)
    assert matches("left.mp4", 0) < matches("left.mp4", far_right)
    assert matches("right.mp4", far_right) < matches("right.mp4", 0)


def test_backdrop_fills_contain_as_asked(photo_jpeg: Path) -> None:
    covers = {}
    for backdrop in ("blur", "colour", "mirror"):
        out = f"{backdrop}.mp4"
        args = ["generate", str(photo_jpeg), "-o", out, "--fit", "contain", "--backdrop", backdrop]
        assert run([*args, "--cover-at", "0", *FAST]) == 0
        covers[backdrop] = np.asarray(Image.open(f"{backdrop}.cover.jpg"), dtype=np.float32)
    band = slice(0, 60)  # above the picture, which a landscape photo leaves in 9:16
    rows = {name: cover[band].std(axis=(0, 1)).mean() for name, cover in covers.items()}
    assert rows["colour"] < 6  # a clean, flat band
    assert np.abs(covers["blur"][band] - covers["mirror"][band]).mean() > 3


def test_audio_puts_levelled_music_under_the_video(photo_jpeg: Path, tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav")
    assert run(["generate", str(photo_jpeg), "-o", "m.mp4", "--audio", str(song), *FAST]) == 0
    info = probe_video(Path("m.mp4"))
    assert info.faststart
    with av.open("m.mp4") as container:
        sound = container.streams.audio[0]
        ctx = sound.codec_context
        assert (ctx.name, ctx.profile, ctx.sample_rate, ctx.channels) == ("aac", "LC", 48000, 2)
        assert sound.duration is not None
        assert sound.time_base is not None
        assert float(sound.duration * sound.time_base) == pytest.approx(3.0, abs=0.03)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--focus", "2,0.5"], "focus '2,0.5': X and Y are fractions of the picture, from 0 to 1"),
        (["--focus", "left"], "focus 'left' is not X,Y (two fractions, e.g. 0.3,0.4)"),
        (["--cover-at", "4"], "cover_at 4 is not a time in the video (0-3s)"),
        (["--backdrop", "neon"], "backdrop 'neon' is not one of: blur, colour, mirror"),
        (["--audio", "{text}"], "is not an audio file we can read"),
        (["--audio", "{missing}"], "does not exist"),
        (["--motion", "zoom-in,twirl"], "unknown motion 'twirl'"),
    ],
)
def test_bad_framing_options_exit_2_before_any_render(
    photo_jpeg: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("not a song")
    argv = [a.format(text=text, missing=tmp_path / "none.mp3") for a in args]
    assert run(["generate", str(photo_jpeg), "-o", "x.mp4", *argv, *FAST]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not Path("x.mp4").exists()
