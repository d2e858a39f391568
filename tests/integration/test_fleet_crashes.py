"""The fleet under crashes and faults: a worker killed mid-claim, failed creates, lost hosts.

Each test ends with no instance running on the fake that no open row stands for, and with
every busy row backed by as many open leases (a busy row with no lease is never freed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from i2v.db import fleet as repo
from i2v.db.engine import Database
from i2v.db.tables import FleetInstance, FleetLease, utcnow
from i2v.errors import NoCapacity
from i2v.fleet.base import GpuProvider
from i2v.fleet.manager import FleetManager
from tests.fakes.vast import FakeVast
from tests.support import fleet as support

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def vast(tmp_path: Path) -> Iterator[FakeVast]:
    with FakeVast(tmp_path / "vast", installed_models=support.installed_models()) as fake:
        fake.ready_delay_s = 0.1
        yield fake


def providers(vast: FakeVast) -> dict[str, GpuProvider]:
    return {"vast": support.vast(vast.url, vast.api_key)}


def rows(db: Database) -> list[FleetInstance]:
    with db.session() as session:
        return list(session.scalars(select(FleetInstance).order_by(FleetInstance.created_at)))


def assert_busy_rows_are_leased(db: Database) -> None:
    with db.session() as session:
        for row in repo.open_rows(session):
            leases = repo.open_leases(session, row.id)
            assert row.busy == len(leases), f"{row.id} is busy {row.busy} with {len(leases)} leases"


def assert_no_leak(db: Database, vast: FakeVast) -> None:
    with db.session() as session:
        known = {row.instance_id for row in repo.open_rows(session)}
    assert {str(i) for i in vast.instances} <= known, "an instance runs that no row stands for"


@pytest.fixture
def unanswering() -> Iterator[socket.socket]:
    """A ComfyUI that accepts connections and never answers (a frozen host)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield listener
    listener.close()


def test_a_worker_killed_while_it_claims_an_idle_instance_leaves_it_leased(
    db: Database, vast: FakeVast, unanswering: socket.socket
) -> None:
    """SIGKILL after the run made a ready instance busy, while it checks the instance: the
    claim and the lease are one transaction, so the recovered run takes the instance back
    (or, here, finds it dead and launches another), and nothing outlives the idle limit."""
    iid = vast.seed_instance("i2v:test:fin_frozen")
    now = utcnow()
    with db.session() as session:
        session.add(
            FleetInstance(
                id="fin_frozen", provider="vast", label="i2v:test:fin_frozen", state=repo.READY,
                instance_id=str(iid), offer_id="999", usd_per_hour=Decimal("0.3"),
                endpoint=f"http://127.0.0.1:{unanswering.getsockname()[1]}",
                workflow=support.WORKFLOW, busy=0, created_at=now, launched_at=now,
                ready_at=now, last_used_at=now,
            )
        )  # fmt: skip
    url = db.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fleet", "take", url, vast.url, vast.api_key],
        cwd=ROOT, env={**os.environ}, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while rows(db)[0].busy == 0:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never claimed the instance"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)  # mid-check: the instance's ComfyUI never answers
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    assert_busy_rows_are_leased(db)
    unanswering.close()  # the host is gone for good: its port now refuses
    cfg = support.config(("vast",), idle_s=60)

    async def scenario() -> None:
        async with support.manager(db, providers(vast), cfg) as fleet:
            lease = await fleet.acquire(support.needs(), run_id="child-run")  # the restart
            assert lease.row_id != "fin_frozen"
            assert fleet.release_run("child-run") > 0
        later = utcnow() + timedelta(seconds=61)
        async with support.manager(db, providers(vast), cfg, later) as fleet:
            await fleet.reconcile()

    asyncio.run(scenario())
    assert vast.instances == {}
    assert [r.state for r in rows(db)] == [repo.TERMINATED, repo.TERMINATED]
    assert_busy_rows_are_leased(db)


