"""A user's music track: checked on upload, then rendered to the video's AAC sound track."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np
from numpy.typing import NDArray

from i2v.errors import InvalidParameter, RenderError
from i2v.media.encode import AUDIO_BIT_RATE, AUDIO_RATE

MAX_MUSIC_BYTES = 50_000_000  # ~50 min of 128 kbps MP3, ~5 min of CD WAV; the lead wires a setting
TARGET_LUFS = -14.0  # integrated, EBU R128: what YouTube, Spotify and TikTok normalise to
TRUE_PEAK_DBTP = -1.0  # headroom for the platforms' own lossy re-encode
FADE_OUT_S = 0.75
FADE_IN_S = 0.005  # a few ms: the track may start mid-waveform, and a step clicks
LOOP_SEAM_S = 0.005  # each repeat of a looped track is faded in and out this much, for the same
SILENT_LUFS = -70.0  # EBU R128's absolute gate: nothing quieter counts, so there is no loudness
# FFmpeg's AAC encoder starts with one frame of priming samples. The MP4 has no edit list to
# hide them, so they play (as silence) before the music: the music is one frame shorter so
# that the track still ends with the video.
AAC_PRIMING = 1024
_PROBE_DECODE_S = 1.0  # probe_music decodes this much: enough to prove the codec works
_LIMIT_ROUNDS = 3  # a track that needs its peaks limited: limit, measure, correct, at most so often
_BLOCK = 1024 * 16  # samples per frame pushed through filters and the encoder

# Demuxers we take input from (FFmpeg's names): the usual audio files. FFmpeg probes dozens
# more, exotic and rarely fuzzed; an upload is untrusted, so the rest are refused.
ACCEPTED_FORMATS = {
    "mp3": "MP3",
    "wav": "WAV",
    "flac": "FLAC",
    "ogg": "Ogg",
    "mov,mp4,m4a,3gp,3g2,mj2": "M4A",
    "aac": "AAC",
    "matroska,webm": "WebM",
    "aiff": "AIFF",
}
ACCEPTED_CODECS = frozenset({"mp3", "mp2", "aac", "flac", "vorbis", "opus", "alac"})
_KINDS = "MP3, WAV, FLAC, Ogg, M4A/AAC, WebM or AIFF"


@dataclass(frozen=True, slots=True)
class MusicInfo:
    duration_s: float
    sample_rate: int
    channels: int
    codec: str  # FFmpeg's codec name, e.g. mp3, aac, pcm_s16le
    container: str  # e.g. MP3, M4A


def _refuse(path: Path, problem: str) -> InvalidParameter:
    # The file's own name, never its folder: an upload lives in a server's temporary folder.
    return InvalidParameter("audio", path.name, f"audio: {path.name} {problem}")


def probe_music(path: Path, max_bytes: int = MAX_MUSIC_BYTES) -> MusicInfo:
    """Check that `path` is usable music and say what it holds; InvalidParameter("audio") if not.

    The size is checked before FFmpeg reads a byte, and only the first second is decoded:
    a long file costs no more than a short one.
    """
    _check_file(path, max_bytes)
    try:
        with av.open(str(path)) as container:
            return _inspect(path, container)
    except av.error.FFmpegError as exc:
        raise _refuse(path, f"is not an audio file we can read ({_kinds_hint(exc)})") from exc
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc})") from exc


def _check_file(path: Path, max_bytes: int) -> None:
    try:
        if not path.is_file():
            raise _refuse(path, "does not exist" if not path.exists() else "is not a file")
        size = path.stat().st_size
        with path.open("rb"):  # readable by us, before FFmpeg says something vaguer
            pass
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise _refuse(path, "is empty")
    if size > max_bytes:
        raise _refuse(path, f"is {size / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:g} MB")


def _kinds_hint(exc: av.error.FFmpegError) -> str:
    if isinstance(exc, av.error.InvalidDataError):
        return f"expected {_KINDS}; it may be damaged"
    return str(exc)


def _inspect(path: Path, container: av.container.InputContainer) -> MusicInfo:
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt.startswith("image2"):
        raise _refuse(path, f"is an image, not audio (expected {_KINDS})")
    kind = ACCEPTED_FORMATS.get(fmt)
    if kind is None:
        raise _refuse(path, f"is a {fmt} file, not one we take (expected {_KINDS})")
    if not container.streams.audio:
        if container.streams.video:
            raise _refuse(path, "is a video without sound: it has no audio stream")
        raise _refuse(path, "has no audio stream")
    stream = container.streams.audio[0]
    codec = stream.codec_context.codec.canonical_name
    if not (codec in ACCEPTED_CODECS or codec.startswith("pcm_")):
        raise _refuse(path, f"holds {codec} audio, which we do not decode")
    duration = _declared_duration(container, stream)
    if duration is not None and duration <= 0:
        raise _refuse(path, "has no sound: its duration is zero")
    rate, channels, decoded = _decode_start(path, container, stream)
    if decoded == 0:
        raise _refuse(path, "has no sound: not one sample decodes from it")
    if duration is None:  # e.g. a raw AAC or an MP3 without a header: count what is there
        duration = _counted_duration(path, container, stream)
    return MusicInfo(duration, rate, channels, codec, kind)


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _decode_start(
    path: Path, container: av.container.InputContainer, stream: av.AudioStream
) -> tuple[int, int, int]:
    """(rate, channels, samples) of the first ~second decoded; refused if it cannot be."""
    rate = channels = decoded = 0
    try:
        for frame in container.decode(stream):
            rate, channels = frame.sample_rate, len(frame.layout.channels)
            decoded += frame.samples
            if decoded >= _PROBE_DECODE_S * rate:
                break
    except av.error.FFmpegError as exc:
        raise _refuse(path, f"cannot be decoded: it is damaged or not {_KINDS} ({exc})") from exc
    return rate, channels, decoded


def _counted_duration(
    path: Path, container: av.container.InputContainer, stream: av.AudioStream
) -> float:
    """The duration from the packets, read but not decoded (the file is under the size limit)."""
    container.seek(0, stream=stream)
    end = 0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.duration is not None:
            end = max(end, packet.pts + packet.duration)
    seconds = float(end * stream.time_base) if stream.time_base is not None else 0.0
    if seconds <= 0:
        raise _refuse(path, "has no sound: its duration is zero")
    return seconds


def prepare_music(path: Path, duration_s: float, dest: Path) -> Path:
    """Render `path` as the sound track of a `duration_s` video into `dest` (an M4A); return it.

    48 kHz stereo, looped when shorter than the video, cut to it with a fade-out,
    normalised to TARGET_LUFS with true peaks at most TRUE_PEAK_DBTP, AAC-LC at 128 kbps.
    `encode_nv12(audio_from=dest)` copies its packets into the MP4 as they are. Memory is
    the track's samples: 384 kB per second of video (35 MB at 90 s), whatever the file's length.
    `path` is trusted to have passed probe_music (on upload): its format is not checked again.
    """
    total = round(duration_s * AUDIO_RATE)
    if total <= AAC_PRIMING + round(FADE_OUT_S * AUDIO_RATE):
        raise RenderError(f"a {duration_s:g} s video is too short for a music track")
    pcm = _decoded(path, total - AAC_PRIMING)
    _fade(pcm)
    # Loudness: two passes, measure then a linear gain. One-pass loudnorm is an automatic gain
    # control that pumps music and flattens its dynamics; a linear gain keeps the mix as made.
    # A limiter then touches only the peaks the gain pushed over the true-peak ceiling, which
    # costs a dense master a fraction of an LU below target: the platforms' own choice too.
    loudness, peak = _measure(pcm)
    if loudness <= SILENT_LUFS:
        raise _refuse(path, "is silent")
    _encode_aac(_normalised(pcm, loudness, peak), dest)
    return dest


def _normalised(pcm: NDArray[np.float32], loudness: float, peak: float) -> NDArray[np.float32]:
    """`pcm` (measured at `loudness` LUFS, true peak `peak`) at TARGET_LUFS, peaks limited."""
    gain_db = TARGET_LUFS - loudness
    ceiling = 10 ** (TRUE_PEAK_DBTP / 20)
    if peak * 10 ** (gain_db / 20) <= ceiling:
        pcm *= 10 ** (gain_db / 20)
        return pcm
    limit = ceiling
    for _ in range(_LIMIT_ROUNDS):
        limited = _limited(pcm * 10 ** (gain_db / 20), limit)
        loudness, peak = _measure(limited)
        # alimiter holds samples under its limit, but the waveform between them can overshoot
        # (true peak): the next round limits the samples that much lower.
        short_db = TARGET_LUFS - loudness
        if peak > ceiling:
            limit *= ceiling / peak
        # Peaks that carry much of the loudness take it with them: the next round adds the
        # shortfall back as gain (into a limiter working that much harder).
        if short_db > 0.5:
            gain_db += short_db
        if peak <= ceiling and short_db <= 0.5:
            break
    if peak > ceiling:  # still over after the last round: the whole track down, as a last resort
        limited *= ceiling / peak
    return limited


def _decoded(path: Path, samples: int) -> NDArray[np.float32]:
    """The first `samples` of `path` at 48 kHz stereo, the file looped as often as it takes.

    Decoding stops once the track is full: a two-hour file is read no further than needed.
    """
    pcm = np.zeros((2, samples), np.float32)
    filled = 0
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            for decoded in container.decode(stream):
                filled = _append(pcm, filled, resampler.resample(decoded))
                if filled == samples:
                    return pcm
            filled = _append(pcm, filled, resampler.resample(None))
    except (av.error.FFmpegError, IndexError) as exc:
        # probe_music accepted the start; the damage is further in.
        raise _refuse(path, f"cannot be decoded past {filled / AUDIO_RATE:.1f} s ({exc})") from exc
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc})") from exc
    if filled == 0:
        raise _refuse(path, "has no sound: not one sample decodes from it")
    if filled < samples:
        _loop(pcm, filled)
    return pcm


def _append(pcm: NDArray[np.float32], filled: int, frames: list[av.AudioFrame]) -> int:
    for frame in frames:
        block = frame.to_ndarray()
        take = min(block.shape[1], pcm.shape[1] - filled)
        pcm[:, filled : filled + take] = block[:, :take]
        filled += take
    return filled


def _loop(pcm: NDArray[np.float32], length: int) -> None:
    """Repeat the first `length` samples to the end; each repeat is faded in and out a few
    ms, since a track's end rarely meets its start on the same value (a click)."""
    seam = min(round(LOOP_SEAM_S * AUDIO_RATE), length // 4)
    if seam > 0:
        ramp = np.linspace(0.0, 1.0, seam, dtype=np.float32)
        pcm[:, :seam] *= ramp
        pcm[:, length - seam : length] *= ramp[::-1]
    for start in range(length, pcm.shape[1], length):
        take = min(length, pcm.shape[1] - start)
        pcm[:, start : start + take] = pcm[:, :take]


def _fade(pcm: NDArray[np.float32]) -> None:
    fade_in = round(FADE_IN_S * AUDIO_RATE)
    pcm[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
    fade_out = round(FADE_OUT_S * AUDIO_RATE)
    # Squared: a linear ramp in amplitude sounds like it drops all at once at the end.
    ramp = np.linspace(1.0, 0.0, fade_out, dtype=np.float32) ** 2
    pcm[:, -fade_out:] *= ramp


def _frames(pcm: NDArray[np.float32]) -> Iterator[av.AudioFrame]:
    for start in range(0, pcm.shape[1], _BLOCK):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm[:, start : start + _BLOCK]), format="fltp", layout="stereo"
        )
        frame.sample_rate = AUDIO_RATE
        frame.time_base = Fraction(1, AUDIO_RATE)
        frame.pts = start
        yield frame


