"""One request priced on every backend that runs its model, and where backend=auto would run it.

What `i2v quote` and POST /v1/quotes answer. Nothing is rendered or paid for, and no image is
needed: no backend's price depends on the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from i2v.backends.registry import AUTO, check_backend
from i2v.bootstrap import App
from i2v.domain.size import output_size
from i2v.domain.spec import RenderSpec
from i2v.errors import BackendUnavailable, InvalidParameter
from i2v.prompts.motion import motion_from_prompt
from i2v.services.backends import AVAILABLE, BREAKER_OPEN, UNAVAILABLE
from i2v.services.breaker import breakers_of
from i2v.services.quotes import Quote, model_of, quotes_for
from i2v.services.routing import plan_route

REFUSED = "refused"  # a quote's state: the backend cannot take these values
# Hosted models refuse an empty prompt, and no price depends on its words: a quote asked
# without one is made as if it had one, so it prices the request instead of refusing it.
STAND_IN_PROMPT = "a price quote: the prompt does not change the price"


@dataclass(frozen=True, slots=True)
class Estimate:
    model: str  # the catalogue's name for it
    quotes: tuple[Quote, ...]  # runnable and cheapest first; one backend's when one was named
    auto: str | None  # the backend backend=auto (with the asked preference) would run it on
    auto_reason: str | None = None  # why auto would run it nowhere
    tripped: frozenset[str] = frozenset()  # backends whose circuit breaker is open

    def state(self, quote: Quote) -> str:
        """refused, unavailable, breaker_open (auto skips it for now) or available."""
        if quote.spec is None:
            return REFUSED
        if not quote.available:
            return UNAVAILABLE
        return BREAKER_OPEN if quote.backend in self.tripped else AVAILABLE


def quote_spec(
    *,
    model: str | None = None,
    duration_s: float = 5.0,
    fps: int = 30,
    size: str | None = None,
    aspect: str | None = None,
    resolution: str | None = None,
    audio: bool = False,
    end_frame: bool = False,
    negative_prompt: str | None = None,
    prompt: str = "",
) -> RenderSpec:
    """The request to price, checked as a job's would be (InvalidParameter names the field)."""
    cue = motion_from_prompt(prompt)
    return RenderSpec(
        motion=cue.motion,
        intensity=cue.intensity,
        size=output_size(size, aspect),
        duration_s=duration_s,
        fps=fps,
        prompt=prompt,
        model=model,
        negative_prompt=negative_prompt,
        resolution=resolution,
        audio=audio,
        end_frame=end_frame,
    )


def estimate(
    app: App, spec: RenderSpec, backend: str | None = None, prefer: str = "cost"
) -> Estimate:
    """Price `spec` on each backend of its model (or on `backend` alone; `auto`: all), and
    say where backend=auto with `prefer` would run it.

    InvalidParameter for an unknown model (naming close ones), a backend that does not run
    the model, or values every quoted backend refuses (the first refusal's field).
    """
    settings = app.settings
    model = model_of(settings, spec)
    only = None if backend in (None, AUTO) else check_backend(str(backend))
    if only is not None and only not in model.backends:
        runs = ", ".join(model.backends)
        raise InvalidParameter(
            "backend", only, f"model {model.name} does not run on {only}; it runs on: {runs}"
        )
    if not spec.prompt.strip():
        spec = replace(spec, prompt=STAND_IN_PROMPT)
    tripped = frozenset(breakers_of(app).tripped())
    auto: str | None = None
    why: str | None = None
    try:
        route = plan_route(settings, spec, AUTO, prefer, tripped=tripped)
    except BackendUnavailable as exc:
        quotes, why = tuple(quotes_for(settings, spec)), exc.message
    else:
        quotes, auto = route.quotes, route.backends[0]
    if only is not None:
        quotes = tuple(q for q in quotes if q.backend == only)
    _refuse_if_nothing_runs(model.name, quotes)
    return Estimate(model.name, quotes, auto, why, tripped)


def _refuse_if_nothing_runs(model: str, quotes: tuple[Quote, ...]) -> None:
    refused = [q for q in quotes if q.spec is None]
    if not refused or len(refused) < len(quotes):
        return
    first = refused[0]
    if len(refused) == 1:
        message = f"{first.reason}"
    else:
        reasons = "; ".join(f"{q.backend}: {q.reason}" for q in refused)
        message = f"no backend can run {model} with these values ({reasons})"
    raise InvalidParameter(first.field or "model", None, message)
