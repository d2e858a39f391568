"""RunPod as a GpuProvider: a thin async httpx client for REST v1 pods and the GraphQL catalogue.

Pods use REST v1 (https://rest.runpod.io/v1): ``POST /pods`` (201 and the pod), ``GET /pods``
(a JSON array), ``GET /pods/{id}`` (404 ``{"error":"pod not found","status":404}`` once gone)
and ``DELETE /pods/{id}`` (204). REST v1 has no GPU catalogue, so offers come from the GraphQL
``gpuTypes`` (prices, ``lowestPrice`` stock) and ``dataCenters`` (stock per data center), always
sent with GraphQL variables. The key travels only in ``Authorization: Bearer``: never in a URL,
a log line or an error message.

Choices: pods have no labels, so the pod ``name`` is our label. No volume (``volumeInGb: 0``):
the pod can only be terminated, which is all we do. ComfyUI is exposed as ``{port}/http``
(proxy) and ``{port}/tcp`` (public IP); a pod counts as RUNNING once ``portMappings`` exists.
Model downloads run first: ``dockerStartCmd = ["sh", "-c", provisioning_script + "exec " +
start_cmd]``, where ``start_cmd`` (default ``/start.sh``, RunPod's ComfyUI images) is what the
template would run; a failed download exits before ComfyUI starts, so the pod never gets ready.
A create is never repeated after a timeout or a 5xx (it may have made the pod): that raises
ProviderUnavailable and the fleet reconciles by name, except RunPod's no-capacity refusal,
itself a 500 (``{"error":"create pod: There are no instances currently available"}``), which
is OfferUnavailable.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from i2v.errors import (
    OfferUnavailable,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from i2v.fleet.base import Instance, InstanceState, LaunchSpec, Offer, Requirements
from i2v.fleet.provisioning import provisioning_script
from i2v.fleet.retry import Failed, RetryPolicy, retry_after_s
from i2v.fleet.runpod_offers import GPU_TYPES_QUERY, PROVIDER, Json, catalogue_offers, number

log = logging.getLogger(__name__)

# desiredStatus: REST knows RUNNING, EXITED, TERMINATED; GraphQL's PodStatus adds the others.
# RUNNING only counts once the runtime has mapped ports (see _instance).
_STATES: dict[str, InstanceState] = {
    "CREATED": InstanceState.PENDING,
    "RESTARTING": InstanceState.PENDING,
    "RUNNING": InstanceState.RUNNING,
    "EXITED": InstanceState.STOPPED,
    "PAUSED": InstanceState.STOPPED,
    "DEAD": InstanceState.FAILED,
    "TERMINATED": InstanceState.TERMINATED,
}

# The allowedCudaVersions enum of POST /pods.
_CUDA = ("11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9",
         "13.0")  # fmt: skip
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_NO_CAPACITY = re.compile(
    r"no instances currently available|no longer any instances available"
    r"|does not have the resources to deploy|not enough free gpus",
    re.IGNORECASE,
)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


class RunPodProvider:
    """GpuProvider for RunPod pods; one instance per API key, closed with aclose()."""

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        rest_url: str = "https://rest.runpod.io/v1",
        graphql_url: str = "https://api.runpod.io/graphql",
        timeout_s: float = 30,
        max_retries: int = 4,
        comfy_port: int = 8188,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        cloud_type: Literal["SECURE", "COMMUNITY"] = "SECURE",
        start_cmd: str = "/start.sh",
        max_retry_after_s: float = 60.0,
    ) -> None:
        self._key, self._rest, self._graphql = api_key, rest_url.rstrip("/"), graphql_url
        self._comfy_port, self._cloud, self._start_cmd = comfy_port, cloud_type, start_cmd
        self._retry = RetryPolicy(log, max_retries, sleep, max_retry_after_s=max_retry_after_s)
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> RunPodProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- GpuProvider ------------------------------------------------------------------------

    async def search_offers(self, requirements: Requirements) -> list[Offer]:
        """GPU types in stock on our cloud type. RunPod has no per-host reliability or CUDA:
        ``min_reliability`` is not applied and ``min_cuda`` rides on the offer to launch."""
        secure = self._cloud == "SECURE"
        variables = {"lowestPriceInput": {"gpuCount": 1, "secureCloud": secure}}
        data = await self._query_graphql("GpuTypes", GPU_TYPES_QUERY, variables)
        return catalogue_offers(data, requirements, secure=secure)

    async def launch(self, offer: Offer, spec: LaunchSpec) -> str:
        port = spec.comfy_port
        if port != self._comfy_port:  # query() looks for the provider's port
            raise ProviderRequestError(
                f"spec.comfy_port {port} is not the provider's {self._comfy_port}",
                provider=PROVIDER,
            )
        body: Json = {
            "name": spec.label,
            "cloudType": self._cloud,
            "computeType": "GPU",
            "gpuTypeIds": [offer.offer_id],
            "gpuCount": 1,
            "containerDiskInGb": spec.disk_gb,
            "volumeInGb": 0,
            "ports": [f"{port}/http", f"{port}/tcp"],
            "supportPublicIp": True,
            "env": dict(spec.env),
        }
        if spec.template:
            body["templateId"] = spec.template
        if spec.image:
            body["imageName"] = spec.image
        if offer.region:
            body["dataCenterIds"] = offer.region.split(",")
        if offer.cuda is not None:
            body["allowedCudaVersions"] = [v for v in _CUDA if float(v) >= offer.cuda]
        if spec.provisioning:
            script = provisioning_script(spec.provisioning)
            body["dockerStartCmd"] = ["sh", "-c", f"{script}exec {self._start_cmd}"]
        url = f"{self._rest}/pods"
        resp = await self._send("POST", url, json=body, what="create pod", idempotent=False)
        status = resp.status_code
        maybe = f"the pod may exist: reconcile by name {spec.label!r}"
        if status >= 500:
            message = self._message(resp)
            if _NO_CAPACITY.search(message):
                text = f"runpod has no {offer.offer_id} free: {message}"
                raise OfferUnavailable(text, provider=PROVIDER, status=status)
            text = f"runpod create pod: {status} ({message}); {maybe}"
            raise ProviderUnavailable(text, provider=PROVIDER, status=status)
        pod = self._json(resp, "create pod", dict)
        if not isinstance(pod.get("id"), str) or not pod["id"]:
            text = f"runpod create pod: {status} without a pod id; {maybe}"
            raise ProviderUnavailable(text, provider=PROVIDER, status=status)
        log.info("runpod: created pod %s (%s) on %s", pod["id"], spec.label, offer.offer_id)
        return str(pod["id"])

    async def query(
        self, ids: Sequence[str] | None = None, *, label_prefix: str | None = None
    ) -> list[Instance]:
        if ids is None:
            resp = await self._send("GET", f"{self._rest}/pods", what="list pods")
            pods = [p for p in self._json(resp, "list pods", list) if isinstance(p, dict)]
        else:
            found = await asyncio.gather(*(self._get_pod(i) for i in ids))
            pods = [p for p in found if p is not None]
        if label_prefix is not None:
            pods = [p for p in pods if str(p.get("name") or "").startswith(label_prefix)]
        return [self._instance(p) for p in pods]

    async def terminate(self, instance_id: str) -> None:
        url = f"{self._rest}/pods/{quote(instance_id, safe='')}"
        resp = await self._send("DELETE", url, what="terminate pod", instance_id=instance_id)
        if resp.status_code != 404:  # 404: already gone
            self._raise_for_status(resp, "terminate pod", instance_id)
            log.info("runpod: terminated pod %s", instance_id)

    # -- mapping ----------------------------------------------------------------------------

    def _instance(self, pod: Json) -> Instance:
        pod_id, status = str(pod.get("id") or ""), str(pod.get("desiredStatus") or "")
        state = _STATES.get(status, InstanceState.UNKNOWN)
        mappings = pod.get("portMappings")
        mappings = mappings if isinstance(mappings, dict) else {}
        if state is InstanceState.RUNNING and not mappings:
            state = InstanceState.PENDING  # the container is not up yet: no runtime, no ports
        endpoint = None
        if state is InstanceState.RUNNING:
            ip, public = pod.get("publicIp"), mappings.get(str(self._comfy_port))
            if ip and public:
                endpoint = f"http://{ip}:{int(public)}"
            else:
                endpoint = f"https://{pod_id}-{self._comfy_port}.proxy.runpod.net"
        gpu, machine = pod.get("gpu"), pod.get("machine")
        gpu = gpu if isinstance(gpu, dict) else {}
        machine = machine if isinstance(machine, dict) else {}
        gpu_name = gpu.get("displayName") or machine.get("gpuDisplayName") or gpu.get("id")
        return Instance(
            provider=PROVIDER,
            instance_id=pod_id,
            state=state,
            label=pod.get("name"),
            endpoint=endpoint,
            usd_per_hour=number(pod.get("costPerHr")),
            gpu_name=str(gpu_name) if gpu_name else None,
            created_at=_time(pod.get("createdAt")),
            started_at=_time(pod.get("lastStartedAt")),
            vendor_state=status or None,
        )

    # -- HTTP -------------------------------------------------------------------------------

    async def _get_pod(self, pod_id: str) -> Json | None:
        url = f"{self._rest}/pods/{quote(pod_id, safe='')}"
        resp = await self._send("GET", url, what="get pod", instance_id=pod_id)
        if resp.status_code == 404:
            return None
        pod: Json = self._json(resp, "get pod", dict, pod_id)
        return pod

    async def _query_graphql(self, operation: str, query: str, variables: Json) -> Json:
        what = f"graphql {operation}"
        payload = {"operationName": operation, "query": query, "variables": variables}
        resp = await self._send("POST", self._graphql, json=payload, what=what)
        body: Json = self._json(resp, what, dict)
        if body.get("errors"):  # GraphQL reports failures in a 200
            message = self._message(resp)
            kind = ProviderAuthError if "unauthori" in message.lower() else ProviderRequestError
            raise kind(f"runpod {what}: {message}", provider=PROVIDER)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProviderRequestError(f"runpod {what}: no data", provider=PROVIDER)
        return data

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json: Any = None,
        idempotent: bool = True,
        instance_id: str | None = None,
    ) -> httpx.Response:
        """One call with retries; the 5xx of a non-idempotent call is returned to the caller."""
        where: Json = {"provider": PROVIDER, "instance_id": instance_id}

        async def attempt() -> httpx.Response | Failed:
            try:
                resp = await self._client.request(method, url, json=json)
            except httpx.TransportError as exc:
                kind = "no answer in time" if isinstance(exc, httpx.TimeoutException) else "failed"
                reason = f"{kind} ({type(exc).__name__}: {self._scrub(str(exc))})"
                failure = ProviderUnavailable(f"runpod {what}: {reason}", **where)
                # Never sent (no connection) is safe to repeat, even for a create.
                return Failed(failure, reason, idempotent or isinstance(exc, _NOT_SENT), cause=exc)
            status = resp.status_code
            if status == 429:  # refused before doing anything: safe to repeat
                wait = retry_after_s(resp.headers.get("retry-after"))
                reason = f"rate limited ({self._message(resp)})"
                text = f"runpod {what}: {reason}"
                limited = ProviderRateLimited(text, retry_after_s=wait, status=status, **where)
                return Failed(limited, reason, True, retry_after_s=wait)
            if status >= 500 and idempotent:
                reason = f"{status} ({self._message(resp)})"
                failure = ProviderUnavailable(f"runpod {what}: {reason}", status=status, **where)
                return Failed(failure, reason, True)
            return resp

        return await self._retry.call(f"runpod {what}", attempt)

    def _raise_for_status(self, resp: httpx.Response, what: str, pod_id: str | None) -> None:
        status = resp.status_code
        if status < 400:
            return
        text = f"runpod {what}: {status} ({self._message(resp)})"
        kind: type[ProviderError] = ProviderRequestError
        if status in (401, 403):
            kind = ProviderAuthError
        elif status >= 500:
            kind = ProviderUnavailable
        raise kind(text, provider=PROVIDER, instance_id=pod_id, status=status)

    def _json(self, resp: httpx.Response, what: str, shape: type, pod_id: str | None = None) -> Any:
        """The body of a 2xx answer, which must be a `shape` (dict or list)."""
        self._raise_for_status(resp, what, pod_id)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, shape):
            text = (
                f"runpod {what}: {resp.status_code} with a body that is not a JSON {shape.__name__}"
            )
            raise ProviderRequestError(text, provider=PROVIDER, instance_id=pod_id)
        return body

    def _message(self, resp: httpx.Response) -> str:
        """The vendor's words: {"error": ...} (REST), errors[0].message (GraphQL) or the text."""
        text = resp.text
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                text = str(errors[0].get("message") or text)
            else:
                found = (body.get(k) for k in ("error", "message", "detail", "title"))
                text = next((v for v in found if isinstance(v, str) and v), text)
        return self._scrub(text.strip()[:300]) or "no body"

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
