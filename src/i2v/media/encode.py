"""Encode NV12 frames to a publish-ready MP4 (H.264 High, 4:2:0, CFR, closed GOP, faststart)."""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from numpy.typing import NDArray

from i2v.domain.size import Size
from i2v.errors import RenderError

T = TypeVar("T")

# ffmpeg's AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values.
_BT709 = 1
_RANGE_MPEG = 1


# moov before mdat, and no edit list (Instagram asks for none): B-frame delay is carried by
# signed composition offsets instead, so the first frame is still presented at t=0.
AUDIO_RATE = 48_000  # the platforms' AAC: at most 48 kHz, 128 kbps
AUDIO_BIT_RATE = 128_000
MUXER_OPTIONS = {"movflags": "+faststart+negative_cts_offsets", "use_editlist": "0"}


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    preset: str = "veryfast"
    crf: int = 20
    max_bitrate_kbps: int = 15_000  # Instagram caps VBR at 25 Mbps; stay well inside it
    gop_seconds: float = 2.0

    def codec_options(self, fps: int) -> dict[str, str]:
        gop = max(1, round(self.gop_seconds * fps))
        return {
            "preset": self.preset,
            "crf": str(self.crf),
            "profile": "high",
            "maxrate": f"{self.max_bitrate_kbps}k",
            "bufsize": f"{2 * self.max_bitrate_kbps}k",
            "g": str(gop),
            "flags": "+cgop",
            "x264-params": "open-gop=0",
        }


