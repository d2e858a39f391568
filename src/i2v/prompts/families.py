"""How each model family wants its prompt: word limit, order, negative prompt, LLM instructions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from i2v.prompts.base import Family


class Slot(StrEnum):
    """The parts of an enhanced prompt; the rules fill only the ones the user left empty."""

    USER = "user"  # the user's own words, verbatim
    SUBJECT = "subject"  # what the subject does
    AMBIENT = "ambient"  # one scene motion: hair in a breeze, drifting clouds, rippling water
    CAMERA = "camera"  # a gentle push-in, only when the user named no camera move
    STABILITY = "stability"  # always: the marker that also makes enhancing idempotent


@dataclass(frozen=True, slots=True)
class FamilyStyle:
    family: Family
    max_words: int | None  # None: no limit (LOCAL is not rewritten)
    order: tuple[Slot, ...]  # a slot absent here is never added (Hunyuan: no camera)
    negative_prompt: str | None  # the family's default, where it takes one
    instructions: str  # the system prompt of the language-model path
    enhance_below_words: int | None = None  # LTX: prompts this long or longer are used as typed
    rewrite: bool = True  # False: the prompt is only normalised (LOCAL)
    transitions: bool = True  # False: an answer with cuts or scene changes is refused

    @property
    def answer_words(self) -> int | None:
        """The length a language model is asked for: room is left for our stability clause."""
        return None if self.max_words is None else self.max_words - _MARGIN


# fal's English rendering of Wan's default negative prompt (Wan-Video/Wan2.2
# shared_config.sample_neg_prompt is Chinese; local Wan workflows keep that one).
WAN_NEGATIVE = (
    "bright colors, overexposed, static, blurred details, subtitles, style, artwork, painting, "
    "picture, still, overall gray, worst quality, low quality, JPEG compression residue, ugly, "
    "incomplete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, "
    "malformed limbs, fused fingers, still picture, cluttered background, three legs, many "
    "people in the background, walking backwards"
)
LTX_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"

_ORDER = (Slot.USER, Slot.SUBJECT, Slot.AMBIENT, Slot.CAMERA, Slot.STABILITY)
# Room left in a language model's answer for the stability clause we append, and then some.
_MARGIN = 12


def _instructions(limit: int, what: str) -> str:
    common = (
        "You rewrite the motion prompt of an image-to-video job. The picture is the first "
        "frame, so it already shows the scene: describe what moves and how, not what is "
        "visible. Rules: keep every camera move the user named, in the same order and "
        "direction, and never add a camera move the user did not name; keep text inside "
        "quotes exactly as written, quotes included; keep the user's subject, style words "
        "and meaning, and never add, remove, soften or judge content; describe the motion "
        "from the first frame onward, slowly and continuously, one main action every two "
        "or three seconds. "
    )
    answer = (
        f" Answer with the prompt only: one paragraph of plain English, at most "
        f"{limit - _MARGIN} words, no title, no list, no markdown, no quotes around it."
    )
    return common + what + answer


FAMILY_STYLES: dict[Family, FamilyStyle] = {
    Family.WAN: FamilyStyle(
        Family.WAN,
        max_words=100,
        order=_ORDER,
        negative_prompt=WAN_NEGATIVE,
        instructions=_instructions(
            100,
            "Put the subject's action first and keep all of the dynamic content; leave out "
            "descriptions of things that do not move. If the user gave only a verb, say who "
            "does it, using the picture or the context.",
        ),
    ),
    Family.LTX: FamilyStyle(
        Family.LTX,
        max_words=150,
        order=_ORDER,
        negative_prompt=LTX_NEGATIVE,
        instructions=_instructions(
            150,
            "Write one flowing paragraph in time order, literal and precise: the main action "
            "in the first sentence, then movements and gestures, then how the background "
            "moves, then the camera move the user named, if any.",
        ),
        enhance_below_words=120,
    ),
    Family.HUNYUAN: FamilyStyle(
        Family.HUNYUAN,
        max_words=120,
        order=(Slot.USER, Slot.SUBJECT, Slot.AMBIENT, Slot.STABILITY),
        negative_prompt=None,
        instructions=_instructions(
            120,
            "Follow this order: the subject's motion, then the scene's motion, then the camera "
            "move only if the user named one. Describe actions objectively (the corners of "
            "her mouth lift, not she is happy), name who acts instead of using pronouns, and "
            "chain actions with then. Add no lighting, colour or new events the user did not "
            "ask for, and match the length to how much the user wrote.",
        ),
    ),
    Family.COGVIDEOX: FamilyStyle(
        Family.COGVIDEOX,
        max_words=150,  # the text encoder reads 226 T5 tokens, about 1.4 a word
        order=(Slot.USER, Slot.SUBJECT, Slot.CAMERA, Slot.AMBIENT, Slot.STABILITY),
        negative_prompt=None,
        instructions=_instructions(
            150,
            "Keep it short. One continuous shot: no cuts, transitions, scene changes or "
            "switches of perspective.",
        ),
        transitions=False,
    ),
    Family.HOSTED: FamilyStyle(
        Family.HOSTED,
        max_words=80,
        order=_ORDER,
        negative_prompt=None,
        instructions=_instructions(
            80,
            "Be concise: the subject's action, one detail of scene motion, and the camera "
            "move the user named, if any.",
        ),
    ),
    # The local renderer reads only the camera move; its prompt is only normalised.
    Family.LOCAL: FamilyStyle(
        Family.LOCAL,
        max_words=None,
        order=(Slot.USER,),
        negative_prompt=None,
        instructions="",
        rewrite=False,
    ),
}


def style_of(family: Family) -> FamilyStyle:
    return FAMILY_STYLES[family]


_PREFIXES = (
    ("wan", Family.WAN),
    ("ltx", Family.LTX),
    ("hunyuan", Family.HUNYUAN),
    ("cogvideo", Family.COGVIDEOX),
)


def family_of(model: str | None) -> Family:
    """The family of a model name: "wan-2.2-14b" is Wan, "kling-2.1-pro" hosted, None local.

    A vendor path counts by its segments: "fal-ai/wan-i2v" is Wan, "fal-ai/kling-video" hosted.
    """
    name = (model or "").strip().lower()
    if name in ("", "local"):
        return Family.LOCAL
    for segment in name.replace(":", "/").split("/"):
        for prefix, family in _PREFIXES:
            if segment.startswith(prefix):
                return family
    return Family.HOSTED
