"""The GPU fleet for admins: offers, instances, launches, teardown, reconcile and spend.

The API (through `anyio.to_thread.run_sync`) and the CLI (directly) call these same
functions. Each is blocking: it drives the async fleet manager on its own event loop with
`asyncio.run`. Everything that calls a provider needs `I2V_FLEET_ENABLED=true`; listing
instances and spend only read the database, so they work with the fleet off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import threading
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import FrameType
from typing import TypeVar

from sqlalchemy import select

from i2v.bootstrap import App, open_app
from i2v.config import Settings
from i2v.db import fleet as repo
from i2v.db.tables import Executor, FleetInstance, utcnow
from i2v.domain.job import JobState
from i2v.errors import FleetError, FleetOff, InvalidParameter, NotFound, ProviderError
from i2v.fleet import budget as money
from i2v.fleet.base import Offer, Requirements
from i2v.fleet.manager import FleetManager, ReconcileReport
from i2v.services.gpu_guard import may_launch_gpus

T = TypeVar("T")
SignalHandler = Callable[[int, FrameType | None], object] | int | None

FLEET_OFF = (
    "the fleet is off: set I2V_FLEET_ENABLED=true (and I2V_VAST_API_KEY or "
    "I2V_RUNPOD_API_KEY for the providers in I2V_FLEET_PROVIDERS) to rent GPUs"
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OfferQuery:
    """Overrides of the configured requirements (I2V_FLEET_*); None keeps the setting."""

    min_vram_gb: float | None = None
    gpu: str | None = None  # one GPU name, e.g. "RTX 4090", instead of I2V_FLEET_GPUS
    max_usd_per_hour: float | None = None


@dataclass(frozen=True, slots=True)
class OfferView:
    provider: str
    offer_id: str
    gpu_name: str
    num_gpus: int
    vram_gb: float
    usd_per_hour: float
    reliability: float | None
    cuda: float | None
    disk_gb: float | None
    region: str | None


@dataclass(frozen=True, slots=True)
class InstanceView:
    id: str  # our row id (fin...); the provider's own id is instance_id
    provider: str
    instance_id: str | None
    label: str
    state: str  # launching, pending, ready, terminated, failed
    gpu_name: str | None
    usd_per_hour: Decimal
    endpoint: str | None
    workflow: str | None
    busy: int
    created_at: datetime
    launched_at: datetime | None
    ready_at: datetime | None
    last_used_at: datetime | None
    terminated_at: datetime | None
    reason: str | None

    @property
    def open(self) -> bool:
        return self.state in repo.OPEN


@dataclass(frozen=True, slots=True)
class InstanceSpend:
    id: str
    provider: str
    gpu_name: str | None
    state: str
    usd_per_hour: Decimal
    runtime_s: float  # paid time: from launch to termination, or to now
    usd: Decimal


@dataclass(frozen=True, slots=True)
class SpendView:
    instances: tuple[InstanceSpend, ...]
    usd_per_hour: Decimal  # what the open instances cost right now
    spent_today_usd: Decimal  # since 00:00 UTC
    spent_total_usd: Decimal
    jobs_usd: Decimal  # billed to jobs through their leases
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Destroyed:
    provider: str
    instance_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReconcileView:
    destroyed: tuple[Destroyed, ...]
    adopted: tuple[str, ...]  # row ids matched to an instance launched before a crash
    closed: tuple[str, ...]  # row ids whose instance the provider no longer has


def _instance_view(row: FleetInstance) -> InstanceView:
    return InstanceView(
        id=row.id,
        provider=row.provider,
        instance_id=row.instance_id,
        label=row.label,
        state=row.state,
        gpu_name=row.gpu_name,
        usd_per_hour=Decimal(row.usd_per_hour),
        endpoint=row.endpoint,
        workflow=row.workflow,
        busy=row.busy,
        created_at=row.created_at,
        launched_at=row.launched_at,
        ready_at=row.ready_at,
        last_used_at=row.last_used_at,
        terminated_at=row.terminated_at,
        reason=row.reason,
    )


def _offer_view(offer: Offer) -> OfferView:
    return OfferView(
        provider=offer.provider,
        offer_id=offer.offer_id,
        gpu_name=offer.gpu_name,
        num_gpus=offer.num_gpus,
        vram_gb=offer.vram_gb,
        usd_per_hour=offer.usd_per_hour,
        reliability=offer.reliability,
        cuda=offer.cuda,
        disk_gb=offer.disk_gb,
        region=offer.region,
    )


def _require_fleet(app: App) -> None:
    if not app.settings.fleet_enabled:
        raise FleetOff(FLEET_OFF)


def _with_fleet(app: App, work: Callable[[FleetManager], Awaitable[T]]) -> T:
    """Run `work` against a fleet manager built from the settings, on a fresh event loop."""
    from i2v.fleet.setup import open_fleet  # the providers' HTTP stack loads only when used

    _require_fleet(app)

    async def go() -> T:
        async with open_fleet(app.settings, app.db) as fleet:
            return await work(fleet)

    return asyncio.run(go())


def _requirements(app: App, query: OfferQuery | None) -> Requirements:
    from i2v.fleet.setup import requirements

    base = requirements(app.settings)
    if query is None:
        return base
    if query.min_vram_gb is not None and query.min_vram_gb <= 0:
        raise InvalidParameter("min_vram_gb", query.min_vram_gb, "min_vram_gb must be over 0")
    if query.max_usd_per_hour is not None and query.max_usd_per_hour <= 0:
        raise InvalidParameter(
            "max_usd_per_hour", query.max_usd_per_hour, "max_usd_per_hour must be over 0"
        )
    gpu = (query.gpu or "").strip()
    return dataclasses.replace(
        base,
        min_vram_gb=base.min_vram_gb if query.min_vram_gb is None else query.min_vram_gb,
        gpu_names=(gpu,) if gpu else base.gpu_names,
        max_usd_per_hour=(
            base.max_usd_per_hour if query.max_usd_per_hour is None else query.max_usd_per_hour
        ),
    )


def _row(app: App, row_id: str) -> InstanceView:
    with app.db.session() as session:
        row = session.get(FleetInstance, row_id)
        if row is None:
            raise NotFound(f"no fleet instance {row_id!r}")
        return _instance_view(row)


# ---- offers and instances -----------------------------------------------------------------


def list_offers(app: App, requirements_override: OfferQuery | None = None) -> list[OfferView]:
    """Offers from every configured provider that meet the requirements, cheapest first."""
    _require_fleet(app)
    wanted = _requirements(app, requirements_override)

    async def work(fleet: FleetManager) -> list[Offer]:
        return await fleet.offers(wanted)

    return [_offer_view(offer) for offer in _with_fleet(app, work)]


def list_instances(app: App, *, include_closed: bool = False) -> list[InstanceView]:
    """The fleet's rows, oldest first: the open ones, or every one ever launched."""
    with app.db.session() as session:
        rows = repo.all_rows(session) if include_closed else repo.open_rows(session)
        return [_instance_view(row) for row in rows]


