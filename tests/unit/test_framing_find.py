"""The subject finder on pictures whose subject is known: faces, faceless objects, nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from i2v.framing.base import Box, FocusSource, Subject
from i2v.framing.faces import FaceDetector
from i2v.framing.find import CENTRE, Finder, user_subject
from i2v.framing.saliency import most_salient
from tests.support.scenes import FACE_SCENES, OBJECT_SCENES, SCENES, flat, scene


@pytest.fixture(scope="module")
def finder() -> Finder:
    found = Finder()
    found.load()
    return found


def iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    height = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    overlap = width * height
    return overlap / (a.width * a.height + b.width * b.height - overlap)


def contains(outer: Box, inner: Box, slack: float = 0.01) -> bool:
    return (
        outer.left <= inner.left + slack
        and outer.top <= inner.top + slack
        and outer.right >= inner.right - slack
        and outer.bottom >= inner.bottom - slack
    )


def inside(box: Box, point: tuple[float, float]) -> bool:
    return box.left <= point[0] <= box.right and box.top <= point[1] <= box.bottom


def test_there_are_enough_varied_scenes() -> None:
    assert len(SCENES) >= 30
    assert len(FACE_SCENES) >= 12
    assert len(OBJECT_SCENES) >= 12
    shapes = {scene(name).rgb.shape[:2] for name in ("face-landscape-right", "face-portrait-top")}
    assert shapes == {(2000, 3000), (1920, 1080)}


def test_scenes_are_the_same_every_time() -> None:
    first, second = scene("face-square-top-left"), scene("face-square-top-left")
    assert np.array_equal(first.rgb, second.rgb)
    assert first.subject == second.subject


@pytest.mark.parametrize("name", FACE_SCENES)
def test_the_largest_face_is_found_and_its_head_kept(finder: Finder, name: str) -> None:
    picture = scene(name)
    assert picture.face is not None
    subject = finder.find(picture.rgb)
    assert subject.source is FocusSource.FACE
    assert subject.face is not None
    # The model's box for a face in profile sits nearer the nose than the hand-marked one
    # (IoU 0.45-0.55 where a frontal face gets 0.56-0.94), so the bar is the found face's
    # centre within the marked face, and a fair overlap.
    assert inside(picture.face, subject.face.centre)
    assert iou(subject.face, picture.face) >= 0.4
    # The box keeps every face of the group, and the zoom aims inside the largest face.
    for face in picture.faces:
        assert contains(subject.box, face), (subject.box, face)
    assert inside(subject.face, subject.focus)
    # Hair and chin are added, but the box stays about the heads, not the whole picture.
    assert iou(subject.box, picture.subject) >= 0.5


@pytest.mark.parametrize("name", [name for name in FACE_SCENES if name.startswith("faces-")])
def test_every_face_of_a_group_is_found(name: str) -> None:
    picture = scene(name)
    found = FaceDetector().detect(picture.rgb)
    assert len(found) == len(picture.faces)
    for face in picture.faces:
        assert max(iou(hit.box, face) for hit in found) >= 0.4


@pytest.mark.parametrize("name", OBJECT_SCENES)
def test_a_faceless_picture_is_framed_on_its_salient_object(finder: Finder, name: str) -> None:
    picture = scene(name)
    subject = finder.find(picture.rgb)
    assert subject.source is FocusSource.SALIENCY, "no face here, and the object stands out"
    assert subject.face is None
    assert inside(subject.box, picture.subject.centre)
    assert inside(subject.box, subject.focus)
    assert iou(subject.box, picture.subject) >= 0.4


def test_a_flat_picture_is_framed_on_its_centre(finder: Finder) -> None:
    subject = finder.find(flat().rgb)
    assert subject == Subject(box=CENTRE, focus=(0.5, 0.5), source=FocusSource.CENTRE)
    assert most_salient(flat().rgb) is None


@pytest.mark.parametrize("shape", [(1, 1), (5, 300), (300, 5), (40, 40)])
def test_tiny_and_thin_pictures_get_a_subject(finder: Finder, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert isinstance(finder.find(rgb), Subject)


def test_the_same_picture_gets_the_same_subject(finder: Finder) -> None:
    for name in ("faces-pair-landscape", "object-on-grass"):
        picture = scene(name)
        assert finder.find(picture.rgb) == Finder().find(picture.rgb) == finder.find(picture.rgb)


def test_finding_writes_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    Finder().find(scene("face-square-centre").rgb)
    assert list(home.iterdir()) == []
    assert list(temp.iterdir()) == []


def test_a_picture_must_be_rgb_bytes(finder: Finder) -> None:
    with pytest.raises(ValueError, match="uint8"):
        finder.find(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="RGB"):
        finder.find(np.zeros((10, 10), dtype=np.uint8))


def test_a_user_focus_is_a_small_box_around_the_point() -> None:
    subject = user_subject((0.3, 0.6))
    assert subject.source is FocusSource.USER
    assert subject.focus == (0.3, 0.6)
    assert subject.box.centre == pytest.approx((0.3, 0.6))
    assert subject.box.width == pytest.approx(0.2)
    assert subject.face is None


@pytest.mark.parametrize("point", [(0.0, 0.0), (1.0, 1.0), (0.98, 0.5), (0.5, 0.01)])
def test_a_user_focus_near_an_edge_keeps_its_box_inside(point: tuple[float, float]) -> None:
    subject = user_subject(point, side=0.25)
    assert subject.box.width == pytest.approx(0.25)
    assert subject.box.height == pytest.approx(0.25)
    assert inside(subject.box, point)
    assert subject.focus == point


@pytest.mark.parametrize("point", [(-0.1, 0.5), (0.5, 1.2), (float("nan"), 0.5)])
def test_a_user_focus_outside_the_picture_is_refused(point: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="focus"):
        user_subject(point)


def test_the_vendored_face_model_is_noticed_with_its_hash() -> None:
    import hashlib

    from i2v.framing.faces import MODEL_PATH

    root = Path(__file__).resolve().parents[2]
    notices = (root / "THIRD_PARTY_NOTICES.md").read_text()
    digest = hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()
    assert f"src/i2v/framing/models/{MODEL_PATH.name}` (sha256 `{digest}`)" in notices
