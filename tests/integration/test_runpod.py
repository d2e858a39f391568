"""RunPodProvider against the fake RunPod API (REST v1 and GraphQL) on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from i2v.errors import (
    OfferUnavailable,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from i2v.fleet.base import (
    GpuProvider,
    Instance,
    InstanceState,
    LaunchSpec,
    ModelDownload,
    Offer,
    Requirements,
)
from i2v.fleet.runpod import RunPodProvider
from tests.fakes.comfyui import _free_port
from tests.fakes.runpod import NO_CAPACITY, FakeRunPod

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ANY = Requirements(min_vram_gb=0, min_cuda=None)
VAE = ModelDownload("https://models.test/wan2.2_vae.safetensors", "vae", "wan2.2_vae.safetensors")
TRICKY = "he said \"hi\" \\o/\nsecond line $HOME `date` 'quoted'"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeRunPod]:
    with FakeRunPod(root=tmp_path / "runpod", ready_delay_s=0.25) as fake:
        yield fake


class Sleeps:
    """The provider's injected sleep: records the back-off instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def provider(fake: FakeRunPod, sleeps: Sleeps | None = None, **kw: Any) -> RunPodProvider:
    kw.setdefault("timeout_s", 5)
    return RunPodProvider(
        kw.pop("api_key", fake.api_key),
        rest_url=kw.pop("rest_url", fake.rest_url),
        graphql_url=kw.pop("graphql_url", fake.graphql_url),
        sleep=sleeps or Sleeps(),
        **kw,
    )


def spec(label: str = "i2v:wan:1", **kw: Any) -> LaunchSpec:
    return LaunchSpec(label=label, template="tmpl-comfyui", **kw)


def offer(gpu: str = "NVIDIA GeForce RTX 4090") -> Offer:
    return Offer("runpod", gpu, gpu, 1, 24, 0.69)


async def until(rp: RunPodProvider, pod_id: str, state: InstanceState) -> Instance:
    deadline = time.monotonic() + 5
    while True:
        found = await rp.query([pod_id])
        if found and found[0].state is state:
            return found[0]
        assert time.monotonic() < deadline, f"{pod_id} never reached {state}: {found}"
        await asyncio.sleep(0.02)


