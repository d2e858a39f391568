"""Routing: which backends may run a job, in what order, and failing over between them.

`backend=auto` takes the backends that run the job's model, keeps those this deployment has
(servers or the fleet, a fal key), whose breaker is closed, and that the job's rating allows
(mature jobs never go to a hosted API), and orders them by price or speed. A retryable
failure moves the job to the next one; a refusal (bad parameter, content policy) does not.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from i2v.backends.base import GenerationRequest, GenerationResult, ProgressCallback
from i2v.backends.registry import AUTO, HOSTED, check_backend, get_backend, unavailable_reason
from i2v.config import Settings
from i2v.domain.spec import RenderSpec
from i2v.errors import BackendUnavailable, I2VError, InvalidParameter
from i2v.services.quotes import Quote, model_of, quote_backend, quotes_for

if TYPE_CHECKING:  # the database loads only for callers that have one
    from i2v.db.engine import Database
    from i2v.services.breaker import Breakers

PREFERENCES = ("cost", "speed")
# prefer=speed: no queue or boot first. The fleet's ComfyUI may have to rent and boot a GPU.
_SPEED = {"local": 0, "comfyui": 1, "fal": 2}
_FLEET_SPEED = 3


@dataclass(frozen=True, slots=True)
class Route:
    spec: RenderSpec  # as the backends run it: model canonical, a workflow version pinned
    backends: tuple[str, ...]  # tried in this order
    quotes: tuple[Quote, ...]  # every backend of the model, runnable or not, and why
    skipped: tuple[tuple[str, str], ...] = ()  # (backend, why) left out of the route

    @property
    def estimate_usd(self) -> Decimal | None:
        """The first backend's price: what the job is expected to cost."""
        first = self.quote(self.backends[0])
        return first.usd if first is not None else None

    @property
    def hosted(self) -> bool:
        """Whether any backend on the route bills per request (a failover may reach it)."""
        return any(name in HOSTED for name in self.backends)

    @property
    def hosted_estimate(self) -> Decimal | None:
        """The most the route's hosted backends may cost; None where a price is unknown."""
        prices = [self.quote(name) for name in self.backends if name in HOSTED]
        if any(q is None or q.usd is None for q in prices):
            return None
        return max((q.usd for q in prices if q is not None and q.usd is not None), default=None)

    def quote(self, backend: str) -> Quote | None:
        return next((q for q in self.quotes if q.backend == backend), None)


@dataclass(frozen=True, slots=True)
class RouteEvent:
    """Where a job runs now, and (after a failover) where from and why."""

    backend: str
    moved_from: str | None = None
    reason: str | None = None


def check_prefer(prefer: str) -> str:
    if prefer not in PREFERENCES:
        raise InvalidParameter("prefer", prefer, f"prefer {prefer!r} is not one of: cost, speed")
    return prefer


def plan_route(
    settings: Settings,
    spec: RenderSpec,
    backend: str,
    prefer: str = "cost",
    *,
    tripped: Collection[str] = (),
    mature: bool = False,
) -> Route:
    """The route for a job; InvalidParameter (422) when no backend can take it."""
    check_prefer(prefer)
    if backend != AUTO:
        check_backend(backend)
        prepared = get_backend(backend, settings).prepare(spec)  # refusals raise here
        missing = unavailable_reason(backend, settings)
        if missing is not None:
            raise BackendUnavailable(
                "backend", backend, f"backend {backend!r} is not available here: {missing}"
            )
        if mature and backend in HOSTED:
            raise InvalidParameter(
                "backend", backend, "mature jobs run only on self-hosted backends"
            )
        return Route(prepared, (backend,), (quote_backend(settings, prepared, backend),))
    quotes = quotes_for(settings, spec)
    usable: list[Quote] = []
    skipped: list[tuple[str, str]] = []
    for quote in quotes:
        why = _excluded(quote, tripped, mature)
        if why is None:
            usable.append(quote)
        else:
            skipped.append((quote.backend, why))
    if not usable:
        model = model_of(settings, spec).name
        refusals = [q for q in quotes if q.refusal is not None]
        if refusals and len(refusals) == len(quotes):  # the request itself is wrong
            refusal = refusals[0].refusal
            assert refusal is not None
            if len(refusals) == 1:
                raise refusal  # its field, and what the model allows
            reasons = "; ".join(f"{q.backend}: {q.reason}" for q in refusals)
            raise InvalidParameter(
                refusal.field,
                refusal.value,
                f"no backend can run {model} with these values ({reasons})",
            )
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
        raise BackendUnavailable("backend", AUTO, f"no backend can run {model} now ({reasons})")
    if prefer == "speed":
        usable.sort(key=lambda q: _speed(settings, q.backend))
    pinned = next((q.spec.workflow for q in usable if q.spec and q.spec.workflow), None)
    first = usable[0].spec
    assert first is not None
    return Route(
        replace(first, workflow=pinned),
        tuple(q.backend for q in usable),
        tuple(quotes),
        tuple(skipped),
    )


def _excluded(quote: Quote, tripped: Collection[str], mature: bool) -> str | None:
    if quote.spec is None:
        return f"refused: {quote.reason}"
    if not quote.available:
        return f"not available: {quote.reason}"
    if quote.backend in tripped:
        return "skipped: failing recently (circuit breaker open)"
    if mature and quote.hosted:
        return "mature jobs run only on self-hosted backends"
    return None


def _speed(settings: Settings, backend: str) -> int:
    if backend == "comfyui" and settings.fleet_enabled and not settings.comfyui_urls:
        return _FLEET_SPEED
    return _SPEED.get(backend, len(_SPEED))


def run_routed(
    settings: Settings,
    backends: Sequence[str],
    request: GenerationRequest,
    on_progress: ProgressCallback,
    *,
    breakers: Breakers | None = None,
    on_route: Callable[[RouteEvent], None] | None = None,
    db: Database | None = None,
) -> tuple[GenerationResult, str]:
    """Run on the first backend that succeeds; a retryable failure moves to the next.

    Each backend sees the same request (its run id too: a retried step finds its earlier
    run on each). Returns the result and the backend that made it.
    """
    moved_from: str | None = None
    reason: str | None = None
    for index, name in enumerate(backends):
        if on_route is not None:
            on_route(RouteEvent(name, moved_from, reason))
        try:
            result = get_backend(name, settings, db).generate(request, on_progress)
        except I2VError as exc:
            if not exc.retryable:
                raise
            if breakers is not None:
                breakers.failed(name, f"{exc.code}: {exc.message}")
            if index == len(backends) - 1:
                raise
            moved_from, reason = name, f"{exc.code}: {exc.message}"
            continue
        if breakers is not None:
            breakers.succeeded(name)
        return result, name
    raise AssertionError("a route has at least one backend")
