"""FleetConfig: the fleet's settings, one typed value for the manager, launcher and policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from i2v.fleet.base import Requirements
from i2v.fleet.budget import Budget


@dataclass(frozen=True, slots=True)
class FleetConfig:
    deployment: str
    provider_order: tuple[str, ...]
    templates: Mapping[str, str]  # provider -> template id
    requirements: Requirements
    budget: Budget
    idle_s: float = 600.0
    ready_timeout_s: float = 1200.0
    launch_retry_s: float = 300.0  # a create that failed upstream, nothing created: retry
    poll_s: float = 5.0  # provider and readiness polling
    line_poll_s: float = 1.0  # a waiting run's look at the line: database only, so cheap
    disk_gb: int = 80
    max_run_s: float = 1800.0  # a lease older than this (plus idle_s) is a dead worker's
    queue_wait_s: float = 0.0  # a run queues for a busy instance if it expects to wait less
    surplus_idle_s: float = 600.0  # idle time after which a spare instance goes
