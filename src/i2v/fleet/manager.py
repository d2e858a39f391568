"""FleetManager: acquire, reuse, release and reconcile GPU instances, intent-first and in budget.

Every launch is written down before the provider is called (a `launching` row with the
label the instance will carry), so a crash between the call and the bookkeeping leaves a
row that reconcile matches to the instance by label: adopted, or destroyed. Reconcile
destroys whatever carries this deployment's label and should not be running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from i2v.db import fleet as repo
from i2v.db.engine import Database
from i2v.db.tables import FleetInstance, FleetLease, utcnow
from i2v.domain.ids import new_id
from i2v.errors import (
    FleetError,
    InstanceNotReady,
    NoCapacity,
    OfferUnavailable,
    ProviderError,
)
from i2v.fleet import budget as money
from i2v.fleet.base import (
    GpuProvider,
    Instance,
    InstanceState,
    LaunchSpec,
    ModelDownload,
    Offer,
    Requirements,
)
from i2v.fleet.budget import Budget
from i2v.fleet.policy import why_destroy

log = logging.getLogger(__name__)
MAX_LAUNCHES = 3  # offers tried per acquire, across providers
# A row launched (or being launched) this recently may not be in the provider's list yet.
LAUNCH_GRACE = timedelta(minutes=2)
DEAD = (InstanceState.FAILED, InstanceState.STOPPED, InstanceState.TERMINATED)

Probe = Callable[[str, "WorkflowNeeds"], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class WorkflowNeeds:
    """What "ready" means for one workflow: these nodes and these model files are present."""

    name: str
    nodes: frozenset[str]
    models: tuple[ModelDownload, ...]


@dataclass(frozen=True, slots=True)
class FleetConfig:
    deployment: str
    provider_order: tuple[str, ...]
    templates: Mapping[str, str]  # provider -> template id
    requirements: Requirements
    budget: Budget
    idle_s: float = 600.0
    ready_timeout_s: float = 1200.0
    poll_s: float = 5.0
    disk_gb: int = 80
    max_run_s: float = 1800.0  # a lease older than this (plus idle_s) is a dead worker's
    reuse_wait_s: float = 0.0  # how long a run waits for a busy instance before launching


@dataclass(frozen=True, slots=True)
class Lease:
    row_id: str
    provider: str
    instance_id: str
    endpoint: str
    usd_per_hour: Decimal


@dataclass
class ReconcileReport:
    destroyed: list[tuple[str, str, str]] = field(default_factory=list)  # provider, id, why
    adopted: list[str] = field(default_factory=list)  # row ids
    closed: list[str] = field(default_factory=list)  # rows whose instance is gone


class FleetManager:
    def __init__(
        self,
        db: Database,
        providers: Mapping[str, GpuProvider],
        config: FleetConfig,
        probe: Probe,
        *,
        now: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db, self._providers, self._config, self._probe = db, providers, config, probe
        self._now, self._monotonic, self._sleep = now, monotonic, sleep

    @property
    def label_prefix(self) -> str:
        return f"i2v:{self._config.deployment}:"

    # ---- offers and launching ---------------------------------------------------------

    async def offers(self, requirements: Requirements | None = None) -> list[Offer]:
        wanted = requirements or self._config.requirements
        found: list[Offer] = []
        for name in self._config.provider_order:
            try:
                found.extend(await self._providers[name].search_offers(wanted))
            except ProviderError as exc:
                log.warning("offers from %s unavailable: %s", name, exc.message)
        return sorted(found, key=lambda offer: offer.usd_per_hour)

    async def acquire(
        self,
        needs: WorkflowNeeds,
        *,
        run_id: str,
        exclude: Sequence[str] = (),
        min_vram_gb: float | None = None,
    ) -> Lease:
        """An instance ready for `needs`: an idle one if there is one, else a new one.

        When every fitting instance is busy, the run first waits up to `reuse_wait_s` for
        one to come free: runs are shorter than launches, so a queue of a minute or two
        costs far less than a machine that would sit idle afterwards.
        `exclude` names endpoints this run already failed on (out of memory, vanished);
        `min_vram_gb` asks for a bigger GPU than configured (after running out of memory),
        which only a new launch can promise.
        """
        if min_vram_gb is not None:
            wanted = replace(self._config.requirements, min_vram_gb=min_vram_gb)
            row = await self.launch(needs, wanted)
            return self._lease(row, run_id)
        deadline = self._monotonic() + self._config.reuse_wait_s
        while True:
            busy = await self._take_idle(needs, run_id, exclude)
            if isinstance(busy, Lease):
                return busy
            if not busy or self._monotonic() >= deadline:
                break
            await self._sleep(self._config.poll_s)
        row = await self.launch(needs)
        try:
            return self._lease(row, run_id)
        except BaseException:
            self._unclaim(row.id)
            raise

    async def _take_idle(
        self, needs: WorkflowNeeds, run_id: str, exclude: Sequence[str]
    ) -> Lease | int:
        """A lease on an idle ready instance, or how many fitting ones are busy."""
        with self._db.session() as session:
            fitting = [
                row
                for row in repo.open_rows(session)
                if row.state == repo.READY
                and row.workflow == needs.name
                and row.endpoint not in exclude
            ]
        for row in (row for row in fitting if row.busy == 0):
            with self._db.session() as session:
                if not repo.claim_idle(session, row.id, self._now()):
                    continue
            try:
                if row.endpoint and await self._probe(row.endpoint, needs):
                    return self._lease(row, run_id)
            except BaseException:
                self._unclaim(row.id)  # never leave a row busy with no lease to end it
                raise
            await self.terminate(row.id, "failed its readiness check on reuse")
        return sum(1 for row in fitting if row.busy > 0)

    async def launch(
        self, needs: WorkflowNeeds, requirements: Requirements | None = None, *, hold: bool = True
    ) -> FleetInstance:
        """Launch the cheapest offer that fits, failing over across offers and providers.

        With `hold`, the ready instance is handed over busy (for the run that asked); without,
        it is left idle for any run to take, and for the idle reaper.
        """
        wanted = requirements or self._config.requirements
        problems: list[str] = []
        offers: list[Offer] = []
        for name in self._config.provider_order:
            try:
                found = await self._providers[name].search_offers(wanted)
            except ProviderError as exc:
                problems.append(f"{name}: {exc.message}")
                continue
            offers.extend(found)
            if not found:
                problems.append(f"{name}: no offer meets the requirements")
        # Cheapest across providers; the provider order breaks ties (the stable sort keeps it).
        offers.sort(key=lambda offer: offer.usd_per_hour)
        troubled: set[str] = set()
        tried = 0
        for offer in offers:
            if tried >= MAX_LAUNCHES:
                break
            if offer.provider in troubled:
                continue
            tried += 1
            provider = self._providers[offer.provider]
            try:
                return await self._launch_one(provider, offer, needs, hold)
            except OfferUnavailable as exc:
                problems.append(f"{offer.provider}: {exc.message}")
            except (ProviderError, InstanceNotReady) as exc:
                problems.append(f"{offer.provider}: {exc.message}")
                troubled.add(offer.provider)  # fail over to the other provider's offers
        raise NoCapacity("no GPU could be launched: " + "; ".join(problems or ["no providers"]))

    async def _launch_one(
        self, provider: GpuProvider, offer: Offer, needs: WorkflowNeeds, hold: bool
    ) -> FleetInstance:
        row_id = new_id("fin")
        label = f"{self.label_prefix}{row_id}"
        with self._db.session() as session:  # the intent, before any money is spent
            # Checked and recorded in one locked transaction: two workers launching at once
            # cannot both pass the instance cap or the budget.
            repo.lock_launches(session)
            money.check_launch(
                self._config.budget,
                repo.open_rows(session),
                repo.rows_since(session, money.day_start(self._now())),
                Decimal(str(offer.usd_per_hour)),
                self._now(),
            )
            session.add(
                FleetInstance(
                    id=row_id,
                    provider=provider.name,
                    label=label,
                    state=repo.LAUNCHING,
                    offer_id=offer.offer_id,
                    gpu_name=offer.gpu_name,
                    usd_per_hour=Decimal(str(offer.usd_per_hour)),
                    workflow=needs.name,
                    created_at=self._now(),
                )
            )
        spec = LaunchSpec(
            label=label,
            template=self._config.templates.get(provider.name, ""),
            disk_gb=self._config.disk_gb,
            provisioning=needs.models,
        )
        try:
            instance_id = await provider.launch(offer, spec)
        except OfferUnavailable:
            self._close(row_id, repo.FAILED, "the offer was taken")
            raise
        except ProviderError:
            # The call may have created it anyway: look for the label before giving up.
            found = await self._find_by_label(provider, label)
            if found is None:
                self._close(row_id, repo.FAILED, "launch failed")
                raise
            instance_id = found.instance_id
        with self._db.session() as session:
            repo.update_row(
                session,
                row_id,
                only_from=[repo.LAUNCHING],
                instance_id=instance_id,
                state=repo.PENDING,
                launched_at=self._now(),
            )
        return await self._wait_ready(provider, row_id, instance_id, needs, hold)

    async def _find_by_label(self, provider: GpuProvider, label: str) -> Instance | None:
        try:
            found = await provider.query(label_prefix=label)
        except ProviderError:
            return None  # reconcile will find it by label later
        return next((i for i in found if i.label == label), None)

    async def _wait_ready(
        self, provider: GpuProvider, row_id: str, instance_id: str, needs: WorkflowNeeds, hold: bool
    ) -> FleetInstance:
        """Wait for the instance to be ready; on any way out but ready, destroy it first."""
        try:
            return await self._poll_ready(provider, row_id, instance_id, needs, hold)
        except BaseException:
            with contextlib.suppress(ProviderError, FleetError):
                await self.terminate(row_id, "did not become ready")
            raise

    async def _poll_ready(
        self, provider: GpuProvider, row_id: str, instance_id: str, needs: WorkflowNeeds, hold: bool
    ) -> FleetInstance:
        deadline = self._monotonic() + self._config.ready_timeout_s
        while True:
            try:
                found = await provider.query([instance_id])
            except ProviderError as exc:
                if not exc.retryable or self._monotonic() >= deadline:
                    raise
                await self._sleep(self._config.poll_s)  # a blip: the instance is still there
                continue
            instance = found[0] if found else None
            if instance is None or instance.state in DEAD:
                state = instance.state.value if instance else "gone"
                raise InstanceNotReady(
                    f"{provider.name} instance {instance_id} is {state} before it was ready",
                    provider=provider.name,
                    instance_id=instance_id,
                )
            running = instance.state is InstanceState.RUNNING
            if running and instance.endpoint and await self._probe(instance.endpoint, needs):
                with self._db.session() as session:
                    ready = repo.update_row(
                        session,
                        row_id,
                        only_from=[repo.PENDING],
                        state=repo.READY,
                        endpoint=instance.endpoint,
                        ready_at=self._now(),
                        busy=1 if hold else 0,
                        last_used_at=self._now(),
                    )
                    row = session.get(FleetInstance, row_id)
                if not ready or row is None:  # closed meanwhile (reconcile, an admin)
                    raise FleetError(
                        f"fleet instance {row_id} was closed while starting",
                        provider=provider.name,
                        instance_id=instance_id,
                        retryable=True,
                    )
                return row
            if self._monotonic() >= deadline:
                raise InstanceNotReady(
                    f"{provider.name} instance {instance_id} was not ready within "
                    f"{self._config.ready_timeout_s:g} s; destroyed",
                    provider=provider.name,
                    instance_id=instance_id,
                )
            await self._sleep(self._config.poll_s)

    # ---- leases -------------------------------------------------------------------------

    def _lease(self, row: FleetInstance, run_id: str) -> Lease:
        """Record that `run_id` runs on `row`; a retried run moves its one lease, so it is
        billed only for the attempt that finishes."""
        if row.instance_id is None or row.endpoint is None:
            raise FleetError(f"fleet instance {row.id} has no endpoint", provider=row.provider)
        now = self._now()
        with self._db.session() as session:
            lease = repo.lease_for(session, run_id)
            if lease is None:
                lease = FleetLease(id=new_id("fls"), run_id=run_id)
                session.add(lease)
            elif lease.ended_at is None and lease.instance != row.id:
                # A recovered run moving on: the instance its dead worker held is free again.
                repo.free_one(session, lease.instance, now)
            lease.instance, lease.started_at = row.id, now
            lease.ended_at, lease.usd = None, None
        return Lease(row.id, row.provider, row.instance_id, row.endpoint, row.usd_per_hour)

    def _unclaim(self, row_id: str) -> None:
        with self._db.session() as session:
            repo.free_one(session, row_id, self._now())

    def release_run(self, run_id: str) -> Decimal:
        """End `run_id`'s lease, wherever it is (a recovered step holds no Lease object),
        free its instance, and return what the run cost; an ended lease is not billed again."""
        now = self._now()
        with self._db.session() as session:
            record = repo.lease_for(session, run_id)
            if record is None:
                return Decimal(0)
            if record.ended_at is not None:
                return record.usd or Decimal(0)
            row = session.get(FleetInstance, record.instance)
            price = Decimal(row.usd_per_hour) if row is not None else Decimal(0)
            usd = money.run_cost(record.started_at, now, price)
            record.ended_at, record.usd = now, usd
            if row is not None:
                repo.free_one(session, row.id, now)
        return usd

    # ---- teardown and reconcile -----------------------------------------------------------

    def _close(self, row_id: str, state: str, reason: str) -> None:
        """Close the row; runs still on it are billed their time up to now."""
        now = self._now()
        with self._db.session() as session:
            repo.update_row(session, row_id, only_from=repo.OPEN, state=state, reason=reason,
                            terminated_at=now, busy=0)  # fmt: skip
            row = session.get(FleetInstance, row_id)
            price = Decimal(row.usd_per_hour) if row is not None else Decimal(0)
            for lease in repo.open_leases(session, row_id):
                lease.ended_at, lease.usd = now, money.run_cost(lease.started_at, now, price)

    async def terminate(self, row_id: str, reason: str) -> None:
        """Destroy the row's instance (if it has one) and close the row."""
        with self._db.session() as session:
            row = session.get(FleetInstance, row_id)
            if row is None:
                raise FleetError(f"no fleet instance {row_id!r}")
            provider_name, instance_id = row.provider, row.instance_id
        if instance_id is not None:
            await self._providers[provider_name].terminate(instance_id)
        self._close(row_id, repo.TERMINATED, reason)

    async def reconcile(self) -> ReconcileReport:
        """Make the providers match the rows: destroy strays, close rows of vanished ones."""
        report = ReconcileReport()
        now = self._now()
        for name in self._config.provider_order:
            provider = self._providers[name]
            try:
                live = await provider.query(label_prefix=self.label_prefix)
            except ProviderError as exc:
                log.warning("reconcile skipped %s: %s", name, exc.message)
                continue
            await self._reconcile_provider(provider, live, now, report)
        return report

    async def _reconcile_provider(
        self, provider: GpuProvider, live: list[Instance], now: datetime, report: ReconcileReport
    ) -> None:
        with self._db.session() as session:
            rows = {row.label: row for row in repo.open_rows(session, provider.name)}
            today = repo.rows_since(session, money.day_start(now))
        over_budget = money.over_daily_budget(self._config.budget, today, now)
        seen: set[str] = set()
        for instance in live:
            row = rows.get(instance.label or "")
            why = why_destroy(row, instance, now, over_budget, self._config)
            if row is not None:
                seen.add(row.id)
                if row.state == repo.LAUNCHING:  # crashed between launch and bookkeeping
                    adopted = {
                        "state": repo.PENDING,
                        "instance_id": instance.instance_id,
                        "launched_at": instance.created_at or row.created_at,
                    }
                    with self._db.session() as session:
                        repo.update_row(session, row.id, only_from=[repo.LAUNCHING], **adopted)
                    report.adopted.append(row.id)
            if why is None:
                continue
            await provider.terminate(instance.instance_id)
            report.destroyed.append((provider.name, instance.instance_id, why))
            if row is not None:
                self._close(row.id, repo.TERMINATED, why)
        for row in rows.values():
            started = row.launched_at or row.created_at
            young = row.state != repo.READY and now - started < LAUNCH_GRACE
            if row.id not in seen and not young:
                self._close(row.id, repo.TERMINATED, "the provider no longer has it")
                report.closed.append(row.id)
