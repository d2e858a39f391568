"""The fleet manager against fake Vast.ai and RunPod: reuse, failover, budgets, reconcile, crashes.

No instance may leak: every test ends by checking that each instance the fakes still run
has an open row that stands for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from i2v.db import fleet as repo
from i2v.db.engine import Database
from i2v.db.tables import FleetInstance, FleetLease, utcnow
from i2v.errors import BudgetExceeded, NoCapacity
from i2v.fleet.base import GpuProvider
from i2v.fleet.budget import Budget
from i2v.fleet.manager import PACE_TTL_S
from tests.fakes.runpod import FakeRunPod
from tests.fakes.vast import FakeVast
from tests.support import fleet as support

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[tuple[FakeVast, FakeRunPod]]:
    models = support.installed_models()
    with (
        FakeVast(tmp_path / "vast", installed_models=models, ready_delay_s=0.1) as vast,
        FakeRunPod(root=tmp_path / "runpod", installed_models=models, ready_delay_s=0.1) as rp,
    ):
        yield vast, rp


def providers(fakes: tuple[FakeVast, FakeRunPod]) -> dict[str, GpuProvider]:
    vast, rp = fakes
    return {
        "vast": support.vast(vast.url, vast.api_key),
        "runpod": support.runpod(rp.rest_url, rp.graphql_url, rp.api_key),
    }


def rows(db: Database) -> list[FleetInstance]:
    with db.session() as session:
        return list(session.scalars(select(FleetInstance)))


def live(fakes: tuple[FakeVast, FakeRunPod]) -> set[str]:
    vast, rp = fakes
    running = {str(i) for i, row in vast.instances.items() if row.get("actual_status") != "gone"}
    return running | set(rp.pods)


def assert_no_leak(db: Database, fakes: tuple[FakeVast, FakeRunPod]) -> None:
    with db.session() as session:
        known = {row.instance_id for row in repo.open_rows(session)}
    assert live(fakes) <= known, "an instance runs that no open row stands for"


def test_acquire_launches_the_cheapest_fit_then_reuses_it(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config()) as fleet:
            first = await fleet.acquire(support.needs(), run_id="run-1")
            cost = fleet.release_run("run-1")
            second = await fleet.acquire(support.needs(), run_id="run-2")
            fleet.release_run("run-2")
            assert second.row_id == first.row_id
            assert cost >= 0

    asyncio.run(scenario())
    assert len(vast.creations()) == 1
    (row,) = rows(db)
    assert row.provider == "vast"
    assert row.state == repo.READY
    assert row.label.startswith("i2v:test:")
    with db.session() as session:
        leases = list(session.scalars(select(FleetLease)))
    assert {lease.run_id for lease in leases} == {"run-1", "run-2"}
    assert all(lease.usd is not None for lease in leases)
    assert_no_leak(db, fakes)


def test_idle_instances_are_destroyed(db: Database, fakes: tuple[FakeVast, FakeRunPod]) -> None:
    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config(idle_s=60)) as fleet:
            await fleet.acquire(support.needs(), run_id="run-1")
            fleet.release_run("run-1")
        later = utcnow() + timedelta(seconds=61)
        async with support.manager(db, providers(fakes), support.config(idle_s=60), later) as f:
            report = await f.reconcile()
            assert [why for _, _, why in report.destroyed] == ["idle for 61 s"]

    asyncio.run(scenario())
    assert live(fakes) == set()
    assert [row.state for row in rows(db)] == [repo.TERMINATED]


def test_the_instance_cap_and_the_hourly_ceiling_refuse_launches(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    capped = support.config(
        budget=Budget(max_instances=1, max_hourly_usd=Decimal(5), daily_budget_usd=Decimal(50))
    )
    poor = support.config(
        budget=Budget(max_instances=5, max_hourly_usd=Decimal("0.1"), daily_budget_usd=Decimal(9))
    )

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), capped) as fleet:
            first = await fleet.acquire(support.needs(), run_id="busy")  # held, not released
            with pytest.raises(BudgetExceeded, match="I2V_FLEET_MAX_INSTANCES=1"):
                await fleet.launch(support.needs())
            # Refused a launch, a run queues for the busy instance rather than failing.
            second = asyncio.create_task(fleet.acquire(support.needs(), run_id="second"))
            await asyncio.sleep(0.3)
            assert not second.done()
            fleet.release_run("busy")
            assert (await asyncio.wait_for(second, 10)).row_id == first.row_id
        async with support.manager(db, providers(fakes), poor) as fleet:
            # Another workflow: no instance to queue for, so the refusal is the answer.
            other = replace(support.needs(), name="other-workflow")
            with pytest.raises(BudgetExceeded, match="I2V_FLEET_MAX_HOURLY_USD"):
                await fleet.acquire(other, run_id="third")

    asyncio.run(scenario())
    assert len(rows(db)) == 1
    assert_no_leak(db, fakes)


def test_failover_from_vast_to_runpod(db: Database, fakes: tuple[FakeVast, FakeRunPod]) -> None:
    vast, rp = fakes
    vast.faults.fail_next = 1000  # Vast is down

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config()) as fleet:
            lease = await fleet.acquire(support.needs(), run_id="run-1")
            assert lease.provider == "runpod"

    asyncio.run(scenario())
    assert len(rp.pods) == 1
    assert_no_leak(db, fakes)


def test_an_offer_taken_before_launch_moves_on_to_the_next(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes
    vast.faults.take_offer_on_launch = {104, 105}  # the two cheapest fitting offers

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config(("vast",))) as fleet:
            await fleet.acquire(support.needs(), run_id="run-1")

    asyncio.run(scenario())
    states = sorted(row.state for row in rows(db))
    assert repo.READY in states
    assert_no_leak(db, fakes)


def test_an_instance_never_ready_is_destroyed_at_the_deadline(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes
    vast.faults.never_ready = True

    async def scenario() -> None:
        cfg = support.config(("vast",), ready_timeout_s=0.5)
        async with support.manager(db, providers(fakes), cfg) as fleet:
            with pytest.raises(NoCapacity, match="not ready within"):
                await fleet.acquire(support.needs(), run_id="run-1")

    asyncio.run(scenario())
    assert live(fakes) == set()
    assert [row.state for row in rows(db)] == [repo.TERMINATED]


def test_reconcile_closes_rows_of_vanished_instances_and_destroys_strays(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes
    stray = vast.seed_instance("i2v:test:fin_unknown")
    other = vast.seed_instance("someone-else's")  # not ours: never touched

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config()) as fleet:
            lease = await fleet.acquire(support.needs(), run_id="run-1")
            vast.vanish(lease.instance_id)
            report = await fleet.reconcile()
            assert report.closed == [lease.row_id]
            assert (("vast", str(stray), "not in the database")) in report.destroyed

    asyncio.run(scenario())
    assert str(other) in live(fakes)
    assert str(stray) not in live(fakes)


def test_a_launch_that_fails_after_creating_is_adopted_by_label(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes
    vast.faults.fail_creates, vast.faults.fail_creates_after_creating = 1, True

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config(("vast",))) as fleet:
            await fleet.acquire(support.needs(), run_id="run-1")

    asyncio.run(scenario())
    assert len(vast.creations()) == 1
    (row,) = rows(db)
    assert row.state == repo.READY
    assert_no_leak(db, fakes)


def test_crash_between_launch_and_bookkeeping_then_reconcile(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    """SIGKILL while the launch call is in flight (the pod exists, our row says launching)."""
    _, rp = fakes
    rp.faults.hang_after_create_s = 30
    url = db.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fleet", url, rp.rest_url, rp.graphql_url,
         rp.api_key],
        cwd=ROOT, env={**os.environ}, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not rp.pods:
            assert time.monotonic() < deadline, child.stderr.read() if child.stderr else ""
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    (row,) = rows(db)
    assert row.state == repo.LAUNCHING  # the intent survived; the launch was never recorded
    rp.faults.hang_after_create_s = 0

    async def scenario() -> None:
        cfg = support.config(("runpod",))
        async with support.manager(db, providers(fakes), cfg) as fleet:
            report = await fleet.reconcile()
            assert report.adopted == [row.id]
        # Not ready by its deadline (nobody is waiting on it): the next reconcile destroys it.
        later = utcnow() + timedelta(seconds=cfg.ready_timeout_s + 1)
        async with support.manager(db, providers(fakes), cfg, later) as fleet:
            await fleet.reconcile()

    asyncio.run(scenario())
    assert live(fakes) == set()
    assert [r.state for r in rows(db)] == [repo.TERMINATED]


def test_crash_before_the_launch_call_leaves_nothing_to_pay_for(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    with db.session() as session:
        session.add(
            FleetInstance(
                id="fin_orphan", provider="vast", label="i2v:test:fin_orphan",
                state=repo.LAUNCHING, offer_id="105", usd_per_hour=Decimal("0.35"),
                created_at=utcnow() - timedelta(minutes=5),
            )
        )  # fmt: skip

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config()) as fleet:
            report = await fleet.reconcile()
            assert report.closed == ["fin_orphan"]

    asyncio.run(scenario())
    assert [r.state for r in rows(db)] == [repo.TERMINATED]


def test_a_job_whose_instance_vanishes_is_retried_elsewhere_and_billed_once(
    db: Database, fakes: tuple[FakeVast, FakeRunPod], photo_jpeg: Path, tmp_path: Path
) -> None:
    from i2v.backends.base import Progress
    from i2v.config import Settings
    from i2v.domain.motion import Intensity, Motion
    from i2v.domain.size import Size
    from i2v.domain.spec import RenderSpec
    from i2v.media.probe import probe_video
    from i2v.services.generate import generate_video

    vast, _ = fakes
    settings = Settings(
        database_url=db.engine.url.render_as_string(hide_password=False),
        fleet_enabled=True,
        fleet_deployment="test",
        fleet_providers=["vast"],
        fleet_poll_s=0.05,
        fleet_min_vram_gb=20,
        fleet_min_cuda=12.0,
        vast_url=vast.url,
        vast_api_key=vast.api_key,
        vast_template="tmpl-comfyui",
        comfyui_workflow=support.WORKFLOW,
        comfyui_timeout_s=60,
    )
    spec = RenderSpec(Motion.ZOOM_IN, Intensity.NORMAL, Size(360, 640), duration_s=3, fps=24)
    vanished: list[str] = []

    def vanish_first(event: Progress) -> None:
        if event.stage == "generate" and event.fraction > 0 and not vanished:
            (instance_id,) = list(vast.instances)
            vanished.append(str(instance_id))
            vast.vanish(instance_id)

    out = tmp_path / "out.mp4"
    result = generate_video(photo_jpeg, out, spec, settings, vanish_first, "comfyui", run_id="r1")
    assert probe_video(out).frames > 0
    assert vanished
    assert len(vast.creations()) == 2  # the replacement
    with db.session() as session:
        (lease,) = session.scalars(select(FleetLease))
        running = {row.instance_id: row for row in repo.open_rows(session)}
    assert lease.run_id == "r1"
    assert lease.usd is not None
    assert result.cost_usd == lease.usd  # the finished attempt only
    assert set(running) == {vanished[0], str(max(int(i) for i in vast.instances))}

    async def reconcile() -> None:
        async with support.manager(db, providers(fakes), support.config(("vast",))) as fleet:
            await fleet.reconcile()

    asyncio.run(reconcile())  # closes the vanished instance's row
    with db.session() as session:
        assert vanished[0] not in {row.instance_id for row in repo.open_rows(session)}
    assert_no_leak(db, fakes)


def test_an_instance_held_by_a_dead_worker_is_reaped(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    """Crash after acquire: the lease is never released, so the row stays busy."""
    cfg = support.config(idle_s=60, max_run_s=600)

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), cfg) as fleet:
            await fleet.acquire(support.needs(), run_id="run-1")  # the worker dies here
        soon = utcnow() + timedelta(seconds=300)  # a long run, perhaps: left alone
        async with support.manager(db, providers(fakes), cfg, soon) as fleet:
            assert (await fleet.reconcile()).destroyed == []
        later = utcnow() + timedelta(seconds=60 + 600 + 1)
        async with support.manager(db, providers(fakes), cfg, later) as fleet:
            (destroyed,) = (await fleet.reconcile()).destroyed
            assert destroyed[2].startswith("held by a run that stopped")

    asyncio.run(scenario())
    assert live(fakes) == set()


def test_the_daily_budget_refuses_launches_and_reaps_what_runs(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    budget = Budget(max_instances=5, max_hourly_usd=Decimal(5), daily_budget_usd=Decimal("0.01"))
    cfg = support.config(budget=budget)

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), cfg) as fleet:
            lease = await fleet.acquire(support.needs(), run_id="run-1")
            fleet.release_run("run-1")
        # An hour later at $0.20+/h the day's $0.01 is long spent.
        later = utcnow() + timedelta(hours=1)
        if later.date() != utcnow().date():
            later = utcnow() + timedelta(seconds=1)  # past midnight the day resets; skip
            pytest.skip("too close to midnight UTC to spend a day's budget in an hour")
        async with support.manager(db, providers(fakes), cfg, later) as fleet:
            with pytest.raises(BudgetExceeded, match="I2V_FLEET_DAILY_BUDGET_USD"):
                await fleet.acquire(support.needs(), run_id="run-2", exclude=[lease.endpoint])
            report = await fleet.reconcile()
            assert [why for _, _, why in report.destroyed] == ["over the daily budget"]

    asyncio.run(scenario())
    assert live(fakes) == set()


def test_after_running_out_of_memory_a_bigger_gpu_is_launched(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), support.config(("vast",))) as fleet:
            small = await fleet.acquire(support.needs(), run_id="run-1")
            fleet.release_run("run-1")
            big = await fleet.acquire(
                support.needs(), run_id="run-1", exclude=[small.endpoint], min_vram_gb=40
            )
            assert big.row_id != small.row_id  # the idle small one is not reused

    asyncio.run(scenario())
    gpus = [row["gpu_name"] for row in vast.instances.values()]
    assert len(gpus) == 2
    assert any(row["gpu_ram"] >= 40_000 for row in vast.instances.values())
    assert_no_leak(db, fakes)


def test_launch_decisions_are_serialised_across_connections(db: Database) -> None:
    """While one launcher holds the lock (checking the budget, writing its intent), another
    waits: the race that would let two workers both pass the instance cap cannot happen."""
    import threading

    held = threading.Event()
    waited: list[float] = []

    def first() -> None:
        with db.session() as session:
            repo.lock_launches(session)
            held.set()
            time.sleep(0.5)

    def second() -> None:
        held.wait(10)
        started = time.monotonic()
        with db.session() as session:
            repo.lock_launches(session)
        waited.append(time.monotonic() - started)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert waited
    assert waited[0] >= 0.35


def test_runs_are_served_in_the_order_they_asked(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    capped = support.config(
        budget=Budget(max_instances=1, max_hourly_usd=Decimal(5), daily_budget_usd=Decimal(50))
    )

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), capped) as fleet:
            first = await fleet.acquire(support.needs(), run_id="a")
            b = asyncio.create_task(fleet.acquire(support.needs(), run_id="b"))
            await asyncio.sleep(0.2)
            c = asyncio.create_task(fleet.acquire(support.needs(), run_id="c"))
            await asyncio.sleep(0.2)
            fleet.release_run("a")
            assert (await asyncio.wait_for(b, 10)).row_id == first.row_id
            await asyncio.sleep(0.3)
            assert not c.done()  # b holds it now
            fleet.release_run("b")
            assert (await asyncio.wait_for(c, 10)).row_id == first.row_id
            fleet.release_run("c")

    asyncio.run(scenario())
    assert len(rows(db)) == 1
    assert_no_leak(db, fakes)


class SkippingClock:
    """time.monotonic, plus whatever time a test skips instead of waiting it out."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


