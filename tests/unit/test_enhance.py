"""Parsing motion prompts, and the offline enhancer: slots, families, determinism, idempotency."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2v.domain.motion import Intensity, Motion
from i2v.errors import InvalidParameter
from i2v.prompts.base import EnhanceRequest, Family
from i2v.prompts.enhance import enhance, enhance_off, is_enhanced
from i2v.prompts.families import FAMILY_STYLES, LTX_NEGATIVE, WAN_NEGATIVE, Slot, family_of
from i2v.prompts.motion import motion_from_prompt
from i2v.prompts.parse import CameraKind, parse
from i2v.prompts.presets import STABILITY
from i2v.prompts.rewrite import check, clean
from i2v.services.generate import resolve_motion

K = CameraKind
REWRITTEN = [f for f in Family if f is not Family.LOCAL]
PROMPTS = [
    "",
    "a woman on a beach at sunset",
    "slow zoom in on her face",
    "pan left to right across the harbour",
    "zoom out then pan left",
    "push in, then drift up",
    "a dog runs through the snow, handheld",
    "the camera orbits around the dancer as her dress swirls",
    'a neon sign that says "OPEN 24H", cinematic, 35mm',
    "two kittens playing with yarn, golden hour, soft light",
    "a mountain lake at dawn",
    "static shot, she smiles and waves",
    "the old man laughs, then turns his head to the left",
    "candles flicker in a dark room",
    "Epic reveal of the valley.",
    "She looks at the camera; her hair blows in the wind",
]


def _kinds(prompt: str) -> list[CameraKind]:
    return [m.kind for m in parse(prompt).camera]


def _run(prompt: str, family: Family, image: str = "img") -> str:
    return enhance(EnhanceRequest(prompt, family, image)).prompt


# --- parse: camera moves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "kinds"),
    [
        ("pan left to right", [K.PAN_RIGHT]),
        ("a quick pan from left to right", [K.PAN_RIGHT]),
        ("pan from right to left", [K.PAN_LEFT]),
        ("pan right to left over the sea", [K.PAN_LEFT]),
        ("the camera sweeps from the left", [K.PAN_RIGHT]),
        ("zoom out then pan left", [K.PULL_BACK, K.PAN_LEFT]),
        ("push in, then drift up", [K.PUSH_IN, K.TILT_UP]),
        ("dolly in and tilt down to the hands", [K.PUSH_IN, K.TILT_DOWN]),
        ("slow push-in", [K.PUSH_IN]),
        ("the camera moves in slowly on the car", [K.PUSH_IN]),
        ("pull back to reveal the valley", [K.PULL_BACK]),
        ("orbit left around her", [K.ORBIT_LEFT]),
        ("the camera orbits around the dog", [K.ORBIT]),
        ("tracking shot of the runner", [K.FOLLOW]),
        ("the camera follows him down the street", [K.FOLLOW]),
        ("handheld, a man walks", [K.HANDHELD]),
        ("locked-off camera", [K.STATIC]),
        ("the camera rises above the city", [K.TILT_UP]),
        ("the camera pans", [K.PAN]),
        ("whip pan to the right", [K.PAN_RIGHT]),
    ],
)
def test_camera_moves_in_order_and_direction(prompt: str, kinds: list[CameraKind]) -> None:
    assert _kinds(prompt) == kinds


def test_a_diagonal_is_two_moves_at_once() -> None:
    moves = parse("camera pans up and to the right").camera
    assert [(m.kind, m.with_previous) for m in moves] == [(K.TILT_UP, False), (K.PAN_RIGHT, True)]
    assert not parse("zoom out then pan left").camera[1].with_previous


@pytest.mark.parametrize(
    "prompt",
    [
        "she smiles and moves left",  # the subject moves, not the camera
        "her head tilts to the left",
        "clouds drift to the right over the hills",
        "a panorama of the city",  # word boundaries: no "pan" in "panorama"
        "a frying pan on the stove",
        "the company expands",
        "the left side of the right tower",
        'a sign that reads "PAN LEFT"',  # quoted text is never parsed
        "she looks at the camera and moves left",
    ],
)
def test_not_a_camera_move(prompt: str) -> None:
    assert _kinds(prompt) == []


@pytest.mark.parametrize(
    ("prompt", "target"),
    [
        ("slow zoom in on her face", "on her face"),
        ("zooming into the left eye", "into the left eye"),
        ("pan left across the skyline", "across the skyline"),
        ("push in slowly on the lake", "on the lake"),
        ("orbit around her, then stop", "around her"),
        ("the camera follows him", "him"),
    ],
)
def test_a_move_keeps_its_target(prompt: str, target: str) -> None:
    assert parse(prompt).camera[0].target == target


@pytest.mark.parametrize(
    ("prompt", "subject"),
    [
        ("the woman walks to the door", "the woman"),
        ("a young woman smiles", "the woman"),
        ("she turns around", "the woman"),
        ("he waves", "the man"),
        ("my dog chases a ball", "the dog"),
        ("slow zoom in on her face", "the woman"),
        ("a mountain lake at dawn", None),
    ],
)
def test_subject_and_pronouns(prompt: str, subject: str | None) -> None:
    assert parse(prompt).subject == subject


def test_motion_speed_style_and_quotes() -> None:
    parsed = parse('She slowly waves as her hair blows in the wind, cinematic. A sign: "Café Noir"')
    assert parsed.subject_motion == ("waves",)
    assert "blows in the wind" in parsed.scene_motion
    assert parsed.speed_words == ("slowly",)
    assert parsed.intensity is Intensity.SUBTLE
    assert parsed.style == ("cinematic",)
    assert parsed.quoted == ("Café Noir",)
    assert parse("a fast pan left").intensity is Intensity.STRONG
    assert parse("pan left").intensity is Intensity.NORMAL


@pytest.mark.parametrize("prompt", ["", "   ", "xyzzy plugh", "1234"])
def test_nothing_understood(prompt: str) -> None:
    assert not parse(prompt).understood


@pytest.mark.parametrize(
    ("prompt", "moves"),
    [
        ("pan left to right", [Motion.PAN_RIGHT]),
        ("zoom out then pan left", [Motion.ZOOM_OUT, Motion.PAN_LEFT]),
        ("push in, then drift up", [Motion.ZOOM_IN, Motion.PAN_UP]),
        ("orbit left, then pan right", [Motion.PAN_RIGHT]),  # an orbit cannot be drawn in 2-D
        ("pan up and to the right, then zoom in", [Motion.PAN_UP_RIGHT, Motion.ZOOM_IN]),
        ("static shot", [Motion.STATIC]),
        ("slow pan left, then keep panning left", [Motion.PAN_LEFT]),  # one longer move
        ("zoom in, pan left, zoom out, pan right, zoom in, pan up",  # at most four
         [Motion.ZOOM_IN, Motion.PAN_LEFT, Motion.ZOOM_OUT, Motion.PAN_RIGHT]),
    ],
)  # fmt: skip
def test_the_local_renderer_takes_every_move_it_can_draw_in_order(
    prompt: str, moves: list[Motion]
) -> None:
    cue = motion_from_prompt(prompt)
    assert list(cue.moves) == moves
    assert cue.matched


def test_a_prompt_with_no_move_says_the_default_was_used() -> None:
    cue = motion_from_prompt("a cat on a sofa")
    assert (cue.moves, cue.matched) == ((Motion.ZOOM_IN,), False)


@pytest.mark.parametrize(
    ("motion", "moves"),
    [
        ("zoom-out,pan-left", (Motion.ZOOM_OUT, Motion.PAN_LEFT)),
        (" pan_up , zoom in", (Motion.PAN_UP, Motion.ZOOM_IN)),
        ("static", (Motion.STATIC,)),
    ],
)
def test_an_explicit_motion_list_runs_in_order(motion: str, moves: tuple[Motion, ...]) -> None:
    assert resolve_motion("zoom in", motion)[0] == moves


@pytest.mark.parametrize(
    ("motion", "message"),
    [
        ("zoom-in,spin", "unknown motion 'spin'"),
        ("zoom-in,zoom-out,zoom-in,zoom-out,zoom-in", "at most 4 camera moves in one clip, not 5"),
    ],
)
def test_a_bad_motion_list_is_refused(motion: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        resolve_motion("", motion)


# --- families ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        (None, Family.LOCAL),
        ("local", Family.LOCAL),
        ("wan-2.2-14b", Family.WAN),
        ("wan22_i2v_14b", Family.WAN),
        ("fal-ai/wan-i2v", Family.WAN),
        ("ltx-2", Family.LTX),
        ("ltxv_i2v", Family.LTX),
        ("hunyuan-video-1.5", Family.HUNYUAN),
        ("CogVideoX-5b-I2V", Family.COGVIDEOX),
        ("kling-2.5-turbo-pro", Family.HOSTED),
        ("veo-3.1-fast", Family.HOSTED),
    ],
)
def test_family_of(model: str | None, family: Family) -> None:
    assert family_of(model) is family


def test_every_family_has_a_style_and_its_negative_prompt() -> None:
    assert set(FAMILY_STYLES) == set(Family)
    negatives = {f: enhance(EnhanceRequest("a cat", f)).negative_prompt for f in Family}
    assert negatives[Family.WAN] == WAN_NEGATIVE
    assert WAN_NEGATIVE.startswith("bright colors, overexposed, static, blurred details")
    assert negatives[Family.LTX] == LTX_NEGATIVE
    assert LTX_NEGATIVE == "worst quality, inconsistent motion, blurry, jittery, distorted"
    assert negatives[Family.HUNYUAN] is None
    assert negatives[Family.COGVIDEOX] is None
    assert negatives[Family.LOCAL] is None


@pytest.mark.parametrize("family", REWRITTEN)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_rules_keep_the_family_limit_and_the_stability_clause(family: Family, prompt: str) -> None:
    result = enhance(EnhanceRequest(prompt, family, "abc"))
    limit = FAMILY_STYLES[family].max_words
    assert limit is not None
    assert len(result.prompt.split()) <= limit
    assert result.source == "rules"
    assert result.prompt.endswith(STABILITY)
    assert result.family is family
    assert result.original == prompt


# --- slots ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", REWRITTEN)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_user_words_come_first_verbatim_and_no_camera_move_is_added(
    family: Family, prompt: str
) -> None:
    out = _run(prompt, family)
    assert out.startswith(" ".join(prompt.split()).rstrip("."))
    asked = _kinds(prompt)
    if asked or parse(prompt).camera_named or family is Family.HUNYUAN:
        assert _kinds(out) == asked  # never a second move, nor a softer one
    else:
        assert _kinds(out) == [K.PUSH_IN]


def test_only_empty_slots_are_filled() -> None:
    out = _run("a woman on a beach", Family.WAN)
    assert out.startswith("a woman on a beach. The woman ")  # the subject's motion
    assert re.search(r"hair|fabric", out, re.IGNORECASE)  # one ambient motion
    assert _kinds(out) == [K.PUSH_IN]
    full = "the woman waves, her hair blows in the wind, the camera pans left"
    assert _run(full, Family.WAN) == f"{full}. {STABILITY}"


def test_hunyuan_never_gets_a_camera_move_and_cogvideox_puts_it_before_the_scene() -> None:
    assert Slot.CAMERA not in FAMILY_STYLES[Family.HUNYUAN].order
    assert _kinds(_run("a woman on a beach", Family.HUNYUAN)) == []
    order = FAMILY_STYLES[Family.COGVIDEOX].order
    assert order.index(Slot.CAMERA) < order.index(Slot.AMBIENT)


def test_a_scene_without_a_subject_gets_scene_motion_only() -> None:
    out = _run("a mountain lake at dawn", Family.HOSTED)
    assert "subject moves" not in out
    assert re.search(r"water|ripple", out)


def test_quoted_text_and_style_words_are_kept_verbatim() -> None:
    prompt = 'a neon sign that says "OPEN 24H", cinematic, 35mm'
    for family in Family:
        out = _run(prompt, family)
        assert '"OPEN 24H"' in out
        assert "cinematic, 35mm" in out


def test_local_is_only_normalised() -> None:
    result = enhance(EnhanceRequest("  slow   zoom in  ", Family.LOCAL))
    assert (result.prompt, result.source, result.notes) == ("slow zoom in", "rules", ())
    unmatched = enhance(EnhanceRequest("a cat", Family.LOCAL))
    assert unmatched.prompt == "a cat"
    assert "zoom in" in unmatched.notes[0]


# --- limits -----------------------------------------------------------------------------


def test_additions_are_dropped_whole_to_fit_and_a_full_prompt_is_used_as_typed() -> None:
    long = " ".join(["the woman walks slowly along the quiet shore."] * 11)  # 88 words
    result = enhance(EnhanceRequest(long, Family.WAN))
    assert len(result.prompt.split()) <= 100
    assert result.prompt.startswith(long)
    assert result.prompt.endswith(STABILITY)
    too_long = " ".join(["a cat sits by the window."] * 17)  # 102 words
    typed = enhance(EnhanceRequest(too_long, Family.WAN))
    assert (typed.prompt, typed.source) == (too_long, "as_typed")
    assert "102 words" in typed.notes[0]


def test_ltx_prompts_of_120_words_or_more_are_not_enhanced() -> None:
    prompt = " ".join(["word"] * 120)
    result = enhance(EnhanceRequest(prompt, Family.LTX))
    assert (result.prompt, result.source) == (prompt, "as_typed")
    assert "120 words" in result.notes[0]
    assert enhance(EnhanceRequest(" ".join(["word"] * 119), Family.LTX)).source == "rules"


# --- determinism and idempotency --------------------------------------------------------


def test_the_same_request_gives_the_same_prompt_and_the_picture_picks_variants() -> None:
    request = EnhanceRequest("a woman on a beach", Family.WAN, "f00d")
    assert enhance(request) == enhance(request)
    outs = {_run("a woman on a beach", Family.WAN, f"{i:064x}") for i in range(12)}
    assert len(outs) > 1
    # A stable hash (sha256), not Python's per-process hash(): the same on every run.
    assert _run("a cat", Family.HOSTED, "0" * 64) == _run("a cat", Family.HOSTED, "0" * 64)


def test_golden_output_does_not_drift_between_processes() -> None:
    assert _run("a woman on a beach", Family.WAN, "0" * 64) == (
        "a woman on a beach. The woman shifts slightly, with small natural movements. "
        "Loose hair and fabric move softly in a light breeze. A slow, gentle push-in. "
        "Background stays consistent, smooth natural motion."
    )


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize("prompt", PROMPTS)
def test_enhancing_twice_changes_nothing(family: Family, prompt: str) -> None:
    once = enhance(EnhanceRequest(prompt, family, "abc"))
    twice = enhance(EnhanceRequest(once.prompt, family, "abc"))
    assert twice.prompt == once.prompt
    if family is not Family.LOCAL and once.source == "rules":
        assert is_enhanced(once.prompt)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120), st.sampled_from(list(Family)), st.text(max_size=8))
def test_any_prompt_enhances_idempotently(prompt: str, family: Family, image: str) -> None:
    once = enhance(EnhanceRequest(prompt, family, image))
    assert enhance(EnhanceRequest(once.prompt, family, image)).prompt == once.prompt
    limit = FAMILY_STYLES[family].max_words
    if once.source == "rules" and limit is not None:
        assert len(once.prompt.split()) <= limit


# --- notes and enhance=false ------------------------------------------------------------


def test_notes_say_what_was_used() -> None:
    nothing = enhance(EnhanceRequest("xyzzy", Family.WAN))
    assert len(nothing.notes) == 1
    assert nothing.notes[0].startswith("no motion found in the prompt; using ")
    assert "push-in" in nothing.notes[0]
    hunyuan = enhance(EnhanceRequest("xyzzy", Family.HUNYUAN)).notes[0]
    assert "push-in" not in hunyuan
    assert "no camera move" in hunyuan
    assert enhance(EnhanceRequest("she waves", Family.WAN)).notes == (
        "no camera move named; using a gentle push-in",
    )
    assert enhance(EnhanceRequest("she waves, pan left", Family.WAN)).notes == ()


def test_enhance_off_is_the_prompt_as_typed() -> None:
    result = enhance_off("  a cat  ", Family.WAN)
    assert (result.prompt, result.original, result.source) == ("  a cat  ", "  a cat  ", "as_typed")
    assert result.negative_prompt == WAN_NEGATIVE
    assert result.notes == ()


# --- checking a language model's answer -------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "cleaned"),
    [
        ("<think>hmm, motion</think>\nShe waves.", "She waves."),
        ("reasoning here</think> She waves.", "She waves."),
        ("<think>never finished", ""),
        ('"She waves."', "She waves."),
        ("“She waves.”", "She waves."),
        ("```\nShe waves.\n```", "She waves."),
        ("Here is the rewritten prompt:\n\n**She waves.**", "She waves."),
        ("Enhanced prompt: She waves.", "She waves."),
        ('"OPEN" glows as she says "hi"', '"OPEN" glows as she says "hi"'),
    ],
)
def test_clean(answer: str, cleaned: str) -> None:
    assert clean(answer) == cleaned


@pytest.mark.parametrize(
    ("prompt", "answer", "family", "problem"),
    [
        ("she waves", "She waves. The camera slowly orbits her.", Family.WAN, "added a camera"),
        ("she waves, pan left", "She waves.", Family.WAN, "dropped the camera move"),
        ("she waves, pan left", "She waves as the camera pans right.", Family.WAN, "changed"),
        ("pan left", "The camera pans left, then zooms in.", Family.WAN, "added a camera"),
        ('a sign "OPEN"', "A sign reads CLOSED.", Family.WAN, "lost the quoted text"),
        ("she waves", "She waves. " + "More motion. " * 60, Family.WAN, "over the 100-word"),
        ("she waves", "She waves, then the scene cuts to a beach.", Family.COGVIDEOX, "cut"),
        ("she waves", "I'm sorry, I can't help with that.", Family.WAN, "refusal"),
        ("she waves", "", Family.WAN, "empty"),
    ],
)
def test_check_refuses_answers_that_change_the_meaning(
    prompt: str, answer: str, family: Family, problem: str
) -> None:
    found = check(answer, parse(prompt), FAMILY_STYLES[family])
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("she waves", "The woman raises her hand and waves slowly."),
        ("slow zoom in on her face", "The camera slowly pushes in on her face as she smiles."),
        ("the camera pans", "The camera pans left across the room."),  # a direction said
        ('a sign "OPEN"', 'The sign "OPEN" flickers softly.'),
    ],
)
def test_check_accepts_faithful_answers(prompt: str, answer: str) -> None:
    assert check(answer, parse(prompt), FAMILY_STYLES[Family.WAN]) is None
