"""Music tracks: checked on upload, rendered to loudness-normalised AAC, muxed into the MP4."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from i2v.domain.size import Size
from i2v.errors import InvalidParameter
from i2v.media.encode import EncoderSettings, encode_nv12
from i2v.media.music import MusicInfo, prepare_music, probe_music
from i2v.media.probe import probe_video

Signal = NDArray[np.float32]  # (channels, samples)
RATE = 48_000
VIDEO_S = 5.0


# -- test signals, written with PyAV ---------------------------------------------------------


def sine(seconds: float, rate: int = RATE, channels: int = 2, amp: float = 0.3) -> Signal:
    t = np.arange(round(seconds * rate)) / rate
    tone = amp * np.sin(2 * np.pi * 440 * t) + amp / 3 * np.sin(2 * np.pi * 1320 * t)
    return np.repeat(tone[None, :], channels, axis=0).astype(np.float32)


def noise(seconds: float, rate: int = RATE, channels: int = 2, amp: float = 0.2) -> Signal:
    """Pink-ish noise up to 12 kHz: music's spectrum, which 128 kbps AAC keeps whole."""
    rng = np.random.default_rng(5)
    n = round(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    shape = np.where((freqs > 30) & (freqs < 12_000), 1 / np.sqrt(np.maximum(freqs, 1)), 0)
    shaped = np.fft.irfft(spectrum * shape, n, axis=1)
    scaled: Signal = (amp * shaped / np.abs(shaped).max()).astype(np.float32)
    return scaled


def write(path: Path, signal: Signal, rate: int = RATE, codec: str | None = None) -> Path:
    """`signal` as an audio file; the codec from the extension unless given."""
    codec = (
        codec
        or {
            ".mp3": "libmp3lame",
            ".wav": "pcm_s16le",
            ".flac": "flac",
            ".ogg": "libopus",
            ".m4a": "aac",
            ".au": "pcm_s16be",
        }[path.suffix]
    )
    layout = "mono" if signal.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format="mp4" if path.suffix == ".m4a" else None) as container:
        stream = container.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.codec_context.layout = layout
        for start in range(0, signal.shape[1], 4096):
            block = np.ascontiguousarray(signal[:, start : start + 4096])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def nv12_frames(count: int, size: Size) -> Iterator[NDArray[np.uint8]]:
    for index in range(count):
        frame = np.full((size.height * 3 // 2, size.width), 128, np.uint8)
        frame[: size.height] = (16 + 8 * index) % 235
        yield frame


# -- measuring the output, independently of the code under test ------------------------------


def decoded(path: Path) -> Signal:
    with av.open(str(path)) as container:
        blocks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(blocks, axis=1).astype(np.float32)


def r128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of `path`, by FFmpeg's ebur128."""
    graph = av.filter.Graph()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        source = graph.add_abuffer(template=stream)
        meter = graph.add("ebur128", "peak=true:metadata=1")
        sink = graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        graph.configure()
        found: dict[str, str] = {}
        for frame in [*container.decode(stream), None]:
            graph.push(frame)
            while True:
                try:
                    out = graph.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
                if "lavfi.r128.I" in out.metadata:
                    found = dict(out.metadata)
    return float(found["lavfi.r128.I"]), 20 * np.log10(float(found["lavfi.r128.true_peak"]))


def rms_db(signal: Signal) -> float:
    return float(10 * np.log10(np.mean(np.square(signal, dtype=np.float64)) + 1e-20))


def check_track(track: Path, duration_s: float) -> Signal:
    """The platforms' AAC, as long as the video, at -14 LUFS, peaks under -1 dBTP."""
    with av.open(str(track)) as container:
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        assert (ctx.name, ctx.profile, ctx.sample_rate, ctx.channels) == ("aac", "LC", 48000, 2)
        assert 110_000 <= (stream.bit_rate or 0) <= 140_000
        assert stream.duration is not None
        assert stream.time_base is not None
        assert float(stream.duration * stream.time_base) == pytest.approx(duration_s, abs=1e-4)
    loudness, peak = r128(track)
    assert loudness == pytest.approx(-14.0, abs=1.0)
    assert peak <= -0.5  # -1 dBTP before the AAC encode; its own overshoot is small
    return decoded(track)


# -- prepare_music ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp3", ".wav", ".flac", ".ogg", ".m4a"])
def test_every_container_becomes_the_platforms_aac(tmp_path: Path, suffix: str) -> None:
    source = write(tmp_path / f"song{suffix}", noise(8.0))
    info = probe_music(source)
    assert info.channels == 2
    assert info.duration_s == pytest.approx(8.0, abs=0.1)
    check_track(prepare_music(source, VIDEO_S, tmp_path / "track.m4a"), VIDEO_S)


@pytest.mark.parametrize(
    ("name", "signal", "rate"),
    [
        ("sine", sine(8.0, amp=0.08), RATE),  # about -22 LUFS
        ("quiet", sine(8.0, amp=0.0225), RATE),  # about -30 LUFS
        ("loud", np.clip(noise(8.0, amp=3.0), -1, 1), RATE),  # about -5 LUFS, clipped
        ("mono 44.1k", noise(8.0, rate=44_100, channels=1), 44_100),
    ],
)
def test_loudness_is_normalised(tmp_path: Path, name: str, signal: Signal, rate: int) -> None:
    source = write(tmp_path / "song.wav", signal, rate)
    before, _ = r128(source)
    assert abs(before + 14) > 4, f"{name}: the input should need normalising ({before} LUFS)"
    check_track(prepare_music(source, VIDEO_S, tmp_path / "track.m4a"), VIDEO_S)


def test_a_quiet_track_with_loud_peaks_is_limited_not_clipped(tmp_path: Path) -> None:
    # A quiet mix (-30 LUFS) with sharp clicks: the gain up to -14 puts them over 0 dBFS.
    signal = sine(8.0, amp=0.0225)
    for second in range(8):
        signal[:, second * RATE : second * RATE + 10] = 0.5
    source = write(tmp_path / "hits.flac", signal)
    samples = check_track(prepare_music(source, VIDEO_S, tmp_path / "track.m4a"), VIDEO_S)
    assert np.abs(samples).max() < 1.0


def test_the_track_fades_out_at_the_end(tmp_path: Path) -> None:
    source = write(tmp_path / "song.mp3", noise(10.0))
    samples = check_track(prepare_music(source, VIDEO_S, tmp_path / "track.m4a"), VIDEO_S)
    middle = samples[:, 2 * RATE : 3 * RATE]
    last = samples[:, -RATE // 5 :]
    assert rms_db(last) < rms_db(middle) - 20


def test_a_short_clip_is_looped_to_the_end(tmp_path: Path) -> None:
    source = write(tmp_path / "clip.wav", noise(1.0, rate=44_100, channels=1), 44_100)
    samples = check_track(prepare_music(source, 6.0, tmp_path / "track.m4a"), 6.0)
    middle = samples[:, 2 * RATE : 3 * RATE]
    last_second = samples[:, -RATE : -RATE * 3 // 4]  # before the fade-out
    assert rms_db(last_second) > rms_db(middle) - 3


def test_a_long_file_is_cut_to_the_video(tmp_path: Path) -> None:
    source = write(tmp_path / "long.flac", noise(30.0, rate=22_050, channels=1), 22_050)
    check_track(prepare_music(source, 3.0, tmp_path / "track.m4a"), 3.0)


def test_silence_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "silence.wav", np.zeros((2, RATE * 3), np.float32))
    with pytest.raises(InvalidParameter, match=r"silence\.wav is silent") as caught:
        prepare_music(source, VIDEO_S, tmp_path / "track.m4a")
    assert caught.value.field == "audio"


# -- the MP4 ---------------------------------------------------------------------------------


def test_the_video_carries_the_track_as_prepared(tmp_path: Path) -> None:
    fps, frames, size = 24, 120, Size(64, 64)
    track = prepare_music(write(tmp_path / "song.ogg", noise(3.0)), 5.0, tmp_path / "track.m4a")
    video = tmp_path / "video.mp4"
    settings = EncoderSettings(preset="ultrafast")
    assert encode_nv12(nv12_frames(frames, size), video, size, fps, settings, None, track) == 120

    info = probe_video(video)
    assert info.faststart
    assert not info.edit_list
    assert info.duration_s == pytest.approx(5.0)
    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        assert container.streams[0].type == "video"  # players expect the video first
        ctx = stream.codec_context
        assert (ctx.name, ctx.profile, ctx.sample_rate, ctx.channels) == ("aac", "LC", 48000, 2)
        assert stream.duration is not None
        assert stream.time_base is not None
        audio_s = float(stream.duration * stream.time_base)
        assert abs(audio_s - info.duration_s) <= 1024 / 48000  # within an AAC frame
        muxed = [bytes(p) for p in container.demux(stream) if p.size]
    with av.open(str(track)) as container:
        prepared = [bytes(p) for p in container.demux(audio=0) if p.size]
    assert muxed == prepared  # copied, not encoded twice
    loudness, _ = r128(video)
    assert loudness == pytest.approx(-14.0, abs=1.0)


def test_the_sound_is_spread_through_the_file(tmp_path: Path) -> None:
    """A player streaming the MP4 gets sound with the first frames, not after all of them."""
    fps, frames, size = 24, 240, Size(128, 128)
    track = prepare_music(write(tmp_path / "song.ogg", noise(3.0)), 10.0, tmp_path / "track.m4a")
    video = tmp_path / "video.mp4"
    settings = EncoderSettings(preset="ultrafast")
    encode_nv12(nv12_frames(frames, size), video, size, fps, settings, None, track)
    with av.open(str(video)) as container:
        packets = [(p.stream.type, p.pos) for p in container.demux() if p.size and p.pos]
    packets.sort(key=lambda kind_pos: kind_pos[1])  # file order
    kinds = [kind for kind, _ in packets]
    first_audio = next(pos for kind, pos in packets if kind == "audio")
    assert first_audio < video.stat().st_size / 5
    assert kinds.index("audio") < len(kinds) / 5


def test_a_models_sound_in_another_format_is_still_reencoded(tmp_path: Path) -> None:
    sound = write(tmp_path / "sound.m4a", noise(5.0, rate=44_100, channels=1), 44_100)
    video, size = tmp_path / "video.mp4", Size(64, 64)
    settings = EncoderSettings(preset="ultrafast")
    encode_nv12(nv12_frames(120, size), video, size, 24, settings, None, sound)
    with av.open(str(video)) as container:
        ctx = container.streams.audio[0].codec_context
        assert (ctx.name, ctx.sample_rate, ctx.channels) == ("aac", 48000, 2)


# -- bad input -------------------------------------------------------------------------------


def refused(path: Path, max_bytes: int = 50_000_000) -> str:
    with pytest.raises(InvalidParameter) as caught:
        probe_music(path, max_bytes)
    assert caught.value.field == "audio"
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"audio: {path.name} ")
    return message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in refused(tmp_path / "nothing.mp3")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "album.mp3").mkdir()
    assert "is not a file" in refused(tmp_path / "album.mp3")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "locked.wav", sine(1.0))
    source.chmod(0)
    assert "cannot be read (Permission denied)" in refused(source)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.mp3").touch()
    assert "is empty" in refused(tmp_path / "empty.mp3")


