"""Find faces in a picture with MediaPipe's BlazeFace (full range), shipped inside the package."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.framing.base import Box

# MediaPipe's full-range BlazeFace (Apache-2.0), the dense variant: OpenCV's TFLite importer has
# no DENSIFY operator for the sparse one. Source and hash are in THIRD_PARTY_NOTICES.md.
MODEL_FILE = "face_detection_full_range.tflite"
MODEL_NAME = "BlazeFace full-range (MediaPipe)"
MODEL_PATH = Path(__file__).with_name("models") / MODEL_FILE

_SIDE = 192  # the model's square input
_STRIDE = 4  # one anchor per 4x4 cell of the input: a 48x48 grid
# MediaPipe's own settings for this model: a face is kept at 0.5, and detections overlapping
# by more than 0.3 are one face. A little higher than 0.5 here, because a wrong face costs more
# than a missed one (saliency still finds a missed face's person; a wrong face steers the zoom).
MIN_SCORE = 0.6
_OVERLAP = 0.3
# The narrowest face (px of the model's input) it finds reliably, measured on the test faces.
_SMALLEST = 14

# The model sees 192 px, so anything finer in the source is thrown away; 640 keeps the squares
# below (as tall as the short side) at or above the model's resolution up to 3.3:1 pictures.
WORKING_SIDE = 640


@dataclass(frozen=True, slots=True)
class Face:
    """A face found in a picture, in fractions of its width and height."""

    box: Box  # brow to chin, cheek to cheek: the model's box, without hair
    eyes: tuple[float, float]  # the midpoint of the two eyes
    score: float
    # The box and the model's six landmarks (eyes, nose, mouth, both ears) together: in
    # profile the far ear lies outside `box`, and the head's back with it.
    reach: Box


def shrunk(rgb: NDArray[np.uint8], longest: int = WORKING_SIDE) -> NDArray[np.uint8]:
    """`rgb` area-averaged so its longer side is at most `longest` (itself when smaller)."""
    height, width = rgb.shape[:2]
    factor = max(height, width) // longest
    if factor >= 2:
        # OpenCV's area resampling is ~10x faster by a whole factor (3000x2000 to 750x500 in
        # ~3 ms, not ~30 ms straight to 640); it needs sides divisible by it, so up to
        # factor - 1 pixels go from the right and bottom edges (0.1% of a 3000 px side).
        whole = rgb[: height - height % factor, : width - width % factor]
        size = (whole.shape[1] // factor, whole.shape[0] // factor)
        rgb = np.asarray(cv2.resize(whole, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        height, width = rgb.shape[:2]
    scale = longest / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _anchors() -> NDArray[np.float32]:
    cells = _SIDE // _STRIDE
    ys, xs = np.mgrid[0:cells, 0:cells]
    centres = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
    return centres.astype(np.float32)


@dataclass(frozen=True, slots=True)
class _Window:
    """A square region of the working picture, in its pixels; may run past the edges (padding)."""

    x: int
    y: int
    side: int


def _windows(width: int, height: int) -> list[_Window]:
    """The whole picture letterboxed into one square, then squares as tall as the short side.

    Letterboxing a 16:9 picture wastes 44% of the model's 192 px on padding, so a face a few
    per cent of the width is too small to find. The squares along the long side see such a face
    at up to 1.8x the size; they overlap, so a face up to the overlap's width lies wholly in
    one of them, and a larger face is found by the letterboxed pass.
    """
    long_side, short_side = max(width, height), min(width, height)
    windows = [_Window(0, 0, long_side)]
    count = -(-long_side // short_side)
    # Near-square pictures gain nothing; past 4 squares (a panorama) the whole pass must do.
    if long_side <= short_side * 1.1 or count > 4:
        return windows
    count = max(2, count)
    step = (long_side - short_side) / (count - 1)
    for index in range(count):
        offset = round(index * step)
        if width >= height:
            windows.append(_Window(offset, 0, short_side))
        else:
            windows.append(_Window(0, offset, short_side))
    return windows


def _iou(box: NDArray[np.float32], others: NDArray[np.float32]) -> NDArray[np.float32]:
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[2], others[:, 2])
    bottom = np.minimum(box[3], others[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9), dtype=np.float32)


def _merge(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """MediaPipe's weighted suppression: each cluster of overlapping detections becomes their
    score-weighted mean, steadier than keeping the single best of them."""
    order = np.argsort(-rows[:, 4], kind="stable")
    rows = rows[order]
    kept: list[NDArray[np.float32]] = []
    alive = np.ones(len(rows), dtype=bool)
    for index in range(len(rows)):
        if not alive[index]:
            continue
        overlap = _iou(rows[index, :4], rows[:, :4]) > _OVERLAP
        cluster = alive & overlap
        cluster[index] = True
        weights = rows[cluster, 4:5]
        merged = (rows[cluster] * weights).sum(axis=0) / weights.sum()
        merged[4] = rows[index, 4]
        kept.append(merged.astype(np.float32))
        alive &= ~cluster
    return np.stack(kept) if kept else np.zeros((0, rows.shape[1]), dtype=np.float32)


def _clamped_box(left: float, top: float, right: float, bottom: float) -> Box | None:
    left, top = max(0.0, left), max(0.0, top)
    right, bottom = min(1.0, right), min(1.0, bottom)
    if right - left < 1e-4 or bottom - top < 1e-4:
        return None
    return Box(left, top, right, bottom)


class FaceDetector:
    """Faces in a picture, largest first; the model loads on first use and is kept.

    OpenCV's DNN module runs it, read in place from the package (nothing is unpacked or
    written anywhere). One `cv2.dnn.Net` keeps per-call state,
    so calls on one detector take turns; a caller wanting parallel detection makes several.
    """

    def __init__(self, min_score: float = MIN_SCORE) -> None:
        self.min_score = min_score
        self._net: cv2.dnn.Net | None = None
        self._anchors = _anchors()
        self._lock = threading.Lock()

    def _model(self) -> cv2.dnn.Net:
        if self._net is None:
            # From its path, not its bytes: OpenCV 5.0's buffer overload ignores `engine`.
            # The classic engine, because the new one returns only the first of the model's
            # two outputs (boxes, not scores).
            net = cv2.dnn.readNetFromTFLite(str(MODEL_PATH), engine=cv2.dnn.ENGINE_CLASSIC)
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            self._net = net
        return self._net

    def load(self) -> None:
        """Load the model now, so that the first picture does not wait for it."""
        with self._lock:
            self._model()

    def detect(self, rgb: NDArray[np.uint8]) -> list[Face]:
        """Faces in an (H, W, 3) uint8 RGB picture, largest first; [] where there are none."""
        small = shrunk(rgb)
        height, width = small.shape[:2]
        whole, *squares = _windows(width, height)
        with self._lock:
            found = [self._detect_window(small, whole)]
            # A face found whole that is at least twice the smallest the model finds means
            # any face a quarter its size (a group's smallest member) was found too, so the
            # squares (two thirds of the time) are needed only for pictures without one.
            widest = float((found[0][:, 2] - found[0][:, 0]).max(initial=0.0))
            if widest < 2 * _SMALLEST * whole.side / _SIDE:
                found.extend(self._detect_window(small, square) for square in squares)
        rows = np.concatenate(found)
        if len(rows) == 0:
            return []
        faces = []
        for row in _merge(rows):
            box = _clamped_box(
                float(row[0]) / width,
                float(row[1]) / height,
                float(row[2]) / width,
                float(row[3]) / height,
            )
            if box is None:
                continue
            eyes = (
                min(1.0, max(0.0, float(row[5]) / width)),
                min(1.0, max(0.0, float(row[6]) / height)),
            )
            reach = _clamped_box(
                min(float(row[0]), float(row[7])) / width,
                min(float(row[1]), float(row[8])) / height,
                max(float(row[2]), float(row[9])) / width,
                max(float(row[3]), float(row[10])) / height,
            )
            faces.append(Face(box=box, eyes=eyes, score=float(row[4]), reach=reach or box))
        faces.sort(key=lambda face: (-face.box.width * face.box.height, face.box.left))
        return faces

    def _detect_window(self, small: NDArray[np.uint8], window: _Window) -> NDArray[np.float32]:
        """Detections in one window, as rows (left, top, right, bottom, score, eye x, eye y,
        then the landmarks' left, top, right, bottom) in the working picture's pixels."""
        height, width = small.shape[:2]
        square = np.zeros((window.side, window.side, 3), dtype=np.uint8)
        part = small[window.y : window.y + window.side, window.x : window.x + window.side]
        square[: part.shape[0], : part.shape[1]] = part
        pixels = cv2.resize(square, (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
        blob = (pixels.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[np.newaxis]
        net = self._model()
        net.setInput(np.ascontiguousarray(blob))
        raw_boxes, raw_scores = net.forward(
            ["reshaped_regressor_face_4", "reshaped_classifier_face_4"]
        )
        raw = np.asarray(raw_boxes, dtype=np.float32).reshape(-1, 16)
        logits = np.clip(np.asarray(raw_scores, dtype=np.float32).reshape(-1), -100, 100)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = scores >= self.min_score
        if not keep.any():
            return np.zeros((0, 11), dtype=np.float32)
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        scale = window.side / _SIDE
        centre_x = (raw[:, 0] + anchors[:, 0] * _SIDE) * scale + window.x
        centre_y = (raw[:, 1] + anchors[:, 1] * _SIDE) * scale + window.y
        half_w, half_h = raw[:, 2] * scale / 2, raw[:, 3] * scale / 2
        # Keypoints 0 and 1 are the eyes (which is left depends on mirroring; the midpoint not).
        eye_x = ((raw[:, 4] + raw[:, 6]) / 2 + anchors[:, 0] * _SIDE) * scale + window.x
        eye_y = ((raw[:, 5] + raw[:, 7]) / 2 + anchors[:, 1] * _SIDE) * scale + window.y
        marks_x = (raw[:, 4:16:2] + anchors[:, 0:1] * _SIDE) * scale + window.x
        marks_y = (raw[:, 5:16:2] + anchors[:, 1:2] * _SIDE) * scale + window.y
        rows = np.stack(
            [
                centre_x - half_w,
                centre_y - half_h,
                centre_x + half_w,
                centre_y + half_h,
                scores,
                eye_x,
                eye_y,
                marks_x.min(axis=1),
                marks_y.min(axis=1),
                marks_x.max(axis=1),
                marks_y.max(axis=1),
            ],
            axis=1,
        ).astype(np.float32)
        # A face cut by a square's edge inside the picture is found whole by another pass,
        # and its part would drag the merged box; a detection in the padding is nothing.
        margin = 0.02 * window.side
        keep_rows = (centre_x < width) & (centre_y < height)
        if window.x > 0:
            keep_rows &= rows[:, 0] > window.x + margin
        if window.y > 0:
            keep_rows &= rows[:, 1] > window.y + margin
        if window.x + window.side < width:
            keep_rows &= rows[:, 2] < window.x + window.side - margin
        if window.y + window.side < height:
            keep_rows &= rows[:, 3] < window.y + window.side - margin
        return np.asarray(rows[keep_rows], dtype=np.float32)