def launch_instance(
    app: App, workflow: str, gpu: str | None = None, max_usd_per_hour: float | None = None
) -> InstanceView:
    """Launch the cheapest fitting offer for `workflow` and wait until it can run it.

    The instance is left idle (not busy), so jobs reuse it and the idle reaper
    (I2V_FLEET_IDLE_SECONDS, at reconcile) destroys it once nobody does.
    """
    from i2v.backends.comfyui.workflows.library import get_workflow
    from i2v.config import resolved_workflows_dir
    from i2v.fleet.setup import needs_of

    _require_fleet(app)
    user_dir = resolved_workflows_dir(app.settings)
    needs = needs_of(get_workflow(workflow, user_dir=user_dir))  # NotFound for an unknown one
    wanted = _requirements(app, OfferQuery(gpu=gpu, max_usd_per_hour=max_usd_per_hour))

    async def work(fleet: FleetManager) -> FleetInstance:
        return await fleet.launch(needs, wanted)

    return _row(app, _with_fleet(app, work).id)


def terminate_instance(
    app: App, row_id: str, reason: str = "terminated by an admin"
) -> InstanceView:
    """Destroy the row's instance and close the row; a closed row is returned as it is."""
    _require_fleet(app)
    if not _row(app, row_id).open:
        return _row(app, row_id)

    async def work(fleet: FleetManager) -> None:
        await fleet.terminate(row_id, reason)

    _with_fleet(app, work)
    return _row(app, row_id)


def reconcile(app: App) -> ReconcileView:
    """Make the providers match the database: destroy strays, close rows of vanished ones."""

    async def work(fleet: FleetManager) -> ReconcileReport:
        return await fleet.reconcile()

    report = _with_fleet(app, work)
    return ReconcileView(
        destroyed=tuple(Destroyed(p, i, why) for p, i, why in report.destroyed),
        adopted=tuple(report.adopted),
        closed=tuple(report.closed),
    )


RENDER_RUN = "render."  # the engine's render ids: render.<result key>[.<job id>]
_ACTIVE = (JobState.QUEUED, JobState.RUNNING)


