"""Start and stop the engine in a process: DBOS, the job queue, heartbeats and the sweeper."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from dbos import DBOS, DBOSConfig
from sqlalchemy import delete, select

from i2v.bootstrap import App
from i2v.config import engine_database_url
from i2v.db import jobs as job_repo
from i2v.db.tables import Executor, utcnow
from i2v.domain.job import JobState
from i2v.engine import context, rows
from i2v.engine import webhooks as _webhooks  # noqa: F401 - registers the delivery workflow
from i2v.engine.housekeeping import retention_loop, sweep_leftovers
from i2v.engine.logs import quiet_cancels
from i2v.engine.queue import JobQueue
from i2v.engine.slots import WorkSlots
from i2v.engine.workflow import APP_NAME, JOB_QUEUE, WORKFLOW_VERSION
from i2v.errors import ConfigError
from i2v.scratch import pid_alive
from i2v.storage.base import BlobStore

SHUTDOWN_GRACE_S = 30  # running steps get this long to finish on SIGTERM
FLEET_RECONCILE_S = 60.0
# DBOS's connections, whatever the worker's concurrency: a workflow holds one only for a
# checkpoint's few statements. Sized to the worker (100 for 50 workflows), the contention
# for locks and the GIL made each checkpoint cost 2-3x the CPU, on SQLite and PostgreSQL.
ENGINE_POOL = 20

log = logging.getLogger(__name__)


def default_executor_id(role: str) -> str:
    return f"{socket.gethostname()}-{role}"


def _active_workflows() -> int | None:
    """Workflows running in this process; None where this DBOS does not say."""
    import dbos._dbos as internals  # the count DBOS's own shutdown reads; no public API has it

    instance = getattr(internals, "_dbos_global_instance", None)
    active = getattr(instance, "_active_workflows_set", None)
    return len(active.activeList()) if active is not None else None


@dataclass
class Engine:
    app: App
    queue: JobQueue
    executor_id: str
    role: str
    slots: WorkSlots
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def stop(self) -> None:
        self.slots.close()  # steps waiting for a slot stay pending, to be recovered
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        # Stop dequeuing, let running steps finish; anything cut off is recovered later from
        # its last checkpoint, by this executor id on restart or by another's sweeper.
        # DBOS's wait sleeps a whole second before it first looks, which every stop of an
        # idle worker paid: with nothing running there is nothing to wait for. (One that
        # starts in between is cut off and recovered, as any cut off by the grace period.)
        idle = _active_workflows() == 0
        DBOS.destroy(workflow_completion_timeout_sec=0 if idle else SHUTDOWN_GRACE_S)
        self.queue.close()
        with self.app.db.session() as session:
            session.execute(delete(Executor).where(Executor.id == self.executor_id))
        context.install(None)

    def heartbeat(self) -> None:
        with self.app.db.session() as session:
            row = session.get(Executor, self.executor_id)
            if row is None:
                session.add(
                    Executor(
                        id=self.executor_id,
                        role=self.role,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                    )
                )
            else:
                row.heartbeat_at = utcnow()

    def sweep(self) -> list[str]:
        """Recover the pending work of executors whose lease ran out; return their ids."""
        lease = timedelta(seconds=self.app.settings.executor_lease_s)
        dead = dead_executors(self.app, self.executor_id)
        for executor_id in dead:
            rows.requeue(self.app, self.queue.pending_work(executor_id))
            # Re-enqueues only workflows still PENDING on that executor, atomically, so a
            # duplicate sweep (or the executor coming back) cannot run a step twice.
            handles = DBOS._recover_pending_workflows([executor_id])
            log.warning("recovered %d jobs of dead executor %s", len(handles), executor_id)
            with self.app.db.session() as session:
                session.execute(delete(Executor).where(Executor.id == executor_id))
        self._enqueue_orphans(lease)
        return dead

    def _enqueue_orphans(self, lease: timedelta) -> None:
        """Queue jobs whose submitter died between recording them and enqueueing them."""
        with self.app.db.session() as session:
            queued = job_repo.jobs_in_state(session, JobState.QUEUED, utcnow() - lease)
            orphans = [(job.id, job.owner_id) for job in queued]
        for job_id, owner_id in orphans:
            if not self.queue.exists(job_id):
                log.warning("enqueueing orphaned job %s", job_id)
                self.queue.enqueue(job_id, owner_id)

    def reconcile_fleet(self) -> None:
        """Destroy labelled instances nobody should pay for; close rows of vanished ones."""
        from i2v.fleet.setup import open_fleet  # vendor clients load only with the fleet on

        async def go() -> None:
            async with open_fleet(self.app.settings, self.app.db) as fleet:
                report = await fleet.reconcile()
            for provider, instance_id, why in report.destroyed:
                log.warning("fleet: destroyed %s instance %s: %s", provider, instance_id, why)

        asyncio.run(go())

    def _loop(self) -> None:
        period = self.app.settings.heartbeat_s
        while not self._stop.wait(period):
            try:
                self.heartbeat()
                self.sweep()
            except Exception:  # a missed beat is retried; the lease is several beats long
                log.exception("engine heartbeat failed")

    def _fleet_loop(self) -> None:
        """Reconcile at start-up and every minute, on its own thread: a slow provider must
        never delay the heartbeat (others would take this executor for dead)."""
        while True:
            try:
                self.reconcile_fleet()
            except Exception:  # the provider may be down; the next minute tries again
                log.exception("fleet reconcile failed")
            if self._stop.wait(FLEET_RECONCILE_S):
                return


def dead_executors(app: App, self_id: str) -> list[str]:
    """The executors other than `self_id` whose lease ran out."""
    lease = timedelta(seconds=app.settings.executor_lease_s)
    with app.db.session() as session:
        query = select(Executor.id).where(
            Executor.heartbeat_at < utcnow() - lease, Executor.id != self_id
        )
        return list(session.scalars(query))


def _claim_executor_id(app: App, executor_id: str) -> None:
    """Refuse an id that a live process holds: two executors sharing one id run steps twice."""
    lease = timedelta(seconds=app.settings.executor_lease_s)
    with app.db.session() as session:
        row = session.get(Executor, executor_id)
        if row is None or row.heartbeat_at <= utcnow() - lease:
            return
        if row.host == socket.gethostname() and not pid_alive(row.pid):
            return  # a restart on the same machine after a crash: its own work, resumed
        if (row.host, row.pid) != (socket.gethostname(), os.getpid()):
            raise ConfigError(
                f"executor id {executor_id!r} is in use by pid {row.pid} on {row.host}; "
                "give each worker its own I2V_EXECUTOR_ID"
            )


def start_engine(app: App, blobs: BlobStore, *, role: str) -> Engine:
    """Launch DBOS in this process and run queued jobs until `Engine.stop`."""
    settings = app.settings
    executor_id = settings.executor_id or default_executor_id(role)
    _claim_executor_id(app, executor_id)
    sweep_leftovers(settings, blobs)  # before DBOS recovers anything into new scratch
    queue = JobQueue(settings)
    # DBOS.launch recovers this id's pending work, and the first sweep that of dead ones.
    for owner in (executor_id, *dead_executors(app, executor_id)):
        rows.requeue(app, queue.pending_work(owner))
    slots = WorkSlots(settings.worker_concurrency)
    context.install(context.StepContext(app=app, blobs=blobs, slots=slots, queue=queue))
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": engine_database_url(settings),
        "executor_id": executor_id,
        "application_version": WORKFLOW_VERSION,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": settings.queue_poll_s,
        "sys_db_pool_size": ENGINE_POOL,
    }
    DBOS(config=config)
    quiet_cancels()
    DBOS.launch()
    DBOS.register_queue(
        JOB_QUEUE,
        worker_concurrency=settings.worker_concurrency,
        partition_concurrency=settings.max_running_per_user,
        polling_interval_sec=settings.queue_poll_s,
    )
    engine = Engine(app=app, queue=queue, executor_id=executor_id, role=role, slots=slots)
    engine.heartbeat()
    loops: list[tuple[str, Callable[[], None]]] = [
        ("i2v-heartbeat", engine._loop),
        ("i2v-retention", functools.partial(retention_loop, app, blobs, engine._stop)),
    ]
    if settings.fleet_enabled:
        loops.append(("i2v-fleet", engine._fleet_loop))
    for name, target in loops:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        engine._threads.append(thread)
    return engine