def prefetch(items: Iterable[T], depth: int, nice: int = 0) -> Iterator[T]:
    """Iterate `items` on a worker thread, up to `depth` ahead, so producing overlaps consuming.

    Exceptions from the producer re-raise in the consumer; when the consumer stops early
    the producer is told to stop too. A positive `nice` lowers the worker's CPU priority
    (Linux), so that it runs in the consumer's idle moments rather than competing with it.
    """
    buffer: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            if nice > 0 and sys.platform == "linux":
                # On Linux the nice value is per thread: this one thread yields.
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(("error", exc))

    worker = threading.Thread(target=produce, name="i2v-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def _video_frame(frame: NDArray[np.uint8], size: Size) -> av.VideoFrame:
    """`frame` as an AVFrame, sharing its memory where PyAV can: x264 copies it in anyway.

    The frame must not change afterwards (backends never reuse one). PyAV derives the
    height of a shared NV12 buffer as rows // 6 * 4, so other heights are copied once.
    """
    if size.height % 4 == 0 and frame.strides[1] == 1:
        return av.VideoFrame.from_numpy_buffer(frame, format="nv12")
    video_frame = av.VideoFrame(size.width, size.height, "nv12")
    for plane, rows in zip(
        video_frame.planes, (frame[: size.height], frame[size.height :]), strict=True
    ):
        lines = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        lines[: rows.shape[0], : size.width] = rows
    return video_frame


def encode_nv12(
    frames: Iterable[NDArray[np.uint8]],
    dest: Path,
    size: Size,
    fps: int,
    settings: EncoderSettings,
    on_frame: Callable[[int, NDArray[np.uint8]], None] | None = None,
    audio_from: Path | None = None,
) -> int:
    """Encode `frames` (NV12, `size`) at constant `fps` into an MP4 at `dest`; return the count.

    `on_frame(index, frame)` is called after each frame is handed to the encoder. With
    `audio_from`, that file's first audio track (a model's sound, or music from
    `prepare_music`) is carried over as the platforms' AAC, 48 kHz stereo at 128 kbps,
    its packets copied where it is that already; a file without one adds none.
    """
    count = 0
    try:
        with av.open(str(dest), "w", format="mp4", options=MUXER_OPTIONS) as container:
            stream = container.add_stream(
                "libx264", rate=Fraction(fps), options=settings.codec_options(fps)
            )
            ctx = stream.codec_context
            ctx.width, ctx.height = size.width, size.height
            ctx.pix_fmt = "nv12"  # the input layout; the stream is 4:2:0 (yuv420p) either way
            ctx.time_base = Fraction(1, fps)
            # Frame threads, as the ffmpeg CLI uses; PyAV defaults to slice threads.
            ctx.thread_type = "FRAME"
            ctx.color_primaries = _BT709
            ctx.color_trc = _BT709
            ctx.colorspace = _BT709
            ctx.color_range = _RANGE_MPEG
            # Added before anything is written, after the video: players expect it second.
            sound = _audio_track(container, audio_from) if audio_from is not None else None
            with ExitStack() as stack:
                copied = None
                if sound is not None and sound[1] and audio_from is not None:
                    # Copied packets go in alongside the frames, so a player streaming the
                    # file gets sound from its first second, not after all of the video.
                    copied = stack.enter_context(_PacketCopy(container, sound[0], audio_from))
                for frame in frames:
                    video_frame = _video_frame(frame, size)
                    video_frame.pts = count
                    container.mux(stream.encode(video_frame))
                    if on_frame is not None:
                        on_frame(count, frame)
                    count += 1
                    if copied is not None:
                        copied.mux_until(count / fps)
                container.mux(stream.encode(None))
                if copied is not None:
                    copied.mux_until(None)
                elif sound is not None and audio_from is not None:
                    _encode_audio(container, sound[0], audio_from)
    except av.error.FFmpegError as exc:
        raise RenderError(f"encoding {dest.name} failed: {exc}") from exc
    return count


def _audio_track(
    container: av.container.OutputContainer, source: Path
) -> tuple[av.AudioStream, bool] | None:
    """The output's AAC track, if `source` has sound, and whether its packets are copied."""
    with av.open(str(source)) as probe:
        if not probe.streams.audio:
            return None
        if _publish_ready_audio(probe, probe.streams.audio[0]):
            return container.add_stream_from_template(probe.streams.audio[0]), True
    stream = container.add_stream("aac", rate=AUDIO_RATE)
    stream.codec_context.layout = "stereo"
    stream.codec_context.bit_rate = AUDIO_BIT_RATE
    return stream, False


def _publish_ready_audio(source: av.container.InputContainer, stream: av.AudioStream) -> bool:
    """Whether `stream` is already the platforms' AAC (a prepared music track is): copying
    its packets spares a second lossy encode. MP4-family only: its AAC packets go into an
    MP4 as they are, where ADTS ones would need rewrapping."""
    ctx = stream.codec_context
    return (
        source.format.name.startswith("mov,mp4")
        and ctx.name == "aac"
        and ctx.profile == "LC"
        and ctx.sample_rate == AUDIO_RATE
        and ctx.channels == 2
        and 0 < (ctx.bit_rate or 0) <= AUDIO_BIT_RATE * 1.05  # the encoder's average strays
    )


def _encode_audio(
    container: av.container.OutputContainer, stream: av.AudioStream, source: Path
) -> None:
    """Re-encode the source's sound (a model's, not yet the platforms' AAC) into `stream`,
    after the video (a model's clip is a few seconds long)."""
    with av.open(str(source)) as clip:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        for decoded in clip.decode(clip.streams.audio[0]):
            for frame in resampler.resample(decoded):
                frame.pts = None
                container.mux(stream.encode(frame))
        for frame in resampler.resample(None):
            frame.pts = None
            container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


class _PacketCopy:
    """A prepared track's packets, muxed as the video reaches their time; shifted to start
    at 0 (a source written with an edit list starts at -priming, and ours has none)."""

    def __init__(
        self, container: av.container.OutputContainer, stream: av.AudioStream, source: Path
    ) -> None:
        self._container, self._stream, self._source = container, stream, source

    def __enter__(self) -> _PacketCopy:
        self._clip = av.open(str(self._source))
        audio = self._clip.streams.audio[0]
        self._time_base = audio.time_base or Fraction(1, AUDIO_RATE)
        self._packets = iter(self._clip.demux(audio))
        self._start: int | None = None
        self._held: av.Packet[av.AudioStream] | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        self._clip.close()

    def mux_until(self, seconds: float | None) -> None:
        """Mux every packet that starts before `seconds` (None: all that are left)."""
        while True:
            packet = self._held or next(self._packets, None)
            self._held = None
            if packet is None:
                return
            if packet.dts is None or packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            self._start = packet.dts if self._start is None else self._start
            if seconds is not None and (packet.dts - self._start) * self._time_base >= seconds:
                self._held = packet
                return
            packet.dts -= self._start
            packet.pts -= self._start
            packet.stream = self._stream
            self._container.mux(packet)
