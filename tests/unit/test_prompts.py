"""Reading the camera motion out of a free-text prompt, and parsing --motion names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2v.domain.motion import DEFAULT_INTENSITY, DEFAULT_MOTION, Intensity, Motion
from i2v.errors import InvalidParameter, UnknownMotion
from i2v.prompts.motion import MotionCue, motion_from_prompt


@pytest.mark.parametrize(
    ("prompt", "motion", "intensity"),
    [
        ("slow zoom in on her face", Motion.ZOOM_IN, Intensity.SUBTLE),
        ("pan left across the skyline", Motion.PAN_LEFT, Intensity.NORMAL),
        ("camera pans up and to the right", Motion.PAN_UP_RIGHT, Intensity.NORMAL),
        ("camera drifts up and to the right", Motion.PAN_UP_RIGHT, Intensity.NORMAL),
        ("tilt down", Motion.PAN_DOWN, Intensity.NORMAL),
        ("dramatic pull back", Motion.ZOOM_OUT, Intensity.STRONG),
        ("Zoom out slowly", Motion.ZOOM_OUT, Intensity.SUBTLE),
        ("push in slowly on the lake", Motion.ZOOM_IN, Intensity.SUBTLE),
        ("zooming into the left eye", Motion.ZOOM_IN, Intensity.NORMAL),
        ("epic reveal of the valley", Motion.ZOOM_OUT, Intensity.STRONG),
        ("the camera moves right and down", Motion.PAN_DOWN_RIGHT, Intensity.NORMAL),
        ("gently tilting upwards", Motion.PAN_UP, Intensity.SUBTLE),
        ("Quick pan to the left, then hold.", Motion.PAN_LEFT, Intensity.STRONG),
        ("tracking down and left over the rooftops", Motion.PAN_DOWN_LEFT, Intensity.NORMAL),
        ("fast zoom", Motion.ZOOM_IN, Intensity.STRONG),
        ("SLOW PAN RIGHT", Motion.PAN_RIGHT, Intensity.SUBTLE),
    ],
)
def test_prompt_names_the_motion_and_its_strength(
    prompt: str, motion: Motion, intensity: Intensity
) -> None:
    assert motion_from_prompt(prompt) == MotionCue(motion, intensity, True)


@pytest.mark.parametrize("prompt", ["static shot", "locked-off camera", "no camera movement"])
def test_static_prompts_hold_the_camera(prompt: str) -> None:
    cue = motion_from_prompt(prompt)
    assert cue.motion is Motion.STATIC
    assert cue.matched


@pytest.mark.parametrize(
    "prompt",
    [
        "a cat on a sofa",
        "",
        "   ",
        "a panorama of the city at dusk",  # "pan" inside a word is not a pan
        "pan across the room",  # a pan with no direction names no motion we can render
        "the left side of the right tower",  # directions without a camera verb
    ],
)
def test_prompt_without_a_motion_falls_back_to_the_default(prompt: str) -> None:
    cue = motion_from_prompt(prompt)
    assert cue == MotionCue(DEFAULT_MOTION, DEFAULT_INTENSITY, False)
    assert cue.motion is Motion.ZOOM_IN


def test_direction_words_must_follow_the_camera_verb_closely() -> None:
    # The clause ends at punctuation: "left" belongs to a different sentence.
    assert motion_from_prompt("the camera pans. She looks left").matched is False


def test_still_life_with_an_explicit_pan_is_not_static() -> None:
    cue = motion_from_prompt("a still life of fruit, slow pan to the right")
    assert cue.motion is Motion.PAN_RIGHT


def test_pan_from_left_to_right_pans_right() -> None:
    assert motion_from_prompt("a quick pan from left to right").motion is Motion.PAN_RIGHT


@given(st.text(max_size=80))
def test_any_prompt_yields_a_cue(prompt: str) -> None:
    cue = motion_from_prompt(prompt)
    assert isinstance(cue.motion, Motion)
    assert isinstance(cue.intensity, Intensity)


# --- Motion.parse --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Zoom In", "zoom_in", "zoom-in", "ZOOM-IN", "  zoom in  "])
def test_motion_parse_accepts_spellings_of_zoom_in(name: str) -> None:
    assert Motion.parse(name) is Motion.ZOOM_IN


@pytest.mark.parametrize("motion", list(Motion))
def test_motion_parse_round_trips_every_motion(motion: Motion) -> None:
    assert Motion.parse(motion.value) is motion
    assert Motion.parse(motion.value.upper().replace("-", "_")) is motion
    assert Motion.parse(motion.value.title().replace("-", " ")) is motion


def test_unknown_motion_names_every_choice() -> None:
    with pytest.raises(UnknownMotion) as info:
        Motion.parse("spin")
    error = info.value
    assert isinstance(error, InvalidParameter)
    assert error.code == "unknown_motion"
    assert error.field == "motion"
    assert error.value == "spin"
    message = str(error)
    assert "'spin'" in message
    for motion in Motion:
        assert motion.value in message


@pytest.mark.parametrize("name", ["", "zoom", "pan", "zoomin", "pan-left-right"])
def test_motion_parse_rejects_partial_names(name: str) -> None:
    with pytest.raises(UnknownMotion):
        Motion.parse(name)