def test_a_launch_does_not_hold_up_its_run_and_spare_instances_go_first(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    """A run launches into the pool and takes the busy instance when it frees first; the
    launched one is made ready by reconcile, and goes as a spare while the other stays."""
    vast, _ = fakes
    cfg = support.config(("vast",), queue_wait_s=0, surplus_idle_s=0)
    clock = SkippingClock()

    async def scenario() -> None:
        async with support.manager(db, providers(fakes), cfg, monotonic=clock) as fleet:
            first = await fleet.acquire(support.needs(), run_id="a")
            # The pace measured before the fleet had launched anything (a launch longer than
            # a run) is kept for PACE_TTL_S; once it is measured again, a launch is quick.
            clock.skip(PACE_TTL_S)
            vast.ready_delay_s = 2.0  # the next instance starts slowly
            b = asyncio.create_task(fleet.acquire(support.needs(), run_id="b"))
            while len(rows(db)) < 2:  # the expected wait (a run's default length) > a launch
                await asyncio.sleep(0.05)
            fleet.release_run("a")
            assert (await asyncio.wait_for(b, 1.5)).row_id == first.row_id
            (starting,) = [row for row in rows(db) if row.id != first.row_id]
            assert starting.state in (repo.LAUNCHING, repo.PENDING)
            for _ in range(100):  # nobody watches it now: reconcile makes it ready
                if starting.id in (await fleet.reconcile()).ready:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the launched instance never became ready")
            await asyncio.sleep(0.05)
            report = await fleet.reconcile()  # b runs on the other: this one is spare
            (destroyed,) = report.destroyed
            assert destroyed[2].endswith(f"s while another instance serves {starting.workflow}")
            assert {row.id: row.state for row in rows(db)} == {
                first.row_id: repo.READY,
                starting.id: repo.TERMINATED,
            }
            fleet.release_run("b")
            assert (await fleet.reconcile()).destroyed == []  # the last one waits out idle_s

    asyncio.run(scenario())
    assert_no_leak(db, fakes)


def test_a_spare_stays_while_a_run_waits_and_never_goes_once_a_run_took_it(
    db: Database, fakes: tuple[FakeVast, FakeRunPod]
) -> None:
    vast, _ = fakes
    cfg = support.config(("vast",), surplus_idle_s=0)
    needs = support.needs()

    async def scenario() -> tuple[str, str]:
        async with support.manager(db, providers(fakes), cfg) as fleet:
            for _ in range(2):
                await fleet.launch(needs)
            a = await fleet.acquire(needs, run_id="a")
            b = await fleet.acquire(needs, run_id="b")
            assert a.row_id != b.row_id
            with db.session() as session:  # a run waits: the freed one is about to be taken
                repo.wait_in_line(session, "c", needs.name, utcnow())
            fleet.release_run("a")
            assert (await fleet.reconcile()).destroyed == []
            with db.session() as session:
                repo.leave_line(session, "c")
                # What reconcile does first: a row a run took since it looked is not closed.
                assert not repo.close_idle(session, b.row_id, utcnow(), "spare")
            (destroyed,) = (await fleet.reconcile()).destroyed
            assert destroyed[2].endswith(f"s while another instance serves {needs.name}")
            fleet.release_run("b")
            assert (await fleet.reconcile()).destroyed == []  # the last one waits out idle_s
            return a.row_id, b.row_id

    retired, kept = asyncio.run(scenario())
    assert {row.id: row.state for row in rows(db)} == {retired: repo.TERMINATED, kept: repo.READY}
    assert len([i for i, r in vast.instances.items() if r.get("actual_status") != "gone"]) == 1
    assert_no_leak(db, fakes)
