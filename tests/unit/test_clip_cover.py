"""A model's clip gets the cover where its subject is wholly in view and largest."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from i2v.framing.base import Box, FocusSource, Subject
from i2v.framing.clip_cover import best_frame, sample_indices
from i2v.framing.find import CENTRE


class Marked:
    """A finder that reads the subject a test drew into the frame's first pixel."""

    def __init__(self, boxes: dict[int, Subject]) -> None:
        self.boxes = boxes

    def find(self, rgb: NDArray[np.uint8]) -> Subject:
        return self.boxes[int(rgb[0, 0, 0])]


def _frame(tag: int) -> NDArray[np.uint8]:
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[0, 0, 0] = tag
    return rgb


def _subject(box: Box, source: FocusSource = FocusSource.FACE) -> Subject:
    return Subject(box, box.centre, source)


def test_the_largest_subject_wholly_in_view_wins() -> None:
    finder = Marked(
        {
            0: _subject(Box(0.4, 0.4, 0.6, 0.6)),  # small
            1: _subject(Box(0.2, 0.2, 0.8, 0.8)),  # large: the cover
            2: _subject(Box(0.0, 0.1, 0.9, 0.9)),  # larger, but cut by the left edge
            3: _subject(Box(0.1, 0.1, 0.9, 0.9), FocusSource.CENTRE),  # nothing found
        }
    )
    chosen = best_frame([_frame(i) for i in range(4)], finder)
    assert chosen is not None
    assert chosen[0, 0, 0] == 1


def test_no_subject_anywhere_keeps_the_first_frame() -> None:
    finder = Marked(
        {0: _subject(CENTRE, FocusSource.CENTRE), 1: _subject(CENTRE, FocusSource.CENTRE)}
    )
    chosen = best_frame([_frame(0), _frame(1)], finder)
    assert chosen is not None
    assert chosen[0, 0, 0] == 0
    assert best_frame([], finder) is None


def test_samples_spread_from_the_first_frame_to_the_last() -> None:
    assert sample_indices(150) == [0, 21, 43, 64, 85, 106, 128, 149]
    assert sample_indices(5) == [0, 1, 2, 3, 4]
    assert sample_indices(0) == []
