"""A job's words: its prompt enhanced for the model's family, and its captions per platform."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from i2v.config import Settings
from i2v.domain.spec import RenderSpec
from i2v.errors import InvalidParameter
from i2v.policy.base import Rating
from i2v.prompts.base import Caption, Enhanced, EnhanceRequest, Family, Platform
from i2v.prompts.enhance import enhance, enhance_off
from i2v.prompts.families import family_of
from i2v.services.routing import Route, plan_route

if TYPE_CHECKING:
    from i2v.prompts.llm import OpenAIChat

CAPTION_CHOICES = {
    "instagram": (Platform.INSTAGRAM,),
    "tiktok": (Platform.TIKTOK,),
    "both": (Platform.INSTAGRAM, Platform.TIKTOK),
}


@dataclass(frozen=True, slots=True)
class Words:
    render: RenderSpec  # the prompt as the model is sent it, the family's negative prompt
    enhanced: Enhanced
    default_negative: bool  # the negative prompt is the family's, not the user's

    @property
    def changed(self) -> bool:
        return self.enhanced.prompt != self.enhanced.original

    def without_default_negative(self) -> Words:
        """For a route that takes no negative prompt: the family's default is dropped."""
        if not self.default_negative:
            return self
        return replace(
            self, render=replace(self.render, negative_prompt=None), default_negative=False
        )


def parse_captions(text: str | None) -> tuple[Platform, ...]:
    """The job's `caption` field: instagram, tiktok or both; none when not given."""
    if text is None or not text.strip():
        return ()
    found = CAPTION_CHOICES.get(text.strip().lower())
    if found is None:
        raise InvalidParameter(
            "caption", text, f"caption {text!r} is not one of: instagram, tiktok, both"
        )
    return found


def family_for(settings: Settings, render: RenderSpec, backend: str) -> Family | None:
    """Who reads the prompt: the catalogue model's family, else the ComfyUI workflow's (the
    job's, or the server's default when it pins comfyui), else the local renderer. None for
    a workflow of no family we know (a user's own): its prompt goes as typed."""
    if render.model:
        return family_of(render.model)
    if render.workflow or backend == "comfyui":
        family = family_of(render.workflow or settings.comfyui_workflow)
        return None if family is Family.HOSTED else family
    return Family.LOCAL


def enhanced_render(
    settings: Settings,
    render: RenderSpec,
    backend: str,
    *,
    enhance_prompt: bool = True,
    image_sha256: str = "",
    image_jpeg: bytes | None = None,
) -> Words:
    """`render` with its prompt written for its model's family (or as typed with
    `enhance_prompt` off), and the family's default negative prompt where the user gave none.

    A configured language model (I2V_LLM_BASE_URL) writes it when it answers well; the rules
    do otherwise. `image_jpeg` goes to the model only with I2V_LLM_IMAGES.
    """
    family = family_for(settings, render, backend)
    if family is None:
        enhanced = enhance_off(render.prompt, Family.HOSTED)
    elif enhance_prompt:
        chat = _chat(settings)
        picture = image_jpeg if settings.llm_images else None
        request = EnhanceRequest(render.prompt, family, image_sha256, picture)
        enhanced = enhance(request, chat=chat)
    else:
        enhanced = enhance_off(render.prompt, family)
    negative = render.negative_prompt
    default = not negative and enhanced.negative_prompt is not None
    if default:
        negative = enhanced.negative_prompt
    return Words(
        replace(render, prompt=enhanced.prompt, negative_prompt=negative), enhanced, default
    )


def routed(
    settings: Settings,
    words: Words,
    backend: str,
    prefer: str,
    tripped: Collection[str],
    rating: Rating,
) -> tuple[Words, Route]:
    """The route for the enhanced render (mature ratings: self-hosted backends only). The
    family's default negative prompt is dropped where the route takes none; the user's own
    is refused, as at the check before enhancement."""
    mature = rating.mature
    try:
        route = plan_route(settings, words.render, backend, prefer, tripped=tripped, mature=mature)
    except InvalidParameter as exc:
        if not words.default_negative or exc.field != "negative_prompt":
            raise
        words = words.without_default_negative()
        route = plan_route(settings, words.render, backend, prefer, tripped=tripped, mature=mature)
    return words, route


def captions(
    settings: Settings, prompt: str, platforms: Sequence[Platform], *, seed: str = ""
) -> tuple[Caption, ...]:
    """A ready-to-post caption per platform for a video of `prompt` (the prompt as typed)."""
    from i2v.prompts.captions import caption  # its word lists load only when asked for

    chat = _chat(settings)
    limits = {
        Platform.INSTAGRAM: settings.caption_max_hashtags_instagram,
        Platform.TIKTOK: settings.caption_max_hashtags_tiktok,
    }
    return tuple(
        caption(prompt, platform, max_hashtags=limits[platform], seed=seed, chat=chat)
        for platform in platforms
    )


def _chat(settings: Settings) -> OpenAIChat | None:
    """The I2V_LLM_* chat model, or None: its HTTP client loads only where one is set."""
    if not settings.llm_base_url:
        return None
    from i2v.prompts.llm import chat_from_settings

    return chat_from_settings(settings)
