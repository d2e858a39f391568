"""The GpuProvider contract, run against Vast.ai and RunPod, each on its fake vendor API."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Protocol, runtime_checkable

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
from tests.support.fleet import wait_running

from .gpu_providers import OFFER_CASES, READY_DELAY_S, ProviderUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

VAE = ModelDownload("https://models.test/wan2.2_vae.safetensors", "vae", "wan2.2_vae.safetensors")
SPEC = LaunchSpec(label="i2v:contract:1", template="tmpl-comfyui", provisioning=(VAE,))
PROTOCOL_METHODS = ("search_offers", "launch", "query", "terminate", "aclose")


@runtime_checkable
class CheckableGpuProvider(GpuProvider, Protocol):
    """GpuProvider for isinstance(): the product's Protocol is for the type checker only."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def first_offer(provider: GpuProvider) -> Offer:
    offers = await provider.search_offers(Requirements())
    assert offers, "the fake offers nothing under the default requirements"
    return offers[0]


async def wait_labelled(provider: GpuProvider, label: str, timeout: float = 5.0) -> list[Instance]:
    """What reconciliation by label will find, once the vendor has finished a slow create."""
    deadline = time.monotonic() + timeout
    while not (found := await provider.query(label_prefix=label)):
        assert time.monotonic() < deadline, f"no instance labelled {label}"
        await asyncio.sleep(0.02)
    return found


# -- the Protocol -------------------------------------------------------------------------------