def test_a_recovered_run_takes_back_the_instance_it_had_claimed(
    db: Database, vast: FakeVast
) -> None:
    """The state a worker killed just after its claim leaves: the row busy, leased to the run.
    The run's retry takes that same instance rather than waiting for itself to finish."""

    async def scenario() -> None:
        async with support.manager(db, providers(vast), support.config(("vast",))) as fleet:
            launched = await fleet.launch(support.needs())
            with db.session() as session:
                assert repo.claim_idle(session, launched.id, "run-1", utcnow())
            lease = await asyncio.wait_for(
                fleet.acquire(support.needs(), run_id="run-1"), timeout=20
            )
            assert lease.row_id == launched.id
            fleet.release_run("run-1")

    asyncio.run(scenario())
    assert len(vast.creations()) == 1
    (row,) = rows(db)
    assert (row.state, row.busy) == (repo.READY, 0)
    with db.session() as session:
        (lease,) = session.scalars(select(FleetLease))
    assert lease.ended_at is not None
    assert_busy_rows_are_leased(db)
    assert_no_leak(db, vast)


@pytest.mark.parametrize("created", [False, True], ids=["not-created", "created"])
def test_a_create_that_answers_500_twice_still_launches_one_instance(
    db: Database, vast: FakeVast, created: bool
) -> None:
    """Vast's create answers 500 twice: the label lookup settles each failure. Nothing
    created: the launch is tried again; created: that instance is adopted, never a second."""
    vast.faults.fail_creates, vast.faults.fail_creates_after_creating = 2, created

    async def scenario() -> None:
        async with support.manager(db, providers(vast), support.config(("vast",))) as fleet:
            await asyncio.wait_for(fleet.acquire(support.needs(), run_id="run-1"), timeout=30)
            fleet.release_run("run-1")

    asyncio.run(scenario())
    assert len(vast.creations()) == (1 if created else 3)
    assert len(vast.instances) == 1
    states = sorted(r.state for r in rows(db))
    assert states == ([repo.READY] if created else [repo.FAILED, repo.FAILED, repo.READY])
    assert_busy_rows_are_leased(db)
    assert_no_leak(db, vast)


def test_a_create_that_keeps_failing_fails_the_run_once_the_retry_budget_is_spent(
    db: Database, vast: FakeVast
) -> None:
    vast.faults.fail_creates = 1000
    cfg = support.config(("vast",), launch_retry_s=0.5)

    async def scenario() -> None:
        async with support.manager(db, providers(vast), cfg) as fleet:
            started = time.monotonic()
            with pytest.raises(NoCapacity, match="HTTP 500"):
                await fleet.acquire(support.needs(), run_id="run-1")
            assert time.monotonic() - started < 10

    asyncio.run(scenario())
    assert len(vast.creations()) >= 3  # tried again with back-off (0.05, 0.1, 0.2 s)
    assert vast.instances == {}
    assert {r.state for r in rows(db)} == {repo.FAILED}


def test_a_vanished_instance_is_booked_to_when_it_was_last_seen_alive(
    db: Database, tmp_path: Path
) -> None:
    """The host goes away 90 s after the launch; reconcile saw it alive at 60 s and notices
    at 600 s. Booked: 60 s (the provider does not say when it went), never the 600 s."""
    t0 = utcnow()
    offset = [0.0]
    cfg = support.config(("vast",), idle_s=3600)

    def fleet_at(vast: FakeVast, seconds: float) -> AbstractAsyncContextManager[FleetManager]:
        offset[0] = seconds  # the fake's clock, and ours, at t0 + seconds
        return support.manager(db, providers(vast), cfg, t0 + timedelta(seconds=seconds))

    async def scenario(vast: FakeVast) -> None:
        async with fleet_at(vast, 0) as fleet:
            await fleet.acquire(support.needs(), run_id="run-1")
            fleet.release_run("run-1")
        async with fleet_at(vast, 60) as fleet:
            await fleet.reconcile()
        offset[0] = 90
        (iid,) = list(vast.instances)
        vast.vanish(iid)
        async with fleet_at(vast, 600) as fleet:
            assert len((await fleet.reconcile()).closed) == 1

    models = support.installed_models()
    with FakeVast(
        tmp_path / "vast", installed_models=models, clock=lambda: t0.timestamp() + offset[0]
    ) as vast:
        vast.ready_delay_s = 0.1
        asyncio.run(scenario(vast))
        ((_, billed_s, _),) = vast.billing()
    (row,) = rows(db)
    assert row.state == repo.TERMINATED
    assert row.launched_at is not None
    assert row.terminated_at is not None
    booked_s = (row.terminated_at - row.launched_at).total_seconds()
    assert booked_s == pytest.approx(60)
    assert billed_s == pytest.approx(90)