async def test_it_is_a_gpu_provider(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        as_protocol: GpuProvider = rp
        assert as_protocol.name == "runpod"


async def test_offers_are_filtered_and_cheapest_first(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        offers = await rp.search_offers(Requirements(min_vram_gb=24))
        assert [o.offer_id for o in offers] == [
            "NVIDIA RTX A5000",
            "NVIDIA GeForce RTX 3090",
            "NVIDIA GeForce RTX 4090",
            "NVIDIA L40S",
            "NVIDIA A100 80GB PCIe",
        ]  # no A4000 (16 GB), no H100 (none free), no "unknown"
        first = offers[0]
        assert (first.gpu_name, first.vram_gb, first.usd_per_hour) == ("RTX A5000", 24, 0.27)
        assert (first.provider, first.num_gpus, first.cuda, first.region) == (
            "runpod",
            1,
            12.4,
            None,
        )

        named = await rp.search_offers(Requirements(gpu_names=("RTX 4090", "l40s")))
        assert [o.offer_id for o in named] == ["NVIDIA GeForce RTX 4090", "NVIDIA L40S"]
        cheap = await rp.search_offers(Requirements(min_vram_gb=24, max_usd_per_hour=0.5))
        assert [o.usd_per_hour for o in cheap] == [0.27, 0.43]
        eu = await rp.search_offers(Requirements(min_vram_gb=24, regions=("EU",)))
        assert {o.offer_id: o.region for o in eu} == {
            "NVIDIA RTX A5000": "EU-RO-1",
            "NVIDIA GeForce RTX 3090": "EUR-IS-1",
            "NVIDIA GeForce RTX 4090": "EU-RO-1",
            "NVIDIA L40S": "EU-RO-1",
        }
    async with provider(fake, cloud_type="COMMUNITY") as rp:
        community = await rp.search_offers(Requirements(min_vram_gb=24))
        assert community[0].usd_per_hour == 0.16

    (call, *_) = fake.requests_to("POST", "/graphql")
    assert call.body["operationName"] == "GpuTypes"
    assert call.body["variables"] == {"lowestPriceInput": {"gpuCount": 1, "secureCloud": True}}
    assert "$lowestPriceInput" in call.body["query"]
    assert '"' not in call.body["query"]


async def test_launch_runs_provisioned_comfyui_and_terminates(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        env = (("NOTE", TRICKY), ("HF_HOME", "/workspace/hf"))
        launch_spec = spec(env=env, provisioning=(VAE,), disk_gb=60)
        pod_id = await rp.launch(offer(), launch_spec)

        (pending,) = await rp.query([pod_id])
        assert (pending.state, pending.endpoint, pending.label) == (
            InstanceState.PENDING,
            None,
            "i2v:wan:1",
        )
        running = await until(rp, pod_id, InstanceState.RUNNING)
        comfy = fake.comfyuis[pod_id]
        assert running.endpoint == f"http://127.0.0.1:{comfy.port}"
        assert (running.usd_per_hour, running.gpu_name, running.vendor_state) == (
            0.69,
            "RTX 4090",
            "RUNNING",
        )
        assert running.started_at is not None
        assert running.provider == "runpod"
        async with httpx.AsyncClient() as http:
            stats = await http.get(f"{running.endpoint}/system_stats")
            vae = await http.get(f"{running.endpoint}/models/vae")
        assert stats.status_code == 200
        assert stats.json()["devices"]
        assert vae.json() == ["wan2.2_vae.safetensors"]  # the provisioning script's file

        sent = fake.requests_to("POST", "/v1/pods")[0]
        assert sent.headers["authorization"] == f"Bearer {fake.api_key}"
        body = sent.body
        assert body["env"] == {"NOTE": TRICKY, "HF_HOME": "/workspace/hf"}
        assert (body["name"], body["templateId"], body["gpuTypeIds"], body["gpuCount"]) == (
            "i2v:wan:1",
            "tmpl-comfyui",
            ["NVIDIA GeForce RTX 4090"],
            1,
        )
        assert (body["containerDiskInGb"], body["volumeInGb"]) == (60, 0)
        assert body["ports"] == ["8188/http", "8188/tcp"]
        assert body["dockerStartCmd"][:2] == ["sh", "-c"]
        assert body["dockerStartCmd"][2].endswith("exec /start.sh")
        assert fake.pods[pod_id]["env"]["NOTE"] == TRICKY  # intact on the vendor's side

        await rp.terminate(pod_id)
        assert await rp.query([pod_id]) == []
        await rp.terminate(pod_id)  # twice: already gone is fine
        assert pod_id not in fake.comfyuis
        async with httpx.AsyncClient() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{running.endpoint}/system_stats")


async def test_query_by_name_prefix_and_unknown_ids(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        a = await rp.launch(offer(), spec("i2v:wan:1"))
        b = await rp.launch(offer(), spec("i2v:wan:2"))
        await rp.launch(offer(), spec("other:1"))
        mine = await rp.query(label_prefix="i2v:wan:")
        assert sorted(i.instance_id for i in mine) == sorted([a, b])
        assert {i.label for i in mine} == {"i2v:wan:1", "i2v:wan:2"}
        assert len(await rp.query()) == 3
        assert [i.instance_id for i in await rp.query([a, "nosuchpod0000"])] == [a]
        assert await rp.query([a, b], label_prefix="i2v:wan:2") == await rp.query([b])


async def test_rate_limit_honours_retry_after(fake: FakeRunPod) -> None:
    fake.faults.rate_limit_next, fake.faults.retry_after_s = 2, 3
    sleeps = Sleeps()
    async with provider(fake, sleeps) as rp:
        assert await rp.search_offers(ANY)
        assert sleeps.calls == [3.0, 3.0]
        fake.faults.rate_limit_next = 99
        with pytest.raises(ProviderRateLimited) as caught:
            await rp.query()
    assert caught.value.retry_after_s == 3.0
    assert caught.value.status == 429
    assert caught.value.provider == "runpod"


async def test_server_errors_are_retried_with_backoff(fake: FakeRunPod) -> None:
    fake.faults.fail_next = 2
    sleeps = Sleeps()
    async with provider(fake, sleeps) as rp:
        assert await rp.query() == []
    assert sleeps.calls == [0.5, 1.0]
    assert len(fake.requests_to("GET", "/v1/pods")) == 3


async def test_server_errors_forever_are_unavailable(fake: FakeRunPod) -> None:
    fake.faults.fail_next = 99
    sleeps = Sleeps()
    async with provider(fake, sleeps, max_retries=3) as rp:
        with pytest.raises(ProviderUnavailable) as caught:
            await rp.terminate("abc123")
    assert caught.value.status == 500
    assert caught.value.instance_id == "abc123"
    assert caught.value.retryable
    assert len(sleeps.calls) == 3


async def test_a_bad_key_is_an_auth_error(fake: FakeRunPod) -> None:
    sleeps = Sleeps()
    async with provider(fake, sleeps, api_key="rpa_WRONG") as rp:
        with pytest.raises(ProviderAuthError):
            await rp.search_offers(ANY)
        with pytest.raises(ProviderAuthError) as caught:
            await rp.query()
        with pytest.raises(ProviderAuthError):
            await rp.launch(offer(), spec())
    assert caught.value.status == 401
    assert sleeps.calls == []
    assert not fake.pods


async def test_no_capacity_is_offer_unavailable_and_not_retried(fake: FakeRunPod) -> None:
    fake.faults.no_capacity_for = {"NVIDIA GeForce RTX 4090"}
    sleeps = Sleeps()
    async with provider(fake, sleeps) as rp:
        with pytest.raises(OfferUnavailable) as caught:
            await rp.launch(offer(), spec())
    assert NO_CAPACITY in caught.value.message
    assert caught.value.retryable
    assert len(fake.requests_to("POST", "/v1/pods")) == 1
    assert sleeps.calls == []
    assert not fake.pods


async def test_a_create_that_fails_after_creating_is_not_repeated(fake: FakeRunPod) -> None:
    fake.faults.launch_then_fail = True
    sleeps = Sleeps()
    async with provider(fake, sleeps) as rp:
        with pytest.raises(ProviderUnavailable) as caught:
            await rp.launch(offer(), spec("i2v:wan:7"))
        assert caught.value.status == 500
        assert "i2v:wan:7" in caught.value.message
        assert len(fake.requests_to("POST", "/v1/pods")) == 1
        assert sleeps.calls == []
        (found,) = await rp.query(label_prefix="i2v:wan:7")  # the fleet reconciles by name
        assert found.instance_id in fake.pods


async def test_a_create_that_times_out_is_not_repeated(fake: FakeRunPod) -> None:
    fake.faults.hang_after_create_s = 1.0
    sleeps = Sleeps()
    async with provider(fake, sleeps, timeout_s=0.3) as rp:
        with pytest.raises(ProviderUnavailable, match="no answer in time"):
            await rp.launch(offer(), spec("i2v:wan:8"))
        fake.faults.hang_after_create_s = 0
        assert len(fake.requests_to("POST", "/v1/pods")) == 1
        assert sleeps.calls == []
        assert len(await rp.query(label_prefix="i2v:wan:8")) == 1


async def test_a_slow_read_times_out_and_is_retried(fake: FakeRunPod) -> None:
    fake.faults.slow_s = 0.4
    sleeps = Sleeps()
    async with provider(fake, sleeps, timeout_s=0.15, max_retries=1) as rp:
        with pytest.raises(ProviderUnavailable, match="no answer in time"):
            await rp.query()
    assert len(fake.requests_to("GET", "/v1/pods")) == 2
    assert sleeps.calls == [0.5]


async def test_nothing_listening_is_unavailable_after_retries() -> None:
    sleeps = Sleeps()
    dead = f"http://127.0.0.1:{_free_port()}"
    async with RunPodProvider(
        "k", rest_url=f"{dead}/v1", graphql_url=f"{dead}/graphql", sleep=sleeps, max_retries=2
    ) as rp:
        with pytest.raises(ProviderUnavailable):
            await rp.launch(offer(), spec())  # never sent: safe to repeat even a create
    assert sleeps.calls == [0.5, 1.0]


async def test_a_vanished_pod_is_absent(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        pod_id = await rp.launch(offer(), spec())
        await until(rp, pod_id, InstanceState.RUNNING)
        fake.vanish(pod_id)
        assert await rp.query([pod_id]) == []
        assert await rp.query(label_prefix="i2v:") == []
        await rp.terminate(pod_id)


async def test_a_pod_that_never_gets_ports_stays_pending(fake: FakeRunPod) -> None:
    fake.faults.never_ready = True
    async with provider(fake) as rp:
        pod_id = await rp.launch(offer(), spec())
        await asyncio.sleep(0.3)
        (pod,) = await rp.query([pod_id])
    assert (pod.state, pod.endpoint, pod.vendor_state) == (InstanceState.PENDING, None, "RUNNING")


async def test_the_key_never_leaks(fake: FakeRunPod, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = fake.api_key
    fake.faults.fail_next = 99
    fake.faults.error_body = f'{{"error":"token {key} rejected upstream","status":500}}'
    errors: list[ProviderError] = []
    async with provider(fake, max_retries=1) as rp:
        for call in (rp.query(), rp.search_offers(ANY), rp.launch(offer(), spec())):
            with pytest.raises(ProviderError) as caught:
                await call
            errors.append(caught.value)
    fake.faults.fail_next = 0
    async with provider(fake, api_key=key + "x") as wrong:
        with pytest.raises(ProviderAuthError) as caught_auth:
            await wrong.query()
    errors.append(caught_auth.value)
    assert "***" in errors[0].message
    for error in errors:
        assert key not in str(error)
        assert key not in repr(error.args)
    assert caplog.records
    assert key not in caplog.text
