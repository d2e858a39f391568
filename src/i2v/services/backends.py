"""The backends this deployment has: each one's state, its circuit breaker and the models it runs.

What `i2v backends` and GET /v1/backends show, made here once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from i2v.backends.registry import BACKENDS, HOSTED, unavailable_reason
from i2v.bootstrap import App
from i2v.db.tables import utcnow
from i2v.models.catalog import catalog_for
from i2v.services.breaker import breakers_of

AVAILABLE = "available"
UNAVAILABLE = "unavailable"  # this deployment has nothing to run it on (reason says what)
BREAKER_OPEN = "breaker_open"  # failing recently: backend=auto skips it until open_until
STATES = (AVAILABLE, UNAVAILABLE, BREAKER_OPEN)


@dataclass(frozen=True, slots=True)
class BackendView:
    name: str
    state: str  # one of STATES
    hosted: bool  # billed per request by a third party
    reason: str | None  # why it is unavailable
    failures: int  # retryable failures in a row; 0 once it succeeds again
    open_until: datetime | None  # while the breaker is open
    last_error: str | None  # the last retryable failure, until a success clears the count
    models: tuple[str, ...]  # catalogue models it runs


def list_backends(
    app: App, *, show_errors: bool = True, now: datetime | None = None
) -> list[BackendView]:
    """Every backend in the registry, in its order, with what it can run and how it fares.

    Without `show_errors` the last errors are left out: they can name internal servers.
    """
    moment = now or utcnow()
    breakers = breakers_of(app).states()
    models = catalog_for(app.settings).models()
    views = []
    for name in BACKENDS:
        missing = unavailable_reason(name, app.settings)
        breaker = breakers.get(name)
        failures = breaker.failures if breaker is not None else 0
        state = AVAILABLE
        if missing is not None:
            state = UNAVAILABLE
        elif breaker is not None and breaker.is_open(moment):
            state = BREAKER_OPEN
        views.append(
            BackendView(
                name=name,
                state=state,
                hosted=name in HOSTED,
                reason=missing,
                failures=failures,
                open_until=breaker.open_until if state == BREAKER_OPEN and breaker else None,
                last_error=breaker.last_error if breaker and failures and show_errors else None,
                models=tuple(m.name for m in models if name in m.backends),
            )
        )
    return views
