"""VastProvider against the fake Vast.ai API (tests/fakes/vast.py) on loopback.

What every GpuProvider must do (offers filtered and cheapest first, launch to a running ComfyUI,
query, terminate, lost and stuck instances, 429s, 5xx, refusals, the key) is checked for Vast by
tests/contract/test_gpu_provider_contract.py; this file keeps what is Vast's own: the CLI's
filters, the create body and onstart, paging, the state table, HTTP-date Retry-After, 410
asks, transport errors, onstart's size limit and offline hosts.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from i2v.errors import OfferUnavailable, ProviderRequestError, ProviderUnavailable
from i2v.fleet.base import InstanceState, LaunchSpec, ModelDownload, Offer, Requirements
from i2v.fleet.vast import VastProvider
from tests.fakes.vast import FakeVast, all_requests_authorized, fake_vast_fixture  # noqa: F401
from tests.support.fleet import wait_running

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

VAE = ModelDownload("https://example.test/vae.safetensors", "vae", "wan_2.1_vae.safetensors")
SPEC = LaunchSpec(label="i2v:test:intent-1", template="4e17788f74f075dd9aab7d0d4427968f",
                  provisioning=(VAE,))  # fmt: skip


class Sleeps(list[float]):
    """The provider's injected sleep: records the delays and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def vast(fake_vast: FakeVast, sleeps: Sleeps) -> AsyncIterator[VastProvider]:
    async with VastProvider(fake_vast.api_key, base_url=fake_vast.url, sleep=sleeps) as provider:
        yield provider
    assert all_requests_authorized(fake_vast), "a request went out without the key"


def offer_of(fake: FakeVast, ask_id: int) -> Offer:
    row = next(o for o in fake.offers if o["id"] == ask_id)
    return Offer("vast", str(ask_id), row["gpu_name"], 1, row["gpu_ram"] / 1000, row["dph_base"])


# -- offers -----------------------------------------------------------------------------------


async def test_search_sends_the_cli_filters_and_prices_the_disk_in(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    [first, *_] = await vast.search_offers(Requirements())
    assert (first.provider, first.gpu_name, first.num_gpus, first.region) == (
        "vast", "RTX 4090", 1, "NO"
    )  # fmt: skip
    assert first.vram_gb == pytest.approx(24.564)
    assert (first.reliability, first.cuda, first.disk_gb) == (0.998, 12.8, 200.0)
    assert first.usd_per_hour == pytest.approx(0.35 + 0.15 * 80 / 720)  # disk priced in
    sent = fake_vast.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/v0/bundles/")
    assert sent.json["gpu_ram"] == {"gte": 24000}  # MB, the CLI's x1000
    assert sent.json["type"] == "on-demand"
    assert sent.json["order"] == [["dph_total", "asc"]]
    assert sent.json["verified"] == {"eq": True}
    assert sent.json["rentable"] == {"eq": True}

    # The CLI's spelling of GPU names: underscores for spaces.
    picky = Requirements(gpu_names=("RTX_4090", "H100 SXM"), regions=("EU",), min_cuda=None)
    assert [o.offer_id for o in await vast.search_offers(picky)] == ["105", "109"]


async def test_offers_filtered_client_side_when_the_api_is_loose(sleeps: Sleeps) -> None:
    loose = [
        {"id": 1, "gpu_name": "RTX 4090", "num_gpus": 1, "gpu_ram": 24564, "dph_total": 0.5,
         "reliability": 0.99, "cuda_max_good": 12.8, "disk_space": 100, "geolocation": "Ohio, US"},
        {"id": 2, "gpu_name": "RTX 4080", "num_gpus": 1, "gpu_ram": 16376, "dph_total": 0.1,
         "reliability": 0.99, "cuda_max_good": 12.8, "disk_space": 100, "geolocation": "Ohio, US"},
        {"id": 3, "gpu_name": "RTX 4090", "num_gpus": 1, "gpu_ram": 24564, "dph_total": 0.3,
         "reliability": 0.99, "cuda_max_good": 12.8, "disk_space": 100, "geolocation": "Oslo, NO"},
        {"id": 4, "gpu_name": "RTX 4090", "num_gpus": 1, "dph_total": 0.2},  # no gpu_ram
    ]  # fmt: skip
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"offers": loose}))
    async with VastProvider("k", transport=transport, sleep=sleeps) as vast:
        us = await vast.search_offers(Requirements(regions=("US", "NO")))
        assert [o.offer_id for o in us] == ["3", "1"]  # re-sorted too
        assert [o.offer_id for o in await vast.search_offers(Requirements(regions=("US",)))] == [
            "1"
        ]


# -- instances --------------------------------------------------------------------------------


