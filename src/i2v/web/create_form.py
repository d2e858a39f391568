"""The create page's form: its values (from a query, or from a form sent back with errors),
its choices, the backend picker with a quote for each option, and where an error is shown.

Everything here asks the services (the catalogue, `services.estimates`) and the API's
submission fields (`api.submission.job_fields`): the form is one more way to fill them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from i2v.backends.registry import AUTO, available_backends
from i2v.bootstrap import App
from i2v.domain.size import ASPECT_PRESETS
from i2v.domain.spec import MAX_DURATION_S, MIN_DURATION_S
from i2v.errors import BodyTooLarge, I2VError, ImageError, InvalidParameter
from i2v.models.catalog import catalog_for, default_duration
from i2v.services.accounts import UserInfo
from i2v.services.backends import AVAILABLE, BREAKER_OPEN
from i2v.services.estimates import estimate, quote_spec
from i2v.web.views import money

ASPECTS = {
    "9:16": "9:16 tall (Reels, TikTok)",
    "4:5": "4:5 (Instagram feed)",
    "1:1": "1:1 square",
    "16:9": "16:9 wide",
}
assert set(ASPECTS) == set(ASPECT_PRESETS)
CAPTIONS = {"": "No caption", "instagram": "Instagram", "tiktok": "TikTok", "both": "Both"}
DURATION_MIN, DURATION_MAX = MIN_DURATION_S, MAX_DURATION_S
# Fields the form sends as they are to the submission (the API's names).
FORM_FIELDS = ("prompt", "model", "backend", "aspect", "duration", "caption", "rating")
# The API's other job fields a hand-made form may send; URLs (image_url, webhook_url) never.
EXTRA_FIELDS = (
    "size", "fps", "seed", "motion", "fit", "backdrop", "focus", "cover_at", "negative_prompt",
    "resolution", "sound",
)  # fmt: skip
# Where an error about a submission field is shown on the page; others go at the top.
ERROR_PLACE = {
    "image": "image",
    "end_image": "image",
    "prompt": "prompt",
    "negative_prompt": "prompt",
    "output": "prompt",
    "model": "model",
    "workflow": "model",
    "resolution": "model",
    "sound": "model",
    "backend": "backend",
    "prefer": "backend",
    "aspect": "aspect",
    "size": "aspect",
    "fit": "aspect",
    "backdrop": "aspect",
    "focus": "aspect",
    "cover_at": "duration",
    "duration": "duration",
    "fps": "duration",
    "caption": "caption",
    "rating": "rating",
}


@dataclass(frozen=True, slots=True)
class CreateForm:
    """The values the create page shows (and sends); strings, as a form holds them."""

    prompt: str = ""
    model: str = ""  # "": the local renderer
    backend: str = ""  # "": auto with a model, local without
    aspect: str = "9:16"
    duration: str = ""  # "": the model's default
    caption: str = ""
    rating: str = ""  # "": PG-13
    enhanced_prompt: str = ""  # the enhancer's text, as the user left it
    use_enhanced: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, object]) -> CreateForm:
        def text(name: str, default: str = "") -> str:
            value = values.get(name)
            return value.strip() if isinstance(value, str) else default

        return cls(
            prompt=text("prompt"),
            model=text("model"),
            backend=text("backend"),
            aspect=text("aspect", "9:16") or "9:16",
            duration=text("duration"),
            caption=text("caption"),
            rating=text("rating"),
            enhanced_prompt=text("enhanced_prompt"),
            use_enhanced=values.get("use_enhanced") in ("on", "true", "1"),
            extra={k: v for k in EXTRA_FIELDS if isinstance(v := values.get(k), str) and v},
        )

    def submission(self) -> dict[str, object]:
        """The job fields, as the API takes them: the enhancer's edited text, when the user
        kept it, is sent as written (enhance off)."""
        raw: dict[str, object] = {name: getattr(self, name) for name in FORM_FIELDS}
        raw.update(self.extra)
        if "size" in self.extra:
            del raw["aspect"]  # an exact size (a hand-made form) instead of the preset
        if self.use_enhanced and self.enhanced_prompt:
            raw.update(prompt=self.enhanced_prompt, enhance="false")
        if not self.model and not self.backend:
            raw["backend"] = "local"
        return raw


def error_place(exc: I2VError) -> str:
    """Where the page shows the error: next to its field, or "form" at the top."""
    if isinstance(exc, ImageError | BodyTooLarge):
        return "image"
    name = getattr(exc, "field", None)
    return ERROR_PLACE.get(name, "form") if isinstance(name, str) else "form"


@dataclass(frozen=True, slots=True)
class ModelChoice:
    value: str  # "" for the local renderer
    title: str
    available: bool  # some backend of it can run here


def model_choices(app: App) -> list[ModelChoice]:
    here = set(available_backends(app.settings))
    return [
        ModelChoice(
            "" if model.local else model.name, model.title, bool(here & set(model.backends))
        )
        for model in catalog_for(app.settings).models()
    ]


def rating_choices(user: UserInfo) -> list[str]:
    return ["PG", "PG-13", *(["R", "X"] if user.mature_allowed else [])]


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    price: str  # "$0.35", "free", "unknown", or "" where it cannot run
    note: str  # how the price was made, or why it cannot run
    enabled: bool
    checked: bool = False


@dataclass(frozen=True, slots=True)
class Picker:
    options: tuple[Option, ...]
    error: str | None = None  # why nothing can run with these values
    duration_default: float = 5.0


def picker(app: App, form: CreateForm) -> Picker:
    """The backends that can run the form's model, each with its quote or why not."""
    settings = app.settings
    model = form.model or None
    default = default_duration(settings, model)
    if model is None:
        local = Option("local", "This server's CPU", "free", "camera moves over your picture", True)
        return Picker((replace(local, checked=True),), duration_default=default)
    try:
        duration = float(form.duration) if form.duration else default
        spec = quote_spec(model=model, duration_s=duration, aspect=form.aspect or None)
        found = estimate(app, spec)
    except ValueError:
        return Picker((), f"duration {form.duration!r} is not a number of seconds", default)
    except InvalidParameter as exc:
        return Picker((), exc.message, default)
    auto_quote = next((q for q in found.quotes if q.backend == found.auto), None)
    options = [
        Option(
            AUTO,
            "Auto (cheapest that can run it, with failover)",
            money(auto_quote.usd) if auto_quote is not None else "",
            f"now: {found.auto}" if found.auto else (found.auto_reason or "nowhere to run it"),
            found.auto is not None,
        )
    ]
    for quote in found.quotes:
        state = found.state(quote)
        enabled = state in (AVAILABLE, BREAKER_OPEN)
        note = quote.basis if enabled else (quote.reason or state)
        if state == BREAKER_OPEN:
            note = f"failing lately; auto skips it for now. {note}"
        price = money(quote.usd) if quote.spec is not None and enabled else ""
        options.append(Option(quote.backend, quote.backend, price, note, enabled))
    chosen = form.backend if any(o.value == form.backend and o.enabled for o in options) else None
    chosen = chosen or next((o.value for o in options if o.enabled), None)
    return Picker(tuple(replace(o, checked=o.value == chosen) for o in options), None, default)
