"""RunPodProvider against the fake RunPod API (REST v1 and GraphQL) on loopback.

What every GpuProvider must do (offers filtered and cheapest first, launch to a running ComfyUI,
query, terminate, lost and stuck pods, 429s, 5xx, refusals, the key) is checked for RunPod by
tests/contract/test_gpu_provider_contract.py; this file keeps what is RunPod's own: the GraphQL
catalogue, data-center regions and cloud types, the pod spec, read timeouts, connection
failures and a key echoed back in an error body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from i2v.errors import ProviderError, ProviderUnavailable
from i2v.fleet.base import LaunchSpec, ModelDownload, Offer, Requirements
from i2v.fleet.runpod import RunPodProvider
from tests.fakes.runpod import FakeRunPod
from tests.fakes.serving import free_port

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


async def test_offers_come_from_the_graphql_catalogue(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        [first, *_] = await rp.search_offers(Requirements(min_vram_gb=24))
        assert (first.gpu_name, first.vram_gb, first.usd_per_hour) == ("RTX A5000", 24, 0.27)
        # No per-host CUDA on RunPod: the requirement rides on the offer for launch to send.
        assert (first.cuda, first.region) == (12.4, None)
        cheap = await rp.search_offers(Requirements(min_vram_gb=24, max_usd_per_hour=0.5))
        assert [o.usd_per_hour for o in cheap] == [0.27, 0.43]
        # A region narrows to the data centers with stock, which launch then asks for.
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


async def test_launch_sends_the_pod_spec_with_env_intact(fake: FakeRunPod) -> None:
    async with provider(fake) as rp:
        env = (("NOTE", TRICKY), ("HF_HOME", "/workspace/hf"))
        launch_spec = spec(env=env, provisioning=(VAE,), disk_gb=60)
        pod_id = await rp.launch(offer(), launch_spec)

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
    dead = f"http://127.0.0.1:{free_port()}"
    async with RunPodProvider(
        "k", rest_url=f"{dead}/v1", graphql_url=f"{dead}/graphql", sleep=sleeps, max_retries=2
    ) as rp:
        with pytest.raises(ProviderUnavailable):
            await rp.launch(offer(), spec())  # never sent: safe to repeat even a create
    assert sleeps.calls == [0.5, 1.0]


async def test_a_key_echoed_in_an_error_body_is_scrubbed(
    fake: FakeRunPod, caplog: pytest.LogCaptureFixture
) -> None:
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
    assert "***" in errors[0].message
    for error in errors:
        assert key not in str(error)
        assert key not in repr(error.args)
    assert caplog.records
    assert key not in caplog.text
