"""Test pictures with known subjects: real faces and faceless objects on made-up backgrounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from i2v.framing.base import Box

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"

Pixels = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Sample:
    """A face photo in tests/data/faces (256x320 px), with boxes marked by hand on it: the face
    from hairline to chin (ear or cheek to cheek or nose tip) and the head with the hair."""

    file: str
    face: Pixels
    head: Pixels


ASTRONAUT = Sample("astronaut_head.jpg", face=(77, 68, 178, 175), head=(57, 15, 206, 178))
# In three-quarter profile, one eye behind a camera: harder than the astronaut's frontal face.
CAMERAMAN = Sample("cameraman_head.jpg", face=(65, 85, 134, 157), head=(43, 25, 150, 160))

LANDSCAPE = (3000, 2000)
WIDE = (1920, 1080)
PORTRAIT = (1080, 1920)
TALL = (1400, 2100)
SQUARE = (1500, 1500)


@dataclass(frozen=True, slots=True)
class Scene:
    """A picture and what its subject is: the box a framing must keep, and the largest face."""

    name: str
    rgb: NDArray[np.uint8]
    subject: Box
    face: Box | None = None
    faces: tuple[Box, ...] = ()


@dataclass(frozen=True, slots=True)
class Person:
    """One face in a scene: its head's height (a share of the picture's) and centre."""

    height: float
    centre: tuple[float, float]
    mirror: bool = False
    sample: Sample = ASTRONAUT


@cache
def _photo(file: str) -> NDArray[np.uint8]:
    with Image.open(FACES / file) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


# Backgrounds: drawn at a low resolution from a fixed seed and scaled up, so a 3000x2000 scene
# costs a few milliseconds and is the same on every run.


def _noise(
    size: tuple[int, int], seed: int, colour: tuple[int, int, int], grain: int = 40
) -> NDArray[np.uint8]:
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 1, (max(2, height // grain), max(2, width // grain), 1))
    field = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    base = np.array(colour, dtype=np.float32)
    return _u8(base + 22 * field[:, :, np.newaxis])


def _u8(values: NDArray[np.floating]) -> NDArray[np.uint8]:
    return np.asarray(np.clip(np.rint(values), 0, 255), dtype=np.uint8)


def _plain(size: tuple[int, int], colour: tuple[int, int, int]) -> NDArray[np.uint8]:
    width, height = size
    return np.full((height, width, 3), colour, dtype=np.uint8)


def _gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> NDArray[np.uint8]:
    width, height = size
    t = np.linspace(0, 1, height, dtype=np.float32)[:, np.newaxis, np.newaxis]
    column = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return _u8(np.broadcast_to(column, (height, width, 3)))


def _stripes(
    size: tuple[int, int], period: int, a: tuple[int, int, int], b: tuple[int, int, int]
) -> NDArray[np.uint8]:
    width, height = size
    xs = np.arange(width)[np.newaxis, :] + np.arange(height)[:, np.newaxis] // 2
    on = ((xs // period) % 2).astype(bool)
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[on], out[~on] = a, b
    return out


def _grass(size: tuple[int, int], seed: int) -> NDArray[np.uint8]:
    """A busy, fine texture in two colours, like foliage: nothing in it should stand out."""
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 1, (height // 6, width // 6)).astype(np.float32)
    fine = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)[:, :, np.newaxis]
    return _u8(np.array((70, 110, 50), np.float32) + 25 * fine)


# Subjects.


def _paste_face(canvas: NDArray[np.uint8], person: Person) -> tuple[Box, Box]:
    """Paste a face photo so its head is `person.height` of the canvas's height, centred at
    `person.centre` (fractions); returns the face and head boxes, which must lie inside the
    canvas.

    The photo's edges are feathered so that its studio backdrop blends into the scene
    rather than making a hard-edged rectangle, which would itself look salient.
    """
    height, width = canvas.shape[:2]
    sample = person.sample
    photo = _photo(sample.file)[:, ::-1] if person.mirror else _photo(sample.file)
    scale = person.height * height / (sample.head[3] - sample.head[1])
    size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    scaled = np.asarray(
        cv2.resize(photo, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC),
        dtype=np.uint8,
    )
    side = photo.shape[1]

    def mirrored(px: Pixels) -> Pixels:
        return (side - px[2], px[1], side - px[0], px[3]) if person.mirror else px

    head, face = mirrored(sample.head), mirrored(sample.face)
    head_centre = ((head[0] + head[2]) / 2 * scale, (head[1] + head[3]) / 2 * scale)
    x0 = round(person.centre[0] * width - head_centre[0])
    y0 = round(person.centre[1] * height - head_centre[1])
    _blend(canvas, scaled, x0, y0, feather=0.12)

    def placed(px: Pixels) -> Box:
        return Box(
            (x0 + px[0] * scale) / width,
            (y0 + px[1] * scale) / height,
            (x0 + px[2] * scale) / width,
            (y0 + px[3] * scale) / height,
        )

    return placed(face), placed(head)


def _blend(
    canvas: NDArray[np.uint8], patch: NDArray[np.uint8], x0: int, y0: int, feather: float
) -> None:
    """Alpha-blend `patch` onto `canvas` at (x0, y0), its edges fading over `feather` of its
    shorter side; parts beyond the canvas are cut off."""
    ph, pw = patch.shape[:2]
    margin = max(1.0, feather * min(ph, pw))
    ys = np.minimum(np.arange(ph), np.arange(ph)[::-1]).astype(np.float32)[:, np.newaxis]
    xs = np.minimum(np.arange(pw), np.arange(pw)[::-1]).astype(np.float32)[np.newaxis, :]
    ramp = np.clip(np.minimum(ys, xs) / margin, 0, 1)
    alpha = (ramp * ramp * (3 - 2 * ramp))[:, :, np.newaxis]
    height, width = canvas.shape[:2]
    left, top = max(0, x0), max(0, y0)
    right, bottom = min(width, x0 + pw), min(height, y0 + ph)
    part = patch[top - y0 : bottom - y0, left - x0 : right - x0].astype(np.float32)
    weight = alpha[top - y0 : bottom - y0, left - x0 : right - x0]
    under = canvas[top:bottom, left:right].astype(np.float32)
    canvas[top:bottom, left:right] = _u8(weight * part + (1 - weight) * under)


@dataclass(frozen=True, slots=True)
class Thing:
    """A faceless object: an ellipse, a box, or a box striped with black, filling `box`."""

    kind: str
    box: Box
    colour: tuple[int, int, int]


def _shape(canvas: NDArray[np.uint8], thing: Thing) -> Box:
    """Draw `thing` on the canvas; returns the box of the pixels drawn."""
    box, colour, kind = thing.box, thing.colour, thing.kind
    height, width = canvas.shape[:2]
    left, top = round(box.left * width), round(box.top * height)
    right, bottom = round(box.right * width), round(box.bottom * height)
    mask = np.zeros((height, width), dtype=np.uint8)
    if kind == "ellipse":
        centre = ((left + right) / 2, (top + bottom) / 2)
        cv2.ellipse(mask, (centre, (right - left, bottom - top), 0.0), 255, -1)
    else:
        cv2.rectangle(mask, (left, top), (right - 1, bottom - 1), 255, -1)
    inside = mask > 0
    canvas[inside] = colour
    if kind == "striped":
        band = (np.arange(width)[np.newaxis, :] // max(4, (right - left) // 8)) % 2 == 1
        canvas[inside & band] = (20, 20, 20)
    ys, xs = np.nonzero(inside)
    return Box(xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height)


# The scenes: a background (drawn when the scene is built, so a test parametrised over the
# names makes one 18 MB picture at a time), then the faces or the object on it.

Background = Callable[[], NDArray[np.uint8]]
L, W, P, T, S = LANDSCAPE, WIDE, PORTRAIT, TALL, SQUARE
GREY, WARM, COOL, SKY = (128, 128, 128), (170, 150, 120), (90, 110, 140), (210, 220, 235)

# Real faces: one person in varied places, sizes and picture shapes, then groups ("faces-"),
# whose subject is every head.
_FACES: dict[str, tuple[Background, list[Person]]] = {
    "face-landscape-left-third": (partial(_noise, L, 1, WARM), [Person(0.40, (0.20, 0.45))]),
    "face-landscape-right": (
        partial(_noise, L, 2, COOL),
        [Person(0.30, (0.80, 0.40), mirror=True)],
    ),
    "face-landscape-small": (partial(_noise, L, 3, GREY), [Person(0.16, (0.62, 0.35))]),
    "face-landscape-large": (
        partial(_gradient, L, (200, 190, 180), (90, 80, 70)),
        [Person(0.80, (0.50, 0.50))],
    ),
    "face-wide-top-right": (
        partial(_stripes, W, 40, (150, 150, 160), (120, 120, 130)),
        [Person(0.35, (0.78, 0.25))],
    ),
    "face-wide-left-edge": (
        partial(_noise, W, 4, (100, 130, 100)),
        [Person(0.45, (0.13, 0.55), mirror=True)],
    ),
    "face-portrait-top": (
        partial(_gradient, P, SKY, (120, 130, 150)),
        [Person(0.20, (0.50, 0.18))],
    ),
    "face-portrait-low-left": (
        partial(_noise, P, 5, WARM),
        [Person(0.15, (0.30, 0.70), mirror=True)],
    ),
    "face-portrait-close": (partial(_plain, P, (60, 60, 70)), [Person(0.40, (0.50, 0.40))]),
    "face-tall-bottom-right": (partial(_grass, T, 6), [Person(0.18, (0.72, 0.82))]),
    "face-square-centre": (partial(_plain, S, (235, 235, 235)), [Person(0.60, (0.50, 0.45))]),
    "face-square-right-edge": (
        partial(_noise, S, 7, COOL),
        [Person(0.35, (0.84, 0.50), mirror=True)],
    ),
    "face-square-top-left": (partial(_grass, S, 8), [Person(0.30, (0.22, 0.22))]),
    "face-profile-landscape": (
        partial(_noise, L, 20, WARM),
        [Person(0.40, (0.35, 0.45), sample=CAMERAMAN)],
    ),
    "face-profile-portrait-mirrored": (
        partial(_gradient, P, SKY, (150, 160, 170)),
        [Person(0.22, (0.60, 0.30), mirror=True, sample=CAMERAMAN)],
    ),
    "face-profile-square": (partial(_grass, S, 21), [Person(0.30, (0.68, 0.38), sample=CAMERAMAN)]),
    "faces-two-people-wide": (
        partial(_noise, W, 22, COOL),
        [Person(0.40, (0.30, 0.45)), Person(0.40, (0.70, 0.45), sample=CAMERAMAN)],
    ),
    "faces-pair-landscape": (
        partial(_noise, L, 9, GREY),
        [Person(0.35, (0.35, 0.45)), Person(0.30, (0.65, 0.48), mirror=True)],
    ),
    "faces-trio-wide": (
        partial(_gradient, W, (180, 200, 220), (140, 150, 160)),
        [
            Person(0.30, (0.25, 0.50)),
            Person(0.38, (0.52, 0.45), mirror=True),
            Person(0.28, (0.80, 0.52)),
        ],
    ),
    "faces-pair-portrait": (
        partial(_noise, P, 10, WARM),
        [Person(0.16, (0.30, 0.35), mirror=True), Person(0.14, (0.70, 0.40))],
    ),
}

# Faceless objects: bright, dark or colourful, on plain, textured or graded backgrounds; off
# centre, near edges, small and large, solid and striped.
_OBJECTS: dict[str, tuple[Background, Thing]] = {
    "object-red-ellipse-on-grey-noise": (
        partial(_noise, L, 11, GREY),
        Thing("ellipse", Box(0.15, 0.30, 0.40, 0.70), (210, 40, 30)),
    ),
    "object-dark-box-on-light": (
        partial(_plain, L, (225, 220, 210)),
        Thing("box", Box(0.60, 0.20, 0.85, 0.60), (30, 30, 40)),
    ),
    "object-yellow-on-blue-gradient": (
        partial(_gradient, W, (60, 90, 160), (20, 30, 80)),
        Thing("ellipse", Box(0.70, 0.55, 0.88, 0.90), (240, 210, 40)),
    ),
    "object-small-white-on-dark": (
        partial(_noise, L, 12, (40, 40, 45)),
        Thing("ellipse", Box(0.30, 0.40, 0.36, 0.49), (245, 245, 240)),
    ),
    "object-large-blue-on-sand": (
        partial(_noise, W, 13, (200, 180, 140)),
        Thing("box", Box(0.25, 0.15, 0.75, 0.85), (40, 80, 200)),
    ),
    "object-near-left-edge": (
        partial(_noise, W, 14, COOL),
        Thing("ellipse", Box(0.02, 0.35, 0.16, 0.70), (250, 140, 20)),
    ),
    "object-near-top-edge-portrait": (
        partial(_gradient, P, (230, 230, 230), (180, 180, 190)),
        Thing("ellipse", Box(0.55, 0.03, 0.85, 0.20), (200, 20, 90)),
    ),
    "object-portrait-bottom": (
        partial(_noise, P, 15, (120, 140, 110)),
        Thing("box", Box(0.20, 0.72, 0.55, 0.92), (250, 250, 250)),
    ),
    "object-tall-striped": (
        partial(_plain, T, (90, 100, 90)),
        Thing("striped", Box(0.40, 0.30, 0.75, 0.65), (240, 200, 30)),
    ),
    "object-on-grass": (
        partial(_grass, L, 16),
        Thing("ellipse", Box(0.58, 0.25, 0.78, 0.62), (220, 30, 40)),
    ),
    "object-on-stripes": (
        partial(_stripes, S, 30, (150, 150, 150), (110, 110, 110)),
        Thing("ellipse", Box(0.20, 0.55, 0.45, 0.85), (30, 160, 230)),
    ),
    "object-square-centre-small": (
        partial(_noise, S, 17, WARM),
        Thing("box", Box(0.46, 0.44, 0.56, 0.56), (20, 120, 40)),
    ),
    "object-square-bottom-right": (
        partial(_plain, S, (30, 40, 60)),
        Thing("ellipse", Box(0.66, 0.62, 0.94, 0.92), (250, 220, 180)),
    ),
    "object-low-contrast": (
        partial(_noise, L, 18, GREY),
        Thing("ellipse", Box(0.55, 0.50, 0.75, 0.80), (165, 150, 120)),
    ),
    "object-wide-banner": (
        partial(_noise, W, 19, (60, 60, 60)),
        Thing("box", Box(0.10, 0.62, 0.60, 0.78), (240, 90, 200)),
    ),
    "object-landscape-top-right": (
        partial(_gradient, L, (250, 240, 220), (200, 180, 160)),
        Thing("ellipse", Box(0.72, 0.08, 0.92, 0.40), (50, 60, 170)),
    ),
}


def _face_scene(name: str) -> Scene:
    background, heads = _FACES[name]
    canvas = background().copy()
    faces, boxes = [], []
    for person in heads:
        face, head = _paste_face(canvas, person)
        faces.append(face)
        boxes.append(head)
    largest = max(faces, key=lambda box: box.width * box.height)
    return Scene(name, canvas, subject=_union(boxes), face=largest, faces=tuple(faces))


def _object_scene(name: str) -> Scene:
    background, thing = _OBJECTS[name]
    canvas = background().copy()
    return Scene(name, canvas, subject=_shape(canvas, thing))


def _union(boxes: list[Box]) -> Box:
    return Box(
        min(box.left for box in boxes),
        min(box.top for box in boxes),
        max(box.right for box in boxes),
        max(box.bottom for box in boxes),
    )


FACE_SCENES = tuple(_FACES)
OBJECT_SCENES = tuple(_OBJECTS)
SCENES = FACE_SCENES + OBJECT_SCENES


def scene(name: str) -> Scene:
    """The named scene, built afresh (the same pixels every time)."""
    return _face_scene(name) if name in _FACES else _object_scene(name)


def flat(size: tuple[int, int] = LANDSCAPE, colour: tuple[int, int, int] = GREY) -> Scene:
    """A picture of one colour: no subject anywhere, so the centre."""
    return Scene("flat", _plain(size, colour), subject=Box(0.25, 0.25, 0.75, 0.75))
