"""VastProvider against the fake Vast.ai API (tests/fakes/vast.py) on loopback."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from i2v.errors import (
    OfferUnavailable,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from i2v.fleet.base import Instance, InstanceState, LaunchSpec, ModelDownload, Offer, Requirements
from i2v.fleet.vast import VastProvider
from tests.fakes.vast import FakeVast, all_requests_authorized, fake_vast_fixture  # noqa: F401

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


async def wait_running(vast: VastProvider, iid: str, timeout: float = 10.0) -> Instance:
    deadline = time.monotonic() + timeout
    while True:
        [instance] = await vast.query([iid])
        if instance.state is InstanceState.RUNNING and instance.endpoint:
            return instance
        assert time.monotonic() < deadline, f"still {instance.state} ({instance.vendor_state})"
        await asyncio.sleep(0.02)


# -- offers -----------------------------------------------------------------------------------


async def test_search_filters_and_orders_cheapest_first(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    offers = await vast.search_offers(Requirements())
    # 101 has 16 GB, 102 is unverified, 103 has two GPUs, 104 has CUDA 12.2, 106 reliability
    # 0.91, 110 a 40 GB disk: every filter must bite, and the rest come cheapest first.
    assert [o.offer_id for o in offers] == ["105", "107", "108", "109"]
    assert [o.usd_per_hour for o in offers] == sorted(o.usd_per_hour for o in offers)
    first = offers[0]
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

    picky = Requirements(gpu_names=("RTX_4090", "H100 SXM"), regions=("EU",), min_cuda=None)
    assert [o.offer_id for o in await vast.search_offers(picky)] == ["105", "109"]
    cheap = Requirements(max_usd_per_hour=0.5, min_vram_gb=40)
    assert await vast.search_offers(cheap) == []


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


async def test_launch_goes_pending_then_running_with_a_comfyui(
    vast: VastProvider, fake_vast: FakeVast
) -> None:
    [offer, *_] = await vast.search_offers(Requirements())
    iid = await vast.launch(offer, SPEC)
    [pending] = await vast.query([iid])
    assert pending.state is InstanceState.PENDING
    assert (pending.endpoint, pending.label, pending.provider) == (None, SPEC.label, "vast")

    running = await wait_running(vast, iid)
    assert running.endpoint is not None
    assert running.endpoint.startswith("http://127.0.0.1:")
    assert not running.endpoint.endswith(":8188")  # the external port, not the container's
    assert running.usd_per_hour == pytest.approx(0.35 + 0.15 * 80 / 720)
    assert running.gpu_name == "RTX 4090"
    assert running.started_at is not None
    assert running.vendor_state is not None
    assert running.vendor_state.startswith("running")
    async with httpx.AsyncClient(base_url=running.endpoint, trust_env=False) as http:
        assert (await http.get("/system_stats")).status_code == 200
        # The provisioning script in onstart put the model file there.
        assert (await http.get("/models/vae")).json() == ["wan_2.1_vae.safetensors"]

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


async def test_terminate_is_idempotent(vast: VastProvider, fake_vast: FakeVast) -> None:
    iid = await vast.launch(offer_of(fake_vast, 107), SPEC)
    running = await wait_running(vast, iid)
    await vast.terminate(iid)
    assert await vast.query([iid]) == []
    assert await vast.query(label_prefix=SPEC.label) == []
    await vast.terminate(iid)  # already gone: not an error
    await vast.terminate("424242")  # never existed
    assert running.endpoint is not None
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{running.endpoint}/system_stats")


async def test_vanished_instance_is_absent(vast: VastProvider, fake_vast: FakeVast) -> None:
    iid = await vast.launch(offer_of(fake_vast, 105), SPEC)
    await wait_running(vast, iid)
    fake_vast.vanish(iid)
    assert await vast.query([iid]) == []
    assert await vast.query(label_prefix="i2v:") == []


async def test_never_ready_stays_pending(vast: VastProvider, fake_vast: FakeVast) -> None:
    fake_vast.faults.never_ready = True
    iid = await vast.launch(offer_of(fake_vast, 105), SPEC)
    fake_vast.wait_status(iid, "loading")
    await asyncio.sleep(fake_vast.ready_delay_s * 2)
    [instance] = await vast.query([iid])
    assert (instance.state, instance.endpoint) == (InstanceState.PENDING, None)
    assert instance.vendor_state is not None
    assert instance.vendor_state.startswith("loading")


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


async def test_429_waits_for_retry_after(
    vast: VastProvider, fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.rate_limit_next, fake_vast.faults.retry_after = 2, "7"
    assert await vast.search_offers(Requirements())
    assert sleeps == [7.0, 7.0]

    sleeps.clear()
    fake_vast.faults.rate_limit_next = 1
    fake_vast.faults.retry_after = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert await vast.query() == []
    assert len(sleeps) == 1
    assert 25 < sleeps[0] <= 30


async def test_429_with_a_long_retry_after_goes_back_to_the_caller(
    vast: VastProvider, fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.rate_limit_next, fake_vast.faults.retry_after = 1, "3600"
    with pytest.raises(ProviderRateLimited) as caught:
        await vast.query()
    assert (caught.value.retry_after_s, caught.value.provider, sleeps) == (3600.0, "vast", [])


async def test_5xx_retried_then_success(
    vast: VastProvider, fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.fail_next, fake_vast.faults.fail_status = 2, 502
    assert await vast.search_offers(Requirements())
    assert len(sleeps) == 2
    assert sleeps[1] > 0


async def test_5xx_forever_is_unavailable_after_max_retries(
    fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.fail_next = 100
    async with VastProvider(
        fake_vast.api_key, base_url=fake_vast.url, sleep=sleeps, max_retries=3
    ) as vast:
        with pytest.raises(ProviderUnavailable) as caught:
            await vast.terminate("31000001")
    assert (caught.value.status, caught.value.instance_id, caught.value.retryable) == (
        500, "31000001", True
    )  # fmt: skip
    assert len(fake_vast.requests) == 4
    assert len(sleeps) == 3


async def test_bad_key_is_an_auth_error(fake_vast: FakeVast, sleeps: Sleeps) -> None:
    async with VastProvider("not-the-key", base_url=fake_vast.url, sleep=sleeps) as vast:
        for call in (
            vast.search_offers(Requirements()),
            vast.query(),
            vast.query(["31000001"]),
            vast.terminate("31000001"),
            vast.launch(offer_of(fake_vast, 105), SPEC),
        ):
            with pytest.raises(ProviderAuthError) as caught:
                await call
            assert caught.value.status == 401
            assert "not-the-key" not in str(caught.value)
    assert sleeps == []
    assert fake_vast.instances == {}


@pytest.mark.parametrize("status", [404, 410])
async def test_offer_taken_between_search_and_launch(
    vast: VastProvider, fake_vast: FakeVast, status: int
) -> None:
    [offer, *_] = await vast.search_offers(Requirements())
    fake_vast.faults.take_offer_on_launch.add(int(offer.offer_id))
    fake_vast.faults.taken_status = status
    with pytest.raises(OfferUnavailable) as caught:
        await vast.launch(offer, SPEC)
    assert caught.value.status == status
    assert "no_such_ask" in str(caught.value)
    assert fake_vast.instances == {}
    assert offer.offer_id not in [o.offer_id for o in await vast.search_offers(Requirements())]


async def test_launch_that_fails_after_creating_is_not_repeated(
    vast: VastProvider, fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.launch_then_fail = True
    with pytest.raises(ProviderUnavailable) as caught:
        await vast.launch(offer_of(fake_vast, 105), SPEC)
    assert "reconcile" in str(caught.value)
    assert (len(fake_vast.creations()), sleeps) == (1, [])
    [found] = await vast.query(label_prefix=SPEC.label)  # what reconciliation will see
    assert found.label == SPEC.label


async def test_launch_timeout_is_not_repeated(fake_vast: FakeVast, sleeps: Sleeps) -> None:
    fake_vast.faults.slow_s = 0.4
    async with VastProvider(
        fake_vast.api_key, base_url=fake_vast.url, sleep=sleeps, timeout_s=0.1
    ) as vast:
        with pytest.raises(ProviderUnavailable):
            await vast.launch(offer_of(fake_vast, 105), SPEC)
        assert (len(fake_vast.creations()), sleeps) == (1, [])
        fake_vast.faults.slow_s = 0
        await asyncio.sleep(0.5)  # the server carried on: the instance exists
        assert [i.label for i in await vast.query(label_prefix="i2v:")] == [SPEC.label]


async def test_launch_429_is_repeated(
    vast: VastProvider, fake_vast: FakeVast, sleeps: Sleeps
) -> None:
    fake_vast.faults.rate_limit_next = 1
    iid = await vast.launch(offer_of(fake_vast, 105), SPEC)
    assert (len(fake_vast.creations()), sleeps) == (2, [2.0])
    assert list(fake_vast.instances) == [int(iid)]


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


async def test_the_key_never_appears_in_errors_or_logs(
    fake_vast: FakeVast, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ProviderError] = []
    for key in (fake_vast.api_key, "wrong-" + fake_vast.api_key):
        async with VastProvider(key, base_url=fake_vast.url, sleep=sleeps, max_retries=1) as vast:
            fake_vast.faults.rate_limit_next = 5
            with pytest.raises(ProviderRateLimited) as limited:
                await vast.query()
            fake_vast.faults.rate_limit_next, fake_vast.faults.fail_next = 0, 5
            with pytest.raises(ProviderUnavailable) as failed:
                await vast.search_offers(Requirements())
            fake_vast.faults.fail_next = 0
            errors += [limited.value, failed.value]
            try:
                iid = await vast.launch(offer_of(fake_vast, 108), SPEC)
                await wait_running(vast, iid)
                await vast.terminate(iid)
            except ProviderAuthError as exc:
                errors.append(exc)
    assert len(errors) == 5
    assert caplog.records, "expected retry warnings"
    for text in [str(e) for e in errors] + [r.getMessage() for r in caplog.records]:
        assert fake_vast.api_key not in text


async def test_offline_host_is_unknown_not_gone(vast: VastProvider, fake_vast: FakeVast) -> None:
    iid = await vast.launch(offer_of(fake_vast, 105), SPEC)
    await wait_running(vast, iid)
    fake_vast.offline(iid)
    [instance] = await vast.query([iid])
    assert instance.state is InstanceState.UNKNOWN
    assert instance.vendor_state is not None
    assert instance.vendor_state.startswith("offline")
