"""The GpuProvider contract and its typed values: requirements, offers, launch specs, instances.

Each provider maps its vendor's states onto `InstanceState` in one table with a safe default
(UNKNOWN: never treated as running, never as gone); only `fleet/vast.py` and
`fleet/runpod.py` speak a vendor's API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class InstanceState(StrEnum):
    PENDING = "pending"  # accepted, not running yet: scheduling, pulling, loading
    RUNNING = "running"  # the container runs; ComfyUI may still be starting
    STOPPING = "stopping"
    STOPPED = "stopped"  # exited or stopped: still billed for disk on some providers
    FAILED = "failed"  # the provider reports an error state
    TERMINATED = "terminated"  # destroyed or gone
    UNKNOWN = "unknown"  # a state we do not know: neither ready nor gone


@dataclass(frozen=True, slots=True)
class Requirements:
    min_vram_gb: float = 24.0
    gpu_names: tuple[str, ...] = ()  # allow-list; empty allows any
    min_reliability: float = 0.95
    max_usd_per_hour: float | None = None
    min_cuda: float | None = 12.4
    min_disk_gb: float = 80.0
    regions: tuple[str, ...] = ()  # e.g. ("US", "EU"); empty allows any


@dataclass(frozen=True, slots=True)
class Offer:
    provider: str
    offer_id: str  # Vast: the ask id; RunPod: the GPU type id
    gpu_name: str
    num_gpus: int
    vram_gb: float
    usd_per_hour: float
    reliability: float | None = None
    cuda: float | None = None
    disk_gb: float | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ModelDownload:
    """A file the workflow needs, fetched into ComfyUI's models folder when the machine starts."""

    url: str
    folder: str  # ComfyUI models subfolder: diffusion_models, text_encoders, vae, loras...
    name: str
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    label: str  # names the deployment and the intent row: i2v:<deployment>:<intent id>
    template: str  # Vast template hash, RunPod template id
    image: str | None = None  # container image, where the template leaves it open
    disk_gb: int = 80
    comfy_port: int = 8188
    env: tuple[tuple[str, str], ...] = ()
    provisioning: tuple[ModelDownload, ...] = ()


@dataclass(frozen=True, slots=True)
class Instance:
    provider: str
    instance_id: str
    state: InstanceState
    label: str | None
    endpoint: str | None  # ComfyUI's base URL once a port mapping exists
    usd_per_hour: float | None
    gpu_name: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    vendor_state: str | None = None  # the provider's own words, for logs and the CLI
    labels: tuple[tuple[str, str], ...] = field(default_factory=tuple)


class GpuProvider(Protocol):
    name: str

    async def search_offers(self, requirements: Requirements) -> list[Offer]:
        """Offers meeting `requirements`, cheapest first."""
        ...

    async def launch(self, offer: Offer, spec: LaunchSpec) -> str:
        """Rent `offer` from the template in `spec`; return the new instance id."""
        ...

    async def query(
        self, ids: Sequence[str] | None = None, *, label_prefix: str | None = None
    ) -> list[Instance]:
        """The instances with these ids, or whose label starts with `label_prefix`.

        An id the provider no longer knows is simply absent from the answer.
        """
        ...

    async def terminate(self, instance_id: str) -> None:
        """Destroy the instance; an instance that is already gone is not an error."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        ...