async def test_launch_sends_the_template_and_an_onstart_that_starts_comfyui(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    offer = offer_of(fake_vast, 105)
    await vast.launch(offer, SPEC)

    [create] = fake_vast.creations()
    assert create.path == f"/api/v0/asks/{offer.offer_id}/"
    body: dict[str, Any] = create.json
    assert body["client_id"] == "me"
    assert body["template_hash_id"] == SPEC.template
    assert (body["label"], body["disk"]) == (SPEC.label, SPEC.disk_gb)
    assert body["env"]["-p 8188:8188"] == "1"
    assert "ssh" in body["runtype"]  # Vast runs onstart only for SSH/Jupyter runtypes
    assert "wan_2.1_vae.safetensors" in body["onstart"]
    assert "main.py" in body["onstart"]
    assert "image" not in body  # the template's


async def test_query_by_label_prefix_reads_every_page(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    ours = {str(fake_vast.seed_instance(f"i2v:dep:{n}")) for n in range(30)}
    fake_vast.seed_instance("someone-else")
    fake_vast.seed_instance(None)
    found = await vast.query(label_prefix="i2v:dep:")
    assert {i.instance_id for i in found} == ours
    pages = [r for r in fake_vast.requests if r.path == "/api/v1/instances/"]
    assert len(pages) == 2
    assert "after_token" in pages[1].query
    assert len(await vast.query()) == 32


@pytest.mark.parametrize(
    ("actual", "intended", "state"),
    [
        (None, "running", InstanceState.PENDING),
        ("loading", "running", InstanceState.PENDING),
        ("running", "running", InstanceState.RUNNING),
        ("running", "stopped", InstanceState.STOPPING),
        ("stopped", "stopped", InstanceState.STOPPED),
        ("exited", "running", InstanceState.FAILED),
        ("offline", "running", InstanceState.UNKNOWN),
        ("something new", "running", InstanceState.UNKNOWN),
    ],
)
async def test_vendor_states_map_through_one_table(
    vast: VastProvider, fake_vast: FakeVast, actual: str | None, intended: str, state: InstanceState
) -> None:
    iid = fake_vast.seed_instance("i2v:x", actual_status=actual)
    fake_vast.instances[iid]["intended_status"] = intended
    [instance] = await vast.query([str(iid)])
    assert instance.state is state


# -- failures ---------------------------------------------------------------------------------


async def test_429_retry_after_may_be_an_http_date(
    vast: VastProvider, fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.rate_limit_next = 1
    fake_vast.faults.retry_after = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert await vast.query() == []
    assert len(sleeps) == 1
    assert 25 < sleeps[0] <= 30


async def test_a_taken_ask_refused_with_410_is_offer_unavailable(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    # 410 is Vast's answer to cancel_unavail; the contract suite covers the plain 404.
    [offer, *_] = await vast.search_offers(Requirements())
    fake_vast.faults.take_offer_on_launch.add(int(offer.offer_id))
    fake_vast.faults.taken_status = 410
    with pytest.raises(OfferUnavailable) as caught:
        await vast.launch(offer, SPEC)
    assert caught.value.status == 410
    assert "no_such_ask" in str(caught.value)
    assert fake_vast.instances == {}
    assert offer.offer_id not in [o.offer_id for o in await vast.search_offers(Requirements())]


async def test_transport_errors(sleeps: Sleeps) -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "PUT":
            raise httpx.ReadTimeout("no answer", request=request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"offers": []})

    async with VastProvider("k", transport=httpx.MockTransport(flaky), sleep=sleeps) as vast:
        assert await vast.search_offers(Requirements()) == []  # retried after ConnectError
        with pytest.raises(ProviderUnavailable):
            await vast.launch(Offer("vast", "1", "RTX 4090", 1, 24, 0.3), SPEC)
    assert calls == ["POST", "POST", "PUT"]
    assert len(sleeps) == 1


async def test_oversized_onstart_is_refused_before_sending(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    many = tuple(
        ModelDownload(f"https://example.test/{'x' * 200}/{n}.safetensors", "loras", f"{n}.st")
        for n in range(20)
    )
    spec = LaunchSpec(label="i2v:big", template="t", provisioning=many)
    with pytest.raises(ProviderRequestError, match="4096"):
        await vast.launch(offer_of(fake_vast, 105), spec)
    assert fake_vast.creations() == []


async def test_offline_host_is_unknown_not_gone(vast: VastProvider, fake_vast: FakeVast) -> None:
    iid = await vast.launch(offer_of(fake_vast, 105), SPEC)
    await wait_running(vast, iid)
    fake_vast.offline(iid)
    [instance] = await vast.query([iid])
    assert instance.state is InstanceState.UNKNOWN
    assert instance.vendor_state is not None
    assert instance.vendor_state.startswith("offline")