async def test_it_is_a_gpu_provider(vendor: ProviderUnderTest) -> None:
    provider = vendor.provider
    assert isinstance(provider, CheckableGpuProvider)
    assert provider.name == vendor.name
    for method in PROTOCOL_METHODS:
        ours = getattr(provider, method)
        assert inspect.iscoroutinefunction(ours), method
        # Same parameters, kinds and defaults: callers may pass any of them by name.
        theirs = inspect.signature(getattr(GpuProvider, method)).parameters
        assert [
            (p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()
        ] == [(p.name, p.kind, p.default) for p in list(theirs.values())[1:]], method


# -- offers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(OFFER_CASES))
async def test_offers_are_filtered_and_cheapest_first(vendor: ProviderUnderTest, case: str) -> None:
    wanted = OFFER_CASES[case]
    offers = await vendor.provider.search_offers(wanted)

    assert tuple(o.offer_id for o in offers) == vendor.offer_ids[case]
    assert [o.usd_per_hour for o in offers] == sorted(o.usd_per_hour for o in offers)
    names = {n.casefold() for n in wanted.gpu_names}
    for offer in offers:
        assert (offer.provider, offer.num_gpus) == (vendor.name, 1)
        assert offer.vram_gb >= wanted.min_vram_gb
        assert wanted.max_usd_per_hour is None or offer.usd_per_hour <= wanted.max_usd_per_hour
        assert not names or offer.gpu_name.casefold() in names


# -- instances ----------------------------------------------------------------------------------


async def test_launch_goes_pending_then_running_with_a_comfyui(
    vendor: ProviderUnderTest,
) -> None:
    provider = vendor.provider
    offer = await first_offer(provider)
    iid = await provider.launch(offer, SPEC)

    [pending] = await provider.query([iid])
    assert (pending.instance_id, pending.provider, pending.label) == (iid, vendor.name, SPEC.label)
    assert (pending.state, pending.endpoint) == (InstanceState.PENDING, None)

    running = await wait_running(provider, iid)
    assert running.endpoint is not None
    assert running.usd_per_hour == pytest.approx(offer.usd_per_hour)  # as quoted, disk included
    assert running.gpu_name == offer.gpu_name
    assert running.started_at is not None
    assert running.vendor_state is not None
    assert running.vendor_state.casefold().startswith("running")
    async with httpx.AsyncClient(base_url=running.endpoint, trust_env=False) as http:
        assert (await http.get("/system_stats")).status_code == 200
        # The provisioning script ran before ComfyUI started and left the model in place.
        assert (await http.get("/models/vae")).json() == [VAE.name]


async def test_query_by_label_prefix_and_unknown_ids(vendor: ProviderUnderTest) -> None:
    provider = vendor.provider
    # Three offers: a Vast ask can be rented only once.
    first, second, third, *_ = await provider.search_offers(Requirements())
    a = await provider.launch(first, SPEC)
    b = await provider.launch(second, LaunchSpec(label="i2v:contract:2", template=SPEC.template))
    await provider.launch(third, LaunchSpec(label="other:1", template=SPEC.template))

    mine = await provider.query(label_prefix="i2v:contract:")
    assert sorted(i.instance_id for i in mine) == sorted([a, b])
    assert {i.label for i in mine} == {SPEC.label, "i2v:contract:2"}
    assert len(await provider.query()) == 3
    assert [i.instance_id for i in await provider.query([a, vendor.unknown_id])] == [a]
    assert await provider.query([vendor.unknown_id]) == []
    both = await provider.query([a, b], label_prefix="i2v:contract:2")
    assert [i.instance_id for i in both] == [b]


async def test_terminate_is_idempotent(vendor: ProviderUnderTest) -> None:
    provider = vendor.provider
    iid = await provider.launch(await first_offer(provider), SPEC)
    running = await wait_running(provider, iid)

    await provider.terminate(iid)
    assert await provider.query([iid]) == []
    assert await provider.query(label_prefix=SPEC.label) == []
    await provider.terminate(iid)  # already gone: not an error
    await provider.terminate(vendor.unknown_id)  # never existed
    assert running.endpoint is not None
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{running.endpoint}/system_stats")


async def test_a_vanished_instance_is_absent(vendor: ProviderUnderTest) -> None:
    provider = vendor.provider
    iid = await provider.launch(await first_offer(provider), SPEC)
    await wait_running(provider, iid)

    vendor.vanish(iid)
    assert await provider.query([iid]) == []
    assert await provider.query(label_prefix="i2v:") == []
    assert await provider.query() == []
    await provider.terminate(iid)  # cleaning up after it is not an error either


async def test_an_instance_that_never_gets_ready_stays_pending(vendor: ProviderUnderTest) -> None:
    vendor.never_ready()
    provider = vendor.provider
    iid = await provider.launch(await first_offer(provider), SPEC)

    # Well past the fake's boot time, every look finds it still pending.
    deadline = time.monotonic() + 3 * READY_DELAY_S
    while time.monotonic() < deadline:
        [instance] = await provider.query([iid])
        assert (instance.state, instance.endpoint) == (InstanceState.PENDING, None)
        await asyncio.sleep(0.05)
    assert instance.vendor_state is not None
    assert instance.vendor_state.startswith(vendor.stuck_vendor_state)


# -- rate limits --------------------------------------------------------------------------------


async def test_429_waits_for_retry_after_then_succeeds(vendor: ProviderUnderTest) -> None:
    vendor.rate_limit(2, retry_after_s=7)
    assert await vendor.provider.search_offers(Requirements())
    assert vendor.sleeps == [7.0, 7.0]
    assert len(vendor.requests()) == 3


async def test_429_with_a_long_retry_after_goes_back_to_the_caller(
    vendor: ProviderUnderTest,
) -> None:
    vendor.rate_limit(1, retry_after_s=3600)
    with pytest.raises(ProviderRateLimited) as caught:
        await vendor.provider.query()
    error = caught.value
    assert (error.retry_after_s, error.provider, error.status) == (3600.0, vendor.name, 429)
    assert error.retryable
    assert vendor.sleeps == []


async def test_429_forever_is_rate_limited_after_max_retries(vendor: ProviderUnderTest) -> None:
    vendor.rate_limit(99, retry_after_s=3)
    async with vendor.connect(max_retries=2) as provider:
        with pytest.raises(ProviderRateLimited) as caught:
            await provider.query()
    assert (caught.value.retry_after_s, caught.value.provider, caught.value.status) == (
        3.0, vendor.name, 429
    )  # fmt: skip
    assert vendor.sleeps == [3.0, 3.0]


async def test_a_launch_refused_with_429_is_repeated(vendor: ProviderUnderTest) -> None:
    provider = vendor.provider
    offer = await first_offer(provider)
    vendor.rate_limit(1, retry_after_s=2)

    iid = await provider.launch(offer, SPEC)
    assert (vendor.creations(), vendor.sleeps) == (2, [2.0])  # refused, so safe to repeat
    assert [i.instance_id for i in await provider.query(label_prefix=SPEC.label)] == [iid]


# -- server errors ------------------------------------------------------------------------------


async def test_5xx_retried_then_success(vendor: ProviderUnderTest) -> None:
    vendor.fail(2)
    assert await vendor.provider.query() == []
    assert len(vendor.requests()) == 3
    assert len(vendor.sleeps) == 2
    assert 0 < vendor.sleeps[0] <= vendor.sleeps[1]  # backing off


async def test_5xx_forever_is_unavailable_after_max_retries(vendor: ProviderUnderTest) -> None:
    vendor.fail(100)
    async with vendor.connect(max_retries=3) as provider:
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.terminate(vendor.unknown_id)
    error = caught.value
    assert error.status is not None
    assert 500 <= error.status < 600
    assert (error.provider, error.instance_id, error.retryable) == (
        vendor.name, vendor.unknown_id, True
    )  # fmt: skip
    assert len(vendor.requests()) == 4
    assert len(vendor.sleeps) == 3


# -- refusals -----------------------------------------------------------------------------------


async def test_a_bad_key_is_an_auth_error(vendor: ProviderUnderTest) -> None:
    offer = await first_offer(vendor.provider)
    wrong = "wrong-" + vendor.api_key
    async with vendor.connect(api_key=wrong) as provider:
        for call in (
            provider.search_offers(Requirements()),
            provider.query(),
            provider.query([vendor.unknown_id]),
            provider.terminate(vendor.unknown_id),
            provider.launch(offer, SPEC),
        ):
            with pytest.raises(ProviderAuthError) as caught:
                await call
            assert (caught.value.status, caught.value.provider) == (401, vendor.name)
            assert wrong not in str(caught.value)
    assert vendor.sleeps == []  # a wrong key does not get better by waiting
    assert await vendor.provider.query() == []


async def test_offer_taken_between_search_and_launch(vendor: ProviderUnderTest) -> None:
    provider = vendor.provider
    offer = await first_offer(provider)
    vendor.take(offer)

    with pytest.raises(OfferUnavailable) as caught:
        await provider.launch(offer, SPEC)
    error = caught.value
    assert (error.provider, error.status) == (vendor.name, vendor.taken_status)
    assert vendor.taken_words in error.message
    assert error.retryable  # another offer may do
    assert (vendor.creations(), vendor.sleeps) == (1, [])
    assert await provider.query() == []


async def test_a_launch_that_fails_after_creating_is_not_repeated(
    vendor: ProviderUnderTest,
) -> None:
    provider = vendor.provider
    offer = await first_offer(provider)
    vendor.fail_after_create()

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.launch(offer, SPEC)
    error = caught.value
    assert error.status is not None
    assert error.status >= 500
    assert "reconcile" in error.message  # the caller is told how to find it
    assert SPEC.label in error.message
    assert (vendor.creations(), vendor.sleeps) == (1, [])
    [found] = await provider.query(label_prefix=SPEC.label)  # what reconciliation will see
    assert found.label == SPEC.label


async def test_a_launch_that_times_out_is_not_repeated(vendor: ProviderUnderTest) -> None:
    offer = await first_offer(vendor.provider)
    vendor.hang_create(0.6)
    # Long enough to connect and send on a busy machine: the create must reach the vendor.
    async with vendor.connect(timeout_s=0.2) as provider:
        with pytest.raises(ProviderUnavailable):
            await provider.launch(offer, SPEC)
        assert (vendor.creations(), vendor.sleeps) == (1, [])
        vendor.hang_create(0)
        [found] = await wait_labelled(provider, SPEC.label)  # the vendor carried on
    assert found.label == SPEC.label


# -- the key ------------------------------------------------------------------------------------


async def test_the_key_travels_only_in_the_authorization_header(
    vendor: ProviderUnderTest,
) -> None:
    provider = vendor.provider
    iid = await provider.launch(await first_offer(provider), SPEC)
    await provider.query([iid])
    await provider.query(label_prefix="i2v:")
    await provider.terminate(iid)

    seen = vendor.requests()
    assert {r.method for r in seen} >= {"GET", "POST", "DELETE"}
    for request in seen:
        assert request.authorization == f"Bearer {vendor.api_key}", request.url
        assert vendor.api_key not in request.url
        assert vendor.api_key not in request.body


async def test_the_key_never_appears_in_errors_or_logs(
    vendor: ProviderUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    offer = await first_offer(vendor.provider)
    errors: list[ProviderError] = []
    for key in (vendor.api_key, "wrong-" + vendor.api_key):
        async with vendor.connect(api_key=key, max_retries=1) as provider:
            vendor.rate_limit(5, retry_after_s=1)
            with pytest.raises(ProviderError) as limited:
                await provider.query()
            vendor.clear_faults()
            vendor.fail(5)
            with pytest.raises(ProviderError) as failed:
                await provider.search_offers(Requirements())
            vendor.clear_faults()
            errors += [limited.value, failed.value]
            try:
                iid = await provider.launch(offer, SPEC)
                await provider.query([iid])
                await provider.terminate(iid)
            except ProviderAuthError as exc:
                errors.append(exc)
    assert len(errors) == 5
    assert caplog.records, "expected retry warnings"
    for error in errors:
        assert vendor.api_key not in str(error)
        assert vendor.api_key not in repr(error.args)
    assert vendor.api_key not in caplog.text
