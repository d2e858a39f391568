"""The fleet's price for one run: the cheapest fitting offer times the run's expected GPU time.

The expected time is learned: the median GPU seconds of the workflow's last finished runs
(their leases), and I2V_FLEET_DEFAULT_GPU_S before any has run.
"""

from __future__ import annotations

import statistics
from decimal import Decimal

from sqlalchemy import select

from i2v.bootstrap import App, open_app
from i2v.config import Settings
from i2v.db.tables import FleetInstance, FleetLease
from i2v.domain.spec import RenderSpec
from i2v.errors import NoCapacity
from i2v.services.fleet import list_offers

RECENT_RUNS = 50
_CENT = Decimal("0.0001")


def workflow_name(key: str | None) -> str | None:
    """`wan22_i2v_14b` from a pinned key (`name.vN` or `name@hash`)."""
    if key is None:
        return None
    return key.split("@", 1)[0].rsplit(".v", 1)[0]


def expected_gpu_seconds(app: App, workflow: str | None) -> tuple[float, int]:
    """The median GPU seconds of the workflow's recent finished runs, and how many there were."""
    if workflow is None:
        return app.settings.fleet_default_gpu_s, 0
    query = (
        select(FleetLease.started_at, FleetLease.ended_at)
        .join(FleetInstance, FleetInstance.id == FleetLease.instance)
        .where(FleetLease.ended_at.is_not(None), FleetInstance.workflow == workflow)
        .order_by(FleetLease.ended_at.desc())
        .limit(RECENT_RUNS)
    )
    with app.db.session() as session:
        runs = [
            (ended - started).total_seconds()
            for started, ended in session.execute(query)
            if ended is not None and ended > started
        ]
    if not runs:
        return app.settings.fleet_default_gpu_s, 0
    return statistics.median(runs), len(runs)


def fleet_quote(settings: Settings, spec: RenderSpec) -> tuple[Decimal, str]:
    """The price and how it was made; NoCapacity when no offer fits."""
    app = open_app(settings, migrate=False)
    try:
        offers = list_offers(app)
        if not offers:
            raise NoCapacity("no GPU offer meets the fleet's requirements (i2v fleet offers)")
        cheapest = min(offers, key=lambda o: o.usd_per_hour)
        workflow = workflow_name(spec.workflow)
        seconds, runs = expected_gpu_seconds(app, workflow)
    finally:
        app.close()
    usd = (Decimal(str(cheapest.usd_per_hour)) * Decimal(str(seconds)) / 3600).quantize(_CENT)
    learned = f"median of {runs} runs" if runs else "default, no run seen yet"
    basis = (
        f"fleet: {cheapest.gpu_name} on {cheapest.provider} at ${cheapest.usd_per_hour:.3f}/h "
        f"x {seconds:.0f} GPU s ({learned})"
    )
    return usd, basis
