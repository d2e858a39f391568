"""The cover of a finished clip whose camera we did not plan (a model's): the sampled frame
where the subject is wholly in view and largest."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from i2v.framing.base import Box, FocusSource, SubjectFinder

SAMPLES = 8  # frames looked at, evenly spread: the finder costs ~30 ms each
EDGE = 0.01  # a box this close to the frame's edge is cut off, not wholly in view


def _score(box: Box) -> float:
    """The box's area where it is wholly in view, else 0."""
    inside = box.left > EDGE and box.top > EDGE and box.right < 1 - EDGE and box.bottom < 1 - EDGE
    return box.width * box.height if inside else 0.0


def best_frame(
    frames: Iterable[NDArray[np.uint8]], finder: SubjectFinder
) -> NDArray[np.uint8] | None:
    """Of `frames` (RGB), the one whose found subject (a face or a salient region) is wholly
    in view and largest; the first when none has one; None when there are no frames."""
    first: NDArray[np.uint8] | None = None
    best: tuple[float, NDArray[np.uint8]] | None = None
    for rgb in frames:
        first = rgb if first is None else first
        subject = finder.find(rgb)
        if subject.source not in (FocusSource.FACE, FocusSource.SALIENCY):
            continue
        score = _score(subject.box)
        if score > 0 and (best is None or score > best[0]):
            best = (score, rgb)
    return best[1] if best is not None else first


def sample_indices(frame_count: int, samples: int = SAMPLES) -> list[int]:
    """`samples` frame indices spread evenly from the first to the last."""
    if frame_count <= samples:
        return list(range(frame_count))
    return sorted({round(i * (frame_count - 1) / (samples - 1)) for i in range(samples)})