def _filtered(pcm: NDArray[np.float32], name: str, args: str) -> Iterator[av.AudioFrame]:
    """`pcm` through one FFmpeg audio filter; the filter's output frames."""
    graph = av.filter.Graph()
    source = graph.add_abuffer(
        format="fltp", sample_rate=AUDIO_RATE, layout="stereo", time_base=Fraction(1, AUDIO_RATE)
    )
    node = graph.add(name, args)
    # Back to planar float: alimiter, for one, works in interleaved doubles.
    planar = graph.add("aformat", "sample_fmts=fltp")
    sink = graph.add("abuffersink")
    source.link_to(node)
    node.link_to(planar)
    planar.link_to(sink)
    graph.configure()
    for frame in [*_frames(pcm), None]:
        graph.push(frame)
        while True:
            try:
                out = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            assert isinstance(out, av.AudioFrame)
            yield out


def _measure(pcm: NDArray[np.float32]) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (linear) of `pcm`, by FFmpeg's ebur128."""
    # The values are running ones, set on each frame that completes a 100 ms block: the last
    # such frame's cover the whole track (but a last part-block, inside the fade-out).
    loudness, peak = -math.inf, 0.0
    for frame in _filtered(pcm, "ebur128", "peak=true:metadata=1:framelog=quiet"):
        meta = frame.metadata
        if "lavfi.r128.I" in meta:
            loudness = float(meta["lavfi.r128.I"])
            peak = float(meta["lavfi.r128.true_peak"])
    return loudness, peak


def _limited(pcm: NDArray[np.float32], ceiling: float) -> NDArray[np.float32]:
    # latency=1: the lookahead's delay is taken back, so the samples stay where they were.
    # level=0: no make-up gain; the loudness was set already.
    args = f"limit={ceiling:.6f}:attack=5:release=50:level=0:latency=1"
    out = np.empty_like(pcm)
    filled = 0
    for frame in _filtered(pcm, "alimiter", args):
        block = frame.to_ndarray()
        take = min(block.shape[1], out.shape[1] - filled)
        out[:, filled : filled + take] = block[:, :take]
        filled += take
    if filled != out.shape[1]:
        raise RenderError(f"the limiter returned {filled} of {out.shape[1]} samples")
    return out


def _encode_aac(pcm: NDArray[np.float32], dest: Path) -> None:
    try:
        with av.open(str(dest), "w", format="mp4", options={"use_editlist": "0"}) as container:
            stream = container.add_stream("aac", rate=AUDIO_RATE)
            stream.codec_context.layout = "stereo"
            stream.codec_context.bit_rate = AUDIO_BIT_RATE
            for frame in _frames(pcm):
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except av.error.FFmpegError as exc:
        raise RenderError(f"encoding the music track {dest.name} failed: {exc}") from exc
