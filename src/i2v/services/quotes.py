"""Prices for one request on each backend that can run its model, before anything is paid."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from i2v.backends.registry import HOSTED, get_backend, unavailable_reason
from i2v.config import Settings
from i2v.domain.spec import RenderSpec
from i2v.errors import I2VError, InvalidParameter
from i2v.models.catalog import Model, catalog_for

FREE = Decimal(0)


@dataclass(frozen=True, slots=True)
class Quote:
    """One backend's answer for a request: a price, or why it cannot run it."""

    backend: str
    model: str
    usd: Decimal | None  # None: unknown (fal's price for it was never read), or refused
    basis: str  # how the price was made, e.g. "fal price read 2026-11-30: $0.07/s x 5 s"
    available: bool  # this deployment can run it now
    reason: str | None = None  # why not, when not available or refused
    spec: RenderSpec | None = None  # the request as the backend would run it (refused: None)
    refusal: InvalidParameter | None = None  # why the backend refused the request

    @property
    def field(self) -> str | None:
        """The parameter a refusal is about."""
        return self.refusal.field if self.refusal is not None else None

    @property
    def hosted(self) -> bool:
        return self.backend in HOSTED

    @property
    def runnable(self) -> bool:
        return self.available and self.spec is not None


def model_of(settings: Settings, spec: RenderSpec) -> Model:
    return catalog_for(settings).get(spec.model or "local")


def quote_backend(settings: Settings, spec: RenderSpec, backend: str) -> Quote:
    """Validate the request for one backend and price it; a refusal is data, not an error."""
    name = spec.model or "local"
    missing = unavailable_reason(backend, settings)
    try:
        prepared = get_backend(backend, settings).prepare(spec)
    except InvalidParameter as exc:
        return Quote(backend, name, None, "refused", missing is None, exc.message, refusal=exc)
    usd, basis = _price(settings, prepared, backend)
    return Quote(backend, prepared.model or name, usd, basis, missing is None, missing, prepared)


def quotes_for(settings: Settings, spec: RenderSpec) -> list[Quote]:
    """The request priced on every backend that runs its model, cheapest first."""
    model = model_of(settings, spec)
    spec = replace(spec, model=None if model.local else model.name)
    found = [quote_backend(settings, spec, backend) for backend in model.backends]
    return sorted(found, key=_by_price)


def _by_price(quote: Quote) -> tuple[bool, bool, Decimal]:
    return (not quote.runnable, quote.usd is None, quote.usd or FREE)


def _price(settings: Settings, spec: RenderSpec, backend: str) -> tuple[Decimal | None, str]:
    if backend == "local":
        return FREE, "the local CPU renderer: free"
    if backend == "fal":
        from i2v.backends.fal.backend import fal_manifest, spec_request  # httpx: only for fal
        from i2v.backends.fal.pricing import price

        manifest = fal_manifest(settings, spec.model)
        found = price(manifest, spec_request(manifest, spec, ""))
        if found is None:
            return None, f"fal's price for this request is not known to i2v ({manifest.endpoint})"
        return found.usd, f"fal's price list, read {found.read_on.isoformat()}"
    if settings.fleet_enabled:
        from i2v.services.fleet_quotes import fleet_quote  # the fleet's stack, only when used

        try:
            return fleet_quote(settings, spec)
        except I2VError as exc:
            return None, f"no fleet price: {exc.message}"
    return FREE, "your own ComfyUI servers (I2V_COMFYUI_URLS): not metered"
