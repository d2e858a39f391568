"""Bodies of POST /v1/quotes and GET /v1/backends; `i2v quote --json` and `i2v backends --json`
print the same ones."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from i2v.api.submission import RenderFields
from i2v.backends.registry import AUTO, BACKENDS
from i2v.services.backends import STATES, BackendView
from i2v.services.estimates import REFUSED, Estimate
from i2v.services.routing import PREFERENCES

# size and aspect are not given together; either may be null (not given).
_BOTH: JsonDict = {
    "required": ["size", "aspect"],
    "properties": {"size": {"type": "string"}, "aspect": {"type": "string"}},
}


class QuoteIn(RenderFields):
    """What shapes a price; no image: no backend's price depends on the picture.

    Strict, so a value of the wrong JSON type is refused rather than coerced; the domain
    checks every value, with its own messages, as for a job. The prompt never changes a
    price, but a backend may refuse it.
    """

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"not": _BOTH})

    model: str = Field(
        default="local",
        min_length=1,
        max_length=128,
        description="A catalogue model (`i2v models list`); names are forgiving.",
        examples=["kling-2.5-turbo-pro", "wan-2.2-14b", "local"],
    )
    backend: str | None = Field(
        default=None,
        description="Price on this backend only; auto or none: on every backend of the model.",
        json_schema_extra={"enum": [AUTO, *BACKENDS, None]},
    )
    prefer: str = Field(
        default="cost",
        description="What auto's choice puts first: price, or speed.",
        json_schema_extra={"enum": list(PREFERENCES)},
    )
    end_image: bool = Field(
        default=False, description="The job will give an end image (a last frame to reach)."
    )


class QuoteOut(BaseModel):
    backend: str
    model: str = Field(description="The model as this backend names it.")
    usd: float | None = Field(description="None: refused, or a price i2v does not know.")
    basis: str = Field(description="How the price was made, or 'refused'.")
    state: str = Field(
        description="available; unavailable here (reason); breaker_open: failing recently, "
        "auto skips it for now; refused: it cannot take these values (reason).",
        json_schema_extra={"enum": [*STATES, REFUSED]},
    )
    reason: str | None
    auto: bool = Field(description="backend=auto would run the request here.")


class EstimateOut(BaseModel):
    model: str = Field(description="The catalogue's name for the model.")
    auto: str | None = Field(description="Where backend=auto (prefer cost) would run it now.")
    auto_reason: str | None = Field(description="Why auto would run it nowhere.")
    quotes: list[QuoteOut] = Field(description="Available and cheapest first.")

    @classmethod
    def of(cls, found: Estimate) -> EstimateOut:
        return cls(
            model=found.model,
            auto=found.auto,
            auto_reason=found.auto_reason,
            quotes=[
                QuoteOut(
                    backend=q.backend,
                    model=q.model,
                    usd=float(q.usd) if q.usd is not None else None,
                    basis=q.basis,
                    state=found.state(q),
                    reason=q.reason,
                    auto=q.backend == found.auto,
                )
                for q in found.quotes
            ],
        )


class BackendOut(BaseModel):
    name: str
    state: str = Field(json_schema_extra={"enum": [*STATES]})
    hosted: bool = Field(description="Billed per request by a third party.")
    reason: str | None = Field(description="Why it is unavailable here.")
    failures: int = Field(description="Retryable failures in a row.")
    open_until: datetime | None = Field(description="While the breaker is open.")
    last_error: str | None = Field(description="The last retryable failure (admins only).")
    models: list[str] = Field(description="Catalogue models it runs.")

    @classmethod
    def of(cls, view: BackendView) -> BackendOut:
        return cls.model_validate(view, from_attributes=True)


class BackendListOut(BaseModel):
    backends: list[BackendOut]
