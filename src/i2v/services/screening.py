"""The words and the policy for a render run here, outside the service: `i2v generate`."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from i2v.config import Settings
from i2v.domain.spec import RenderSpec
from i2v.media.image import ImageLimits, load_image
from i2v.policy.base import Rating
from i2v.policy.decide import PolicyDecision
from i2v.services import policy
from i2v.services.routing import Route
from i2v.services.words import Words, enhanced_render, routed


@dataclass(frozen=True, slots=True)
class Screened:
    words: Words
    route: Route  # planned for the enhanced render
    decision: PolicyDecision
    subject: policy.Subject

    def output_check(self, settings: Settings) -> Callable[[Path], None] | None:
        """Rates a model's finished video before it is written; None for the local renderer,
        whose frames are crops of the input picture, rated already."""
        if self.route.backends == ("local",):
            return None

        def check(video: Path) -> None:
            from i2v.services.pictures import default_classifier

            frames = settings.policy_output_frames
            policy.check_output(None, self.subject, video, frames, default_classifier())

        return check


def screen(
    settings: Settings,
    render: RenderSpec,
    pictures: Collection[Path],
    backend: str,
    prefer: str = "cost",
    *,
    enhance_prompt: bool = True,
    rating: Rating = policy.DEFAULT_RATING,
    tripped: Collection[str] = (),
) -> Screened:
    """Enhance the prompt, plan the route, and rate the prompt and `pictures` (PolicyRefused
    when refused). The CLI runs as this machine's operator: mature ratings need no account
    grant here, but still run only on self-hosted backends, and the always-refused kinds stay
    refused."""
    from i2v.services.pictures import POLICY_SIDE, default_classifier, policy_thumbnail

    words = enhanced_render(settings, render, backend, enhance_prompt=enhance_prompt)
    words, route = routed(settings, words, backend, prefer, tripped, rating)
    subject = policy.Subject(None, True, rating, route.backends, route.hosted)
    limits = ImageLimits(settings.max_image_pixels, settings.min_image_side)
    thumbnails = [
        policy_thumbnail(load_image(path, limits, (POLICY_SIDE, POLICY_SIDE)).rgb)
        for path in pictures
    ]
    decision = policy.check(
        None, subject, (render.prompt, words.render.prompt), thumbnails, default_classifier()
    )
    return Screened(words, route, decision, subject)