def current_jobs(app: App, row_ids: Collection[str]) -> dict[str, tuple[str, ...]]:
    """The jobs each instance is rendering now, by its open leases' runs.

    A run is the engine's render (`engine.workflow.render_id`): `render.<job id>`, a render
    shared by the jobs of one cache key, `render.<cache key>`, or one job's own render of a
    shared result, `render.<cache key>.<job id>`. A CLI command's run names no job."""
    from i2v.db import jobs as jobs_repo

    found: dict[str, list[str]] = {}
    with app.db.session() as session:
        for row_id, run_id in repo.runs_on(session, row_ids):
            if not run_id.startswith(RENDER_RUN):
                continue
            key, _, own = run_id.removeprefix(RENDER_RUN).partition(".")
            ids = [own] if own else jobs_repo.jobs_for_result(session, key, _ACTIVE)
            found.setdefault(row_id, []).extend(ids)
    return {row_id: tuple(sorted(set(ids))) for row_id, ids in found.items()}


# ---- spend --------------------------------------------------------------------------------


def spend(app: App, now: datetime | None = None) -> SpendView:
    """What the fleet costs: per instance, right now, today (UTC) and in all, and what jobs paid.

    `now` is the moment it is reckoned at (default: the present)."""
    now = now or utcnow()
    with app.db.session() as session:
        rows = repo.all_rows(session)
        open_rows = [row for row in rows if row.state in repo.OPEN]
        today = repo.rows_since(session, money.day_start(now))
        instances = tuple(
            InstanceSpend(
                id=row.id,
                provider=row.provider,
                gpu_name=row.gpu_name,
                state=row.state,
                usd_per_hour=Decimal(row.usd_per_hour),
                runtime_s=float(money.billed_seconds(row, EPOCH, now)),
                usd=money.cost(row, EPOCH, now),
            )
            for row in rows
        )
        return SpendView(
            instances=instances,
            usd_per_hour=money.hourly_rate(open_rows),
            spent_today_usd=money.spent_today(today, now),
            spent_total_usd=sum((item.usd for item in instances), Decimal(0)),
            jobs_usd=repo.job_spend(session),
            as_of=now,
        )


# ---- a CLI command's own launches ---------------------------------------------------------

KEEP_HINT = (
    "a running `i2v serve` or `i2v worker` destroys it once idle for I2V_FLEET_IDLE_SECONDS "
    "({idle:g} s); else `i2v fleet reconcile` does, or `i2v fleet down ID` at once"
)


@contextmanager
def gpus_launched_here(
    settings: Settings, backend: str, *, keep: bool, say: Callable[[str], None]
) -> Iterator[None]:
    """Around one CLI command: on its way out (done, failed, Ctrl-C or SIGTERM) the instances
    it launched are destroyed, unless `keep`, or unless a live `serve`/`worker` is there to
    reap them once idle. Nothing else would: without one, an idle GPU bills until someone
    runs reconcile. `say` is told what is destroyed and what is left running, and why."""
    if not may_launch_gpus(settings, backend):
        yield
        return
    app = open_app(settings)
    with app.db.session() as session:
        before = {row.id for row in repo.open_rows(session)}
    previous = _on_sigterm(_interrupt)
    try:
        yield
    finally:
        _on_sigterm(signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        try:
            _settle(app, before, keep, say)
        finally:
            _on_sigterm(previous)
            app.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so clean-up code runs


def _on_sigterm(handler: SignalHandler) -> SignalHandler:
    """Set SIGTERM's handler, returning the old one; signals are the main thread's only."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _settle(app: App, before: set[str], keep: bool, say: Callable[[str], None]) -> None:
    idle = app.settings.fleet_idle_seconds
    alive_since = utcnow() - timedelta(seconds=app.settings.executor_lease_s)
    with app.db.session() as session:
        mine = [_instance_view(r) for r in repo.open_rows(session) if r.id not in before]
        reapers = list(session.scalars(select(Executor).where(Executor.heartbeat_at > alive_since)))
    if not mine:
        return
    if keep or reapers:
        who = "kept running (--keep-gpu)" if keep else "left running"
        for view in mine:
            say(f"{who}: {_describe(view)}; {KEEP_HINT.format(idle=idle)}")
        return

    async def destroy(fleet: FleetManager) -> None:
        for view in mine:
            with app.db.session() as session:  # unless another command's run took it since
                taken = view.state == repo.READY and not repo.close_idle(
                    session, view.id, utcnow(), "the command that launched it exited"
                )
            if taken:
                say(f"left running, in use by another run: {_describe(view)}")
                continue
            try:
                await fleet.terminate(view.id, "the command that launched it exited")
                say(f"destroyed {_describe(view)}, which this command launched")
            except (ProviderError, FleetError) as exc:
                say(
                    f"could not destroy {_describe(view)}: {exc.message}; run `i2v fleet reconcile`"
                )

    _with_fleet(app, destroy)


def _describe(view: InstanceView) -> str:
    return (
        f"{view.provider} instance {view.instance_id or '(being created)'} ({view.id}, "
        f"{view.gpu_name or 'GPU'}, ${view.usd_per_hour}/h)"
    )
