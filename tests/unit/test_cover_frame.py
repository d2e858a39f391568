"""Cover frames: the subject wholly in the safe area and largest; deterministic."""

from __future__ import annotations

import random

from i2v.backends.local.path import plan_path
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.framing.base import Box, FocusSource, Subject
from i2v.framing.cover import cover_frame, frame_time, subject_in_view
from i2v.framing.zones import DEFAULT_ZONES, NO_ZONES

OUTPUT = Size(1080, 1920)
SUBJECT = Subject(Box(0.4, 0.35, 0.6, 0.6), (0.5, 0.47), FocusSource.SALIENCY)


def test_zoom_in_covers_with_its_last_frame_and_zoom_out_with_its_first() -> None:
    zoom_in = plan_path(
        [Motion.ZOOM_IN], Intensity.NORMAL, 3000, 3000, OUTPUT, SUBJECT, DEFAULT_ZONES
    )
    zoom_out = plan_path(
        [Motion.ZOOM_OUT], Intensity.NORMAL, 3000, 3000, OUTPUT, SUBJECT, DEFAULT_ZONES
    )
    assert cover_frame(zoom_in, SUBJECT, DEFAULT_ZONES, 90) == 89
    assert cover_frame(zoom_out, SUBJECT, DEFAULT_ZONES, 90) == 0


def test_a_subject_too_wide_for_the_frame_covers_where_its_focus_is_closest() -> None:
    # The README's sunset: the sun's glow is wider than a 9:16 crop of the landscape.
    glow = Subject(Box(0.46, 0.2, 0.8, 0.47), (0.66, 0.36), FocusSource.SALIENCY)
    zoom_in = plan_path([Motion.ZOOM_IN], Intensity.SUBTLE, 2400, 1600, OUTPUT, glow, DEFAULT_ZONES)
    assert not any(subject_in_view(zoom_in, frame_time(i, 90), glow.box, DEFAULT_ZONES)
                   for i in range(90))  # fmt: skip
    assert cover_frame(zoom_in, glow, DEFAULT_ZONES, 90) >= 85


def test_a_pan_covers_where_the_subject_is_most_centred() -> None:
    path = plan_path([Motion.PAN_RIGHT], Intensity.NORMAL, 3000, 3000, OUTPUT, SUBJECT, NO_ZONES)
    assert cover_frame(path, SUBJECT, NO_ZONES, 61) == 30


def test_without_a_subject_the_widest_frame_shows_the_most_picture() -> None:
    zoom_in = plan_path([Motion.ZOOM_IN], Intensity.NORMAL, 3000, 2000, OUTPUT)
    pan = plan_path([Motion.PAN_UP], Intensity.NORMAL, 3000, 2000, OUTPUT)
    assert cover_frame(zoom_in, None, DEFAULT_ZONES, 50) == 0
    assert cover_frame(pan, None, NO_ZONES, 51) == 25


def test_cover_is_in_view_and_largest_over_random_scenes() -> None:
    rng = random.Random(11)
    moves = [m for m in Motion if m is not Motion.STATIC]
    for _ in range(150):
        w, h = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4)
        left, top = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        subject = Subject(
            Box(left, top, left + w, top + h), (left + w / 2, top + h / 2), FocusSource.SALIENCY
        )
        path = plan_path(
            [rng.choice(moves), rng.choice(moves)],
            rng.choice(list(Intensity)),
            rng.randint(500, 5000),
            rng.randint(500, 5000),
            OUTPUT,
            subject,
            DEFAULT_ZONES,
        )
        count = rng.randint(2, 120)
        index = cover_frame(path, subject, DEFAULT_ZONES, count)
        assert index == cover_frame(path, subject, DEFAULT_ZONES, count)  # deterministic
        seen = [
            i
            for i in range(count)
            if subject_in_view(path, frame_time(i, count), subject.box, DEFAULT_ZONES)
        ]
        if seen:
            assert index in seen
            best = max(path.scale(frame_time(i, count)) for i in seen)
            assert path.scale(frame_time(index, count)) >= best * (1 - 1e-6)


def test_a_single_frame_video_covers_with_it() -> None:
    path = plan_path([Motion.STATIC], Intensity.NORMAL, 2000, 2000, OUTPUT, SUBJECT)
    assert cover_frame(path, SUBJECT, NO_ZONES, 1) == 0
