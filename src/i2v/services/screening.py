"""The words and the policy for a render run here, outside the service: `i2v generate`."""

from __future__ import annotations

import threading
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


class _Pending:
    """A policy check running on its own thread; `result` waits for it and raises as it did."""

    def __init__(self, work: Callable[[], PolicyDecision]) -> None:
        self._work = work
        self._decision: PolicyDecision | None = None
        self._error: BaseException | None = None
        # A daemon: a run that fails or is interrupted before it asks does not wait for it.
        self._thread = threading.Thread(target=self._run, name="i2v-policy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._decision = self._work()
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> PolicyDecision:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._decision is not None
        return self._decision


@dataclass(frozen=True, slots=True)
class Screened:
    words: Words
    route: Route  # planned for the enhanced render
    decision: PolicyDecision  # the prompt's alone where the pictures' rating is `pending`
    subject: policy.Subject
    pending: _Pending | None = None  # the local renderer's: prompt and pictures together

    def output_check(self, settings: Settings) -> Callable[[Path], None] | None:
        """Rates a model's finished video before it is written. For the local renderer, whose
        frames are crops of the input picture, the check waits for the input's rating instead
        (PolicyRefused if refused), so the video is never put in place unless it passed."""
        pending = self.pending
        if self.route.backends == ("local",):
            if pending is None:
                return None

            def rated(video: Path) -> None:
                pending.result()

            return rated

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
    texts = (render.prompt, words.render.prompt)
    classifier = default_classifier()
    if route.backends != ("local",) or not thumbnails:
        # A picture goes to another machine only once it has passed.
        return Screened(
            words, route, policy.check(None, subject, texts, thumbnails, classifier), subject
        )
    # Locally nothing leaves the machine before the output is put in place, so the classifier
    # (~0.25 s to load, then ~30 ms a picture) runs beside the render instead of before it,
    # and output_check waits for its verdict. The prompt is rated now, alone: a refused prompt
    # still stops the run before anything is drawn or said.
    decision = policy.check(None, subject, texts, (), None)
    pending = _Pending(lambda: policy.check(None, subject, texts, thumbnails, classifier))
    return Screened(words, route, decision, subject, pending)
