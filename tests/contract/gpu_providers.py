"""Each GpuProvider pointed at its fake vendor, with the fakes' fault knobs behind one vocabulary.

The contract suite speaks only to `ProviderUnderTest`; what differs between vendors (how a
fault is injected, which offers the fake's catalogue holds, the vendor's own words) is here.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

from i2v.fleet.base import GpuProvider, Offer, Requirements
from i2v.fleet.runpod import RunPodProvider
from i2v.fleet.vast import VastProvider
from tests.fakes.runpod import NO_CAPACITY, FakeRunPod
from tests.fakes.runpod import Faults as RunPodFaults
from tests.fakes.vast import FakeVast
from tests.fakes.vast import Faults as VastFaults

PROVIDERS = ("vast", "runpod")
READY_DELAY_S = 0.2  # how long a fake instance boots: long enough to be seen PENDING
TIMEOUT_S = 5.0

# Named so that each vendor's expected answer (`offer_ids`) can sit with its fake's catalogue.
OFFER_CASES: dict[str, Requirements] = {
    "defaults": Requirements(),
    "named": Requirements(gpu_names=("RTX 4090", "l40s", "H100 SXM")),  # any case
    "capped": Requirements(max_usd_per_hour=0.5),
    "europe": Requirements(regions=("EU",)),
    "nothing": Requirements(min_vram_gb=40, max_usd_per_hour=0.5),
}


class Sleeps(list[float]):
    """The provider's injected sleep: records the delays and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it, reduced to where a key could travel."""

    method: str
    url: str  # path and query string
    authorization: str | None
    body: str


class ProviderUnderTest(ABC):
    """A provider on its fake, a recorded sleep, and the fake's faults in shared words."""

    name: ClassVar[str]
    unknown_id: ClassVar[str]  # shaped like the vendor's ids, never issued
    offer_ids: ClassVar[Mapping[str, tuple[str, ...]]]  # per OFFER_CASES name, cheapest first
    taken_status: ClassVar[int]  # the HTTP status of "that offer is gone"
    taken_words: ClassVar[str]  # the vendor's words for it, which the error must keep
    stuck_vendor_state: ClassVar[str]  # how vendor_state begins while never ready

    def __init__(self) -> None:
        self.sleeps = Sleeps()
        self.provider: GpuProvider = self.build()

    @property
    @abstractmethod
    def api_key(self) -> str: ...

    @abstractmethod
    def build(
        self, *, api_key: str | None = None, max_retries: int = 4, timeout_s: float = TIMEOUT_S
    ) -> GpuProvider:
        """Another provider on the same fake and the same recorded sleep."""

    @asynccontextmanager
    async def connect(
        self, *, api_key: str | None = None, max_retries: int = 4, timeout_s: float = TIMEOUT_S
    ) -> AsyncIterator[GpuProvider]:
        provider = self.build(api_key=api_key, max_retries=max_retries, timeout_s=timeout_s)
        try:
            yield provider
        finally:
            await provider.aclose()

    # -- faults ---------------------------------------------------------------------------

    @abstractmethod
    def rate_limit(self, count: int, retry_after_s: float) -> None:
        """Answer the next `count` requests 429 with Retry-After in seconds."""

    @abstractmethod
    def fail(self, count: int) -> None:
        """Answer the next `count` requests with a 5xx."""

    @abstractmethod
    def take(self, offer: Offer) -> None:
        """Someone else gets `offer` between our search and our launch."""

    @abstractmethod
    def fail_after_create(self) -> None:
        """The next launch creates the instance, then answers a 5xx."""

    @abstractmethod
    def hang_create(self, seconds: float) -> None:
        """Launches are answered `seconds` late, yet create the instance; 0 stops it."""

    @abstractmethod
    def never_ready(self) -> None:
        """Instances launched from now on never get a reachable ComfyUI."""

    @abstractmethod
    def vanish(self, instance_id: str) -> None:
        """The instance goes away on the vendor's side, as when its host is lost."""

    @abstractmethod
    def clear_faults(self) -> None: ...

    # -- what the fake saw ----------------------------------------------------------------

    @abstractmethod
    def requests(self) -> list[Seen]: ...

    @abstractmethod
    def creations(self) -> int:
        """Create requests received, refused ones included."""


def _text(body: Any) -> str:
    return "" if body is None else body if isinstance(body, str) else json.dumps(body)


