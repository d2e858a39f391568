"""FleetManager: acquire, reuse, release and reconcile GPU instances, intent-first and in budget.

Runs wait in one line per workflow (first come, first served, across workers) and take the
first instance that comes free, old or new; the line's expected wait decides when a new one
is rented (fleet/policy.py). Launching and readiness live in fleet/launcher.py. Reconcile
destroys whatever carries this deployment's label and should not be running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from i2v.db import fleet as repo
from i2v.db.engine import Database
from i2v.db.tables import FleetInstance, utcnow
from i2v.errors import FleetError, InstanceNotReady, ProviderError
from i2v.fleet import budget as money
from i2v.fleet.base import GpuProvider, Instance, Offer, Requirements
from i2v.fleet.config import FleetConfig
from i2v.fleet.launcher import DEAD, Launcher, Probe, Started, WorkflowNeeds, no_capacity
from i2v.fleet.policy import Pace, expected_wait, should_launch, spares, why_destroy

__all__ = ["FleetManager", "Lease", "ReconcileReport", "WorkflowNeeds"]

log = logging.getLogger(__name__)
# A row launched (or being launched) this recently may not be in the provider's list yet.
LAUNCH_GRACE = timedelta(minutes=2)
FRESH_POLLS = 5  # a waiter not seen for this many polls belongs to a worker that died
LAUNCH_BACKOFF_S = 60.0  # after a refused launch, a waiting run queues this long first
PACE_TTL_S = 30.0  # how long a measured pace is used before it is measured again
FORGET_WAITERS_S = 3600.0  # reconcile drops waiters not seen for this long


@dataclass(frozen=True, slots=True)
class Lease:
    row_id: str
    provider: str
    instance_id: str
    endpoint: str
    usd_per_hour: Decimal


@dataclass(frozen=True, slots=True)
class _Waiting:
    instances: int  # open instances this run could get
    launch: bool  # the line is long enough that a new instance would be sooner
    unwatched: tuple[Started, ...] = ()  # for the head of the line: others' starting ones


@dataclass
class ReconcileReport:
    destroyed: list[tuple[str, str, str]] = field(default_factory=list)  # provider, id, why
    adopted: list[str] = field(default_factory=list)  # row ids
    closed: list[str] = field(default_factory=list)  # rows whose instance is gone
    ready: list[str] = field(default_factory=list)  # started rows found ready


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
        needs_named: Callable[[str], WorkflowNeeds | None] = lambda name: None,
    ) -> None:
        self._db, self._providers, self._config, self._probe = db, providers, config, probe
        self._now, self._monotonic, self._sleep = now, monotonic, sleep
        self._needs_named = needs_named  # a row's workflow by name, to probe it in reconcile
        self._paces: dict[str, tuple[float, Pace]] = {}  # workflow -> (valid until, pace)
        self._launcher = Launcher(
            db, providers, config, probe, now=now, monotonic=monotonic, sleep=sleep
        )

    @property
    def label_prefix(self) -> str:
        return self._launcher.label_prefix

    async def offers(self, requirements: Requirements | None = None) -> list[Offer]:
        return await self._launcher.offers(requirements or self._config.requirements)

    async def launch(
        self,
        needs: WorkflowNeeds,
        requirements: Requirements | None = None,
        *,
        hold: str | None = None,
    ) -> FleetInstance:
        return await self._launcher.launch(needs, requirements, hold=hold)

    async def terminate(self, row_id: str, reason: str) -> None:
        await self._launcher.terminate(row_id, reason)

    # ---- the line of runs waiting for an instance ----------------------------------------

    async def acquire(
        self,
        needs: WorkflowNeeds,
        *,
        run_id: str,
        exclude: Sequence[str] = (),
        min_vram_gb: float | None = None,
    ) -> Lease:
        """An instance ready for `needs`, for runs in the order they asked.

        A run takes an idle instance when fewer runs than idle instances are ahead of it;
        otherwise it waits in line, and rents one more instance when the line's expected
        wait is over `queue_wait_s` and a launch would be sooner. Launched instances join
        the pool: the run at the head of the line gets whichever comes free first, old or
        new; one whose launcher was served meanwhile is checked by the head of the line,
        and by reconcile.
        `exclude` names endpoints this run already failed on (out of memory, vanished);
        `min_vram_gb` asks for a bigger GPU than configured (after running out of memory),
        which only a new launch can promise.
        """
        if min_vram_gb is not None:
            wanted = replace(self._config.requirements, min_vram_gb=min_vram_gb)
            return self._lease(await self.launch(needs, wanted, hold=run_id))
        held = await self._take_held(needs, run_id, exclude)
        if held is not None:
            return held
        starting: list[Started] = []  # launched by this run, not ready yet
        troubled: set[str] = set()
        problems: list[str] = []
        quiet_until = -math.inf  # after a refused launch, queue a while before another
        next_check = -math.inf  # the providers are asked about launches every poll_s
        try:
            while True:
                turn = await self._take_turn(needs, run_id, exclude)
                if isinstance(turn, Lease):
                    return turn
                if (starting or turn.unwatched) and self._monotonic() >= next_check:
                    next_check = self._monotonic() + self._config.poll_s
                    mine = await self._check_starting(starting, needs, troubled, problems)
                    if mine or await self._check_unwatched(turn.unwatched, starting, needs):
                        continue  # one came up: take it (or let the head of the line take it)
                if turn.launch and self._monotonic() >= quiet_until:
                    try:
                        starting.append(await self._launcher.start(needs, None, troubled, problems))
                        continue
                    except FleetError as exc:
                        if not turn.instances and not starting:
                            raise  # nothing to wait for: the caller retries later
                        log.warning("queueing for a busy instance: %s", exc.message)
                        quiet_until = self._monotonic() + LAUNCH_BACKOFF_S
                elif not turn.instances and not starting:
                    raise no_capacity(problems)
                await self._sleep(self._config.line_poll_s)
        finally:
            with self._db.session() as session:
                repo.leave_line(session, run_id)

    async def _take_turn(
        self, needs: WorkflowNeeds, run_id: str, exclude: Sequence[str]
    ) -> Lease | _Waiting:
        """A lease when this run's turn has come, else what its wait looks like."""
        now = self._now()
        with self._db.session() as session:
            waiter = repo.wait_in_line(session, run_id, needs.name, now)
            session.flush()
            ahead = repo.ahead_of(session, waiter, self._fresh(now))
            fitting = [
                row
                for row in repo.open_rows(session)
                if row.workflow == needs.name and row.endpoint not in exclude
            ]
            pace = self._pace(session, needs.name)
        # The most recently used first: runs pack onto few instances and the rest go idle.
        idle = sorted(
            (row for row in fitting if row.state == repo.READY and row.busy == 0),
            key=lambda row: (row.last_used_at or now, row.id),
            reverse=True,
        )
        if ahead < len(idle):
            for row in idle:
                lease = await self._take_idle(row, needs, run_id)
                if lease is not None:
                    return lease
        wait = expected_wait(fitting, ahead, now, pace)
        # The head of the line also looks at launches whose run was served elsewhere, so
        # the line never waits for reconcile to notice them.
        unwatched = tuple(
            Started(row.provider, row.id, row.instance_id, deadline=math.inf)
            for row in fitting
            if ahead == 0 and row.state == repo.PENDING and row.instance_id is not None
        )
        return _Waiting(len(fitting), should_launch(wait, pace, self._config), unwatched)

    def _fresh(self, now: datetime) -> datetime:
        """Waiters seen before this belong to workers that died."""
        return now - timedelta(seconds=FRESH_POLLS * self._config.line_poll_s)

    def _pace(self, session: Session, workflow: str) -> Pace:
        """The fleet's recent run and launch times; they move slowly, so asked twice a minute."""
        cached = self._paces.get(workflow)
        if cached is not None and self._monotonic() < cached[0]:
            return cached[1]
        pace = Pace.of(repo.recent_runs(session, workflow), repo.recent_launches(session))
        self._paces[workflow] = (self._monotonic() + PACE_TTL_S, pace)
        return pace

    async def _take_idle(
        self, row: FleetInstance, needs: WorkflowNeeds, run_id: str
    ) -> Lease | None:
        """A lease on `row` if this run claims it first and it still answers."""
        with self._db.session() as session:
            if not repo.claim_idle(session, row.id, run_id, self._now()):
                return None
        return await self._checked(row, needs, run_id)

    async def _take_held(
        self, needs: WorkflowNeeds, run_id: str, exclude: Sequence[str]
    ) -> Lease | None:
        """The instance this run claimed before its worker died, if it is still ready:
        the claim survived with its lease, so the row is busy for this run alone."""
        with self._db.session() as session:
            lease = repo.lease_for(session, run_id)
            row = session.get(FleetInstance, lease.instance) if lease is not None else None
            if lease is None or lease.ended_at is not None or row is None:
                return None
            if row.state != repo.READY or row.workflow != needs.name or row.endpoint in exclude:
                return None
        return await self._checked(row, needs, run_id)

    async def _checked(self, row: FleetInstance, needs: WorkflowNeeds, run_id: str) -> Lease | None:
        """The claimed `row` as a lease if it still answers; else the claim is undone and the
        instance destroyed."""
        try:
            if row.endpoint and await self._probe(row.endpoint, needs):
                with self._db.session() as session:
                    repo.mark_seen(session, [row.id], self._now())
                return self._lease(row)
        except BaseException:
            self._unclaim(run_id)  # never leave a row busy with no run on it
            raise
        self._unclaim(run_id)
        await self.terminate(row.id, "failed its readiness check on reuse")
        return None

    async def _check_starting(
        self,
        starting: list[Started],
        needs: WorkflowNeeds,
        troubled: set[str],
        problems: list[str],
    ) -> bool:
        """Look at this run's launches once; True if one became ready (idle, for the line).

        One that died or missed its deadline is destroyed, and its provider is avoided by
        this run's next launch.
        """
        came_up = False
        for started in list(starting):
            try:
                row = await self._launcher.check(started, needs, hold=None)
            except (InstanceNotReady, ProviderError, FleetError) as exc:
                # Dead, late, or closed by someone else: never one that serves a run (that
                # comes back as ready, not as an error).
                starting.remove(started)
                problems.append(f"{started.provider}: {exc.message}")
                troubled.add(started.provider)
                with contextlib.suppress(ProviderError, FleetError):  # else reconcile's job
                    await self._launcher.terminate(started.row_id, "did not become ready")
                continue
            if row is not None:
                starting.remove(started)
                came_up = True
        return came_up

    async def _check_unwatched(
        self, unwatched: Sequence[Started], starting: Sequence[Started], needs: WorkflowNeeds
    ) -> bool:
        """Look once at starting instances launched by runs served elsewhere; their
        failures are reconcile's business (its deadline), not this run's."""
        mine = {started.row_id for started in starting}
        for started in unwatched:
            if started.row_id in mine:
                continue
            with contextlib.suppress(ProviderError, FleetError):
                if await self._launcher.check(started, needs, hold=None) is not None:
                    return True
        return False

    # ---- leases -------------------------------------------------------------------------

    @staticmethod
    def _lease(row: FleetInstance) -> Lease:
        """The claimed row as the run sees it; the lease row was written with the claim."""
        if row.instance_id is None or row.endpoint is None:
            raise FleetError(f"fleet instance {row.id} has no endpoint", provider=row.provider)
        return Lease(row.id, row.provider, row.instance_id, row.endpoint, row.usd_per_hour)

    def _unclaim(self, run_id: str) -> None:
        with self._db.session() as session:
            repo.drop_lease(session, run_id, self._now())

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

    async def reconcile(self) -> ReconcileReport:
        """Make the providers match the rows: destroy strays, close rows of vanished ones."""
        report = ReconcileReport()
        now = self._now()
        with self._db.session() as session:
            spare = spares(repo.open_rows(session), repo.waiting_lines(session, self._fresh(now)))
            repo.forget_waiters(session, now - timedelta(seconds=FORGET_WAITERS_S))
        for name in self._config.provider_order:
            provider = self._providers[name]
            try:
                live = await provider.query(label_prefix=self.label_prefix)
            except ProviderError as exc:
                log.warning("reconcile skipped %s: %s", name, exc.message)
                continue
            await self._reconcile_provider(provider, live, now, spare, report)
        return report

    async def _reconcile_provider(
        self,
        provider: GpuProvider,
        live: list[Instance],
        now: datetime,
        spare: set[str],
        report: ReconcileReport,
    ) -> None:
        with self._db.session() as session:
            rows = {row.label: row for row in repo.open_rows(session, provider.name)}
            today = repo.rows_since(session, money.day_start(now))
        over_budget = money.over_daily_budget(self._config.budget, today, now)
        seen: set[str] = set()
        for instance in live:
            row = rows.get(instance.label or "")
            is_spare = row is not None and row.id in spare
            why = why_destroy(row, instance, now, over_budget, self._config, spare=is_spare)
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
                if row is not None and row.state == repo.PENDING:
                    await self._promote(row, instance, report)
                continue
            if row is not None and row.state == repo.READY and row.busy == 0:
                with self._db.session() as session:  # unless a run took it since we looked
                    if not repo.close_idle(session, row.id, now, why):
                        continue
            await provider.terminate(instance.instance_id)
            report.destroyed.append((provider.name, instance.instance_id, why))
            if row is not None:
                self._launcher.close(row.id, repo.TERMINATED, why)
        alive = {rows[i.label or ""].id for i in live if i.label in rows and i.state not in DEAD}
        with self._db.session() as session:
            repo.mark_seen(session, alive, now)
        for row in rows.values():
            started = row.launched_at or row.created_at
            young = row.state != repo.READY and now - started < LAUNCH_GRACE
            if row.id not in seen and not young:
                gone = repo.gone_at(row, now)
                self._launcher.close(
                    row.id, repo.TERMINATED, "the provider no longer has it", ended=gone
                )
                report.closed.append(row.id)

    async def _promote(
        self, row: FleetInstance, instance: Instance, report: ReconcileReport
    ) -> None:
        """A launch nobody is watching any more (its run was served elsewhere, or its worker
        died) joins the pool once it is up, rather than waiting out its deadline unused."""
        needs = self._needs_named(row.workflow or "")
        if not (needs is not None and await self._launcher.up(instance, needs)):
            return
        if self._launcher.mark_ready(row.id, instance, hold=None) is not None:
            report.ready.append(row.id)
