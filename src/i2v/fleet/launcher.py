"""Launcher: rent the cheapest fitting GPU, intent-first, and see it through to ready or gone.

Every launch is written down before the provider is called (a `launching` row with the
label the instance will carry), so a crash between the call and the bookkeeping leaves a
row that reconcile matches to the instance by label. An instance that dies or misses its
readiness deadline is destroyed before anything else is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from i2v.db import fleet as repo
from i2v.db.engine import Database
from i2v.db.tables import FleetInstance, utcnow
from i2v.domain.ids import new_id
from i2v.errors import (
    FleetError,
    InstanceNotReady,
    InstanceTaken,
    NoCapacity,
    OfferUnavailable,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
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
from i2v.fleet.config import FleetConfig

MAX_LAUNCHES = 3  # offers tried per launch, across providers
MAX_LAUNCH_BACKOFF_S = 60.0  # the longest wait between creates that failed upstream
DEAD = (InstanceState.FAILED, InstanceState.STOPPED, InstanceState.TERMINATED)

log = logging.getLogger(__name__)
Probe = Callable[[str, "WorkflowNeeds"], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class WorkflowNeeds:
    """What "ready" means for one workflow: these nodes and these model files are present."""

    name: str
    nodes: frozenset[str]
    models: tuple[ModelDownload, ...]


@dataclass(frozen=True, slots=True)
class Started:
    """A launch the provider accepted: its row, its instance, and its readiness deadline."""

    provider: str
    row_id: str
    instance_id: str
    deadline: float  # on the monotonic clock


class Launcher:
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

    async def offers(
        self, requirements: Requirements, problems: list[str] | None = None
    ) -> list[Offer]:
        """Every provider's fitting offers, cheapest first (provider order breaks ties)."""
        found: list[Offer] = []
        for name in self._config.provider_order:
            try:
                offers = await self._providers[name].search_offers(requirements)
            except ProviderError as exc:
                if problems is not None:
                    problems.append(f"{name}: {exc.message}")
                continue
            found.extend(offers)
            if not offers and problems is not None:
                problems.append(f"{name}: no offer meets the requirements")
        return sorted(found, key=lambda offer: offer.usd_per_hour)

    async def launch(
        self,
        needs: WorkflowNeeds,
        requirements: Requirements | None = None,
        *,
        hold: str | None = None,
    ) -> FleetInstance:
        """Launch the cheapest offer that fits and wait until it is ready, failing over
        across offers and providers.

        With `hold` (a run id), the ready instance is handed over busy, leased to that run in
        the same transaction; without, it is left idle for any run to take, and for the idle
        reaper.
        """
        problems: list[str] = []
        troubled: set[str] = set()
        for _ in range(MAX_LAUNCHES):
            started = await self.start(needs, requirements, troubled, problems)
            try:
                return await self.wait_ready(started, needs, hold)
            except InstanceTaken as exc:
                problems.append(exc.message)  # ready, but another run got it first
            except InstanceNotReady as exc:
                problems.append(f"{started.provider}: {exc.message}")
                troubled.add(started.provider)  # fail over to the other provider's offers
        raise no_capacity(problems)

    async def start(
        self,
        needs: WorkflowNeeds,
        requirements: Requirements | None,
        troubled: set[str],
        problems: list[str],
    ) -> Started:
        """Launch the cheapest offer from a provider not in `troubled`; don't wait for it.

        A provider whose launch call fails joins `troubled`; what went wrong is added to
        `problems`. A create that failed upstream (5xx, timeout) and provably created
        nothing is tried again, the same offer or the next cheapest, with back-off for up to
        `launch_retry_s`. Raises NoCapacity when no offer could be launched.
        """
        give_up = self._monotonic() + self._config.launch_retry_s
        backoff = self._config.poll_s
        while True:
            shaky: set[str] = set()  # providers whose create failed upstream, this round
            offers = await self.offers(requirements or self._config.requirements, problems)
            tried = 0
            for offer in offers:
                if tried >= MAX_LAUNCHES:
                    break
                if offer.provider in troubled | shaky:
                    continue
                tried += 1
                try:
                    started = await self._start_one(self._providers[offer.provider], offer, needs)
                except OfferUnavailable as exc:
                    problems.append(f"{offer.provider}: {exc.message}")
                    continue
                except ProviderError as exc:
                    problems.append(f"{offer.provider}: {exc.message}")
                    troubled.add(offer.provider)
                    continue
                if isinstance(started, Started):
                    return started
                problems.append(
                    f"{offer.provider}: {started.message} (none found: nothing was created)"
                )
                shaky.add(offer.provider)
            if not shaky or self._monotonic() + backoff > give_up:
                raise no_capacity(problems)
            await self._sleep(backoff)
            backoff = min(2 * backoff, MAX_LAUNCH_BACKOFF_S)

    async def _start_one(
        self, provider: GpuProvider, offer: Offer, needs: WorkflowNeeds
    ) -> Started | ProviderError:
        """The launch of `offer`, recorded; or the failure, when the create call failed
        upstream and the provider, asked by label, has no instance from it (so another try
        cannot make two)."""
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
            self.close(row_id, repo.FAILED, "the offer was taken")
            raise
        except ProviderError as exc:
            # The call may have created it anyway: the label says whether it did.
            try:
                found = await self._find_by_label(provider, label)
            except ProviderError:
                raise exc from None  # unsettled: the row stays `launching`, for reconcile
            if found is None:
                self.close(row_id, repo.FAILED, f"launch failed: {exc.message}")
                if isinstance(exc, ProviderUnavailable | ProviderRateLimited):
                    log.warning("%s; nothing was created, so it may be tried again", exc.message)
                    return exc
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
                seen_at=self._now(),
            )
        deadline = self._monotonic() + self._config.ready_timeout_s
        return Started(provider.name, row_id, instance_id, deadline)

    async def _find_by_label(self, provider: GpuProvider, label: str) -> Instance | None:
        found = await provider.query(label_prefix=label)
        return next((i for i in found if i.label == label), None)

    async def wait_ready(
        self, started: Started, needs: WorkflowNeeds, hold: str | None
    ) -> FleetInstance:
        """Wait for the instance to be ready; on any way out but ready, destroy it first."""
        try:
            while True:
                row = await self.check(started, needs, hold=hold)
                if row is not None:
                    return row
                await self._sleep(self._config.poll_s)
        except InstanceTaken:
            raise  # it serves another run now: not ours to destroy
        except BaseException:
            with contextlib.suppress(ProviderError, FleetError):
                await self.terminate(started.row_id, "did not become ready")
            raise

    async def check(
        self, started: Started, needs: WorkflowNeeds, *, hold: str | None
    ) -> FleetInstance | None:
        """One look at a starting instance: its row once ready, None while it starts.

        Raises InstanceNotReady when it died or missed its deadline (the caller destroys it).
        """
        provider = self._providers[started.provider]
        try:
            found = await provider.query([started.instance_id])
        except ProviderError as exc:
            if not exc.retryable or self._monotonic() >= started.deadline:
                raise
            return None  # a blip: the instance is still there
        instance = found[0] if found else None
        if instance is None or instance.state in DEAD:
            state = instance.state.value if instance else "gone"
            raise InstanceNotReady(
                f"{provider.name} instance {started.instance_id} is {state} before it was ready",
                provider=provider.name,
                instance_id=started.instance_id,
            )
        if await self.up(instance, needs):
            row = self.mark_ready(started.row_id, instance, hold=hold)
            return row if row is not None else self._made_ready_elsewhere(started, hold)
        if self._monotonic() >= started.deadline:
            raise InstanceNotReady(
                f"{provider.name} instance {started.instance_id} was not ready within "
                f"{self._config.ready_timeout_s:g} s; destroyed",
                provider=provider.name,
                instance_id=started.instance_id,
            )
        return None

    async def up(self, instance: Instance, needs: WorkflowNeeds) -> bool:
        """The instance runs and its ComfyUI can run the workflow."""
        running = instance.state is InstanceState.RUNNING
        return (
            running
            and bool(instance.endpoint)
            and await self._probe(instance.endpoint or "", needs)
        )

    def _made_ready_elsewhere(self, started: Started, hold: str | None) -> FleetInstance:
        """The row left `pending` under us: reconcile made it ready, or it was closed."""
        with self._db.session() as session:
            row = session.get(FleetInstance, started.row_id)
            if row is not None and row.state == repo.READY:
                if hold is None or repo.claim_idle(session, row.id, hold, self._now()):
                    session.refresh(row)
                    return row
                raise InstanceTaken(f"fleet instance {row.id} went to another run", retryable=True)
        raise FleetError(
            f"fleet instance {started.row_id} was closed while starting",
            provider=started.provider,
            instance_id=started.instance_id,
            retryable=True,
        )

    def mark_ready(
        self, row_id: str, instance: Instance, *, hold: str | None
    ) -> FleetInstance | None:
        """The starting row turns ready (busy, and leased to the run `hold`); None if closed."""
        now = self._now()
        with self._db.session() as session:
            ready = repo.update_row(
                session,
                row_id,
                only_from=[repo.PENDING],
                state=repo.READY,
                endpoint=instance.endpoint,
                ready_at=now,
                busy=0 if hold is None else 1,
                last_used_at=now,
                seen_at=now,
            )
            if ready and hold is not None:
                repo.hold_lease(session, hold, row_id, now)
            return session.get(FleetInstance, row_id) if ready else None

    def close(self, row_id: str, state: str, reason: str, *, ended: datetime | None = None) -> None:
        """Close the row, paid for until `ended` (default: now); runs still on it are billed
        their time up to then."""
        now = self._now()
        end = min(ended or now, now)
        with self._db.session() as session:
            repo.update_row(session, row_id, only_from=repo.OPEN, state=state, reason=reason,
                            terminated_at=end, busy=0)  # fmt: skip
            row = session.get(FleetInstance, row_id)
            price = Decimal(row.usd_per_hour) if row is not None else Decimal(0)
            for lease in repo.open_leases(session, row_id):
                stop = max(end, lease.started_at)
                lease.ended_at, lease.usd = stop, money.run_cost(lease.started_at, stop, price)

    async def terminate(self, row_id: str, reason: str) -> None:
        """Destroy the row's instance (if it has one) and close the row."""
        with self._db.session() as session:
            row = session.get(FleetInstance, row_id)
            if row is None:
                raise FleetError(f"no fleet instance {row_id!r}")
            provider_name, instance_id = row.provider, row.instance_id
        if instance_id is not None:
            await self._providers[provider_name].terminate(instance_id)
        self.close(row_id, repo.TERMINATED, reason)


def no_capacity(problems: Collection[str]) -> NoCapacity:
    return NoCapacity("no GPU could be launched: " + "; ".join(problems or ["no providers"]))