class VastUnderTest(ProviderUnderTest):
    name = "vast"
    unknown_id = "424242"
    offer_ids: ClassVar[Mapping[str, tuple[str, ...]]] = {
        # 101 16 GB, 102 unverified, 103 two GPUs, 104 CUDA 12.2, 106 reliability 0.91,
        # 110 a 40 GB disk: each default requirement removes one.
        "defaults": ("105", "107", "108", "109"),
        "named": ("105", "109"),
        "capped": ("105",),  # 107's 0.50 goes over once its disk is priced in
        "europe": ("105", "109"),  # Norway, Germany
        "nothing": (),
    }
    taken_status = 404
    taken_words = "no_such_ask"
    stuck_vendor_state = "loading"

    def __init__(self, fake: FakeVast) -> None:
        self.fake = fake
        super().__init__()

    @property
    def api_key(self) -> str:
        return self.fake.api_key

    def build(
        self, *, api_key: str | None = None, max_retries: int = 4, timeout_s: float = TIMEOUT_S
    ) -> GpuProvider:
        return VastProvider(
            self.fake.api_key if api_key is None else api_key,
            base_url=self.fake.url,
            sleep=self.sleeps,
            max_retries=max_retries,
            timeout_s=timeout_s,
        )

    def rate_limit(self, count: int, retry_after_s: float) -> None:
        self.fake.faults.rate_limit_next, self.fake.faults.retry_after = count, f"{retry_after_s:g}"

    def fail(self, count: int) -> None:
        # 502: what Vast's nginx answers when the API behind it is down (an HTML page).
        self.fake.faults.fail_next, self.fake.faults.fail_status = count, 502

    def take(self, offer: Offer) -> None:
        self.fake.faults.take_offer_on_launch.add(int(offer.offer_id))

    def fail_after_create(self) -> None:
        self.fake.faults.fail_creates, self.fake.faults.fail_creates_after_creating = 1, True

    def hang_create(self, seconds: float) -> None:
        # Vast's fake delays every answer before handling it: the create still happens.
        self.fake.faults.slow_s = seconds

    def never_ready(self) -> None:
        self.fake.faults.never_ready = True

    def vanish(self, instance_id: str) -> None:
        self.fake.vanish(instance_id)

    def clear_faults(self) -> None:
        self.fake.faults = VastFaults()

    def requests(self) -> list[Seen]:
        return [
            Seen(r.method, f"{r.path}?{urlencode(r.query)}", r.authorization, _text(r.json))
            for r in self.fake.requests
        ]

    def creations(self) -> int:
        return len(self.fake.creations())


class RunPodUnderTest(ProviderUnderTest):
    name = "runpod"
    unknown_id = "nosuchpod00000"
    offer_ids: ClassVar[Mapping[str, tuple[str, ...]]] = {
        # No A4000 (16 GB), no H100 (none free), no "unknown" (not rentable).
        "defaults": (
            "NVIDIA RTX A5000",
            "NVIDIA GeForce RTX 3090",
            "NVIDIA GeForce RTX 4090",
            "NVIDIA L40S",
            "NVIDIA A100 80GB PCIe",
        ),
        "named": ("NVIDIA GeForce RTX 4090", "NVIDIA L40S"),
        "capped": ("NVIDIA RTX A5000", "NVIDIA GeForce RTX 3090"),
        "europe": (
            "NVIDIA RTX A5000",
            "NVIDIA GeForce RTX 3090",
            "NVIDIA GeForce RTX 4090",
            "NVIDIA L40S",
        ),
        "nothing": (),
    }
    taken_status = 500  # RunPod says "no capacity" with a 500
    taken_words = NO_CAPACITY
    stuck_vendor_state = "RUNNING"  # desired RUNNING, but no runtime and no ports

    def __init__(self, fake: FakeRunPod) -> None:
        self.fake = fake
        super().__init__()

    @property
    def api_key(self) -> str:
        return self.fake.api_key

    def build(
        self, *, api_key: str | None = None, max_retries: int = 4, timeout_s: float = TIMEOUT_S
    ) -> GpuProvider:
        return RunPodProvider(
            self.fake.api_key if api_key is None else api_key,
            rest_url=self.fake.rest_url,
            graphql_url=self.fake.graphql_url,
            sleep=self.sleeps,
            max_retries=max_retries,
            timeout_s=timeout_s,
        )

    def rate_limit(self, count: int, retry_after_s: float) -> None:
        self.fake.faults.rate_limit_next, self.fake.faults.retry_after_s = count, retry_after_s

    def fail(self, count: int) -> None:
        self.fake.faults.fail_next = count

    def take(self, offer: Offer) -> None:
        self.fake.faults.no_capacity_for.add(offer.offer_id)

    def fail_after_create(self) -> None:
        self.fake.faults.launch_then_fail = True

    def hang_create(self, seconds: float) -> None:
        self.fake.faults.hang_after_create_s = seconds

    def never_ready(self) -> None:
        self.fake.faults.never_ready = True

    def vanish(self, instance_id: str) -> None:
        self.fake.vanish(instance_id)

    def clear_faults(self) -> None:
        self.fake.faults = RunPodFaults()

    def requests(self) -> list[Seen]:
        return [
            Seen(
                r.method,
                f"{r.path}?{urlencode(r.query, doseq=True)}",
                r.headers.get("authorization"),
                _text(r.body),
            )
            for r in self.fake.requests
        ]

    def creations(self) -> int:
        return len(self.fake.requests_to("POST", "/v1/pods"))


@contextmanager
def provider_under_test(name: str, root: Path) -> Iterator[ProviderUnderTest]:
    """`name`'s fake, started under `root`, and a provider pointed at it by base URL."""
    if name == "vast":
        with FakeVast(root / "vast", ready_delay_s=READY_DELAY_S) as vast:
            yield VastUnderTest(vast)
    elif name == "runpod":
        with FakeRunPod(root=root / "runpod", ready_delay_s=READY_DELAY_S) as runpod:
            yield RunPodUnderTest(runpod)
    else:
        raise ValueError(f"no fake for provider {name!r}")
