"""The fleet's pure decisions: the line's expected wait, when to launch, which idle one is spare."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from i2v.db import fleet as repo
from i2v.db.tables import FleetInstance
from i2v.fleet.base import Requirements
from i2v.fleet.budget import Budget
from i2v.fleet.config import FleetConfig
from i2v.fleet.policy import Pace, expected_wait, should_launch, spares

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
PACE = Pace(run_s=100.0, launch_s=200.0)
CONFIG = FleetConfig(
    deployment="t",
    provider_order=("vast",),
    templates={},
    requirements=Requirements(),
    budget=Budget(max_instances=5, max_hourly_usd=Decimal(5), daily_budget_usd=Decimal(50)),
    queue_wait_s=300.0,
)


def row(
    row_id: str,
    state: str = repo.READY,
    *,
    busy: int = 0,
    used_s_ago: float = 0.0,
    launched_s_ago: float = 0.0,
    workflow: str = "wan",
) -> FleetInstance:
    return FleetInstance(
        id=row_id,
        state=state,
        busy=busy,
        workflow=workflow,
        created_at=NOW - timedelta(seconds=launched_s_ago),
        launched_at=NOW - timedelta(seconds=launched_s_ago),
        last_used_at=NOW - timedelta(seconds=used_s_ago) if state == repo.READY else None,
    )


def test_an_idle_instance_means_no_wait_and_no_instance_means_forever() -> None:
    assert expected_wait([row("a")], 0, NOW, PACE) == 0.0
    assert expected_wait([], 0, NOW, PACE) == math.inf


def test_the_runs_ahead_take_the_soonest_free_instance_in_turn() -> None:
    rows = [row("a", busy=1, used_s_ago=40), row("b", busy=1, used_s_ago=90)]
    # b frees in 10 s, a in 60 s; two runs ahead take those, the third waits for b again.
    assert expected_wait(rows, 0, NOW, PACE) == 10.0
    assert expected_wait(rows, 1, NOW, PACE) == 60.0
    assert expected_wait(rows, 2, NOW, PACE) == 110.0


def test_a_starting_instance_counts_from_its_expected_start() -> None:
    starting = row("s", repo.PENDING, launched_s_ago=50)
    assert expected_wait([starting], 0, NOW, PACE) == 150.0
    overdue = row("s", repo.PENDING, launched_s_ago=500)
    assert expected_wait([overdue], 0, NOW, PACE) == 0.0


def test_launch_only_past_the_tolerated_wait_and_when_a_launch_is_sooner() -> None:
    assert not should_launch(250.0, PACE, CONFIG)  # under queue_wait_s
    assert should_launch(301.0, PACE, CONFIG)
    assert should_launch(math.inf, PACE, CONFIG)
    patient = replace(CONFIG, queue_wait_s=0.0)
    assert not should_launch(150.0, PACE, patient)  # the launch would come later
    assert Pace.of([], []) == Pace()
    assert Pace.of([60.0, 180.0], [100.0]) == Pace(run_s=120.0, launch_s=100.0)


def test_spares_are_idle_ones_with_a_busier_or_more_recent_sibling() -> None:
    recent, older = row("r", used_s_ago=5), row("o", used_s_ago=50)
    assert spares([recent, older]) == {"o"}
    busy = row("b", busy=1, used_s_ago=100)
    assert spares([recent, older, busy]) == {"r", "o"}
    other_workflow = row("x", used_s_ago=500, workflow="ltx")
    assert spares([recent, other_workflow]) == set()
    starting = row("s", repo.PENDING)
    assert spares([older, starting]) == set()
    assert spares([recent, older], lines={"wan"}) == set()  # a waiting run takes it
    assert spares([recent, older], lines={"ltx"}) == {"o"}