def test_a_large_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    source = write(tmp_path / "big.wav", sine(2.0))  # ~384 kB
    assert "is 0.4 MB, over the limit of 0.1 MB" in refused(source, max_bytes=100_000)


def test_a_picture_is_refused(tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), "red").save(tmp_path / "cover.mp3", format="PNG")
    assert "is an image, not audio" in refused(tmp_path / "cover.mp3")


def test_text_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lyrics.mp3").write_text("la la la, not a song at all\n" * 100)
    assert "is not an audio file we can read (expected MP3, WAV" in refused(tmp_path / "lyrics.mp3")


def test_a_video_without_sound_is_refused(tmp_path: Path) -> None:
    silent, size = tmp_path / "silent.mp4", Size(64, 64)
    encode_nv12(nv12_frames(24, size), silent, size, 24, EncoderSettings(preset="ultrafast"))
    assert "is a video without sound: it has no audio stream" in refused(silent)


def test_garbage_is_refused(tmp_path: Path) -> None:
    # Bytes that FFmpeg's MP3 probe takes for frames, and its decoder then refuses.
    (tmp_path / "noise.mp3").write_bytes(bytes(range(256)) * 400)
    assert "cannot be decoded: it is damaged" in refused(tmp_path / "noise.mp3")


def test_a_truncated_m4a_is_refused(tmp_path: Path) -> None:
    # FFmpeg's MP4 muxer writes the index at the end: half a file has none.
    source = write(tmp_path / "song.m4a", noise(4.0))
    source.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    assert "it may be damaged" in refused(source)


def test_a_zero_length_track_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "nothing.wav"
    with wave.open(str(source), "wb") as header_only:
        header_only.setnchannels(2)
        header_only.setsampwidth(2)
        header_only.setframerate(RATE)
    assert "has no sound" in refused(source)


def test_another_kind_of_audio_file_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "old.au", sine(1.0))
    assert "is a au file, not one we take" in refused(source)


def test_a_truncated_mp3_plays_what_is_there(tmp_path: Path) -> None:
    # MP3 frames stand alone: a cut file is a shorter song, looped like any short one.
    source = write(tmp_path / "cut.mp3", noise(6.0))
    source.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    info = probe_music(source)
    assert isinstance(info, MusicInfo)
    assert info.codec == "mp3"
    check_track(prepare_music(source, VIDEO_S, tmp_path / "track.m4a"), VIDEO_S)
