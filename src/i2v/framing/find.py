"""Find a picture's subject for framing: faces first, then saliency, then the centre."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from i2v.framing.base import Box, FocusSource, Subject
from i2v.framing.faces import Face, FaceDetector, shrunk
from i2v.framing.saliency import most_salient
from i2v.media.pixels import check_rgb

# The model's face box runs from the hairline to the chin; a crop that keeps only that cuts
# off the hair and crowds the chin, so the subject box grows by these shares of the face's
# height (up, down) and width (each side).
_HAIR = 0.55
_CHIN = 0.15
_SIDES = 0.25
# A face turned away shows an ear this far (a share of the face's width) outside its box; the
# head then reaches this much further back, and its hair this much higher.
_TURNED = 0.05
_BACK = 0.5
_TURNED_HAIR = 0.35

# A face under this share of the largest face's area is a bystander in the background, not
# one of the group the framing must keep.
_GROUP_SHARE = 0.25

# Where nothing stands out: the middle half of the picture each way.
CENTRE = Box(0.25, 0.25, 0.75, 0.75)

# A user's focus point keeps this share of the picture's sides around it in view.
USER_BOX_SIDE = 0.2


@dataclass(frozen=True, slots=True)
class _Extent:
    left: float
    top: float
    right: float
    bottom: float

    def box(self) -> Box:
        """The extent clamped to the picture, as a Box."""
        return Box(
            max(0.0, self.left), max(0.0, self.top), min(1.0, self.right), min(1.0, self.bottom)
        )


def _head(face: Face) -> _Extent:
    box, reach = face.box, face.reach
    left, right = reach.left - _SIDES * box.width, reach.right + _SIDES * box.width
    top = reach.top - _HAIR * box.height
    # A turned face shows an ear beyond the model's box: the back of the head lies past it,
    # and the box (brow to chin of the features alone) sits lower on the head.
    if box.left - reach.left > _TURNED * box.width:
        left, top = left - _BACK * box.width, top - _TURNED_HAIR * box.height
    if reach.right - box.right > _TURNED * box.width:
        right, top = right + _BACK * box.width, top - _TURNED_HAIR * box.height
    return _Extent(left, top, right, reach.bottom + _CHIN * box.height)


def face_subject(faces: list[Face]) -> Subject:
    """The subject where faces were found: every face of the group with hair and chin, zooms
    aimed at the largest face's eyes."""
    largest = max(faces, key=lambda face: face.box.width * face.box.height)
    floor = _GROUP_SHARE * largest.box.width * largest.box.height
    heads = [_head(face) for face in faces if face.box.width * face.box.height >= floor]
    group = _Extent(
        min(head.left for head in heads),
        min(head.top for head in heads),
        max(head.right for head in heads),
        max(head.bottom for head in heads),
    )
    return Subject(box=group.box(), focus=largest.eyes, source=FocusSource.FACE, face=largest.box)


def centre_subject() -> Subject:
    return Subject(box=CENTRE, focus=CENTRE.centre, source=FocusSource.CENTRE)


def user_subject(focus: tuple[float, float], side: float = USER_BOX_SIDE) -> Subject:
    """The subject a user named with --focus X,Y (fractions from the top left): a box of
    `side` around the point, moved inward where the point is near an edge."""
    x, y = focus
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"a focus point is two fractions between 0 and 1, not {focus}")
    if not 0.0 < side <= 1.0:
        raise ValueError(f"the box around a focus point must be a fraction above 0, not {side}")
    # Shifted rather than clipped, so the box keeps its size and the point stays inside it.
    left = min(max(x - side / 2, 0.0), 1.0 - side)
    top = min(max(y - side / 2, 0.0), 1.0 - side)
    box = Box(left, top, left + side, top + side)
    return Subject(box=box, focus=(x, y), source=FocusSource.USER)


class Finder:
    """The SubjectFinder the renderer uses: faces, else the most salient region, else the
    centre. Its face model loads on the first picture (or `load()`) and is kept; the same
    picture always gets the same answer."""

    def __init__(self, faces: FaceDetector | None = None) -> None:
        self._faces = faces

    def _detector(self) -> FaceDetector:
        if self._faces is None:
            self._faces = FaceDetector()
        return self._faces

    def load(self) -> None:
        """Load the face model now, so that the first picture does not wait for it."""
        self._detector().load()

    def find(self, rgb: NDArray[np.uint8]) -> Subject:
        """The subject of an (H, W, 3) uint8 RGB picture; falls back to the centre, and raises
        only for an array that is not such a picture."""
        check_rgb(rgb)
        # One shrink shared by both finders: on a 12-megapixel photo it costs more than
        # either of them.
        small = shrunk(rgb)
        faces = self._detector().detect(small)
        if faces:
            return face_subject(faces)
        salient = most_salient(small)
        if salient is not None:
            return Subject(box=salient.box, focus=salient.peak, source=FocusSource.SALIENCY)
        return centre_subject()


@cache
def shared_finder() -> Finder:
    """One finder per process: its face model loads once (it takes one picture at a time)."""
    return Finder()
